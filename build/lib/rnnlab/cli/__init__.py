"""Entry points only: each console script composes its config and calls rnnlab.run.

train, eval, sample (Hydra apps over rnnlab/conf/), report and bench (argparse). They are
siblings: none imports another.
"""
