"""A user's CSV: several columns, a time column, gaps, delimiters and encodings, and the
linear autoregressive baseline fitted on the train split."""

from datetime import datetime

import numpy as np
import pytest
import torch

from rnnlab.data.autoregression import linear_autoregression
from rnnlab.data.csv_series import CsvSeriesDataModule
from rnnlab.data.sine import SineDataModule
from rnnlab.errors import ConfigError

SMALL = {"window": 6, "horizon": 2, "rollout_steps": 3, "batch_size": 16}


def _module(path, **kwargs) -> CsvSeriesDataModule:
    module = CsvSeriesDataModule(path=str(path), **{**SMALL, **kwargs})
    module.setup("fit")
    return module


def _columns(length=100, seed=0) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    return {
        "time": [f"2024-01-{1 + i // 24:02d} {i % 24:02d}:00" for i in range(length)],
        "load": list(np.round(50 + 10 * rng.standard_normal(length), 3)),
        "price": list(np.round(3 + rng.standard_normal(length), 3)),
        "temperature": list(np.round(15 + 5 * rng.standard_normal(length), 3)),
    }


def test_targets_come_first_then_covariates_each_scaled_on_train_only(write_csv):
    columns = _columns()
    path = write_csv(columns)
    module = _module(path, target=["load", "price"], covariates=["temperature"], time_column="time")
    spec = module.spec
    assert (spec.input_size, spec.output_size, spec.targets) == (3, 4, ("load", "price"))
    x, y = module.datasets["train"].tensors
    assert x.shape[1:] == (6, 3) and y.shape[1:] == (2, 3)
    table = np.array([columns["load"], columns["price"], columns["temperature"]]).T
    assert np.allclose(x[0].numpy(), table[:6], atol=1e-4) and np.allclose(
        y[0].numpy(), table[6:8], atol=1e-4
    )
    train = table[:70]  # splits 0.7 / 0.15 / 0.15 of 100 rows: the scaling sees these only
    assert spec.scaling.offset == pytest.approx(tuple(train.mean(axis=0)))
    assert spec.scaling.scale == pytest.approx(tuple(train.std(axis=0)))
    assert spec.scaling.offset != pytest.approx(tuple(table.mean(axis=0)))


def test_one_target_named_by_column_or_target_gives_the_same_windows(write_csv):
    path = write_csv(_columns())
    old, new = _module(path, column="load"), _module(path, target="load")
    assert torch.equal(old.datasets["test"].tensors[0], new.datasets["test"].tensors[0])
    assert old.spec == new.spec and new.spec.targets == ("load",) and new.spec.input_size == 1


def test_the_time_column_gives_each_window_its_dates(write_csv):
    path = write_csv(_columns())
    module = _module(path, target="load", time_column="time")
    times = module.window_times("val", 2)  # val starts at row 70
    assert len(times) == 6 + 2 and times[0] == datetime(2024, 1, 4, 0)  # row 72: hour 72
    assert _module(path, target="load").window_times("val", 2) is None


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (["2024-01-01", "2024-01-03", "2024-01-02"], "line 4 (2024-01-02) comes before line 3 (2024-01-03)"),
        (["1", "2", "2"], "line 4 (2) repeats the time of line 3 (2)"),
        (
            ["2024-01-01", "yesterday", "2024-01-03"],
            "must be a column of dates (e.g. 2024-01-31 13:00, 2024/01/31, 01/31/2024) or of numbers "
            "(got 'time'): line 3 holds 'yesterday'",
        ),
    ],
)
def test_times_out_of_order_repeated_or_unreadable_are_one_line(write_csv, times, message):
    path = write_csv({"time": times, "load": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError) as error:
        _module(path, target="load", time_column="time")
    assert str(error.value).startswith("time_column must be") and message in str(error.value)


def _gappy(write_csv, first="", length=40):
    load = [first, *[str(float(i)) for i in range(1, length)]]
    load[5], load[6], load[20] = "", "NA", "nan"
    return write_csv({"load": load, "other": list(range(length))})


def test_a_gap_is_one_line_naming_its_line_unless_filled(write_csv):
    path = _gappy(write_csv, first="0.0")
    with pytest.raises(ConfigError) as error:
        _module(path, target="load", **{**SMALL, "window": 3})
    assert str(error.value).endswith(
        "line 7 has no value in 'load': fill it, or set data.missing=ffill or interpolate"
    )
    interpolated = _module(path, target="load", missing="interpolate", window=3).load_frame().values[:, 0]
    assert np.array_equal(interpolated, np.arange(40.0))  # a straight line through the gaps
    filled = _module(path, target="load", missing="ffill", window=3).load_frame().values[:, 0]
    assert filled[4:8].tolist() == [4.0, 4.0, 4.0, 7.0] and filled[20] == 19.0


def test_a_leading_gap_cannot_be_carried_forward(write_csv):
    path = _gappy(write_csv, first="")
    with pytest.raises(
        ConfigError, match=r"^missing must be interpolate for a column that starts with a gap"
    ):
        _module(path, target="load", missing="ffill", window=3)
    values = _module(path, target="load", missing="interpolate", window=3).load_frame().values[:, 0]
    assert values[0] == 1.0  # the nearest value


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("time;load;temp\r\n{rows}", None),
        ("\ufefftime\tload\ttemp\n{rows}", None),
        ("time|load|temp\n{rows}", "|"),
        ("time\tload\ttemp\n{rows}", "tab"),
    ],
)
def test_delimiters_byte_order_marks_and_line_endings(tmp_path, text, delimiter):
    separator = text[text.index("time") + 4]
    rows = "".join(f"{i}{separator}{i * 2}.5{separator}{i % 7}\r\n" for i in range(60))
    path = tmp_path / "data.csv"
    path.write_bytes(text.format(rows=rows).encode("utf-8"))
    module = _module(path, target="load", covariates=["temp"], time_column="time", delimiter=delimiter)
    assert module.frame.values[:3].tolist() == [[0.5, 0.0], [2.5, 1.0], [4.5, 2.0]]


