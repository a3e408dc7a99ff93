"""Parts found, not listed: a package registers its classes and configs, and rnnlab builds,
trains and lists them like its own; anything unregistered stays refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from rnnlab import registry
from tests.conftest import FAST, one_line, run_entry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "own_model"


def lay_out_package(site: Path, name: str, files: dict[str, str], entry_points: dict[str, dict]) -> None:
    """A package as an installer leaves it in site-packages: its files, and a dist-info that
    declares its entry points (what importlib.metadata, and so rnnlab's registry, reads)."""
    for path, text in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(textwrap.dedent(text))
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    groups = [
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items())
        for group, entries in entry_points.items()
    ]
    (info / "entry_points.txt").write_text("\n".join(groups))


@pytest.fixture
def throwaway(tmp_path, monkeypatch) -> Path:
    """A family of one file, one config and one registration line, in a package of its own
    (a subclass of minGRU: what is being tested is the finding, not the recurrence)."""
    site = tmp_path / "site"
    lay_out_package(
        site,
        "throwaway",
        {
            "throwaway/__init__.py": "",
            "throwaway/family.py": """
                from rnnlab.models.minrnn import MinRNNNet


                class ThrowawayNet(MinRNNNet):
                    pass
                """,
            "throwaway/conf/model/throwaway.yaml": """
                defaults:
                  - mingru
                _target_: throwaway.family.ThrowawayNet
                """,
        },
        {
            "rnnlab.models": {"throwaway": "throwaway.family:ThrowawayNet"},
            "rnnlab.conf": {"throwaway": "throwaway.conf"},
        },
    )
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_registered_family_composes_trains_and_is_listed(throwaway, tmp_path):
    assert registry.registered("model")["throwaway.family.ThrowawayNet"] == "throwaway"
    run = tmp_path / "run"
    code, _, stderr = run_entry(
        "rnnlab-train", *FAST, "model=throwaway", "model.hidden_size=8", f"hydra.run.dir={run}"
    )
    assert code == 0, stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "ok" and metrics["model/hidden_size"] == 8
    code, stdout, _ = run_entry("rnnlab-train", "--help")
    groups = next(line for line in stdout.splitlines() if line.startswith("model: "))
    assert "throwaway" in groups.split(": ", 1)[1].split(", ")
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["rnnlab"]["config"]["model"]["_target_"] == "throwaway.family.ThrowawayNet"


def test_a_class_no_package_registered_is_refused_even_beside_one_that_is(throwaway, tmp_path):
    """Registering one class trusts that class, not its module or its package."""
    (throwaway / "throwaway" / "family.py").write_text(
        "import os\nfrom rnnlab.models.minrnn import MinRNNNet\n\nclass ThrowawayNet(MinRNNNet):\n    pass\n"
    )
    for target in ("throwaway.family.os.system", "throwaway.family.MinRNNNet", "os.system"):
        code, _, stderr = run_entry(
            "rnnlab-train",
            *FAST,
            "model=throwaway",
            f"model._target_={target}",
            f"hydra.run.dir={tmp_path / 'r'}",
        )
        assert code == 2
        assert "model._target_ must be a class registered for this group" in one_line(stderr)
        assert f"(got '{target}')" in one_line(stderr)


@pytest.mark.slow
def test_the_example_package_installs_and_trains_from_its_own_config(tmp_path):
    """examples/own_model, installed as pip installs it (its own pyproject.toml declares the
    entry points), trains model=indrnn on MQAR and sweeps beside rnnlab's families."""
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE, tmp_path / "own_model")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(site), str(tmp_path / "own_model")],
        check=True,
        capture_output=True,
    )  # fmt: skip
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.argv = sys.argv[1:]; sys.argv[0] = 'rnnlab-train'\n"
        "from rnnlab.cli.train import cli; cli()\n"
    )
    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-c", code, str(site), "model=indrnn", "data=mqar", "debug=fast",
         "model.hidden_size=16", "callbacks.rich_progress_bar=null", f"hydra.run.dir={run}"],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "ok" and "test/acc" in metrics
