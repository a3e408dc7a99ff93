import numpy as np
import pytest
import torch

from rnnlab.data.csv_series import CsvSeriesDataModule
from rnnlab.data.sine import SineDataModule
from rnnlab.data.windowing import TensorBatches, batch_loader, split_bounds
from rnnlab.errors import ConfigError


def _ramp_module(write_csv, length=200, **kwargs):
    """A series whose value is its own time index, so every window shows where it came from."""
    path = write_csv({"t": list(range(length)), "value": [float(i) for i in range(length)]})
    settings = {"window": 10, "horizon": 3, "rollout_steps": 5, "batch_size": 16, **kwargs}
    module = CsvSeriesDataModule(path=str(path), column="value", **settings)
    module.setup("fit")
    return module


def _original(module, values: torch.Tensor) -> np.ndarray:
    return values.double().numpy()


def test_windows_stay_inside_their_split_and_in_time_order(write_csv):
    module = _ramp_module(write_csv)
    assert module.bounds == [(0, 140), (140, 170), (170, 200)]
    for name, (start, stop) in zip(("train", "val", "test"), module.bounds, strict=True):
        x, y = module.datasets[name].tensors
        times = np.concatenate([_original(module, x[..., 0]), _original(module, y[..., 0])], axis=1)
        assert times.min() == start and times.max() == stop - 1  # covers the split, no more
        assert np.all(np.diff(times, axis=1) == 1)  # each window is a contiguous stretch
        # every window whose targets fit inside the split is there, and no other
        expected = stop - start - 10 - (5 if name == "test" else 3) + 1
        assert len(x) == expected


def test_targets_follow_inputs_and_test_targets_cover_the_rollout(write_csv):
    module = _ramp_module(write_csv)
    x, y = module.datasets["val"][0]
    assert x.shape == (10, 1) and y.shape == (3, 1)
    assert _original(module, y)[0, 0] == _original(module, x[-1, 0]) + 1
    assert module.datasets["test"][0][1].shape == (5, 1)


def test_scaler_is_fitted_on_the_train_split_only(write_csv):
    module = _ramp_module(write_csv)
    train_values = np.arange(140, dtype=float)
    spec = module.spec
    assert spec.scaling.mode == "global"
    assert spec.scaling.offset == pytest.approx((train_values.mean(),))
    assert spec.scaling.scale == pytest.approx((train_values.std(),))
    assert (spec.input_size, spec.output_size, spec.rollout_steps) == (1, 3, 5)


def test_batches_are_fetched_whole_and_match_single_items():
    inputs, targets = torch.randn(50, 4, 1), torch.randn(50, 2)
    dataset = TensorBatches(inputs, targets)
    x, y = dataset.__getitems__([3, 7, 11])
    assert torch.equal(x, inputs[[3, 7, 11]]) and torch.equal(y, targets[[3, 7, 11]])
    batches = list(batch_loader(dataset, batch_size=16, shuffle=False))
    assert [len(b[0]) for b in batches] == [16, 16, 16, 2]
    assert torch.equal(torch.cat([b[0] for b in batches]), inputs)
    torch.manual_seed(0)
    shuffled = torch.cat([b[1] for b in batch_loader(dataset, batch_size=16, shuffle=True)])
    assert not torch.equal(shuffled, targets)
    assert torch.equal(shuffled.sort(dim=0).values, targets.sort(dim=0).values)


def test_sine_series_is_a_sum_of_sines_and_reproducible():
    clean = SineDataModule(length=120, periods=[12, 30], amplitudes=[1.0, 0.5], phases=[0.0, 1.0], noise=0.0)
    t = np.arange(120)
    expected = np.sin(2 * np.pi * t / 12) + 0.5 * np.sin(2 * np.pi * t / 30 + 1.0)
    assert np.allclose(clean.load_frame().values[:, 0], expected)
    noisy = [SineDataModule(noise=0.1, seed=3).load_frame().values for _ in range(2)]
    assert np.array_equal(noisy[0], noisy[1])
    assert not np.array_equal(noisy[0], SineDataModule(noise=0.1, seed=4).load_frame().values)


def test_sine_season_is_the_lcm_of_whole_periods():
    module = SineDataModule(periods=[30, 12], amplitudes=[1, 1], phases=[0, 0], window=64)
    module.setup()
    assert module.spec.season == 60
    short = SineDataModule(periods=[30, 12], amplitudes=[1, 1], phases=[0, 0], window=40)
    short.setup()
    assert short.spec.season is None  # a season longer than the window can't be looked up
    fractional = SineDataModule(periods=[7.5], amplitudes=[1], phases=[0])
    assert fractional.season is None


