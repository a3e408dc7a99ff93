"""Every option of every config group composes, and what it names can be built."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from rnnlab.errors import ConfigError
from rnnlab.run import build
from tests.conftest import CONFIG_DIR


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


MEMORY = ("adding", "copy", "mqar", "parity", "selective_copy")


def _data_overrides(write_csv, data: str) -> list[str]:
    if data in MEMORY:  # the generated tasks at a size that sets up at once
        return ["data.train_size=100", "data.val_size=20", "data.test_size=20"]
    if data != "series":
        return []
    path = write_csv({"close": [float(i % 17) for i in range(1000)]})
    return [f"data.path={path}", "data.column=close"]


def _data_and_models() -> list:
    """Every (data, model) pair. The default run builds every model on the sine task and
    every task with the LSTM and the transformer; the other pairs run with the slow tests
    (so that a new family or task adds one case to the default run, not a row)."""
    return [
        pytest.param(model, data, marks=[] if data == "sine" or model in KEPT else [pytest.mark.slow])
        for data in _options("data")
        for model in _options("model")
    ]


KEPT = ("lstm", "transformer")


@pytest.mark.parametrize(("model", "data"), _data_and_models())
def test_data_and_model_options_build_a_task(compose_train, write_csv, data, model):
    cfg = compose_train(f"data={data}", f"model={model}", *_data_overrides(write_csv, data))
    datamodule = build.build_datamodule(cfg)
    task = build.build_task(cfg, datamodule.spec)
    x, y = next(iter(datamodule.train_dataloader()))
    objective = datamodule.spec.objective
    if objective == "language":
        assert task(x)[0].shape == (*y.shape, datamodule.spec.output_size)
    elif objective in ("tokens", "classification"):  # logits per step, or per sequence
        assert task(x).shape == (*y.shape, datamodule.spec.output_size)
    else:
        assert task(x).shape == y.shape


def _classic_models() -> list[str]:
    """The model options with a backend setting: the classic cells (models/backbone.py)."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return [m for m in _options("model") if "backend" in compose("train", [f"model={m}"]).model]


@pytest.mark.parametrize("model", _classic_models())
def test_every_model_runs_on_the_scratch_backend_with_the_same_parameters(compose_train, model):
    scratch = build.build_task(compose_train(f"model={model}", "model.backend=scratch"), _sine_spec())
    if model == "lstm_ln":  # no fused counterpart
        assert scratch.net.backbone.backend == "scratch"
        return
    fused = build.build_task(compose_train(f"model={model}", "model.backend=torch"), _sine_spec())
    assert scratch.state_dict().keys() == fused.state_dict().keys()
    scratch.load_state_dict(fused.state_dict())
    x = torch.randn(3, 64, 1)
    torch.testing.assert_close(scratch(x), fused(x), rtol=1e-4, atol=1e-5)


def _sine_spec():
    from rnnlab.data.sine import SineDataModule

    data = SineDataModule(length=600, window=64, horizon=4, rollout_steps=8)
    data.setup("fit")
    return data.spec


