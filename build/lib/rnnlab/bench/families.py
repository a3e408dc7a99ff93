"""families: one training step (forward, backward, Adam) of every model family at one
parameter budget, on the sine task's batch shape (64 windows of 64 steps, 1 input, 4
outputs), float32 on the CPU; the families measured in turn in each repeat, medians, and
each one's time over the LSTM's. The parallel scans pay for their state: S6 keeps
``state_size`` numbers per inner channel and step, which is what its time shows."""

from __future__ import annotations

import statistics

from rnnlab.bench.common import ms_per_call, print_table, runs

REPEATS = 5
FAMILIES = ("rnn", "lstm", "gru", "mingru", "minlstm", "lru", "s6", "transformer")


def _network(family: str, budget: int, outputs: int):
    from rnnlab.models.lru import LRUNet
    from rnnlab.models.minrnn import MinRNNNet
    from rnnlab.models.net import RecurrentNet
    from rnnlab.models.s6 import S6Net
    from rnnlab.models.transformer import TransformerNet

    builders = {
        "rnn": lambda **kw: RecurrentNet("rnn_tanh", **kw),
        "lstm": lambda **kw: RecurrentNet("lstm", **kw),
        "gru": lambda **kw: RecurrentNet("gru", **kw),
        "mingru": lambda **kw: MinRNNNet("mingru", num_layers=2, **kw),
        "minlstm": lambda **kw: MinRNNNet("minlstm", num_layers=2, **kw),
        "lru": lambda **kw: LRUNet(num_layers=2, **kw),
        "s6": lambda **kw: S6Net(num_layers=2, **kw),
        "transformer": lambda **kw: TransformerNet(num_layers=2, **kw),
    }
    return builders[family](input_size=1, output_size=outputs, params=budget)


def measure(repeats: int, budget=20_000, batch=64, steps=64, outputs=4, calls=5) -> dict:
    import torch

    torch.manual_seed(0)
    x, y = torch.randn(batch, steps, 1), torch.randn(batch, outputs)
    nets = {family: _network(family, budget, outputs) for family in FAMILIES}
    optimizers = {family: torch.optim.Adam(net.parameters()) for family, net in nets.items()}

    def step(family: str) -> None:
        optimizers[family].zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(nets[family](x)[0], y).backward()
        optimizers[family].step()

    for family in FAMILIES:  # warm up allocators and kernels
        ms_per_call(lambda f=family: step(f), 2)
    times: dict[str, list[float]] = {family: [] for family in FAMILIES}
    for _ in range(repeats):
        for family in FAMILIES:
            times[family].append(ms_per_call(lambda f=family: step(f), calls))
    lstm = statistics.median(times["lstm"])
    rows = [
        {
            "family": family,
            "params": nets[family].num_parameters,
            "hidden_size": nets[family].hidden_size,
            "ms": statistics.median(times[family]),
            "over_lstm": statistics.median(times[family]) / lstm,
            "runs_ms": times[family],
        }
        for family in FAMILIES
    ]
    shape = {"batch": batch, "steps": steps, "outputs": outputs, "budget": budget}
    return {"shape": shape, "repeats": repeats, "torch_threads": torch.get_num_threads(), "families": rows}


def show(result: dict) -> None:
    shape = result["shape"]
    title = (
        f"one training step, {shape['budget']:,}-parameter budget, batch {shape['batch']}, "
        f"{shape['steps']} steps, {result['torch_threads']} threads, median of {result['repeats']}"
    )
    columns = ["family", "params", "hidden", "ms/step", "/lstm", "runs (ms)"]
    rows = [
        [
            row["family"],
            f"{row['params']:,}",
            str(row["hidden_size"]),
            f"{row['ms']:.1f}",
            f"{row['over_lstm']:.2f}x",
            runs(row["runs_ms"], 1),
        ]
        for row in result["families"]
    ]
    print_table(title, columns, rows)
    slowest = max(result["families"], key=lambda row: row["ms"])
    print(f"slowest: {slowest['family']} at {slowest['over_lstm']:.2f}x the LSTM's step time")
