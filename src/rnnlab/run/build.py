"""Turn a composed config into the objects of a run: data module, task, callbacks, trainer."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

from rnnlab.callbacks.budget import TICKS, TimeBudget
from rnnlab.callbacks.pruning import TrialPruning
from rnnlab.callbacks.safety import GracefulInterrupt
from rnnlab.data.spec import TaskSpec
from rnnlab.errors import ConfigError, check_choice, config_group
from rnnlab.run import resources
from rnnlab.run.contradictions import given_keys, overrides_given
from rnnlab.run.settings import budget_seconds
from rnnlab.run.targets import instantiate
from rnnlab.tasks.base import HORIZONS, Schedule
from rnnlab.tasks.conformal import coverage_of
from rnnlab.tasks.likelihood import QUANTILES, build_likelihood, check_levels

INTERVALS = ("epoch", "step")
log = logging.getLogger(__name__)


def route_lightning_logs() -> None:
    """Lightning brings its own stderr handlers; send its records to Hydra's root handlers
    instead (the console and <run>/<job>.log), once each."""
    import logging

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    """Instantiate the task's data module and set it up, so bad data stops the run here; data
    that would not fit in memory is refused before it is made."""
    datamodule = instantiate("data", cfg.data)
    planned = resources.planned_bytes(datamodule)
    if planned is not None:
        key = f"data.{datamodule.size_setting}" if datamodule.size_setting else None
        resources.check(cfg, resources.Need(data=planned), given_keys(overrides_given()), key)
    with config_group("data"):
        datamodule.prepare_data()
        datamodule.setup("fit")
    return datamodule


def check_memory(cfg: DictConfig, datamodule, build_network) -> None:
    """The run's data (as its data module planned it), its network's parameters and one
    batch's activations against the free memory, before the network is built
    (run/resources.py)."""
    if not cfg.get("check_memory", True):
        return
    inputs = next(iter(datamodule.train_dataloader()))[0]
    layers = int(cfg.model.get("num_layers", 1))
    need = resources.network_need(build_network, layers, inputs.shape, inputs.dtype, resources.free_bytes())
    need.data = resources.planned_bytes(datamodule) or 0
    resources.check(cfg, need, given_keys(overrides_given()))


def build_budget(cfg: DictConfig) -> TimeBudget | None:
    """The run's time budget (``budget``), or None to end it by its epoch or step count."""
    seconds = budget_seconds(cfg.get("budget"))
    return None if seconds is None else TimeBudget(seconds)


def build_task(
    cfg: DictConfig, spec: TaskSpec, budget: TimeBudget | None = None, datamodule=None
) -> L.LightningModule:
    """The network from ``cfg.model`` sized by ``spec``, wrapped in the task's LightningModule.
    With the run's ``datamodule``, the run's memory is estimated first (the network counted on
    the meta device, one batch of the data through it) and refused beyond the free memory."""
    from rnnlab import registry

    sizes = {"input_size": spec.input_size, "output_size": spec.output_size}
    if spec.objective == "tokens":  # an answer at chosen steps: logits at every step
        sizes.update(head="step", input_encoding=spec.input_encoding)
    if spec.objective == "language":
        if cfg.model.get("bidirectional"):
            raise ConfigError(
                "model.bidirectional",
                "false for a language model: a bidirectional model reads the characters it must "
                "predict, so it cannot generate text",
                True,
            )
        sizes.update(head="step", input_encoding=spec.input_encoding)
    settings = cfg.get("task") or {}
    likelihood = build_likelihood(settings.get("likelihood"), settings.get("quantiles", QUANTILES))
    if settings.get("likelihood") is not None and spec.objective != "regression":
        raise ConfigError(
            "task.likelihood",
            f"null for a {spec.objective} task (only a forecast has one)",
            settings.get("likelihood"),
        )
    if cfg.get("probe") is not None and spec.objective == "regression" and spec.input_size != 1:
        raise ConfigError(
            "probe", "null for data of several columns (a probe is one column's window)", list(cfg.probe)
        )
    if settings.get("calibrate") is not None and spec.objective != "regression":
        raise ConfigError(
            "task.calibrate",
            f"null for a {spec.objective} task (only a forecast has an interval)",
            settings.get("calibrate"),
        )
    if settings.get("highway") is True and spec.objective != "regression":
        raise ConfigError(
            "task.highway", f"false for a {spec.objective} task (only a forecast has one)", True
        )
    sizes["output_size"] *= likelihood.params
    if datamodule is not None:
        check_memory(cfg, datamodule, lambda **size: instantiate("model", cfg.model, **{**sizes, **size}))
    net = instantiate("model", cfg.model, **sizes)
    if spec.stateful and not net.backbone.carries_state:
        raise ConfigError(
            "data.stateful",
            f"false for {type(net).__name__}: it has no fixed-size state to carry from batch to "
            "batch (a longer data.window lets it see further back)",
            True,
        )
    log.info(
        "model: %s, %s trainable parameters, hidden_size %d%s",
        type(net).__name__,
        f"{net.num_parameters:,}",
        net.hidden_size,
        f" (chosen for model.params={cfg.model.params})" if cfg.model.get("params") else "",
    )
    optimizer = instantiate("optimizer", cfg.optimizer)
    schedule = build_schedule(cfg, budget)
    options = {}
    if spec.objective == "regression":
        levels = check_levels(settings.get("quantiles", QUANTILES))
        options = {
            "likelihood": likelihood,
            "calibrate": settings.get("calibrate"),
            "coverage": coverage_of(levels),
            # null: the data's default; a config stored before the setting: none
            "highway": spec.highway
            if settings.get("highway", False) is None
            else settings.get("highway", False),
        }
    task = registry.task_class(spec.objective)(
        net=net, spec=spec, optimizer=optimizer, schedule=schedule, **options
    )
    _check_optimization(task, cfg)
    return task


