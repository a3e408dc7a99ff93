"""rnnlab-sample: continue a prompt with a trained character-level language model.

rnnlab-sample ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt prompt="The " length=300
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from rnnlab import CONFIG_DIR
from rnnlab.errors import ConfigError
from rnnlab.run.entry import one_line_errors, run_entry_point, skip_exit_gc


def sample(cfg: DictConfig) -> str:
    """The prompt and its sampled continuation."""
    import torch

    from rnnlab.run.checkpoint import load_checkpoint, require_checkpoint
    from rnnlab.run.schema import SampleSettings
    from rnnlab.run.settings import root_settings
    from rnnlab.tasks.language import CharLanguageModel

    path = require_checkpoint(cfg)
    settings = root_settings(cfg, SampleSettings)
    task, _ = load_checkpoint(path)
    if not isinstance(task, CharLanguageModel):
        raise ConfigError(
            "ckpt_path", "a language model's checkpoint (trained with data=text)", str(cfg.ckpt_path)
        )
    prompt = settings.prompt
    unknown = task.vocab.unknown(prompt)
    if unknown:
        shown = ", ".join(repr(char) for char in unknown)
        print(f"rnnlab-sample: warning: never seen in training, read as <unk>: {shown}", file=sys.stderr)
    generator = torch.Generator().manual_seed(settings.seed)
    return task.sample(prompt, settings.length, settings.temperature, settings.top_k, generator)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="sample")
def main(cfg: DictConfig) -> None:
    skip_exit_gc()
    with one_line_errors("rnnlab-sample"):
        text = sample(cfg)
    print(text)


def cli() -> None:
    """The ``rnnlab-sample`` console script."""
    run_entry_point(main, "rnnlab-sample", "sample", own_help=False)


if __name__ == "__main__":
    cli()
