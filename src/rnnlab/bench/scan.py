"""scan: forward + backward of one layer, batch 16, width 128, float32 on the CPU, against
the sequence length T: PyTorch's fused nn.LSTM and nn.GRU (a loop over time in C++) and
each modern family's layer in its parallel form (minGRU and minLSTM by the chunked linear
scan and, as ``_log``, by the paper's log-space scan; LRU by the linear scan, S6 by it in
checkpointed chunks; Mamba-2, DeltaNet, Gated DeltaNet and mLSTM in their chunked forms;
one causal transformer block). Layers measured in turn in each repeat, medians, and
nn.GRU's time over each layer's (x = times faster). At the longest T each layer also runs
once in a process of its own, whose peak resident memory is reported (``peak_rss_mb``).
At the headline T the matrix products of each layer's forward + backward are counted
(PyTorch's FlopCounterMode) and set against this machine's rate on one large matrix
product: the time no implementation of that layer can beat here (``floor_ms``).
"""

from __future__ import annotations

import statistics

from rnnlab.bench.common import ms_per_call, print_table

REPEATS = 3
LENGTHS = (64, 256, 1024, 4096)
LAYERS = (
    "lstm", "gru", "mingru", "minlstm", "mingru_log", "minlstm_log", "lru", "s6",
    "mamba2", "deltanet", "gated_deltanet", "mlstm", "transformer",
)  # fmt: skip
HEADLINE_T = 1024


def _layers(width: int) -> dict:
    """Each layer as a function (batch, T, width) -> (batch, T, width)."""
    from torch import nn

    from rnnlab.models.delta import DeltaRule
    from rnnlab.models.lru import LRU
    from rnnlab.models.mamba2 import SSD
    from rnnlab.models.minrnn import MinGRU, MinLSTM
    from rnnlab.models.mlstm import MLSTM
    from rnnlab.models.s6 import S6
    from rnnlab.models.transformer import TransformerBlock

    lstm, gru = nn.LSTM(width, width, batch_first=True), nn.GRU(width, width, batch_first=True)
    mixers = {
        "mingru": MinGRU(width),
        "minlstm": MinLSTM(width),
        "mingru_log": MinGRU(width, scan="log"),  # the paper's log-space scan
        "minlstm_log": MinLSTM(width, scan="log"),
        "lru": LRU(width, width, r_min=0.4, r_max=0.99, max_phase=6.28),
        "s6": S6(width, state_size=16, expand=2, conv_kernel=4),
        "mamba2": SSD(width, state_size=32, expand=2, num_heads=4, conv_kernel=4, chunk_size=64),
        **{
            name: DeltaRule(
                width, 4, 1, gated, short_conv=True, conv_kernel=4, output_gate=gated, chunk_size=64
            )
            for name, gated in (("deltanet", False), ("gated_deltanet", True))
        },
        "mlstm": MLSTM(width, num_heads=4, expand=2, conv_kernel=4, chunk_size=64),
    }
    block = TransformerBlock(width, num_heads=4, context=max(LENGTHS), dropout=0.0)
    return {
        "lstm": (lstm, lambda x: lstm(x)[0]),
        "gru": (gru, lambda x: gru(x)[0]),
        **{name: (mixer, lambda x, m=mixer: m(x)[0]) for name, mixer in mixers.items()},
        "transformer": (block, lambda x: block(x, None)[0]),
    }


def measure(repeats: int, batch=16, width=128, lengths=LENGTHS, calls=1, peak=True) -> dict:
    import torch

    torch.manual_seed(0)
    layers = _layers(width)
    rows = []
    for steps in lengths:
        x = torch.randn(batch, steps, width)
        names = list(LAYERS)

        def step(name: str, x: torch.Tensor = x) -> None:
            module, run = layers[name]
            module.zero_grad(set_to_none=True)
            run(x).sum().backward()

        for name in names:  # warm up allocators and kernels
            ms_per_call(lambda n=name: step(n), 1)
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(repeats):
            for name in names:
                times[name].append(ms_per_call(lambda n=name: step(n), calls))
        medians = {name: statistics.median(values) for name, values in times.items()}
        rows.append(
            {
                "T": steps,
                "ms": medians,
                "faster_than_gru": {name: medians["gru"] / value for name, value in medians.items()},
                "runs_ms": times,
            }
        )
    result = {
        "shape": {"batch": batch, "width": width},
        "repeats": repeats,
        "torch_threads": torch.get_num_threads(),
        "lengths": rows,
    }
    headline = HEADLINE_T if HEADLINE_T in lengths else max(lengths)
    result["flops"] = {
        "T": headline,
        "gflop": matmul_gflop(layers, batch, headline, width),
        "rate": gemm_rate(),
    }
    if peak:
        longest = max(lengths)
        mb = {name: peak_rss_mb(name, batch, longest, width) for name in LAYERS}
        result["peak_rss_mb"] = {"T": longest, "mb": mb}
    return result


