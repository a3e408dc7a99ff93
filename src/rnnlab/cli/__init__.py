"""Entry points. The only code that reads Hydra config objects; torch loads inside the runs."""

from __future__ import annotations

import atexit
import gc

_registered = False


def skip_exit_gc() -> None:
    """Let this process exit without the final garbage collection over every live object.

    torch and Lightning leave about a million objects behind; collecting them at exit took
    0.8 s of every command here (docs/benchmarks.md). ``gc.freeze()`` at exit skips that
    pass; objects are still released by reference counting, files and loggers are closed
    by their owners (Lightning finalizes its loggers, logging's own atexit flushes the
    handlers), and Python never promised finalizers for what is alive at exit anyway.
    """
    global _registered
    if not _registered:
        atexit.register(gc.freeze)
        _registered = True
