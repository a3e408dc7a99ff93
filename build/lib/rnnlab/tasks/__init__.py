"""LightningModules: a network from models/ wrapped for a kind of task, one per objective
(registered as entry points ``rnnlab.tasks``: spec.objective -> the module; data/spec.py lists
what each objective means)."""
