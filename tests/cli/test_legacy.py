"""Runs and checkpoints written before 0.2 (classes named by their package, the task's
settings under model:) still load: a checkpoint rebuilds the same network (what rnnlab-eval
and rnnlab-sample do with it) and resume= continues a run dir."""

from __future__ import annotations

import shutil

import torch
import yaml
from omegaconf import OmegaConf

from rnnlab.run.checkpoint import load_checkpoint
from rnnlab.run.legacy import RENAMED, TASK_KEYS
from tests.conftest import FAST, run_entry

OLD_NAME = {new: old for old, new in RENAMED.items()}


def as_stored_by_0_1(config: dict) -> dict:
    """Today's stored config rewritten the way rnnlab 0.1 stored it."""

    def renamed(node):
        if isinstance(node, dict):
            node = {key: renamed(value) for key, value in node.items()}
            if node.get("_target_") in OLD_NAME:
                node["_target_"] = OLD_NAME[node["_target_"]]
        return node

    old = renamed(config)
    task = old.pop("task")
    old["model"].update({key: task[key] for key in TASK_KEYS})  # 0.1 had only these
    return old


def test_a_checkpoint_and_a_run_dir_of_0_1_load(sine_run, tmp_path):
    checkpoint = torch.load(sine_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["rnnlab"]["config"] = as_stored_by_0_1(checkpoint["rnnlab"]["config"])
    assert checkpoint["rnnlab"]["config"]["model"]["_target_"] == "rnnlab.models.RecurrentNet"
    assert "likelihood" in checkpoint["rnnlab"]["config"]["model"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    today, config = load_checkpoint(sine_run / "checkpoints" / "last.ckpt")
    then, upgraded = load_checkpoint(old)
    # read back as today's config (less the task settings added since), the same network
    # built from it
    expected = OmegaConf.to_container(config)
    expected["task"] = {key: expected["task"][key] for key in TASK_KEYS}
    assert OmegaConf.to_container(upgraded) == expected
    x = torch.randn(3, config.data.window, 1)
    torch.testing.assert_close(then(x), today(x), rtol=0, atol=0)

    run = tmp_path / "run"
    shutil.copytree(sine_run, run)
    saved = run / ".hydra" / "config.yaml"
    saved.write_text(yaml.safe_dump(as_stored_by_0_1(yaml.safe_load(saved.read_text()))))
    shutil.copy(old, run / "checkpoints" / "last.ckpt")
    code, _, stderr = run_entry(
        "rnnlab-train",
        f"resume={run}",
        "trainer.max_epochs=2",
        f"hydra.run.dir={tmp_path / 'next'}",
        *FAST[1:],
    )
    assert code == 0, stderr[-3000:]
    resumed = yaml.safe_load((tmp_path / "next" / ".hydra" / "config.yaml").read_text())
    assert resumed["model"]["_target_"] == "rnnlab.models.net.RecurrentNet"
    assert resumed["task"] == {"likelihood": None, "quantiles": [0.1, 0.5, 0.9]}
