"""The declared settings of the run itself, of the root configs (train.yaml, eval.yaml,
sample.yaml), and of the classes rnnlab configures but does not own (Lightning's Trainer,
torch's optimizers). rnnlab's own parts declare theirs in their constructors.

Light (pydantic only): ``rnnlab-train --help`` lists these without loading torch.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import AfterValidator, model_validator

from rnnlab.declared import Annotated, Field, Setting, Settings
from rnnlab.errors import ConfigError

SEED_RANGE = (0, 2**32 - 1)  # numpy's and Lightning's seeds are 32-bit unsigned
BUDGET_UNITS = {"s": 1, "min": 60, "h": 3600}
BUDGET_ALLOWED = "a training time such as 90s, 10min or 1.5h (or DD:HH:MM:SS), or null for none"


def budget_seconds(value: Any) -> float | None:
    """The seconds of a ``budget`` setting (``10min``, ``90s``, ``1.5h``, ``00:00:10:00``)."""
    import re

    if value is None:
        return None
    text = str(value).strip() if isinstance(value, str) else ""
    if match := re.fullmatch(r"(\d+(?:\.\d*)?)\s*(s|min|h)", text):
        seconds = float(match[1]) * BUDGET_UNITS[match[2]]
    elif match := re.fullmatch(r"(\d+):(\d\d):(\d\d):(\d\d)", text):  # Lightning's max_time form
        days, hours, minutes, secs = (int(part) for part in match.groups())
        seconds = float(((days * 24 + hours) * 60 + minutes) * 60 + secs)
    else:
        raise ConfigError("budget", BUDGET_ALLOWED, value)
    if seconds <= 0:
        raise ConfigError("budget", "a training time above zero, or null for none", value)
    return seconds


def _budget(value: str | None) -> str | None:
    budget_seconds(value)
    return value


def _levels(levels: list[float]) -> list[float]:
    from rnnlab.tasks.likelihood import check_levels

    check_levels(levels)
    return levels


Seed = Annotated[
    int | None,
    Setting(
        "every random generator is seeded from here; 0 is a seed, null: unseeded",
        "an integer in [0, 4294967295], or null for no seed",
        ge=SEED_RANGE[0],
        le=SEED_RANGE[1],
    ),
]
Metric = Annotated[str, Field(min_length=1)]


class TaskSettings(Settings):
    """``task:``, what the task makes of the network's outputs, whichever model it trains."""

    likelihood: Annotated[
        Literal["gaussian", "quantile"] | None,
        Setting(
            "a forecast's outputs: null a point (MSE), gaussian (NLL, CRPS), quantile (pinball)",
            "null (a point forecast), gaussian or quantile",
        ),
    ] = None
    quantiles: Annotated[
        list[float],
        AfterValidator(_levels),
        Setting("levels of the interval scored and drawn: the outer pair bounds it"),
    ] = [0.1, 0.5, 0.9]
    highway: Annotated[
        bool | None,
        Setting(
            "LSTNet's highway: a linear map of the window added to the network's output, fixed at "
            "the least-squares autoregression (the network learns what it misses); null: on for "
            "a CSV series (data=series), off otherwise",
            "true, false or null (on for data=series)",
        ),
    ] = None
    calibrate: Annotated[
        Literal["conformal"] | None,
        Setting(
            "conformal: the test also scores the interval calibrated on the validation windows "
            "(a point forecast gets one from its residuals) to the quantiles' outer coverage",
            "null or conformal",
        ),
    ] = None


class ReportSettings(Settings):
    """``report:``, how rnnlab-report draws a sweep of this config."""

    metric: Annotated[str | None, Setting("the metric (null: optimized_metric)")] = None
    mode: Annotated[Literal["min", "max"] | None, Setting("which way is better")] = None
    x: Annotated[str | None, Setting("a swept numeric key to plot the metric against")] = None
    best_over: Annotated[list[str], Setting("swept keys whose best setting each point takes")] = []
    along: Annotated[
        list[str], Setting("with x a metric: swept keys that move a point along its line (the width)")
    ] = []