def test_a_decimal_comma_and_a_wrong_delimiter_say_what_to_do(tmp_path):
    path = tmp_path / "euro.csv"
    path.write_text("time;load\n" + "".join(f"{i};{i},5\n" for i in range(60)))
    with pytest.raises(ConfigError) as error:
        _module(path, target="load")
    assert str(error.value).endswith("holds '0,5': a decimal comma; save the file with decimal points")
    with pytest.raises(ConfigError, match=r"set data.delimiter=';'$"):
        _module(path, target="load", delimiter=",")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "target must be a column header or a list of them"),
        ({"target": []}, "target must be a column header or a list of them (got [])"),
        ({"target": ["load", "load"]}, "target must be a column header or a list of them, each named once"),
        ({"target": "load", "column": "load"}, "column must be null when data.target is set"),
        ({"target": "load", "covariates": ["load"]}, "covariates must be columns other than the targets"),
        ({"target": "load", "covariates": [1]}, "covariates must be a list of column headers (got [1])"),
        ({"target": "load", "time_column": "load"}, "time_column must be a column that is neither"),
        (
            {"target": "load", "missing": "drop"},
            "missing must be one of error, ffill, interpolate (got 'drop')",
        ),
        ({"target": "load", "delimiter": ";;"}, "delimiter must be one character (',' ';' tab)"),
    ],
)
def test_bad_column_settings_are_one_line(tmp_path, kwargs, message):
    with pytest.raises(ConfigError) as error:
        CsvSeriesDataModule(path=str(tmp_path / "x.csv"), **kwargs)
    assert str(error.value).startswith(message)


def test_a_covariate_the_file_lacks_a_column_named_twice_and_ragged_rows(tmp_path, write_csv):
    path = write_csv(_columns())
    with pytest.raises(
        ConfigError, match=r"^covariates must be one of the file's columns: time, load, price"
    ):
        _module(path, target="load", covariates=["humidity"])
    twice = tmp_path / "twice.csv"
    twice.write_text("a,a\n1,2\n")
    with pytest.raises(
        ConfigError, match=r"^path must be a CSV file whose header names each column once .*: 'a' twice$"
    ):
        _module(twice, target="a")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3\n")
    with pytest.raises(ConfigError, match=r"rows have as many fields as its header \(2\).*: line 3 has 1$"):
        _module(ragged, target="a")


def test_the_linear_baseline_is_least_squares_on_train_windows(write_csv):
    """Against an independent fit in original units (affine scaling changes no least-squares
    forecast), and exact where the series is linear: a noiseless sine obeys
    x_t = 2 cos(w) x_(t-1) - x_(t-2), and a target that echoes a covariate 2 steps later is
    forecast 2 steps ahead from the covariate, not from its own past."""
    sine = SineDataModule(length=400, periods=[17.0], amplitudes=[2.0], phases=[0.3], noise=0.0, **SMALL)
    sine.setup()
    assert sine.spec.baselines["test"]["ar_mse"] < 1e-9

    rng = np.random.default_rng(1)
    driver = rng.standard_normal(300)
    echo = np.concatenate([[0.0, 0.0], driver[:-2]]) * 3 + 1 + 0.1 * rng.standard_normal(300)
    path = write_csv({"echo": list(echo), "driver": list(driver)})
    alone, helped = _module(path, target="echo"), _module(path, target="echo", covariates=["driver"])
    assert helped.spec.baselines["test"]["ar_mse"] < 0.02  # the noise's 0.01, near enough
    assert alone.spec.baselines["test"]["ar_mse"] > 5  # the echo of white noise: unpredictable

    x, y = (t.double().numpy() for t in helped.datasets["train"].tensors)
    design = np.hstack([x.reshape(len(x), -1), np.ones((len(x), 1))])
    weights = np.linalg.lstsq(design, y[:, :, 0], rcond=None)[0]
    tx, ty = (t.double().numpy() for t in helped.datasets["test"].tensors)
    errors = np.hstack([tx.reshape(len(tx), -1), np.ones((len(tx), 1))]) @ weights - ty[:, :2, 0]
    test = helped.spec.baselines["test"]
    assert test["ar_mse"] == pytest.approx(np.mean(errors**2), rel=1e-6)
    assert [test["ar_mse_step1"], test["ar_mse_step2"]] == pytest.approx(list(np.mean(errors**2, axis=0)))
    assert "ar_mse_step1" not in helped.spec.baselines["val"]  # per step on the test splits, as the model


