"""The timing helpers and the table every benchmark prints."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def rnnlab_train() -> str:
    """The rnnlab-train script of this environment."""
    return str(Path(sys.executable).parent / "rnnlab-train")


def ms_per_call(step: Callable[[], object], calls: int) -> float:
    """Milliseconds per call of ``step``, averaged over ``calls`` calls in a row."""
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls * 1000


def run_timed(command: list[str]) -> float:
    """Wall seconds of a command that must succeed (else exit with its stderr)."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"rnnlab-bench: error: {' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> None:
    """A rich table: the first ``left`` columns are labels (left-aligned), the rest numbers."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index < left else "right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def runs(values: Sequence[float], digits: int = 2) -> str:
    """Every run's figure, for the table's last column."""
    return " ".join(f"{value:.{digits}f}" for value in values)
