"""rnnlab-sample: continue a prompt with a trained character-level language model.

rnnlab-sample ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt prompt="The " length=300
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from rnnlab import CONFIG_DIR
from rnnlab.errors import ConfigError, check_int, check_number
from rnnlab.run.entry import run_entry_point, skip_exit_gc


def sample(cfg: DictConfig) -> str:
    """The prompt and its sampled continuation."""
    import torch

    from rnnlab.run.checkpoint import load_checkpoint, require_checkpoint
    from rnnlab.tasks.language import CharLanguageModel

    length = check_int("length", cfg.length, 0)
    top_k = check_int("top_k", cfg.top_k, 0)
    temperature = check_number(
        "temperature", cfg.temperature, 0, "a number >= 0 (0: the most likely character)"
    )
    prompt = str(cfg.prompt)
    if not prompt:
        raise ConfigError("prompt", "at least one character", prompt)
    task, _ = load_checkpoint(require_checkpoint(cfg))
    if not isinstance(task, CharLanguageModel):
        raise ConfigError(
            "ckpt_path", "a language model's checkpoint (trained with data=text)", str(cfg.ckpt_path)
        )
    unknown = task.vocab.unknown(prompt)
    if unknown:
        shown = ", ".join(repr(char) for char in unknown)
        print(f"rnnlab-sample: warning: never seen in training, read as <unk>: {shown}", file=sys.stderr)
    generator = torch.Generator().manual_seed(check_int("seed", cfg.seed, 0))
    return task.sample(prompt, length, temperature, top_k, generator)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="sample")
def main(cfg: DictConfig) -> None:
    skip_exit_gc()
    try:
        text = sample(cfg)
    except ConfigError as error:
        print(f"rnnlab-sample: error: {error}", file=sys.stderr)
        sys.exit(2)
    print(text)


def cli() -> None:
    """The ``rnnlab-sample`` console script."""
    run_entry_point(main, "rnnlab-sample")


if __name__ == "__main__":
    cli()
