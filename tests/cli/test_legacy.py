"""Runs and checkpoints written before 0.2 (classes named by their package, the task's
settings under model:) still load: rnnlab-eval scores them and resume= continues them."""

from __future__ import annotations

import json
import shutil

import torch
import yaml

from rnnlab.run.legacy import RENAMED
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
    old["model"].update(old.pop("task"))
    return old


def test_a_checkpoint_and_a_run_dir_of_0_1_load(sine_run, tmp_path):
    checkpoint = torch.load(sine_run / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["rnnlab"]["config"] = as_stored_by_0_1(checkpoint["rnnlab"]["config"])
    assert checkpoint["rnnlab"]["config"]["model"]["_target_"] == "rnnlab.models.RecurrentNet"
    assert "likelihood" in checkpoint["rnnlab"]["config"]["model"]
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    scores = []
    for name, path in (("today", sine_run / "checkpoints" / "last.ckpt"), ("0.1", old)):
        code, _, stderr = run_entry("rnnlab-eval", f"ckpt_path={path}", f"hydra.run.dir={tmp_path / name}")
        assert code == 0, stderr[-3000:]
        scores.append(json.loads((tmp_path / name / "metrics.json").read_text())["test/mse"])
    assert scores[0] == scores[1]  # the same network, the same data, the same numbers

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
