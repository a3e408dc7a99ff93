"""cells: forward + backward of one recurrent layer, batch 64, 50 steps, 16 inputs, 128
hidden units, float32 on the CPU, for each cell: PyTorch's fused module, the scratch
backend (explicit BPTT) and the scratch equations differentiated by autograd through the
loop; the three measured in turn in each repeat, medians, ratios scratch / fused."""

from __future__ import annotations

import statistics

from rnnlab.bench.common import ms_per_call, print_table

REPEATS = 7


def measure(repeats: int, batch=64, steps=50, inputs=16, hidden=128, calls=10) -> dict:
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
            ms_per_call(lambda m=module: step(m), 2)
        for _ in range(repeats):
            for name, module in variants.items():
                times[name].append(ms_per_call(lambda m=module: step(m), calls))
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


def show(result: dict) -> None:
    shape = result["shape"]
    title = (
        f"forward+backward, batch {shape['batch']}, {shape['steps']} steps, {shape['inputs']} -> "
        f"{shape['hidden']}, {result['torch_threads']} threads, median of {result['repeats']}"
    )
    columns = ["cell", "fused ms", "scratch ms", "scratch/fused", "autograd loop ms", "loop/fused"]
    rows = [
        [
            row["cell"],
            f"{row['fused_ms']:.2f}",
            f"{row['scratch_ms']:.2f}",
            f"{row['ratio']:.2f}x",
            f"{row['autograd_loop_ms']:.2f}",
            f"{row['loop_ratio']:.2f}x",
        ]
        for row in result["cells"]
    ]
    print_table(title, columns, rows)
    lstm = next(row for row in result["cells"] if row["cell"] == "lstm")
    print(f"lstm scratch/fused: {lstm['ratio']:.2f}x")