def test_the_linear_baseline_scores_each_target_when_there_are_several():
    x = torch.randn(50, 4, 2)
    y = torch.randn(50, 2, 2)
    windows = {"train": (x, y), "val": (x[:10], y[:10]), "test": (x[:10], y[:10])}
    from rnnlab.data.spec import Scaling

    scores = linear_autoregression(windows, Scaling("global", (0.0, 0.0), (1.0, 1.0)), ("a", "b"), 2)
    test = scores["test"]
    assert test["ar_mse"] == pytest.approx((test["ar_mse_a"] + test["ar_mse_b"]) / 2)
    assert set(scores) == {"val", "test"}


@pytest.mark.parametrize(
    "edit",
    [
        {"scaling": {"mode": "global", "offset": [0.0], "scale": [1.0]}},  # one scaling, two columns
        {"targets": ["a", "b", "c"]},  # more targets than columns
        {"output_size": 3},  # not a multiple of the two targets
    ],
)
def test_a_stored_forecast_spec_whose_sizes_disagree_is_refused(edit):
    from rnnlab.data.spec import Scaling, TaskSpec

    spec = TaskSpec("regression", 2, 4, Scaling("global", (0.0, 0.0), (1.0, 1.0)), targets=("a", "b"))
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match=r"^a forecast's spec needs one scaling per input column"):
        TaskSpec.from_dict({**spec.to_dict(), **edit})


def _frame(path, **kwargs):
    """The file as the data module reads it, before any split."""
    return CsvSeriesDataModule(path=str(path), **kwargs).load_frame()


@pytest.mark.parametrize(
    ("cells", "first"),
    [
        (["2012/01/01", "2012/01/02", "2012/01/03"], datetime(2012, 1, 1)),
        (["01/30/2024 13:00", "01/30/2024 14:00", "01/31/2024 15:00"], datetime(2024, 1, 30, 13)),
        (["30.01.2024", "31.01.2024", "01.02.2024"], datetime(2024, 1, 30)),  # the 30 says: day first
        (
            ["2024-01-31T12:00+01:00", "2024-01-31T13:00+01:00", "2024-01-31T14:00+01:00"],
            datetime(2024, 1, 31, 11),
        ),
    ],
)
def test_dates_as_people_write_them_read(write_csv, cells, first):
    path = write_csv({"time": cells, "load": [1.0, 2.0, 3.0]})
    assert _frame(path, target="load", time_column="time").times[0] == first


def test_dates_whose_day_and_month_could_be_either_ask_for_the_format(write_csv):
    path = write_csv({"time": ["01/02/2024", "02/02/2024", "03/02/2024"], "load": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError) as error:
        _frame(path, target="load", time_column="time")
    assert str(error.value).startswith("time_format must be the column's date format, e.g. '%d/%m/%Y %H:%M'")
    assert "could be day or month first ('01/02/2024')" in str(error.value)
    frame = _frame(path, target="load", time_column="time", time_format="%d/%m/%Y")
    assert frame.times == [datetime(2024, 2, 1), datetime(2024, 2, 2), datetime(2024, 2, 3)]
    mixed = write_csv(
        {"time": ["13/01/2024", "01/14/2024", "15/01/2024"], "load": [1.0, 2.0, 3.0]}, "mixed.csv"
    )
    with pytest.raises(ConfigError, match="mixes day-first and month-first dates"):
        _frame(mixed, target="load", time_column="time")
    wrong = write_csv({"time": ["2024-01-01", "2024-01-02", "x"], "load": [1.0, 2.0, 3.0]}, "wrong.csv")
    with pytest.raises(ConfigError, match=r"dates in data.time_format '%Y-%m-%d' .* line 4 holds 'x'"):
        _frame(wrong, target="load", time_column="time", time_format="%Y-%m-%d")


def test_rows_after_the_last_target_value_hold_the_covariates_future(write_csv):
    columns = {
        "time": [f"2024-01-01 {hour:02d}:00" for hour in range(6)],
        "load": ["1", "2", "", "4", "", ""],
        "temperature": ["5", "6", "7", "8", "9", "10"],
    }
    path = write_csv(columns)
    frame = _frame(path, target="load", covariates=["temperature"], time_column="time", missing="interpolate")
    assert frame.values[:, 0].tolist() == [1, 2, 3, 4] and frame.future.tolist() == [[9], [10]]
    assert frame.future_times == [datetime(2024, 1, 1, 4), datetime(2024, 1, 1, 5)]
    alone = _frame(path, target="load", time_column="time", missing="interpolate")
    assert len(alone.values) == 6 and alone.future is None  # without covariates there is no future to read
