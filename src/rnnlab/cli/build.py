"""Turn a composed config into the objects of a run: data module, task, callbacks, trainer."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from rnnlab.data.spec import TaskSpec
from rnnlab.errors import ConfigError, check_choice, config_group

INTERVALS = ("epoch", "step")


def route_lightning_logs() -> None:
    """Lightning brings its own stderr handlers; send its records to Hydra's root handlers
    instead (the console and <run>/<job>.log), once each."""
    import logging

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    """Instantiate the task's data module and set it up, so bad data stops the run here."""
    with config_group("data"):
        datamodule = instantiate(cfg.data)
        datamodule.prepare_data()
        datamodule.setup("fit")
    return datamodule


def build_task(cfg: DictConfig, spec: TaskSpec) -> L.LightningModule:
    """The network from ``cfg.model`` sized by ``spec``, wrapped in the task's LightningModule."""
    from rnnlab.tasks import TASKS

    sizes = {"input_size": spec.input_size, "output_size": spec.output_size}
    if spec.objective == "language":
        if cfg.model.get("bidirectional"):
            raise ConfigError(
                "model.bidirectional",
                "false for a language model: a bidirectional model reads the characters it must "
                "predict, so it cannot generate text",
                True,
            )
        sizes.update(head="step", input_encoding=spec.input_encoding)
    with config_group("model"):
        net = instantiate(cfg.model, **sizes)
    with config_group("optimizer"):
        optimizer = instantiate(cfg.optimizer)
    schedule = {}
    if cfg.get("scheduler"):
        # interval and monitor are Lightning's; the rest configures the torch scheduler
        conf = OmegaConf.to_container(cfg.scheduler, resolve=True)
        schedule["scheduler_interval"] = check_choice(
            "scheduler.interval", conf.pop("interval", "epoch"), INTERVALS
        )
        schedule["scheduler_monitor"] = conf.pop("monitor", "val/loss")
        with config_group("scheduler"):
            schedule["scheduler"] = instantiate(conf)
    return TASKS[spec.objective](net=net, spec=spec, optimizer=optimizer, **schedule)


def _instantiate_all(group: str, configs: DictConfig | None) -> list[Any]:
    """Every entry of a callbacks/logger group that names a ``_target_`` (null entries are off)."""
    objects = []
    with config_group(group):
        for conf in (configs or {}).values():
            if conf is not None and "_target_" in conf:
                objects.append(instantiate(conf))
    return objects


def build_trainer(cfg: DictConfig) -> L.Trainer:
    from rnnlab.callbacks import DivergenceGuard, GracefulInterrupt, RunConfigCheckpoint

    # not from config: evaluation, resuming and safe stops depend on these
    run_config = OmegaConf.to_container(cfg, resolve=True)
    safety = [RunConfigCheckpoint(run_config), DivergenceGuard(), GracefulInterrupt()]
    callbacks = [*_instantiate_all("callbacks", cfg.get("callbacks")), *safety]
    loggers = _instantiate_all("logger", cfg.get("logger"))
    clip = OmegaConf.select(cfg, "trainer.gradient_clip_algorithm")
    if clip is not None:  # Lightning's own message is a multi-line traceback
        check_choice("trainer.gradient_clip_algorithm", clip, ("norm", "value"))
    with config_group("trainer"):
        return instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)


def launches_processes(trainer: L.Trainer) -> bool:
    """Whether fit would start worker processes by re-running the command line (Lightning's
    DDP launcher), rather than finding them started by a cluster (SLURM, torchrun)."""
    from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

    launcher = trainer.strategy.launcher
    return isinstance(launcher, _SubprocessScriptLauncher) and not (
        trainer.strategy.cluster_environment.creates_processes_externally
    )


def flat_params(cfg: DictConfig, groups=("data", "model", "optimizer", "scheduler", "trainer")) -> dict:
    """The run's hyperparameters as flat ``group/key`` scalars (TensorBoard's HPARAMS tab)."""
    params: dict[str, Any] = {"seed": cfg.get("seed")}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key not in ("_target_", "_partial_"):
                    walk(f"{prefix}/{key}", item)
            if "_target_" in value:
                params[f"{prefix}/name"] = str(value["_target_"]).rsplit(".", 1)[-1]
        elif isinstance(value, bool | int | float | str):
            params[prefix] = value
        else:
            params[prefix] = str(value)

    container = OmegaConf.to_container(cfg, resolve=True)
    for group in groups:
        if container.get(group) is not None:
            walk(group, container[group])
    return {k: ("null" if v is None else v) for k, v in params.items()}


def log_hyperparams(trainer: L.Trainer, params: dict, metric_names: list[str]) -> None:
    """Record ``params`` with every logger; TensorBoard also learns which scalars are the
    metrics to show beside them (their values come from the scalars the run logs)."""
    from lightning.pytorch.loggers import TensorBoardLogger
    from torch.utils.tensorboard.summary import hparams

    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            if not trainer.is_global_zero:
                continue
            writer = logger.experiment._get_file_writer()
            for summary in hparams(params, dict.fromkeys(metric_names, 0.0)):
                writer.add_summary(summary)
        else:
            logger.log_hyperparams(params)


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float | str]:
    """Tensors and numbers as plain floats (NaN and inf kept as JSON-compatible strings)."""
    out = {}
    for key, value in metrics.items():
        number = float(value.item() if hasattr(value, "item") else value)
        out[key] = number if math.isfinite(number) else str(number)
    return out


def write_metrics(path: Path, metrics: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(dict(sorted(metrics.items())), indent=2) + "\n")


def print_summary(metrics: Mapping[str, float], title: str) -> None:
    """The headline numbers as a table: each split's errors beside its naive baselines."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    baselines = [b for b in ("naive", "snaive") if any(f"/{b}_" in key for key in metrics)]
    for column in ["model", *baselines]:
        table.add_column(column, justify="right")
    splits = dict.fromkeys(key.split("/")[0] for key in metrics if key.startswith(("val/", "test")))
    for split in splits:
        for name in ("loss", "bpc", "mse", "mae", "exact", "acc"):
            key = f"{split}/{name}"
            if key in metrics and isinstance(metrics[key], float):
                row = [metrics.get(f"{split}/{b}_{name}") for b in baselines]
                table.add_row(key, f"{metrics[key]:.4g}", *("" if v is None else f"{v:.4g}" for v in row))
    Console().print(table)