class TrainSettings(Settings):
    """rnnlab-train's root settings (conf/train.yaml), beside its config groups."""

    unknown: ClassVar[str] = "a key rnnlab reads"

    task_name: Annotated[str, Setting("the run's title in its summary")] = "train"
    task: Annotated[TaskSettings, Setting("what the task makes of the network's outputs")] = TaskSettings()
    seed: Seed = 42
    ckpt_path: Annotated[str | None, Setting("a checkpoint to continue training from", "a path, or null")] = (
        None
    )
    resume: Annotated[
        str | None, Setting("a run dir to continue from its last checkpoint", "a path, or null")
    ] = None
    resumed_from: Annotated[str | None, Setting("set on a resumed run: the run it continues")] = None
    budget: Annotated[
        str | None,
        AfterValidator(_budget),
        Setting("a training time that ends the run (and a schedule with an end with it)", BUDGET_ALLOWED),
    ] = None
    threads: Annotated[
        int | None,
        Field(
            ge=1,
            description="torch threads (null: every core, shared between parallel jobs)",
            json_schema_extra={
                "allowed": "an integer >= 1, or null for every core (shared between parallel jobs)"
            },
        ),
    ] = None
    test: Annotated[bool, Setting("test the best checkpoint after training")] = True
    probe: Annotated[
        list[float] | None,
        Setting(
            "a window to forecast from after training (regression)",
            "a non-empty list of numbers (a window to forecast from), or null",
            min_length=1,
        ),
    ] = None
    optimized_metric: Annotated[
        Metric | list[Metric],
        Field(
            description="the metric returned to sweepers, or a list for several objectives",
            json_schema_extra={
                "allowed": "a metric name of metrics.json (e.g. val/loss_best), or a list of them"
            },
        ),
    ] = "val/loss_best"
    optimized_mode: Annotated[
        Literal["min", "max"] | list[Literal["min", "max"]],
        Setting(
            "which way is better, one per optimized_metric",
            "min or max (a list of them for a list of metrics)",
        ),
    ] = "min"
    trial: Annotated[dict | None, Setting("set by the optuna sweeper on each job of a search")] = None
    report: Annotated[ReportSettings, Setting("how rnnlab-report draws a sweep of this config")] = (
        ReportSettings()
    )
    overwrite: Annotated[bool, Setting("delete a finished run's files in the run dir first")] = False
    check_memory: Annotated[
        bool, Setting("refuse a run whose estimated memory is beyond the machine's free memory")
    ] = True

    @model_validator(mode="after")
    def _consistent(self) -> TrainSettings:
        from rnnlab.search import objectives

        objectives({"optimized_metric": self.optimized_metric, "optimized_mode": self.optimized_mode})
        return self


