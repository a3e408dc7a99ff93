"""rnnlab-bench: measurements taken side by side in one run, printed as ratios.

    rnnlab-bench sweep [--epochs 20] [--repeats 3] [--json PATH]
    rnnlab-bench cells [--repeats 7] [--json PATH]
    rnnlab-bench parity [--repeats 5] [--json PATH]
    rnnlab-bench loader [--repeats 7] [--json PATH]
    rnnlab-bench startup [--repeats 5] [--json PATH]
    rnnlab-bench quality [--json PATH]

sweep: the same 4-job sine sweep (seeds 0..3) with Hydra's basic launcher (one job after
another, each with every core) and with hydra/launcher=joblib n_jobs=2 (two jobs at once,
each with half the cores); wall time of each whole command, pairs run back to back,
medians over the repeats, and the ratio joblib / basic.

cells: forward + backward of one recurrent layer, batch 64, 50 steps, 16 inputs, 128
hidden units, float32 on the CPU, for each cell: PyTorch's fused module, the scratch
backend (explicit BPTT) and the scratch equations differentiated by autograd through the
loop; the three measured in turn in each repeat, medians, ratios scratch / fused.

parity: Lightning's parity workload, a raw PyTorch loop against rnnlab's pipeline
(cli/bench_parity.py), pairs in alternating order, medians, the ratio rnnlab / raw.

loader, startup: see cli/bench_more.py.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rnnlab.cli.bench_more import run_timed

BENCHMARKS = ("sweep", "cells", "parity", "loader", "startup", "quality")


def bench_sweep(epochs: int, repeats: int) -> dict:
    train = str(Path(sys.executable).parent / "rnnlab-train")
    common = ["-m", "seed=0,1,2,3", f"trainer.max_epochs={epochs}", "callbacks.rich_progress_bar=null"]
    joblib_args = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    basic, joblib = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            basic.append(run_timed([train, *common, f"hydra.sweep.dir={tmp}/basic{i}"]))
            joblib.append(run_timed([train, *common, *joblib_args, f"hydra.sweep.dir={tmp}/joblib{i}"]))
    basic_median, joblib_median = statistics.median(basic), statistics.median(joblib)
    return {
        "jobs": 4,
        "epochs": epochs,
        "repeats": repeats,
        "basic_s": basic,
        "joblib_n2_s": joblib,
        "basic_median_s": basic_median,
        "joblib_n2_median_s": joblib_median,
        "ratio": joblib_median / basic_median,
    }


def _ms_per_call(step, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls * 1000


def bench_cells(repeats: int, batch=64, steps=50, inputs=16, hidden=128, calls=10) -> dict:
    import torch

    from rnnlab.models.backbone import RecurrentBackbone

    torch.manual_seed(0)
    x = torch.randn(batch, steps, inputs)
    rows = []
    for cell in ("rnn_tanh", "rnn_relu", "lstm", "gru"):
        fused = RecurrentBackbone(cell, inputs, hidden)
        scratch = RecurrentBackbone(cell, inputs, hidden, backend="scratch")
        scratch.load_state_dict(fused.state_dict())
        looped = RecurrentBackbone(cell, inputs, hidden, backend="scratch")
        looped.load_state_dict(fused.state_dict())
        looped.rnn.explicit_bptt = False
        variants = {"fused": fused, "scratch": scratch, "autograd_loop": looped}

        def step(module=None):
            module.zero_grad(set_to_none=True)
            outputs, _ = module(x)
            outputs.sum().backward()

        times: dict[str, list[float]] = {name: [] for name in variants}
        for module in variants.values():  # warm up allocators and kernels
            _ms_per_call(lambda m=module: step(m), 2)
        for _ in range(repeats):
            for name, module in variants.items():
                times[name].append(_ms_per_call(lambda m=module: step(m), calls))
        medians = {name: statistics.median(values) for name, values in times.items()}
        rows.append(
            {
                "cell": cell,
                **{f"{name}_ms": value for name, value in medians.items()},
                "ratio": medians["scratch"] / medians["fused"],
                "loop_ratio": medians["autograd_loop"] / medians["fused"],
                "runs_ms": times,
            }
        )
    shape = {"batch": batch, "steps": steps, "inputs": inputs, "hidden": hidden}
    return {"shape": shape, "repeats": repeats, "torch_threads": torch.get_num_threads(), "cells": rows}


def _print_cells(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    shape = result["shape"]
    title = (
        f"forward+backward, batch {shape['batch']}, {shape['steps']} steps, {shape['inputs']} -> "
        f"{shape['hidden']}, {result['torch_threads']} threads, median of {result['repeats']}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("cell", "fused ms", "scratch ms", "scratch/fused", "autograd loop ms", "loop/fused"):
        table.add_column(column, justify="left" if column == "cell" else "right")
    for row in result["cells"]:
        table.add_row(
            row["cell"],
            f"{row['fused_ms']:.2f}",
            f"{row['scratch_ms']:.2f}",
            f"{row['ratio']:.2f}x",
            f"{row['autograd_loop_ms']:.2f}",
            f"{row['loop_ratio']:.2f}x",
        )
    Console().print(table)
    lstm = next(row for row in result["cells"] if row["cell"] == "lstm")
    print(f"lstm scratch/fused: {lstm['ratio']:.2f}x")


def _print_loader(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"training batches, samples/s, median of {result['repeats']}", title_justify="left")
    for column in ("task", "batch", "rnnlab", "per-item DataLoader", "rnnlab/per-item"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for row in result["tasks"]:
        table.add_row(
            row["task"],
            str(row["batch_size"]),
            f"{row['rnnlab_samples_per_s']:,.0f}",
            f"{row['per_item_samples_per_s']:,.0f}",
            f"{row['ratio']:.1f}x",
        )
    Console().print(table)
    print("rnnlab/per-item: " + ", ".join(f"{r['task']} {r['ratio']:.1f}x" for r in result["tasks"]))


def _print_startup(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"rnnlab-train wall time, median of {result['repeats']}", title_justify="left")
    table.add_column("command")
    table.add_column("median s", justify="right")
    table.add_column("each run", justify="right")
    for name, runs in result["runs_s"].items():
        table.add_row(name, f"{result['median_s'][name]:.2f}", " ".join(f"{t:.2f}" for t in runs))
    Console().print(table)
    medians = result["median_s"]
    print(f"--help {medians['--help']:.2f} s, --cfg job {medians['--cfg job']:.2f} s (bar < 1.0 s)")


def _print_quality(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="quality after a fixed training time (trainer.max_time)", title_justify="left")
    for column in ("task", "budget s", "metric", "value", "naive", "whole command s"):
        table.add_column(column, justify="left" if column in ("task", "metric") else "right")
    for row in result["runs"]:
        naive = "" if row["naive"] is None else f"{row['naive']:.4g}"
        table.add_row(
            row["task"],
            str(row["budget_s"]),
            row["metric"],
            f"{row['value']:.4g}",
            naive,
            f"{row['command_s']:.1f}",
        )
    Console().print(table)


def _print_parity(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    title = f"Lightning's parity workload, {result['epochs']} epochs, median of {result['repeats']} pairs"
    table = Table(title=title, title_justify="left")
    for column in ("pipeline", "wall s (median)", "each run"):
        table.add_column(column, justify="left" if column == "pipeline" else "right")
    for name, key in (("raw PyTorch loop", "raw"), ("rnnlab", "rnnlab")):
        runs = " ".join(f"{t:.2f}" for t in result[f"{key}_s"])
        table.add_row(name, f"{result[f'{key}_median_s']:.2f}", runs)
    Console().print(table)
    print(f"rnnlab costs {result['extra_s_per_epoch']:+.3f} s per epoch over the raw loop")
    print(f"rnnlab/raw: {result['ratio']:.2f}x")


def _print_sweep(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    title = f"4-job sine sweep, {result['epochs']} epochs a job, median of {result['repeats']}"
    table = Table(title=title, title_justify="left")
    table.add_column("launcher")
    table.add_column("wall s (median)", justify="right")
    table.add_column("each run", justify="right")
    for name, key in (("basic (sequential)", "basic"), ("joblib n_jobs=2", "joblib_n2")):
        runs = " ".join(f"{t:.1f}" for t in result[f"{key}_s"])
        table.add_row(name, f"{result[f'{key}_median_s']:.1f}", runs)
    Console().print(table)
    print(f"joblib/basic: {result['ratio']:.2f}x")


def _run(name: str, repeats: int | None, epochs: int) -> tuple[dict, Callable[[dict], None]]:
    """Measure benchmark ``name``; returns its figures and the function that prints them."""
    if name == "sweep":
        return bench_sweep(epochs, repeats or 5), _print_sweep
    if name == "cells":
        return bench_cells(repeats or 7), _print_cells
    if name == "parity":
        from rnnlab.cli.bench_parity import bench_parity

        return bench_parity(repeats or 5), _print_parity
    from rnnlab.cli import bench_more

    if name == "loader":
        return bench_more.bench_loader(repeats or 7), _print_loader
    if name == "startup":
        return bench_more.bench_startup(repeats or 5), _print_startup
    return bench_more.bench_quality({"sine": [5, 15], "text": [60]}), _print_quality


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="rnnlab-bench", description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=BENCHMARKS, help="which benchmark")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per sweep job")
    parser.add_argument(
        "--repeats",
        type=int,
        help="repeats to take medians of (sweep, parity, startup: 5; cells, loader: 7)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    result, show = _run(args.name, args.repeats, args.epochs)
    show(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
