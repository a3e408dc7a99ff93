"""scan: forward + backward of one layer, batch 16, width 128, float32 on the CPU, against
the sequence length T: PyTorch's fused nn.LSTM and nn.GRU (a loop over time in C++) and
each modern family's layer in its parallel form (minGRU and minLSTM by the chunked linear
scan and, as ``_log``, by the paper's log-space scan; LRU and S6 by the linear scan; one
causal transformer block). Layers measured in
turn in each repeat, medians, and nn.GRU's time over each layer's (x = times faster).

S6 keeps T x 2*width x state_size numbers per sequence (16 x 4096 x 256 x 16 floats is
1 GiB for one tensor, and the backward pass keeps several), so it runs only up to
``S6_MAX_T``.
"""

from __future__ import annotations

import statistics

from rnnlab.bench.common import ms_per_call, print_table

REPEATS = 3
LENGTHS = (64, 256, 1024, 4096)
LAYERS = ("lstm", "gru", "mingru", "minlstm", "mingru_log", "minlstm_log", "lru", "s6", "transformer")
S6_MAX_T = 1024
HEADLINE_T = 1024


def _layers(width: int) -> dict:
    """Each layer as a function (batch, T, width) -> (batch, T, width)."""
    from torch import nn

    from rnnlab.models.lru import LRU
    from rnnlab.models.minrnn import MinGRU, MinLSTM
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
    }
    block = TransformerBlock(width, num_heads=4, context=max(LENGTHS), dropout=0.0)
    return {
        "lstm": (lstm, lambda x: lstm(x)[0]),
        "gru": (gru, lambda x: gru(x)[0]),
        **{name: (mixer, lambda x, m=mixer: m(x)[0]) for name, mixer in mixers.items()},
        "transformer": (block, lambda x: block(x, None)[0]),
    }


def measure(repeats: int, batch=16, width=128, lengths=LENGTHS, calls=1) -> dict:
    import torch

    torch.manual_seed(0)
    layers = _layers(width)
    rows = []
    for steps in lengths:
        x = torch.randn(batch, steps, width)
        names = [name for name in LAYERS if name != "s6" or steps <= S6_MAX_T]

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
    shape = {"batch": batch, "width": width}
    return {"shape": shape, "repeats": repeats, "torch_threads": torch.get_num_threads(), "lengths": rows}


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