class TrainerSettings(Settings):
    """``trainer:`` the Lightning Trainer settings rnnlab's configs set; any other argument
    of ``lightning.pytorch.Trainer`` may be added (+trainer.<name>=...) and is Lightning's."""

    model_config = Settings.model_config | {"extra": "allow"}

    max_epochs: Annotated[
        int,
        Field(
            ge=-1,
            description="epochs to train (-1: no limit, with max_steps, max_time or budget)",
            json_schema_extra={
                "allowed": "an integer >= 1, or -1 for no epoch limit (with trainer.max_steps)"
            },
        ),
    ] = 20
    max_steps: Annotated[
        int,
        Setting(
            "> 0: stop after this many optimizer steps", "an integer >= 1, or -1 for no step limit", ge=-1
        ),
    ] = -1
    max_time: Annotated[str | None, Field(description='a wall-clock limit "DD:HH:MM:SS"')] = None
    limit_train_batches: Annotated[
        float | int,
        Setting(
            "a fraction of each epoch, or a number of batches",
            "a fraction in (0, 1] of each epoch, or a number of batches >= 1",
        ),
    ] = 1.0
    limit_val_batches: Annotated[
        float | int,
        Setting(
            "a fraction of the val split, or a number of batches (0: no validation)",
            "a fraction in [0, 1] of each epoch, or a number of batches >= 0",
        ),
    ] = 1.0
    limit_test_batches: Annotated[
        float | int,
        Setting(
            "a fraction of each test split, or a number of batches",
            "a fraction in [0, 1] of each epoch, or a number of batches >= 0",
        ),
    ] = 1.0
    gradient_clip_val: Annotated[
        float | None,
        Setting(
            "clip gradients at this norm (or value); null: off",
            "a number >= 0, or null for no clipping",
            ge=0,
        ),
    ] = None
    gradient_clip_algorithm: Annotated[Literal["norm", "value"] | None, Setting("norm | value")] = None
    check_val_every_n_epoch: Annotated[
        int | None,
        Setting("validate after every n epochs", "an integer >= 1", ge=1),
    ] = 1

    @model_validator(mode="after")
    def _limits(self) -> TrainerSettings:
        for name, smallest in (
            ("limit_train_batches", 1),
            ("limit_val_batches", 0),
            ("limit_test_batches", 0),
        ):
            value = getattr(self, name)
            fraction = isinstance(value, float) and (0 < value <= 1 or (smallest == 0 and value == 0))
            if not (fraction or (isinstance(value, int) and value >= smallest)):
                low = "(0" if smallest else "[0"
                allowed = f"a fraction in {low}, 1] of each epoch, or a number of batches >= {smallest}"
                raise ConfigError(f"trainer.{name}", allowed, value)
        if self.max_epochs == 0:
            raise ConfigError(
                "trainer.max_epochs", "an integer >= 1, or -1 for no epoch limit (with trainer.max_steps)", 0
            )
        if self.max_steps == 0:
            raise ConfigError("trainer.max_steps", "an integer >= 1, or -1 for no step limit", 0)
        return self


class OptimizerSettings(Settings):
    """What every optimizer takes (``_partial_``: the task passes the parameters)."""

    lr: Annotated[
        float,
        Setting("the learning rate", "a number > 0 (a learning rate of 0 trains nothing)", gt=0),
    ]
    weight_decay: Annotated[float, Setting("L2 penalty (decoupled for AdamW)", ge=0)] = 0.0


Betas = Annotated[
    list[Annotated[float, Field(ge=0, lt=1)]],
    Setting("the decay rates of the moment estimates", min_length=2, max_length=2),
]


class AdamSettings(OptimizerSettings):
    betas: Betas = [0.9, 0.999]
    eps: Annotated[float, Setting("added to the denominator", gt=0)] = 1e-8
    amsgrad: Annotated[bool, Setting("the AMSGrad variant")] = False


class SGDSettings(OptimizerSettings):
    momentum: Annotated[float, Setting("momentum factor", ge=0, lt=1)] = 0.0
    dampening: Annotated[float, Setting("dampening of the momentum", ge=0, le=1)] = 0.0
    nesterov: Annotated[bool, Setting("Nesterov momentum")] = False


# the classes rnnlab configures but does not own, by the _target_ that names them
DECLARED: dict[str, type[Settings]] = {
    "lightning.pytorch.Trainer": TrainerSettings,
    "torch.optim.Adam": AdamSettings,
    "torch.optim.AdamW": AdamSettings,
    "torch.optim.SGD": SGDSettings,
}


class EvalSettings(Settings):
    """rnnlab-eval's root settings (conf/eval.yaml)."""

    unknown: ClassVar[str] = "a key rnnlab-eval reads"
    groups: ClassVar[tuple[str, ...] | None] = ("paths",)  # the config groups it composes

    ckpt_path: Annotated[str, Setting("a checkpoint written by rnnlab-train", min_length=1)]
    overwrite: Annotated[bool, Setting("delete earlier results in the eval dir first")] = False


