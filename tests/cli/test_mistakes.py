"""Every user mistake is one line that names the setting and what is allowed, and exit 2.

The catalogue below is the inputs a new user (or a careless colleague) hands the command
lines; each runs the real entry point in this process and checks the whole line it prints.
docs/errors.md lists the same messages.
"""

from pathlib import Path

import pytest
import torch

from rnnlab import registry
from rnnlab.run.contradictions import CONTRADICTIONS
from tests.conftest import FAST, one_line, options, run_entry

TRAIN = "rnnlab-train"
REPORT, BENCH = "rnnlab-report", "rnnlab-bench"
PREDICT, EXPORT = "rnnlab-predict", "rnnlab-export"
EVAL, SAMPLE = "rnnlab-eval", "rnnlab-sample"
ARGPARSE = (REPORT, BENCH)  # entry points whose flags argparse reads (no Hydra run dir)
SEED = "seed must be an integer in [0, 4294967295], or null for no seed"
LR = "optimizer.lr must be a number > 0 (a learning rate of 0 trains nothing)"
EPOCHS = "trainer.max_epochs must be an integer >= 1, or -1 for no epoch limit (with trainer.max_steps)"

# (case id, entry point, arguments, the line it must print after "<entry>: error: ")
MISTAKES = [
    (
        "report: a metric no job wrote",
        REPORT,
        ["{sweep}", "--metric", "val/los"],
        "--metric must be a metric the sweep's finished jobs wrote; did you mean val/loss? (got 'val/los'): "
        "they wrote val/loss, val/loss_best",
    ),
    (
        "report: an empty metric",
        REPORT,
        ["{sweep}", "--metric", ""],
        "--metric must be a name, not empty (got '')",
    ),
    ("report: a mode", REPORT, ["{sweep}", "--mode", "up"], "--mode must be one of min, max (got 'up')"),
    (
        "report: best over an unswept key",
        REPORT,
        ["{sweep}", "--best-over", "optimizer.l"],
        "--best-over must be a key the sweep swept; did you mean optimizer.lr? (got 'optimizer.l'): swept: "
        "model, optimizer.lr",
    ),
    (
        "report: along an unswept key",
        REPORT,
        ["{sweep}", "--x", "val/loss", "--along", "model.hidden_size"],
        "--along must be a key the sweep swept (got 'model.hidden_size'): swept: model, optimizer.lr",
    ),
    (
        "report: x neither swept nor written",
        REPORT,
        ["{sweep}", "--x", "data.pairs"],
        "--x must be a swept key with numeric values, or a metric the runs wrote with --along naming the "
        "swept keys that move a point along a line (got 'data.pairs'): swept: model, optimizer.lr",
    ),
    (
        "report: a missing journal",
        REPORT,
        ["{sweep}", "--storage", "{tmp}/gone.journal"],
        "--storage must be an existing Optuna journal file (got '{tmp}/gone.journal')",
    ),
    (
        "report: a journal that is not one",
        REPORT,
        ["{sweep}", "--storage", "{journal}"],
        "--storage must be an Optuna journal file (one JSON operation per line) (got '{journal}'): its first "
        "line is not an Optuna operation",
    ),
    (
        "report: a storage URL",
        REPORT,
        ["{sweep}", "--storage", "nosuchdb://x"],
        "--storage must be a storage Optuna can open (got 'nosuchdb://x'): Can't load plugin: "
        "sqlalchemy.dialects:nosuchdb",
    ),
    (
        "report: a flag misspelled",
        REPORT,
        ["{sweep}", "--metrics", "val/loss"],
        "--metrics must be one of the flags -h, --help, --metric, --mode, --x, --storage, --along, "
        "--best-over; did you mean --metric? (got '--metrics')",
    ),
    (
        "report: not a sweep",
        REPORT,
        ["{tmp}/nowhere"],
        "sweep must be a sweep directory with numbered job dirs (got '{tmp}/nowhere')",
    ),
    ("sample a typo's length", SAMPLE, ["ckpt_path={text}", "length=100000000"], None),
    ("eval a group it does not compose", EVAL, ["ckpt_path={sine}", "+trainer.limit_test_batches=-1"], None),
    (
        "predict: not a run",
        PREDICT,
        ["run={tmp}/nowhere", "steps=5"],
        "run must be a run dir of rnnlab-train (it holds checkpoints/) (got '{tmp}/nowhere')",
    ),
    ("predict: no steps", PREDICT, ["run={sine_dir}"], "steps must be an integer in [1, 100000]"),
    (
        "predict: steps 0",
        PREDICT,
        ["run={sine_dir}", "steps=0"],
        "steps must be an integer in [1, 100000] (got 0)",
    ),
    (
        "predict: a calibration",
        PREDICT,
        ["run={sine_dir}", "steps=5", "calibrate=isotonic"],
        "calibrate must be null or conformal (got 'isotonic')",
    ),
    (
        "predict: a freq without times",
        PREDICT,
        ["run={sine_dir}", "steps=5", "freq=1h"],
        "freq must be null for data without a time column (its rows are numbered: data.time_column) (got '1h')",
    ),
    (
        "predict: a file for generated data",
        PREDICT,
        ["run={sine_dir}", "steps=5", "data.path={short}"],
        "data.path must be null for a run trained on generated data (no file) (got '{short}')",
    ),
    (
        "predict: a key misspelled",
        PREDICT,
        ["run={sine_dir}", "stepz=3"],
        "stepz must be a key the config has; did you mean steps? (--cfg job lists them; +stepz=3 adds a new one)",
    ),
    ("predict: a key it does not read", PREDICT, ["run={sine_dir}", "steps=5", "+stepz=3"], None),
    (
        "export: a format",
        EXPORT,
        ["run={sine_dir}", "format=tflite"],
        "format must be torch or onnx (got 'tflite')",
    ),
    (
        "export: not a run",
        EXPORT,
        ["run={tmp}"],
        "run must be a run dir of rnnlab-train (it holds checkpoints/) (got '{tmp}')",
    ),
    ("bench: no benchmark", BENCH, [], "benchmark must be given (see rnnlab-bench --help)"),
    (
        "bench: a benchmark misspelled",
        BENCH,
        ["scn"],
        "benchmark must be one of sweep, cells, families, scan, parity, loader, startup, quality, pruning; "
        "did you mean scan? (got 'scn')",
    ),
    ("bench: repeats 0", BENCH, ["cells", "--repeats", "0"], "--repeats must be an integer >= 1 (got '0')"),
    (
        "bench: repeats -1",
        BENCH,
        ["cells", "--repeats", "-1"],
        "--repeats must be an integer >= 1 (got '-1')",
    ),
    (
        "bench: repeats text",
        BENCH,
        ["cells", "--repeats", "x"],
        "--repeats must be an integer >= 1 (got 'x')",
    ),
    ("bench: epochs 0", BENCH, ["sweep", "--epochs", "0"], "--epochs must be an integer >= 1 (got '0')"),
    (
        "bench: epochs of a benchmark without",
        BENCH,
        ["cells", "--epochs", "3"],
        "--epochs must be left out of rnnlab-bench cells (only sweep runs epochs)",
    ),
    (
        "bench: json in a missing dir",
        BENCH,
        ["cells", "--json", "{tmp}/no/cells.json"],
        "--json must be a file in an existing directory (got '{tmp}/no/cells.json'): no directory {tmp}/no",
    ),
    (
        "bench: json a dir",
        BENCH,
        ["cells", "--json", "{tmp}"],
        "--json must be a file path, not a directory (got '{tmp}')",
    ),
    (
        "bench: a flag misspelled",
        BENCH,
        ["cells", "--repats", "3"],
        "--repats must be one of the flags -h, --help, --epochs, --repeats, --json; did you mean --repeats? "
        "(got '--repats')",
    ),
    (
        "a recall family's setting",
        TRAIN,
        ["model=mamba2", "model.state_size=0"],
        "model.state_size must be an integer >= 1 (got 0)",
    ),
    (
        "delta rule heads",
        TRAIN,
        ["model=gated_deltanet", "model.num_heads=0"],
        "model.num_heads must be an integer >= 1 (got 0)",
    ),
    (
        "mlstm chunk",
        TRAIN,
        ["model=mlstm", "model.chunk_size=-8"],
        "model.chunk_size must be an integer >= 1 (got -8)",
    ),
    (
        "a callback's setting",
        TRAIN,
        ["callbacks.forecast_plot.every_n_epochs=0"],
        "callbacks.forecast_plot.every_n_epochs must be an integer >= 1 (got 0)",
    ),
    (
        "a task setting under model",
        TRAIN,
        ["model.likelihood=gaussian"],
        "model.likelihood must be written task.likelihood since rnnlab 0.2 (the task reads it)",
    ),
    (
        "a class no package registered",
        TRAIN,
        ["model._target_=rnnlab.models.net.torch.load"],
        "model._target_ must be a class registered for this group: {model_targets} (got "
        "'rnnlab.models.net.torch.load'): rnnlab builds only classes it knows: those rnnlab or an "
        "installed package registered",
    ),
    (
        "a data setting of the wrong type",
        TRAIN,
        ["data=mqar", "data.pairs=[1,2]"],
        "data.pairs must be an integer >= 1 (got [1, 2])",
    ),
    ("seed -1", TRAIN, ["seed=-1"], f"{SEED} (got -1)"),
    ("seed text", TRAIN, ["seed=abc"], f"{SEED} (got 'abc')"),
    ("seed float", TRAIN, ["seed=1.5"], f"{SEED} (got 1.5)"),
    ("seed too big", TRAIN, ["seed=4294967296"], f"{SEED} (got 4294967296)"),
    ("lr negative", TRAIN, ["optimizer.lr=-1"], f"{LR} (got -1)"),
    ("lr text", TRAIN, ["optimizer.lr=abc"], f"{LR} (got 'abc')"),
    ("lr zero", TRAIN, ["optimizer.lr=0"], f"{LR} (got 0)"),
    (
        "weight decay",
        TRAIN,
        ["optimizer.weight_decay=-1"],
        "optimizer.weight_decay must be a number >= 0 (got -1)",
    ),
    (
        "adam betas",
        TRAIN,
        ["+optimizer.betas=[1.5,0.9]"],
        "optimizer.betas must be a list of 2 numbers in [0, 1) (got [1.5, 0.9])",
    ),
    (
        "sgd momentum",
        TRAIN,
        ["optimizer=sgd", "optimizer.momentum=-1"],
        "optimizer.momentum must be a number in [0, 1) (got -1)",
    ),
    (
        "plateau factor",
        TRAIN,
        ["scheduler=plateau", "scheduler.factor=2"],
        "scheduler must be settings that torch.optim.lr_scheduler.ReduceLROnPlateau accepts: "
        "Factor should be < 1.0.",
    ),
    ("max_epochs 0", TRAIN, ["trainer.max_epochs=0"], f"{EPOCHS} (got 0)"),
    ("max_epochs text", TRAIN, ["trainer.max_epochs=abc"], f"{EPOCHS} (got 'abc')"),
    ("max_epochs -2", TRAIN, ["trainer.max_epochs=-2"], f"{EPOCHS} (got -2)"),
    (
        "max_epochs -1 alone",
        TRAIN,
        ["trainer.max_epochs=-1"],
        "trainer.max_epochs must be -1 only with trainer.max_steps, trainer.max_time or budget set "
        "(else it never ends) (got -1)",
    ),
    (
        "max_steps 0",
        TRAIN,
        ["trainer.max_steps=0"],
        "trainer.max_steps must be an integer >= 1, or -1 for no step limit (got 0)",
    ),
    (
        "no train batches",
        TRAIN,
        ["trainer.limit_train_batches=0"],
        "trainer.limit_train_batches must be a fraction in (0, 1] of each epoch, or a number of batches >= 1 "
        "(got 0)",
    ),
    (
        "val fraction > 1",
        TRAIN,
        ["trainer.limit_val_batches=1.5"],
        "trainer.limit_val_batches must be a fraction in [0, 1] of each epoch, or a number of batches >= 0 "
        "(got 1.5)",
    ),
    (
        "clip negative",
        TRAIN,
        ["trainer.gradient_clip_val=-1"],
        "trainer.gradient_clip_val must be a number >= 0, or null for no clipping (got -1)",
    ),
    (
        "clip algorithm",
        TRAIN,
        ["trainer.gradient_clip_algorithm=max"],
        "trainer.gradient_clip_algorithm must be one of norm, value, or null (got 'max')",
    ),
    (
        "precision",
        TRAIN,
        ["trainer.precision=banana"],
        "trainer must be settings that lightning.pytorch.Trainer accepts: Precision 'banana' is invalid. "
        "Allowed precision values: ('transformer-engine', 'transformer-engine-float16', '16-true', "
        "'16-mixed', 'bf16-true', 'bf16-mixed', '32-true', '64-true', 64, 32, 16, '64', '32', '16', 'bf16')",
    ),
    ("unknown root key", TRAIN, ["+foo=1"], "foo must be a key rnnlab reads (got 1): unknown key"),
    (
        "unknown key without +",
        TRAIN,
        ["foo=1"],
        "foo must be a key the config has (--cfg job lists them; +foo=1 adds a new one)",
    ),
    (
        "misspelled nested key",
        TRAIN,
        ["model.hiden_size=8"],
        "model.hiden_size must be a key the config has; did you mean model.hidden_size? (--cfg job lists them; "
        "+model.hiden_size=8 adds a new one)",
    ),
    (
        "unknown group option",
        TRAIN,
        ["model=mamba"],
        "model must be one of {models} (got 'mamba'): no conf/model/mamba.yaml",
    ),
    (
        "bidirectional transformer",
        TRAIN,
        ["model=transformer", "model.bidirectional=true"],
        "model.bidirectional must be false for the transformer: a causal decoder reads only the past "
        "(a recurrent family can be bidirectional) (got True)",
    ),
    (
        "stateful transformer",
        TRAIN,
        ["model=transformer", "data=text", "data.stateful=true"],
        "data.stateful must be false for TransformerNet: it has no fixed-size state to carry from batch to "
        "batch (a longer data.window lets it see further back) (got True)",
    ),
    (
        "lru ring",
        TRAIN,
        ["model=lru", "model.r_min=0.99"],
        "model.r_min must be below r_max (0.99): the ring is r_min <= |lambda| <= r_max (got 0.99)",
    ),
    (
        "minrnn cell",
        TRAIN,
        ["model=mingru", "model.cell=gru"],
        "model.cell must be one of mingru, minlstm (got 'gru')",
    ),
    (
        "s6 state",
        TRAIN,
        ["model=s6", "model.state_size=0"],
        "model.state_size must be an integer >= 1 (got 0)",
    ),
    (
        "params budget",
        TRAIN,
        ["model=lstm", "model.params=10"],
        "model.params must be a budget that some width reaches within 5% (the closest: hidden_size 1 gives 24 "
        "parameters) (got 10)",
    ),
    (
        "unparsable override",
        TRAIN,
        ["model.hidden_size=["],
        "model.hidden_size=[ must be an override key=value (no viable alternative at input '['; see https://hydra.cc/docs/advanced/override_grammar/basic)",
    ),
    (
        "eval unknown key",
        "rnnlab-eval",
        ["seed=1"],
        "seed must be a key the config has (--cfg job lists them; +seed=1 adds a new one)",
    ),
    (
        "misspelled root key",
        TRAIN,
        ["+seeds=1"],
        "seeds must be a key rnnlab reads; did you mean seed? (got 1): unknown key",
    ),
    (
        "unknown model key",
        TRAIN,
        ["+model.hiden_size=8"],
        "model.hiden_size must be a setting that rnnlab.models.net.RecurrentNet takes; did you mean hidden_size? "
        "(got 8): unknown key",
    ),
    (
        "unknown trainer key",
        TRAIN,
        ["+trainer.maxepochs=3"],
        "trainer.maxepochs must be a setting that lightning.pytorch.Trainer takes; did you mean max_epochs? "
        "(got 3): unknown key",
    ),
    (
        "unknown data key",
        TRAIN,
        ["+data.windows=8"],
        "data.windows must be a setting that rnnlab.data.sine.SineDataModule takes; did you mean window? "
        "(got 8): unknown key",
    ),
    ("test not bool", TRAIN, ["test=maybe"], "test must be true or false (got 'maybe')"),
    ("overwrite not bool", TRAIN, ["overwrite=yes"], "overwrite must be true or false (got 'yes')"),
    (
        "probe text",
        TRAIN,
        ["probe=abc"],
        "probe must be a non-empty list of numbers (a window to forecast from), or null (got 'abc')",
    ),
    (
        "optimized_mode",
        TRAIN,
        ["optimized_mode=up"],
        "optimized_mode must be min or max (a list of them for a list of metrics) (got 'up')",
    ),
    (
        "threads text",
        TRAIN,
        ["threads=abc"],
        "threads must be an integer >= 1, or null for every core (shared between parallel jobs) (got 'abc')",
    ),
    (
        "hidden size text",
        TRAIN,
        ["model.hidden_size=abc"],
        "model.hidden_size must be an integer >= 1 (got 'abc')",
    ),
    (
        "batch size text",
        TRAIN,
        ["data.batch_size=abc"],
        "data.batch_size must be an integer >= 1 (got 'abc')",
    ),
    (
        "two splits",
        TRAIN,
        ["data.splits=[0.5,0.5]"],
        "data.splits must be three fractions that sum to 1 (train and val > 0, test >= 0) (got [0.5, 0.5])",
    ),
    (
        "no test split for a forecast",
        TRAIN,
        ["data.splits=[0.8,0.2,0.0]"],
        "data.splits must be a test fraction > 0 (this task needs a test split) (got [0.8, 0.2, 0.0])",
    ),
    (
        "sine too short",
        TRAIN,
        ["data.length=100"],
        "data.length must be a series of at least 217 steps for data.splits [0.7, 0.15, 0.15]: it has 100; "
        "the test split would hold 15 and needs at least 33",
    ),
    (
        "window too long",
        TRAIN,
        ["data.window=590"],
        "data.window must be <= 568 so that window + rollout_steps (32) fits the test split of 600 steps "
        "(got 590)",
    ),
    (
        "counting zero step",
        TRAIN,
        ["data=counting", "data.steps=[0]"],
        "data.steps must be a non-zero integer or a list of them (got [0])",
    ),
    (
        "mqar too many pairs",
        TRAIN,
        ["data=mqar", "data.pairs=64"],
        "data.pairs must be at most 63 for data.vocab_size 128 (distinct keys from its lower half) (got 64)",
    ),
    (
        "mqar too short",
        TRAIN,
        ["data=mqar", "data.pairs=32", "data.length=64"],
        "data.length must be an integer >= 96 (got 64)",
    ),
    (
        "selective copy too many tokens",
        TRAIN,
        ["data=selective_copy", "data.tokens=300"],
        "data.tokens must be at most data.length (256): they are placed among its steps (got 300)",
    ),
    (
        "parity lengths",
        TRAIN,
        ["data=parity", "data.train_lengths=[40,3]"],
        "data.train_lengths must be [shortest, longest] with integers 1 <= shortest <= longest (got [40, 3])",
    ),
    (
        "parity too small for distinct splits",
        TRAIN,
        ["data=parity", "data.train_lengths=[3,5]"],
        "data.train_lengths must be larger (or data.train_size smaller): the earlier splits hold every "
        "sequence this task makes, none is left for the val split; raise data.train_lengths",
    ),
    (
        "mqar with a tiny vocabulary",
        TRAIN,
        ["data=mqar", "data.vocab_size=4", "data.pairs=1", "data.val_size=2"],
        "data.vocab_size must be larger (or data.train_size smaller): the earlier splits hold every "
        "sequence this task makes, none is left for the val split; raise data.vocab_size or data.pairs (got 4)",
    ),
    (
        "a time column with a bad cell",
        TRAIN,
        ["data=series", "data.path={numbered}", "data.target=close", "data.time_column=t"],
        "data.time_column must be a column of numbers throughout (its first row holds one) (got 't'): "
        "line 7 holds 'x'",
    ),
    (
        "copy symbols",
        TRAIN,
        ["data=copy", "data.symbols=0"],
        "data.symbols must be an integer >= 1 (got 0)",
    ),
    (
        "scheduler interval",
        TRAIN,
        ["scheduler=plateau", "scheduler.interval=hour"],
        "scheduler.interval must be one of epoch, step (got 'hour')",
    ),
    (
        "budget without a unit",
        TRAIN,
        ["budget=600"],
        "budget must be a training time such as 90s, 10min or 1.5h (or DD:HH:MM:SS), or null for "
        "none (got 600)",
    ),
    (
        "checkpoint monitor",
        TRAIN,
        [*FAST, "callbacks.model_checkpoint.monitor=val/los"],
        "`ModelCheckpoint(monitor='val/los')` could not find the monitored key in the returned metrics: "
        "['train/loss', 'train/loss_step', 'train/grad_norm', 'val/loss', 'val/mse', 'val/mae', 'val/naive_mse', "
        "'val/naive_mae', 'val/snaive_mse', 'val/snaive_mae', 'val/ar_mse', 'val/ar_mae', 'train/loss_epoch', "
        "'epoch', 'step']. HINT: Did you call `log('val/los', value)` in the `LightningModule`?",
    ),
    (
        "eval without ckpt_path",
        "rnnlab-eval",
        [],
        "ckpt_path must be the path of a checkpoint written by rnnlab-train (ckpt_path=<run>/checkpoints/last.ckpt)",
    ),
    (
        "sample without ckpt_path",
        "rnnlab-sample",
        [],
        "ckpt_path must be the path of a checkpoint written by rnnlab-train (ckpt_path=<run>/checkpoints/last.ckpt)",
    ),
    (
        "sample length text",
        "rnnlab-sample",
        ["ckpt_path=x", "length=abc"],
        "length must be an integer in [0, 1000000] (got 'abc')",
    ),
    (
        "sample seed text",
        "rnnlab-sample",
        ["ckpt_path={text}", "seed=abc"],
        "seed must be an integer >= 0 (got 'abc')",
    ),
    (
        "sample a forecaster",
        "rnnlab-sample",
        ["ckpt_path={sine}"],
        "ckpt_path must be a language model's checkpoint (trained with data=text) (got '{sine}')",
    ),
    (
        "ckpt_path a dir",
        TRAIN,
        ["ckpt_path={tmp}"],
        "ckpt_path must be an existing checkpoint file (got '{tmp}')",
    ),
    (
        "ckpt_path empty file",
        TRAIN,
        ["ckpt_path={empty}"],
        "ckpt_path must be a readable checkpoint (got '{empty}'): loading failed (EOFError): the file is "
        "truncated, corrupt, not a checkpoint, or holds objects other than tensors and plain data",
    ),
    (
        "text checkpoint in a sine run",
        TRAIN,
        [*FAST, "ckpt_path={text}"],
        "ckpt_path must be a checkpoint whose weights match this run's model (its data and model settings) "
        "(got '{text}'): net.backbone.rnn.weight_ih_l0 is (64, 16) in the checkpoint but (256, 1) for this "
        "run's model (its data and model settings)",
    ),
    (
        "eval a crafted seed",
        "rnnlab-eval",
        ["ckpt_path={bad_seed}"],
        "the checkpoint's stored seed must be an integer in [0, 4294967295], or null for no seed (got -5)",
    ),
    (
        "resume a broken config",
        TRAIN,
        ["resume={broken}"],
        "resume must be a run with a readable .hydra/config.yaml (got '{broken}'): while parsing a flow "
        "sequence",
    ),
    ("csv latin-1", TRAIN, ["data=series", "data.path={latin1}", "data.column=close"], None),
    (
        "csv with a delimiter set wrong",
        TRAIN,
        ["data=series", "data.path={semicolon}", "data.column=close", "data.delimiter=','"],
        None,
    ),
    ("csv with a gap", TRAIN, ["data=series", "data.path={gappy}", "data.target=close"], None),
    (
        "csv time column out of order",
        TRAIN,
        ["data=series", "data.path={unsorted}", "data.target=close", "data.time_column=date"],
        None,
    ),
    (
        "a covariate that is the target",
        TRAIN,
        ["data=series", "data.path={short}", "data.target=close", "data.covariates=[close]"],
        "data.covariates must be columns other than the targets (data.target) (got 'close')",
    ),
    (
        "an unknown likelihood",
        TRAIN,
        ["task.likelihood=poisson"],
        "task.likelihood must be null (a point forecast), gaussian or quantile (got 'poisson')",
    ),
    (
        "quantiles without the median",
        TRAIN,
        ["task.likelihood=quantile", "task.quantiles=[0.1,0.9]"],
        "task.quantiles must be increasing levels in (0, 1) that include 0.5 and one on each side, e.g. "
        "[0.1, 0.5, 0.9] (got [0.1, 0.9])",
    ),
    (
        "a likelihood on a memory task",
        TRAIN,
        ["data=parity", "task.likelihood=gaussian"],
        "task.likelihood must be null for a classification task (only a forecast has one) (got 'gaussian')",
    ),
    (
        "a highway on a memory task",
        TRAIN,
        ["data=parity", "task.highway=true"],
        "task.highway must be false for a classification task (only a forecast has one) (got True)",
    ),
    (
        "a calibration of a language model",
        TRAIN,
        ["data=text", "task.calibrate=conformal"],
        "task.calibrate must be null for a language task (only a forecast has an interval) (got 'conformal')",
    ),
    (
        "an unknown calibration",
        TRAIN,
        ["task.calibrate=isotonic"],
        "task.calibrate must be null or conformal (got 'isotonic')",
    ),
    (
        "a probe of a forecaster with covariates",
        TRAIN,
        [
            "data=series",
            "data.path={covariate}",
            "data.target=close",
            "data.covariates=[volume]",
            "data.window=8",
            "probe=[1,2]",
        ],
        "probe must be null for data of several columns (a probe is one column's window) (got [1, 2])",
    ),
    ("csv too short", TRAIN, ["data=series", "data.path={short}", "data.column=close"], None),
    (
        "csv delimiter",
        TRAIN,
        ["data=series", "data.path={short}", "data.column=close", "data.delimiter=ab"],
        None,
    ),
    ("text too short", TRAIN, ["data=text", "data.path={tiny}"], None),
    ("text latin-1", TRAIN, ["data=text", "data.path={latin1}"], None),
]

