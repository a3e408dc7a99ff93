"""parity: Lightning's own parity workload, a hand-written PyTorch loop
against rnnlab's pipeline, side by side.

The workload is the one in Lightning's parity benchmarks (ParityModuleRNN on its
AverageDataset): 300 sequences x 100 steps x 10 features, targets ``top + roll(bottom)``
(5 per step), LSTM(10 -> 20) + Linear(20 -> 5) at every step, MSE, Adam(lr=0.02), batch 30,
4 epochs, CPU.

raw:    DataLoader(TensorDataset) and the classic loop (zero_grad, forward, loss,
        backward, step).
rnnlab: the same tensors through rnnlab's in-memory batches (TensorBatches + batch_loader),
        the network as a RecurrentNet (head=step) in a TaskModule, and the Trainer that
        ``build.build_trainer`` makes from the default config: TensorBoard + CSV loggers,
        checkpointing (every epoch and last.ckpt), the rich progress bar, gradient-norm
        logging and the safety callbacks. There is no validation split here (the raw
        loop has none), so the callbacks that need one are off.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from rnnlab.bench.common import print_table, runs

EPOCHS, BATCH, LR = 4, 30, 0.02
REPEATS = 5


def _data():
    import torch

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(300, 100, 10, generator=generator)
    top, bottom = x.chunk(2, dim=-1)
    return x, top + bottom.roll(shifts=1, dims=-1)


def run_raw(x, y, epochs: int = EPOCHS) -> float:
    """The hand-written loop; returns seconds."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    start = time.perf_counter()
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(10, 20, batch_first=True)
            self.linear_out = nn.Linear(20, 5)

        def forward(self, inputs):
            seq, _ = self.rnn(inputs)
            return self.linear_out(seq)

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH)
    for _ in range(epochs):
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(inputs), targets)
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


def rnnlab_config(root: Path, epochs: int = EPOCHS):
    """The default config, as ``rnnlab-train`` composes it (not timed: see ``startup``)."""
    from hydra import compose, initialize_config_dir

    from rnnlab import CONFIG_DIR

    overrides = [
        f"paths.output_dir={root}",
        f"trainer.max_epochs={epochs}",
        "trainer.limit_val_batches=0",
        "trainer.num_sanity_val_steps=0",
        "trainer.gradient_clip_val=null",
        "callbacks.early_stopping=null",
        "callbacks.model_checkpoint.monitor=null",
        "callbacks.gradient_flow=null",
    ]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=overrides)


def run_rnnlab(x, y, cfg) -> float:
    """rnnlab's data loading, network, task and Trainer; returns seconds."""
    import functools

    import lightning as L
    import torch
    from torch import nn

    from rnnlab.data.spec import Scaling, TaskSpec
    from rnnlab.data.windowing import TensorBatches, batch_loader
    from rnnlab.models.net import RecurrentNet
    from rnnlab.run import build
    from rnnlab.tasks.base import TaskModule

    class Data(L.LightningDataModule):
        def train_dataloader(self):
            return batch_loader(TensorBatches(x, y), BATCH, shuffle=False)

    class Task(TaskModule):
        def training_step(self, batch, batch_idx):
            inputs, targets = batch
            loss = nn.functional.mse_loss(self.net(inputs)[0], targets)
            self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(inputs))
            return loss

    start = time.perf_counter()
    torch.manual_seed(0)
    spec = TaskSpec("regression", 10, 5, Scaling("global", (0.0,) * 10, (1.0,) * 10))
    net = RecurrentNet("lstm", input_size=10, output_size=5, hidden_size=20, head="step")
    task = Task(net=net, spec=spec, optimizer=functools.partial(torch.optim.Adam, lr=LR))
    trainer = build.build_trainer(cfg)
    trainer.fit(task, datamodule=Data())
    return time.perf_counter() - start


def measure(repeats: int) -> dict:
    import lightning  # noqa: F401  (imported once, before either side is timed)
    import torch  # noqa: F401

    x, y = _data()
    raw, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        run_raw(x, y, epochs=1), run_rnnlab(x, y, rnnlab_config(Path(tmp) / "warmup", 1))  # warm up
        for i in range(repeats):  # alternate which goes first
            cfg = rnnlab_config(Path(tmp) / f"r{i}")
            pair = [("raw", lambda: run_raw(x, y)), ("rnnlab", lambda cfg=cfg: run_rnnlab(x, y, cfg))]
            for name, fn in pair if i % 2 == 0 else reversed(pair):
                (raw if name == "raw" else ours).append(fn())
    raw_s, ours_s = statistics.median(raw), statistics.median(ours)
    return {
        "epochs": EPOCHS,
        "repeats": repeats,
        "raw_s": raw,
        "rnnlab_s": ours,
        "raw_median_s": raw_s,
        "rnnlab_median_s": ours_s,
        "extra_s_per_epoch": (ours_s - raw_s) / EPOCHS,
        "ratio": ours_s / raw_s,
    }


def show(result: dict) -> None:
    title = f"Lightning's parity workload, {result['epochs']} epochs, median of {result['repeats']} pairs"
    rows = [
        [name, f"{result[f'{key}_median_s']:.2f}", runs(result[f"{key}_s"])]
        for name, key in (("raw PyTorch loop", "raw"), ("rnnlab", "rnnlab"))
    ]
    print_table(title, ["pipeline", "wall s (median)", "each run"], rows)
    print(f"rnnlab costs {result['extra_s_per_epoch']:+.3f} s per epoch over the raw loop")
    print(f"rnnlab/raw: {result['ratio']:.2f}x")