class SampleSettings(Settings):
    """rnnlab-sample's settings (conf/sample.yaml)."""

    unknown: ClassVar[str] = "a key rnnlab-sample reads"
    groups: ClassVar[tuple[str, ...] | None] = ()  # the config groups it composes

    ckpt_path: Annotated[str, Setting("a checkpoint written with data=text", min_length=1)]
    prompt: Annotated[str, Setting("the text to continue", "at least one character", min_length=1)] = "The "
    # one character a forward step: a million is minutes on a CPU; more is a typo
    length: Annotated[int, Setting("characters to add", "an integer in [0, 1000000]", ge=0, le=1_000_000)] = (
        300
    )
    temperature: Annotated[
        float,
        Setting(
            "< 1 sharper, > 1 more random; 0 always takes the most likely character",
            "a number >= 0 (0: the most likely character)",
            ge=0,
        ),
    ] = 1.0
    top_k: Annotated[int, Setting("> 0: draw only among the k most likely characters", ge=0)] = 0
    seed: Annotated[int, Setting("the same seed gives the same text", ge=0)] = 1


class PredictData(Settings):
    """rnnlab-predict's ``data:``: the file to forecast from."""

    path: Annotated[
        str | None,
        Setting(
            "a CSV with the columns the run was trained on (null: the file it trained on)",
            "a CSV file's path, or null for the run's own file",
            min_length=1,
        ),
    ] = None


class FromRun(Settings):
    """A trained run to read: its run dir or one of its checkpoints, one of the two."""

    run: Annotated[str | None, Setting("a run dir of rnnlab-train (its best checkpoint)", min_length=1)] = (
        None
    )
    ckpt_path: Annotated[str | None, Setting("a checkpoint of rnnlab-train", min_length=1)] = None

    @model_validator(mode="after")
    def _one_source(self) -> FromRun:
        if (self.run is None) == (self.ckpt_path is None):
            raise ConfigError(
                "run",
                "a run dir of rnnlab-train (run=outputs/runs/<run>), or null with ckpt_path set: "
                "one of the two",
                self.run,
            )
        return self


class PredictSettings(FromRun):
    """rnnlab-predict's root settings (conf/predict.yaml)."""

    unknown: ClassVar[str] = "a key rnnlab-predict reads"
    groups: ClassVar[tuple[str, ...] | None] = ("paths",)  # the config groups it composes

    steps: Annotated[
        int, Setting("steps to forecast past the last row", "an integer in [1, 100000]", ge=1, le=100_000)
    ]
    data: PredictData = PredictData()
    freq: Annotated[
        str | None,
        Setting(
            "the step between rows where the time column is irregular (1h, 15min, 1D; a number "
            "for numeric times); null: the column's own",
            "a number and a unit (1h, 15min, 1D), or null",
            min_length=1,
        ),
    ] = None
    calibrate: Annotated[
        Literal["conformal"] | None,
        Setting(
            "conformal: the interval calibrated per step on the validation windows (null: the "
            "run's task.calibrate)",
            "null or conformal",
        ),
    ] = None
    overwrite: Annotated[bool, Setting("delete an earlier forecast in the output dir first")] = False


class ExportSettings(FromRun):
    """rnnlab-export's root settings (conf/export.yaml)."""

    unknown: ClassVar[str] = "a key rnnlab-export reads"
    groups: ClassVar[tuple[str, ...] | None] = ("paths",)  # the config groups it composes

    format: Annotated[
        Literal["torch", "onnx"],
        Setting(
            "torch: a torch.export program (.pt2); onnx: an ONNX model (the onnx extra)", "torch or onnx"
        ),
    ] = "torch"
    overwrite: Annotated[bool, Setting("delete an earlier export in the output dir first")] = False
