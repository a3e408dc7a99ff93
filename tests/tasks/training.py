"""A short quiet training run for the learning tests of tasks/."""

import lightning as L


def fit_and_test(task: L.LightningModule, data: L.LightningDataModule, epochs: int, root) -> dict:
    """Train ``task`` on ``data`` for ``epochs`` (gradients clipped at norm 1, no logger, no
    checkpoints) and return its test metrics."""
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        gradient_clip_val=1.0,
        default_root_dir=root,
    )
    trainer.fit(task, datamodule=data)
    (metrics,) = trainer.test(task, datamodule=data, verbose=False)
    return metrics