def test_split_fractions_must_be_three_positive_and_sum_to_one():
    assert split_bounds(10, [0.6, 0.2, 0.2]) == [(0, 6), (6, 8), (8, 10)]
    with pytest.raises(
        ConfigError, match=r"splits must be three fractions that sum to 1 \(train and val > 0"
    ):
        split_bounds(10, [0.5, 0.5])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window must be an integer >= 1 (got 0)"),
        ({"horizon": 0}, "horizon must be an integer >= 1 (got 0)"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1 (got 0)"),
        ({"horizon": 4, "rollout_steps": 2}, "rollout_steps must be an integer >= 4 (got 2)"),
        ({"splits": [0.8, 0.3, 0.1]}, "splits must be three fractions that sum to 1"),
        ({"noise": -1}, "noise must be a standard deviation >= 0 (got -1)"),
        ({"periods": [10, 20], "amplitudes": [1.0]}, "amplitudes must be a list as long as periods (2)"),
    ],
)
def test_bad_sine_settings(kwargs, message):
    with pytest.raises(ConfigError) as error:
        SineDataModule(**kwargs)
    assert message in str(error.value)


def test_window_plus_horizon_longer_than_a_split(write_csv):
    with pytest.raises(ConfigError) as error:
        _ramp_module(write_csv, window=40)  # val and test splits hold 30 steps; test needs 5 after
    assert str(error.value) == (
        "window must be <= 25 so that window + rollout_steps (5) fits the test split of 30 steps (got 40)"
    )


def test_missing_csv_file(tmp_path):
    module = CsvSeriesDataModule(path=str(tmp_path / "nope.csv"), column="close")
    with pytest.raises(ConfigError, match=r"^path must be an existing UTF-8 CSV file \(got '.*nope.csv'\)$"):
        module.setup()


def test_missing_csv_column_lists_the_columns(write_csv):
    path = write_csv({"date": ["d1", "d2"], "close": [1.0, 2.0]})
    with pytest.raises(ConfigError) as error:
        CsvSeriesDataModule(path=str(path), column="price").setup()
    assert str(error.value) == "column must be one of the file's columns: date, close (got 'price')"


def test_non_numeric_csv_column_names_the_line(write_csv):
    path = write_csv({"date": ["d1", "d2", "d3"], "close": ["1.0", "high", "3"]})
    with pytest.raises(ConfigError) as error:
        CsvSeriesDataModule(path=str(path), column="close").setup()
    assert str(error.value).startswith("column must be the name of a numeric column (got 'close'): line 3 of")
    assert str(error.value).endswith("holds 'high'")


def test_seeded_shuffle_depends_on_seed_and_epoch_only():
    from rnnlab.data.windowing import SeededShuffle

    sampler = SeededShuffle(50, seed=3)
    first = list(sampler)
    torch.manual_seed(123)  # the global generator plays no part
    assert list(sampler) == first and sorted(first) == list(range(50))
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    sampler.set_epoch(0)
    assert list(sampler) == first
    assert list(SeededShuffle(50, seed=4)) != first


def test_a_null_seed_draws_a_fresh_one_and_the_spec_waits_for_setup():
    first, second = (SineDataModule(length=600, window=16, rollout_steps=8, seed=None) for _ in range(2))
    assert isinstance(first.seed, int) and first.seed != second.seed  # seed: null, an unseeded run
    with pytest.raises(RuntimeError, match=r"^call setup\(\) before reading spec$"):
        _ = first.spec
    first.setup("fit")
    second.setup("fit")
    assert not torch.equal(first.datasets["train"].tensors[0], second.datasets["train"].tensors[0])
    with pytest.raises(
        ConfigError, match=r"^seed must be an integer in \[0, 4294967295\], or null \(got -1\)$"
    ):
        SineDataModule(seed=-1)


def test_a_zero_test_fraction_is_refused_before_any_length_is_searched(write_csv):
    """Short data and a forecast with no test split: the val split is short first, and no
    length could ever give the test split its rollout (the search must not start)."""
    with pytest.raises(
        ConfigError, match=r"^splits must be a test fraction > 0 \(this task needs a test split\)"
    ):
        _ramp_module(write_csv, length=15, splits=[0.8, 0.2, 0.0])  # val 3 of 4, test 0 of 6
