"""Where this process runs: its rank, whether it is a sweep job, how many threads it gets.

Light imports only (no torch, no Lightning at module level): Hydra callbacks use these
before a run starts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

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


# set by the process that runs a sweep (ProtectRuns.on_multirun_start) for the processes it starts
SWEEP_PID = "RNNLAB_SWEEP_PID"


def mark_sweep_process() -> None:
    """Tell the job processes this process starts (joblib's workers, submitit's local jobs,
    which inherit its environment) that they run for a sweep in this process."""
    os.environ[SWEEP_PID] = str(os.getpid())


@contextlib.contextmanager
def ends_with_its_sweep(interval_s: float = 1.0) -> Iterator[None]:
    """Around a job in a process that a sweep's process started (joblib's workers, submitit's
    local jobs, under its controller process): once that process is gone (killed, even with
    SIGKILL, which no handler sees), a thread sends SIGTERM to this one, so that the job stops
    as an interrupted run (checkpoint, status) instead of training on for nobody, and the
    process exits when the job has (an idle joblib worker would wait minutes for its next
    job). A job in the sweep's own process, or on a cluster node (where the sweep's process is
    not an ancestor), is left alone."""
    import signal
    import threading
    import time

    sweep = os.environ.get(SWEEP_PID, "")
    if not sweep.isdigit() or int(sweep) == os.getpid() or int(sweep) not in _ancestors():
        yield
        return
    orphaned = threading.Event()

    def watch() -> None:
        while _alive(int(sweep)):
            time.sleep(interval_s)
        orphaned.set()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="rnnlab-sweep-watch", daemon=True).start()
    try:
        yield
    finally:
        if orphaned.is_set():
            os._exit(128 + signal.SIGTERM)  # what the job wrote is on disk; no one waits for the rest


def _ancestors() -> list[int]:
    """This process's parent, its parent's, and so on (from /proc; just the parent elsewhere)."""
    chain, pid = [], os.getppid()
    while pid > 1 and len(chain) < 64:
        chain.append(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state
    return chain


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True
