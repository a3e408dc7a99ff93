"""The run machinery under the entry points: building a run from its config, checking its
settings, reading checkpoints, writing results, protecting run dirs, launching.

Together with cli/, the only code that reads Hydra config objects; what it builds takes
plain arguments. Module level imports stay light (no torch, no Lightning).
"""
