"""rnnlab's benchmarks: each measures both sides of a comparison in one run, alternating
where order could matter, and reports medians and a ratio. One module per benchmark, each
with ``REPEATS`` (the default number of repeats), ``measure(repeats) -> dict`` (the figures,
as ``--json`` writes them) and ``show(result)`` (the table and the headline line).
``rnnlab-bench <name>`` (cli/bench.py) runs them; docs/benchmarks.md has the figures.
"""

from rnnlab.bench import cells, families, loader, parity, pruning, quality, scan, startup, sweep

BENCHMARKS = {
    "sweep": sweep,
    "cells": cells,
    "families": families,
    "scan": scan,
    "parity": parity,
    "loader": loader,
    "startup": startup,
    "quality": quality,
    "pruning": pruning,
}
