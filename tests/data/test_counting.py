import pytest
import torch

from rnnlab.data.counting import CountingDataModule
from rnnlab.errors import ConfigError


def _module(**kwargs) -> CountingDataModule:
    module = CountingDataModule(**{"train_range": [0, 100], "extrapolate_range": [100, 150], **kwargs})
    module.setup()
    return module


def test_windows_are_progressions_and_targets_follow_them():
    module = _module(window=5, steps=[1, 2, 3], rollout_steps=4)
    x, y = module.datasets["train"].tensors
    values = torch.cat([x, y], dim=1)[..., 0]  # one column
    steps = values[:, 1] - values[:, 0]
    assert torch.equal(values.diff(dim=1), steps[:, None].expand(-1, 5))
    assert set(steps.tolist()) == {1.0, 2.0, 3.0}
    test_x, test_y = module.datasets["test"].tensors
    assert test_x.shape[1:] == (5, 1) and test_y.shape[1:] == (4, 1)  # the rollout's 4 numbers


def test_starts_are_held_out_between_splits_and_extrapolation_is_outside():
    module = _module(steps=[1, 2])
    seen = {}
    for name in ("train", "val", "test"):
        x = module.datasets[name].tensors[0]
        pairs = {(int(a), int(b - a)) for a, b in zip(x[:, 0, 0], x[:, 1, 0], strict=True)}
        seen[name] = pairs
        assert all(0 <= start < 100 for start, _ in pairs)
    assert not (seen["train"] & seen["val"]) and not (seen["train"] & seen["test"])
    assert sum(len(p) for p in seen.values()) == 200  # every (start, step) pair used once
    starts = module.datasets["test_extrapolate"].tensors[0][:, 0, 0]
    assert starts.min() == 100 and starts.max() == 149


def test_relative_scaling_by_the_largest_step_and_global_min_max_on_train():
    relative = _module(steps=[1, 3]).spec.scaling
    assert (relative.mode, relative.scale) == ("last", (3.0,))
    module = _module(normalization="global")
    train = torch.cat([t.flatten() for t in module.datasets["train"].tensors])
    scaling = module.spec.scaling
    assert scaling.mode == "global"
    assert scaling.offset == (train.min(),) and scaling.scale == (train.max() - train.min(),)


def test_spec_names_both_test_splits_and_integer_targets():
    spec = _module().spec
    assert spec.test_splits == ("test", "test_extrapolate")
    assert spec.integer_targets and spec.output_size == 1
    assert [len(loader.dataset) for loader in _module().test_dataloader()] == [10, 50]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": []}, "steps must be a non-zero integer or a list of them"),
        ({"steps": [1, 0]}, "steps must be a non-zero integer or a list of them"),
        ({"train_range": [10, 5]}, "train_range must be [low, high) with integers low < high (got [10, 5])"),
        ({"normalization": "zscore"}, "normalization must be one of relative, global (got 'zscore')"),
        ({"window": 0}, "window must be an integer >= 1 (got 0)"),
    ],
)
def test_bad_counting_settings(kwargs, message):
    with pytest.raises(ConfigError) as error:
        CountingDataModule(**kwargs)
    assert message in str(error.value)


def test_a_range_too_small_for_three_splits():
    with pytest.raises(
        ConfigError, match=r"train_range must be wide enough that every split gets a sequence"
    ):
        _module(train_range=[0, 3])
