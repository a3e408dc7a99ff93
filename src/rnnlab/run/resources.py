"""Will the run fit in memory? An estimate before anything large is made, refused in one line
with the estimate and the key to change when it is beyond what the machine has free.

- data: what a data module's ``planned_bytes()`` says its splits will hold, before it makes
  them (a memory task from one generated sequence per split; a series from its length and
  its windows);
- the network: built on PyTorch's ``meta`` device (shapes, no storage), so that its
  parameters are counted exactly, with their gradients and the optimizer's state; where a
  generous bound does not already fit, autograd's saved-tensor hooks count what the family's
  own code keeps for the backward pass, on the meta device, for one and two layers and one
  and two sequences of the run's batch, extrapolated to its layers and batch size.

``check_memory=false`` runs a run beyond the estimate (memory it does not see: swap, a
machine that frees memory later).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import DictConfig

from rnnlab.errors import ConfigError

# weights, their gradients and Adam's two moments, 4 bytes each
BYTES_PER_PARAMETER = 16
MODEL_KEYS = ("model.params", "model.num_layers", "model.hidden_size", "model.state_size", "model.num_heads")


def planned_bytes(datamodule) -> int | None:
    """What a data module says its data will take (the PlansMemory protocol), else None."""
    from rnnlab.data.base import PlansMemory

    return datamodule.planned_bytes() if isinstance(datamodule, PlansMemory) else None


def free_bytes() -> int | None:
    """The memory this machine has free now (MemAvailable), None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gb(count: float) -> str:
    """Bytes in the unit that reads best (1.2 GB, 340 MB, 19 TB)."""
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count:.0f} B"


@dataclass
class Need:
    """What a run will hold: its data, its parameters (with gradients and optimizer state)
    and one batch's activations."""

    data: int = 0
    parameters: int = 0
    activations: int = 0
    batch: str = ""

    @property
    def total(self) -> int:
        return self.data + self.parameters * BYTES_PER_PARAMETER + self.activations

    def parts(self) -> str:
        parts = [f"data {gb(self.data)}"]
        if self.parameters:
            parts.append(f"{self.parameters:,} parameters {gb(self.parameters * BYTES_PER_PARAMETER)}")
        if self.activations:
            parts.append(f"activations of a batch ({self.batch}) {gb(self.activations)}")
        return ", ".join(parts)


def check(cfg: DictConfig, need: Need, given: set[str], data_key: str | None = None) -> None:
    """Refuse ``need`` beyond the free memory, naming the key whose part is largest: the one
    the user set among the model's size keys, the batch size, or the data's size key."""
    if not cfg.get("check_memory", True):
        return
    free = free_bytes()
    if free is None or need.total <= free:
        return
    model_key = next((k for k in MODEL_KEYS if k in given), None)
    weights = need.parameters * BYTES_PER_PARAMETER
    if need.data >= max(weights, need.activations):
        key = data_key or "data"
    elif weights >= need.activations or (model_key and "data.batch_size" not in given):
        key = model_key or "model.hidden_size"  # the size the user set makes both large
    else:
        key = "data.batch_size"
    raise ConfigError(
        key,
        "small enough for the run to fit in memory (or check_memory=false to run it anyway)",
        _value(cfg, key),
        f"it needs about {gb(need.total)} ({need.parts()}) and this machine has {gb(free)} free",
    )


def _value(cfg: DictConfig, key: str):
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key, default=None)


# a generous bound on the numbers a layer keeps per unit of width and step for its backward
# pass: a network whose bound with it fits in a quarter of the free memory is not measured
CRUDE_NUMBERS_PER_UNIT = 64


def network_need(build, layers: int, shape: torch.Size, dtype: torch.dtype, free: int | None) -> Need:
    """The parameters of the network ``build()`` makes (counted on the meta device: nothing is
    allocated), and the activations a batch of ``shape`` (the run's own) leaves for the
    backward pass. Those are measured only where a generous bound does not already fit: on
    the meta device, autograd's saved-tensor hooks count what the family's own code keeps,
    for one layer and for two (``build(num_layers=n, hidden_size=width)``), extrapolated to
    ``layers`` (a meta forward pass costs time in proportion to layers x steps)."""
    with torch.device("meta"):
        net = build()
    parameters = sum(p.numel() for p in net.parameters() if p.requires_grad)
    batch, steps = shape[0], shape[1] if len(shape) > 1 else 1
    need = Need(parameters=parameters, batch=f"{batch} x {steps} steps")
    crude = batch * steps * net.hidden_size * layers * 4 * CRUDE_NUMBERS_PER_UNIT
    if free is None or need.total + crude <= free / 4:
        return need
    with torch.device("meta"):
        small = [build(num_layers=n, hidden_size=net.hidden_size, params=None) for n in (1, 2)]
    one, two = (_per_sequence(layer, shape, dtype) for layer in small)
    need.activations = batch * (one + (layers - 1) * max(two - one, 0))
    return need


def _per_sequence(net, shape: torch.Size, dtype: torch.dtype) -> int:
    """The bytes kept for backward per sequence of the batch: what a batch of two keeps beyond
    a batch of one (what does not grow with the batch is the weights, kept as they are)."""
    return _saved_bytes(net, (2, *shape[1:]), dtype) - _saved_bytes(net, (1, *shape[1:]), dtype)


def _saved_bytes(net, shape: tuple[int, ...], dtype: torch.dtype) -> int:
    saved = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += tensor.numel() * tensor.element_size()
        return tensor

    with torch.device("meta"), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        net(torch.zeros(shape, dtype=dtype))
    return saved
