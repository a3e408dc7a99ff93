"""rnnlab-predict: forecast past the end of the data with a trained forecaster.

rnnlab-predict run=outputs/runs/<run> steps=48 [data.path=new.csv] [calibrate=conformal]
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from rnnlab import CONFIG_DIR
from rnnlab.run.entry import one_line_errors, run_entry_point, skip_exit_gc


def predict(cfg: DictConfig):
    """Forecast ``steps`` rows past the file's last, into forecast.csv, .json and .png."""
    from rnnlab.run import forecast as fc
    from rnnlab.run.schema import PredictSettings
    from rnnlab.run.settings import root_settings

    settings = root_settings(cfg, PredictSettings)
    task, config, checkpoint = fc.load_forecaster(settings.run, settings.ckpt_path)
    _, frame = fc.read_frame(config, settings.data.path)
    calibrate = settings.calibrate or (config.get("task") or {}).get("calibrate")
    result = fc.forecast(task, config, frame, settings.steps, calibrate, settings.freq)
    warnings = fc.check_scale(task, config, frame)
    for warning in warnings:
        print(f"rnnlab-predict: warning: {warning}", file=sys.stderr)
    folder = Path(cfg.paths.output_dir)
    about = {
        "checkpoint": str(checkpoint),
        "data": str(config.data.get("path", config.data.get("_target_")))
        if settings.data.path is None
        else settings.data.path,
        "last_row": len(frame.values),
        "steps": settings.steps,
        "horizon": task.horizon,
        "interval": result.interval,
        "coverage": result.coverage,
        "notes": result.notes,
        "warnings": warnings,
    }
    fc.write_forecast(folder, result, frame, about)
    show(result, folder)
    return result


def show(result, folder: Path, rows: int = 12) -> None:
    """The forecast's first rows as a table, and where the files are."""
    from rich.console import Console
    from rich.table import Table

    columns = result.columns()
    table = Table(
        title=f"forecast: {len(result.times)} steps ({result.interval} interval)", title_justify="left"
    )
    for index, name in enumerate(columns):
        table.add_column(name, justify="left" if index == 0 else "right")
    for row in list(zip(*columns.values(), strict=True))[:rows]:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row))
    console = Console()
    console.print(table)
    if len(result.times) > rows:
        console.print(f"... {len(result.times) - rows} more rows", highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"wrote {folder / 'forecast.csv'}, forecast.png, forecast.json", highlight=False)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="predict")
def main(cfg: DictConfig) -> None:
    skip_exit_gc()
    with one_line_errors("rnnlab-predict"):
        predict(cfg)


def cli() -> None:
    """The ``rnnlab-predict`` console script."""
    run_entry_point(main, "rnnlab-predict", "predict")


if __name__ == "__main__":
    cli()
