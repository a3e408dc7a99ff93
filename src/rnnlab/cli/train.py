"""rnnlab-train: compose the config, build the task, train, test, write metrics.json.

Module level imports stay light (no torch, no Lightning): ``--help`` and ``--cfg`` are fast.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from rnnlab.errors import ConfigError

CONFIG_DIR = str(Path(__file__).resolve().parents[3] / "conf")
log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """One training run in ``cfg.paths.output_dir``; returns the final metrics."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from rnnlab.cli import build

    # Lightning brings its own stderr handlers; route its records to Hydra's root handlers
    # instead (console and <run>/train.log), once each.
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = build.build_datamodule(cfg)
    task = build.build_task(cfg, datamodule.spec)
    trainer = build.build_trainer(cfg)
    build.log_hyperparams(trainer, build.flat_params(cfg), [cfg.optimized_metric, *task.hparams_metrics])

    trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    metrics = build.scalar_metrics(trainer.callback_metrics)
    checkpoint = trainer.checkpoint_callback
    best = None
    if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_path:
        best = checkpoint.best_model_path
        best_score = {f"{checkpoint.monitor}_best": float(checkpoint.best_model_score)}
        metrics.update(best_score)
        for logger in trainer.loggers:
            logger.log_metrics(best_score, trainer.global_step)
    if cfg.get("test", True):
        trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False)
        metrics.update(build.scalar_metrics(trainer.callback_metrics))

    if cfg.get("probe") is not None:
        metrics.update(probe(task, list(cfg.probe)))

    if trainer.is_global_zero:
        path = Path(cfg.paths.output_dir) / "metrics.json"
        build.write_metrics(path, metrics)
        log.info("metrics: %s", path)
        build.print_summary(metrics, title=cfg.task_name)
    return metrics


def probe(task, window: list[float]) -> dict[str, float]:
    """Forecast what follows ``window`` with the trained model, and say it."""
    forecast = task.predict_next(window)
    shown = ", ".join(f"{v:g}" for v in window)
    log.info("after %s the model predicts %s", shown, ", ".join(f"{v:.4g}" for v in forecast))
    keys = ["probe/prediction", *(f"probe/prediction_step{k}" for k in range(2, len(forecast) + 1))]
    return dict(zip(keys, forecast, strict=True))


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = train(cfg)
    except ConfigError as error:
        print(f"rnnlab-train: error: {error}", file=sys.stderr)
        sys.exit(2)
    value = metrics.get(cfg.optimized_metric)
    return None if value is None else float(value)


if __name__ == "__main__":
    main()
