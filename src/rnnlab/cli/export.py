"""rnnlab-export: a trained forecaster for use without rnnlab (torch.export or ONNX).

rnnlab-export run=outputs/runs/<run> [format=torch|onnx]
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from rnnlab import CONFIG_DIR
from rnnlab.run.entry import one_line_errors, run_entry_point, skip_exit_gc


def export(cfg: DictConfig) -> dict:
    """model.pt2 or model.onnx, and model.json, in the export's own dir."""
    from rnnlab.run.export import export as write
    from rnnlab.run.forecast import load_forecaster
    from rnnlab.run.schema import ExportSettings
    from rnnlab.run.settings import root_settings

    settings = root_settings(cfg, ExportSettings)
    task, config, _ = load_forecaster(settings.run, settings.ckpt_path)
    folder = Path(cfg.paths.output_dir)
    about = write(task, config, folder, settings.format, str(config.model.get("_target_")))
    print(f"wrote {folder / about['file']} and model.json: {about['load']}")
    return about


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="export")
def main(cfg: DictConfig) -> None:
    skip_exit_gc()
    with one_line_errors("rnnlab-export"):
        export(cfg)


def cli() -> None:
    """The ``rnnlab-export`` console script."""
    run_entry_point(main, "rnnlab-export", "export")


if __name__ == "__main__":
    cli()
