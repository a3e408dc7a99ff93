"""Where this process runs: its rank, whether it is a sweep job, how many threads it gets.

Light imports only (no torch, no Lightning at module level): Hydra callbacks use these
before a run starts.
"""

from __future__ import annotations

import os

from rnnlab.errors import ConfigError


def process_rank() -> int:
    """This process's rank in a distributed run, 0 outside one. Lightning starts DDP workers
    with LOCAL_RANK set, torchrun sets RANK, SLURM sets SLURM_PROCID."""
    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def in_sweep() -> bool:
    """Whether this process runs a job of a Hydra multirun (``-m``)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, which a pinned job narrows)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def torch_threads(threads: int | None) -> int:
    """Set torch's thread count: ``threads``; by default the launcher's cpus_per_task under
    submitit, else every core this process may use, shared out between the jobs that joblib
    runs at once so that jobs x threads <= cores."""
    import torch
    from hydra.core.hydra_config import HydraConfig

    if threads is None:
        cores = available_cores()
        threads = cores
        if HydraConfig.initialized():
            launcher = HydraConfig.get().launcher
            target = str(launcher.get("_target_", "")).lower()
            if "joblib" in target:
                n_jobs = launcher.get("n_jobs", -1)
                jobs = cores if n_jobs in (-1, None) else max(1, int(n_jobs))
                threads = max(1, cores // jobs)
            elif "submitit" in target and launcher.get("cpus_per_task"):
                threads = int(launcher.cpus_per_task)
    elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(
            "threads", "an integer >= 1, or null for every core (shared between parallel jobs)", threads
        )
    torch.set_num_threads(threads)
    return threads
