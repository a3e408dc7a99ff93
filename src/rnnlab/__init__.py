"""rnnlab: an experiment framework for recurrent neural networks.

Importing the package is cheap on purpose: torch and Lightning load only when a run starts,
so ``rnnlab-train --help`` stays fast.
"""

from pathlib import Path

__version__ = "0.2.0"

# Every default: the config groups ship inside the package, so an installed wheel has them.
CONFIG_DIR = Path(__file__).resolve().parent / "conf"

from rnnlab import resolvers  # noqa: E402, F401  (the configs' own interpolations)
