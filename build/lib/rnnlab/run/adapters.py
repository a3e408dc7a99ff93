"""The places rnnlab reaches past a library's documented API, each for want of a public one.

- Lightning has no public way to ask whether a strategy will start its worker processes
  by re-running the command line (its DDP launcher for local processes) or find them
  started by a cluster; only the launcher's private class tells.
- TensorBoard's HPARAMS tab reads the hyperparameters from summaries in the run's own event
  file. torch's ``SummaryWriter.add_hparams`` writes them into a new sub-run with copies of
  the metrics, and Lightning's ``log_hyperparams(params, metrics)`` logs the metrics'
  placeholders as real scalars at step 0; the writer's undocumented ``file_writer``
  attribute takes the summaries alone.
"""

from __future__ import annotations


def relaunches_command_line(trainer) -> bool:
    """Whether fit would start worker processes by re-running the command line (Lightning's
    DDP launcher), rather than finding them started by a cluster (SLURM, torchrun)."""
    from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

    launcher = trainer.strategy.launcher
    return isinstance(launcher, _SubprocessScriptLauncher) and not (
        trainer.strategy.cluster_environment.creates_processes_externally
    )


def write_hparams(logger, params: dict, metric_names: list[str]) -> None:
    """Hyperparameters into a TensorBoardLogger's event file, with the scalars to show beside
    them named (their values are the ones the run logs)."""
    from torch.utils.tensorboard.summary import hparams

    writer = logger.experiment.file_writer
    for summary in hparams(params, dict.fromkeys(metric_names, 0.0)):
        writer.add_summary(summary)
