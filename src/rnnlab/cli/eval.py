"""rnnlab-eval: reproduce a run's test metrics from one of its checkpoints alone.

rnnlab-eval ckpt_path=outputs/runs/<run>/checkpoints/<best>.ckpt
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from rnnlab import CONFIG_DIR
from rnnlab.errors import ConfigError
from rnnlab.run.entry import one_line_errors, run_entry_point, skip_exit_gc


def evaluate(cfg: DictConfig) -> dict[str, float | str]:
    """Test the checkpoint's model on the test split its stored data config describes."""
    import lightning as L

    from rnnlab.run import build
    from rnnlab.run.checkpoint import load_checkpoint, require_checkpoint
    from rnnlab.run.results import print_summary, scalar_metrics, write_metrics
    from rnnlab.run.schema import EvalSettings, TrainSettings
    from rnnlab.run.settings import check, root_settings
    from rnnlab.run.training import probe

    build.route_lightning_logs()
    task, config = load_checkpoint(require_checkpoint(cfg))
    root_settings(cfg, EvalSettings)
    try:
        check(TrainSettings, {"seed": config.get("seed")})
    except ConfigError as error:
        raise ConfigError("the checkpoint's stored seed", error.allowed, error.got) from None
    if config.get("seed") is not None:
        L.seed_everything(config.seed, workers=True, verbose=False)
    datamodule = build.build_datamodule(config)
    if not datamodule.spec.test_splits:
        raise ConfigError(
            "ckpt_path", "a checkpoint of a run whose data has a test split", str(cfg.ckpt_path)
        )
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=cfg.paths.output_dir,
    )
    trainer.test(task, datamodule=datamodule, verbose=False)
    metrics: dict[str, float | str] = scalar_metrics(trainer.callback_metrics)
    if config.get("probe") is not None:
        metrics.update(probe(task, list(config.probe)))
    metrics["status"] = "ok"
    metrics_path = Path(cfg.paths.output_dir) / "metrics.json"
    write_metrics(metrics_path, metrics)
    print_summary(metrics, title=f"eval: {Path(cfg.ckpt_path).name}")
    return metrics


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="eval")
def main(cfg: DictConfig) -> None:
    skip_exit_gc()
    with one_line_errors("rnnlab-eval"):
        evaluate(cfg)


def cli() -> None:
    """The ``rnnlab-eval`` console script."""
    run_entry_point(main, "rnnlab-eval", "eval")


if __name__ == "__main__":
    cli()