@pytest.mark.parametrize("name", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("scheduler", ["null", "plateau", "cosine"])
def test_optimizer_and_scheduler_options(compose_train, name, scheduler):
    cfg = compose_train(f"optimizer={name}", *([] if scheduler == "null" else [f"scheduler={scheduler}"]))
    task = build.build_task(cfg, build.build_datamodule(cfg).spec)
    configured = task.configure_optimizers()
    optimizer = configured if scheduler == "null" else configured["optimizer"]
    assert type(optimizer).__name__.lower() == name
    assert optimizer.defaults["lr"] == cfg.optimizer.lr


@pytest.mark.parametrize("trainer", _options("trainer"))
def test_trainer_options(compose_train, trainer):
    cfg = compose_train(f"trainer={trainer}")
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    built = build.build_trainer(cfg)
    assert built.max_epochs == cfg.trainer.max_epochs
    if trainer == "ddp_cpu":
        assert built.num_devices == 2
        assert type(built.strategy).__name__ == "DDPStrategy"


def test_logger_and_callback_options(compose_train, tmp_path):
    cfg = compose_train("logger=default", "callbacks=default")
    trainer = build.build_trainer(cfg)
    assert {type(lg).__name__ for lg in trainer.loggers} == {"TensorBoardLogger", "CSVLogger"}
    names = {type(cb).__name__ for cb in trainer.callbacks}
    assert {"ModelCheckpoint", "EarlyStopping", "RichProgressBar", "ForecastPlot"} <= names
    assert Path(trainer.checkpoint_callback.dirpath) == tmp_path / "checkpoints"
    for option in sorted(set(_options("logger")) - set(TRACKERS)):
        assert build._instantiate_all("logger", compose_train(f"logger={option}").logger)
    for option in _options("callbacks"):
        assert build._instantiate_all("callbacks", compose_train(f"callbacks={option}").callbacks)


# the trackers name their experiment after the task Hydra chose (no Hydra app here)
TRACKERS = {"mlflow": ["logger.mlflow.experiment_name=sine"], "wandb": ["logger.wandb.project=sine"]}


@pytest.mark.slow  # importing MLflow and W&B: about 3 s
def test_the_tracker_options_build(compose_train):
    for option, named in TRACKERS.items():
        assert build._instantiate_all("logger", compose_train(f"logger={option}", *named).logger)


def test_debug_fast_is_one_short_epoch_that_still_writes_every_file(compose_train):
    trainer = build.build_trainer(compose_train("debug=fast"))
    assert trainer.max_epochs == 1
    assert (trainer.limit_train_batches, trainer.limit_val_batches, trainer.limit_test_batches) == (2, 2, 2)
    assert trainer.num_sanity_val_steps == 0 and trainer.log_every_n_steps == 1
    assert trainer.checkpoint_callback is not None and len(trainer.loggers) == 2  # files still written


def test_debug_overfit_trains_and_validates_on_four_batches_without_stopping_early(compose_train):
    trainer = build.build_trainer(compose_train("debug=overfit"))
    assert trainer.overfit_batches == 4 and trainer.max_epochs == 100
    assert not any(type(cb).__name__ == "EarlyStopping" for cb in trainer.callbacks)


def test_debug_profile_writes_a_simple_profile_into_the_run_dir(compose_train, tmp_path):
    from lightning.pytorch.profilers import SimpleProfiler

    trainer = build.build_trainer(compose_train("debug=profile"))
    assert isinstance(trainer.profiler, SimpleProfiler) and trainer.max_epochs == 2
    assert Path(trainer.profiler.dirpath) == tmp_path and trainer.profiler.filename == "profile"


def test_debug_options_are_each_tested():
    assert _options("debug") == ["fast", "overfit", "profile"]


EXPERIMENTS = {  # what each recipe promises, as the built objects show it
    "counting_tutorial": {
        "data": "CountingDataModule",
        "hidden": 32,
        "epochs": 30,
        "probe": [95, 96, 97, 98, 99],
    },
    "sine_lstm": {"data": "SineDataModule", "hidden": 64, "epochs": 20, "lr": 0.003},
    "text_shakespeare": {
        "data": "CharTextDataModule",
        "hidden": 384,
        "layers": 2,
        "budget": 600.0,
        "stateful": True,
    },
    "text_tutorial": {"data": "CharTextDataModule", "hidden": 64, "epochs": 150, "lr": 0.01},
    "study_adding": {"data": "AddingDataModule", "hidden": 64, "epochs": 15},
    "study_mqar": {"data": "MQARDataModule", "hidden": 64, "layers": 2, "epochs": 10, "lr": 0.003},
    "study_mqar_width": {"data": "MQARDataModule", "hidden": 64, "layers": 2, "epochs": 10, "lr": 0.003},
    # a training-time budget for every family; no schedule follows it (none is set)
    "study_recall": {"data": "MQARDataModule", "hidden": 64, "layers": 2, "budget": 150, "lr": 0.003},
    "study_selective_copy": {
        "data": "SelectiveCopyDataModule",
        "hidden": 64,
        "layers": 2,
        "steps": 2500,
        "lr": 0.003,
    },
}


@pytest.mark.parametrize("experiment", _options("experiment"))
def test_experiment_options_build_what_they_promise(compose_train, tmp_path, experiment):
    expected = EXPERIMENTS[experiment]
    extra = []
    if experiment == "text_shakespeare":  # the corpus is the user's file
        (tmp_path / "corpus.txt").write_text("To be, or not to be, that is the question.\n" * 2500)
        extra = [f"data.path={tmp_path / 'corpus.txt'}"]
    cfg = compose_train(f"experiment={experiment}", *extra)
    datamodule = build.build_datamodule(cfg)
    budget = build.build_budget(cfg)
    task = build.build_task(cfg, datamodule.spec, budget)
    trainer = build.build_trainer(cfg, budget)
    assert type(datamodule).__name__ == expected["data"]
    assert task.net.backbone.hidden_size == expected["hidden"]
    assert task.net.backbone.num_layers == expected.get("layers", 1)
    assert trainer.max_epochs == expected.get("epochs", -1)
    assert trainer.max_steps == expected.get("steps", -1)
    assert datamodule.spec.stateful == expected.get("stateful", False)
    if "budget" in expected:  # the budget ends the run, and its schedule follows the clock
        assert budget.seconds == expected["budget"] and budget in trainer.callbacks
        assert task.schedule is None or task.schedule.clock == budget.tick
    if "lr" in expected:
        assert task.configure_optimizers().defaults["lr"] == expected["lr"]
    assert (None if cfg.probe is None else list(cfg.probe)) == expected.get("probe")
    assert set(EXPERIMENTS) == set(_options("experiment"))


def test_seed_zero_is_a_seed(compose_train):
    assert compose_train("seed=0").seed == 0
    assert compose_train("seed=0").data.seed == 0


def test_rnn_nonlinearity_selects_the_cell(compose_train):
    cfg = compose_train("model=rnn", "model.nonlinearity=relu")
    assert cfg.model.cell == "rnn_relu"
    net = instantiate(cfg.model, input_size=1, output_size=1)
    assert net.backbone.rnn.nonlinearity == "relu"


def test_hparams_are_flat_scalars(compose_train):
    params = build.flat_params(compose_train("model=gru"))
    assert params["model/cell"] == "gru"
    assert params["data/name"] == "SineDataModule"
    assert params["data/periods"] == "[30, 12]"
    assert all(isinstance(v, bool | int | float | str) for v in params.values())


def test_scheduler_interval_must_be_epoch_or_step(compose_train):
    cfg = compose_train("scheduler=plateau", "scheduler.interval=hour")
    with pytest.raises(ConfigError, match=r"^scheduler.interval must be one of epoch, step \(got 'hour'\)$"):
        build.build_task(cfg, build.build_datamodule(cfg).spec)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("temperature=-1", "temperature must be a number >= 0 (0: the most likely character) (got -1)"),
        ("top_k=-2", "top_k must be an integer >= 0 (got -2)"),
        ("length=1.5", "length must be an integer in [0, 1000000] (got 1.5)"),
        ("prompt=''", "prompt must be at least one character (got '')"),
    ],
)
def test_bad_sampling_settings(override, message):
    from rnnlab.cli.sample import sample

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("sample", overrides=["ckpt_path=unused.ckpt", override])
    with pytest.raises(ConfigError) as error:
        sample(cfg)
    assert str(error.value) == message


@pytest.mark.parametrize("search", _options("hparams_search"))
def test_hparams_search_options(compose_train, search):
    from hydra import compose, initialize_config_dir

    from tests.conftest import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"hparams_search={search}"], return_hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.rnnlab_sweepers.optuna.OptunaSweeper"
    assert sweeper.direction == cfg.optimized_mode == "min"
    for key in ("model", "model.hidden_size", "model.num_layers", "model.dropout", "optimizer.lr"):
        assert key in sweeper.params
    task = build.build_task(cfg, build.build_datamodule(cfg).spec)
    assert task is not None


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_gradient_clipping_by_norm_or_value(compose_train, algorithm):
    cfg = compose_train(f"trainer.gradient_clip_algorithm={algorithm}", "trainer.gradient_clip_val=0.5")
    trainer = build.build_trainer(cfg)
    assert trainer.gradient_clip_val == 0.5
    assert trainer.gradient_clip_algorithm == algorithm
    if algorithm == "value":
        with pytest.raises(ConfigError, match=r"^trainer.gradient_clip_algorithm must be one of norm, value"):
            build.build_trainer(compose_train("trainer.gradient_clip_algorithm=max"))