def matmul_gflop(layers: dict, batch: int, steps: int, width: int) -> dict[str, float]:
    """Each layer's forward + backward matrix-product GFLOP at (batch, steps, width); None
    where PyTorch does not count them (nn.LSTM's fused CPU kernel)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, steps, width)
    counted = {}
    for name in LAYERS:
        module, run = layers[name]
        with FlopCounterMode(display=False) as counter:
            run(x).sum().backward()
        module.zero_grad(set_to_none=True)
        counted[name] = counter.get_total_flops() / 1e9 or None
    return counted


def gemm_rate(size: int = 2048, calls: int = 10) -> float:
    """This machine's GFLOP/s on one (size x size) @ (size x size) float32 product."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm up
    return 2 * size**3 / ms_per_call(lambda: a @ b, calls) / 1e6


def peak_rss_mb(name: str, batch: int, steps: int, width: int) -> float:
    """One forward + backward of ``name`` at ``steps`` in a fresh process: its peak resident
    memory in MB (the process's own, torch's libraries included)."""
    import subprocess
    import sys

    # VmHWM: the process's own peak (getrusage's maxrss carries the parent's over exec)
    code = (
        "import re, sys, torch\n"
        "from rnnlab.bench.scan import _layers\n"
        "module, run = _layers(int(sys.argv[3]))[sys.argv[1]]\n"
        "run(torch.randn(int(sys.argv[4]), int(sys.argv[2]), int(sys.argv[3]))).sum().backward()\n"
        "status = open('/proc/self/status').read()\n"
        "print(int(re.search(r'VmHWM:\\s+(\\d+) kB', status)[1]) / 1024)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, name, str(steps), str(width), str(batch)], capture_output=True, text=True
    )
    return float(result.stdout.strip()) if result.returncode == 0 else float("nan")


def show(result: dict) -> None:
    shape = result["shape"]
    title = (
        f"forward+backward of one layer, batch {shape['batch']}, width {shape['width']}, "
        f"{result['torch_threads']} threads, median of {result['repeats']}: ms (nn.GRU's time / this one's)"
    )
    rows = []
    for name in LAYERS:
        cells = []
        for row in result["lengths"]:
            if name in row["ms"]:
                cells.append(f"{row['ms'][name]:.1f} ({row['faster_than_gru'][name]:.2f}x)")
            else:
                cells.append("-")
        rows.append([name, *cells])
    print_table(title, ["layer", *(f"T={row['T']}" for row in result["lengths"])], rows)
    headline = next((row for row in result["lengths"] if row["T"] == HEADLINE_T), result["lengths"][-1])
    faster = " ".join(
        f"{name} {headline['faster_than_gru'][name]:.1f}x"
        for name in LAYERS
        if name not in ("lstm", "gru") and name in headline["faster_than_gru"]
    )
    print(f"T={headline['T']} vs nn.GRU: {faster}")
    if "flops" in result:
        flops = result["flops"]
        print(
            f"matrix products at T={flops['T']} (GFLOP, forward + backward) and the time they need at this "
            f"machine's {flops['rate']:.0f} GFLOP/s: "
            + " ".join(
                f"{name} {gflop:.1f} ({gflop / flops['rate'] * 1e3:.0f} ms)"
                for name, gflop in flops["gflop"].items()
                if gflop
            )
        )
    if "peak_rss_mb" in result:
        peak = result["peak_rss_mb"]
        print(f"peak RSS at T={peak['T']} (MB): " + " ".join(f"{n} {mb:.0f}" for n, mb in peak["mb"].items()))