def build_schedule(cfg: DictConfig, budget: TimeBudget | None) -> Schedule | None:
    """The learning-rate schedule of ``cfg.scheduler``; on a budget, one with an end runs
    over the budget's ticks on its clock (its own horizon setting is replaced)."""
    if not cfg.get("scheduler"):
        return None
    # interval and monitor are Lightning's; the rest configures the torch scheduler
    conf = OmegaConf.to_container(cfg.scheduler, resolve=True)
    interval = check_choice("scheduler.interval", conf.pop("interval", "epoch"), INTERVALS)
    monitor = conf.pop("monitor", "val/loss")
    name = str(conf.get("_target_")).rsplit(".", 1)[-1]
    if budget is None or name not in HORIZONS:
        return Schedule(instantiate("scheduler", conf), interval, monitor)
    setting, shift = HORIZONS[name]
    log.info(
        "budget %gs: %s ends with the budget (scheduler.%s %s -> %d, a step every %.3g s of it)",
        budget.seconds,
        name,
        setting,
        conf.get(setting),
        TICKS - shift,
        budget.seconds / TICKS,
    )
    conf[setting] = TICKS - shift
    return Schedule(instantiate("scheduler", conf), "step", monitor, clock=budget.tick)


def _check_optimization(task: L.LightningModule, cfg: DictConfig) -> None:
    """Build the optimizer and scheduler once now: torch checks their arguments (betas,
    momentum, T_max, ...) only when they are built, which Lightning does after setup."""
    try:
        optimizer = task.optimizer_factory(params=task.parameters())
    except (TypeError, ValueError) as error:
        raise ConfigError(
            "optimizer", f"settings that {cfg.optimizer._target_} accepts", None, str(error)
        ) from None
    if task.schedule is not None:
        try:
            task.schedule.factory(optimizer=optimizer)
        except (TypeError, ValueError) as error:
            allowed = f"settings that {cfg.scheduler._target_} accepts"
            raise ConfigError("scheduler", allowed, None, str(error)) from None


def _instantiate_all(group: str, configs: DictConfig | None) -> list[Any]:
    """Every entry of a callbacks/logger group that names a ``_target_`` (null entries are off)."""
    from rnnlab.run.trackers import check_installed, refused_uri

    built = []
    for name, conf in (configs or {}).items():
        if conf is not None and "_target_" in conf:
            check_installed(f"{group}.{name}", str(conf._target_))
            try:
                built.append(instantiate(group, conf, path=f"{group}.{name}"))
            except ConfigError as error:
                raise refused_uri(error, f"{group}.{name}", conf) from None
    return built


def build_trainer(
    cfg: DictConfig, budget: TimeBudget | None = None, signals: GracefulInterrupt | None = None
) -> L.Trainer:
    """The Trainer of ``cfg.trainer`` with the run's callbacks and loggers; on a budget the
    budget alone ends training (its TimeBudget is the trainer's Timer). ``signals``: the
    run's signal handling, when the caller holds it around the whole run."""
    from rnnlab.callbacks import DivergenceGuard, RunConfigCheckpoint
    from rnnlab.run.settings import check_trainer

    check_trainer(cfg.trainer, budgeted=budget is not None)
    # not from config: evaluation, resuming and safe stops depend on these
    run_config = OmegaConf.to_container(cfg, resolve=True)
    signals = signals or GracefulInterrupt(Path(cfg.paths.output_dir))
    safety = [RunConfigCheckpoint(run_config), DivergenceGuard(), signals]
    callbacks = [*_instantiate_all("callbacks", cfg.get("callbacks")), *safety]
    if cfg.get("trial") is not None:  # a job of an optuna search: report to its trial, maybe stop
        callbacks.append(build_pruning(cfg))
    loggers = _instantiate_all("logger", cfg.get("logger"))
    limits = {}
    if budget is not None:
        callbacks.append(budget)
        limits = {"max_epochs": -1, "max_steps": -1}
        if cfg.trainer.get("max_epochs", -1) != -1:
            log.info("budget %gs ends training: trainer.max_epochs is not read", budget.seconds)
    return instantiate("trainer", cfg.trainer, callbacks=callbacks, logger=loggers or False, **limits)


def build_pruning(cfg: DictConfig) -> TrialPruning:
    """The link of a search job to its trial; it reports the metric whose best is the
    search's objective (val/loss for val/loss_best)."""
    from rnnlab.search import check_trial, objectives

    check_trial(cfg.trial)
    (metric, *_), _ = objectives(cfg)
    return TrialPruning(**OmegaConf.to_container(cfg.trial), monitor=metric.removesuffix("_best"))


def flat_params(
    cfg: DictConfig, groups=("data", "model", "task", "optimizer", "scheduler", "trainer")
) -> dict:
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


def log_hyperparams(trainer: L.Trainer, cfg: DictConfig, task: L.LightningModule) -> None:
    """Record the run's settings with every logger; TensorBoard also learns which scalars are
    the metrics to show beside them (the optimized ones and the task's headline metrics)."""
    from lightning.pytorch.loggers import TensorBoardLogger

    from rnnlab.run.adapters import write_hparams
    from rnnlab.search import objectives

    params = flat_params(cfg)
    for logger in trainer.loggers:
        if not isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(params)
        elif trainer.is_global_zero:
            write_hparams(logger, params, [*objectives(cfg)[0], *task.hparams_metrics])
