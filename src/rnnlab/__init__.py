"""rnnlab: an experiment framework for recurrent neural networks.

Importing the package is cheap on purpose: torch and Lightning load only when a run starts,
so ``rnnlab-train --help`` stays fast.
"""

__version__ = "0.1.0"