# the messages that name a file made by the fixture below
FILE_MESSAGES = {
    "sample a typo's length": "length must be an integer in [0, 1000000] (got 100000000)",
    "eval a group it does not compose": "trainer must be a key rnnlab-eval reads (got {{'limit_test_batches': -1}}): "
    "unknown key",
    "predict: a key it does not read": "stepz must be a key rnnlab-predict reads; did you mean steps? (got 3): "
    "unknown key",
    "csv latin-1": "data.path must be a UTF-8 CSV file (got '{latin1}'): byte 0xe9 at offset 17 is not valid "
    "UTF-8 (save the file as UTF-8, e.g. iconv -f latin1 -t utf-8)",
    "csv with a delimiter set wrong": "data.column must be one of the file's columns: date;close (got 'close'): "
    "the header reads as one column because the file is separated by ';', not ',': set data.delimiter=';'",
    "csv with a gap": "data.path must be a CSV file with a value in every row of the columns it uses (got "
    "'{gappy}'): line 4 has no value in 'close': fill it, or set data.missing=ffill or interpolate",
    "csv time column out of order": "data.time_column must be a column whose times increase row by row (sort "
    "the file by it, drop repeated rows) (got 'date'): line 4 (2024-01-02) comes before line 3 (2024-01-03)",
    "csv too short": "data.path must be a series of at least 217 steps for data.splits [0.7, 0.15, 0.15]: it "
    "has 40; the test split would hold 6 and needs at least 33",
    "csv delimiter": "data.delimiter must be one character (',' ';' tab), or null to read it from the header "
    "(got 'ab')",
    "text too short": "data.path must be a text of at least 36 characters for data.splits [0.9, 0.05, 0.05]: "
    "it has 12; the val split would hold 0 and needs at least 2",
    "text latin-1": "data.path must be a UTF-8 text file (got '{latin1}'): byte 0xe9 at offset 15 is not valid "
    "UTF-8 (save the file as UTF-8, e.g. iconv -f latin1 -t utf-8)",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory, sine_run, text_run) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("mistakes")
    (base / "latin1.csv").write_bytes("date,close\nd1,caf\xe9\n".encode("latin-1"))
    (base / "semicolon.csv").write_text("date;close\n" + "".join(f"d{i};{i}\n" for i in range(300)))
    (base / "short.csv").write_text("date,close\n" + "".join(f"d{i},{i}\n" for i in range(40)))
    (base / "gappy.csv").write_text("date,close\nd1,1\nd2,2\nd3,\nd4,4\n")
    (base / "unsorted.csv").write_text("date,close\n2024-01-01,1\n2024-01-03,2\n2024-01-02,3\n")
    (base / "covariate.csv").write_text("close,volume\n" + "".join(f"{i},{i % 5}\n" for i in range(300)))
    (base / "tiny.txt").write_text("hello world!")
    (base / "empty.ckpt").write_bytes(b"")
    checkpoint = torch.load(sine_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["rnnlab"]["config"]["seed"] = -5
    torch.save(checkpoint, base / "bad_seed.ckpt")
    (base / "broken" / ".hydra").mkdir(parents=True)
    (base / "broken" / ".hydra" / "config.yaml").write_text("data: [unclosed\n")
    (base / "broken" / "checkpoints").mkdir()
    (base / "broken" / "checkpoints" / "last.ckpt").write_bytes(b"")
    for number, (model, lr) in enumerate((("gru", 0.01), ("lstm", 0.001))):
        job = base / "sweep" / str(number)
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text(f"- model={model}\n- optimizer.lr={lr}\n")
        (job / ".hydra" / "config.yaml").write_text("optimized_metric: val/loss_best\n")
        (job / "metrics.json").write_text('{"status": "ok", "val/loss": 0.5, "val/loss_best": 0.4}')
    (base / "notes.journal").write_text("not a journal\n")
    rows = "".join(f"{'x' if i == 5 else i},{i % 7}\n" for i in range(300))
    (base / "numbered.csv").write_text("t,close\n" + rows)
    return {
        "sweep": base / "sweep",
        "numbered": base / "numbered.csv",
        "journal": base / "notes.journal",
        "latin1": base / ("latin1.csv"),
        "semicolon": base / "semicolon.csv",
        "short": base / "short.csv",
        "gappy": base / "gappy.csv",
        "unsorted": base / "unsorted.csv",
        "covariate": base / "covariate.csv",
        "tiny": base / "tiny.txt",
        "empty": base / "empty.ckpt",
        "bad_seed": base / "bad_seed.ckpt",
        "broken": base / "broken",
        "tmp": base,
        "sine": sine_run / "checkpoints" / "last.ckpt",
        "sine_dir": sine_run,
        "text": text_run / "checkpoints" / "last.ckpt",
    }


# rnnlab-predict's and -export's cases load a trained run each: they run with the slow tests
SLOW_ENTRIES = (PREDICT, EXPORT)
SLOW_CASES = (
    "mqar with a tiny vocabulary",
    "a time column with a bad cell",
    "parity too small for distinct splits",
)


@pytest.mark.parametrize(
    ("entry", "args", "message"),
    [
        pytest.param(*m[1:], marks=[pytest.mark.slow] if m[1] in SLOW_ENTRIES or m[0] in SLOW_CASES else [])
        for m in MISTAKES
    ],
    ids=[m[0] for m in MISTAKES],
)
def test_a_mistake_is_one_line_and_exit_2(files, tmp_path, request, entry, args, message):
    case = request.node.callspec.id
    paths = {
        **files,
        "models": ", ".join(options("model")),
        "model_targets": ", ".join(sorted(registry.registered("model"))),
    }
    if case.startswith("text latin-1"):
        paths["latin1"] = tmp_path / "latin1.txt"
        paths["latin1"].write_bytes("hello world caf\xe9".encode("latin-1"))
    message = (message or FILE_MESSAGES[case]).format(**paths)
    run_dir = tmp_path / "run"
    extra = [f"hydra.run.dir={run_dir}"] if entry not in ("rnnlab-sample", *ARGPARSE) else []
    code, _, stderr = run_entry(entry, *(a.format(**paths) for a in args), *extra)
    assert code == 2, stderr[-3000:]
    assert one_line(stderr) == f"{entry}: error: {message}"
    assert not (run_dir / "checkpoints").exists() or case == "checkpoint monitor"


def test_a_checkpoint_with_edited_generator_states_is_one_line(sine_run, tmp_path):
    checkpoint = torch.load(sine_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["rnnlab"]["rng"]["python"] = [1, 2, 3]
    torch.save(checkpoint, tmp_path / "edited.ckpt")
    code, _, stderr = run_entry(
        "rnnlab-train",
        *FAST,
        "trainer.max_epochs=2",
        f"ckpt_path={tmp_path / 'edited.ckpt'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert code == 2
    assert one_line(stderr) == (
        "rnnlab-train: error: ckpt_path must be a checkpoint with valid random generator states: "
        "state vector is the wrong size"
    )


# the three in the default run, every rule with the slow tests
NAMED = {("model.hidden_size", "model.params"), ("trainer.max_epochs", "budget"),
         ("callbacks.early_stopping", "trainer.limit_val_batches")}  # fmt: skip


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(r, marks=[] if (r.first, r.second) in NAMED else [pytest.mark.slow])
        for r in CONTRADICTIONS
    ],
    ids=[f"{r.first} with {r.second}" for r in CONTRADICTIONS],
)
def test_settings_that_contradict_are_one_line_naming_both(files, tmp_path, rule):
    args = [a.format(**files) for a in rule.example]
    code, _, stderr = run_entry(TRAIN, *FAST, *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert code == 2, stderr[-3000:]
    line = one_line(stderr)
    assert line.startswith(f"{TRAIN}: error: {rule.first} must be {rule.allowed} (got ")
    assert f"): {rule.second} is " in line
    assert not (tmp_path / "run" / "checkpoints").exists()
