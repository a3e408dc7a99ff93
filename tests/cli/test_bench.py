"""rnnlab-bench runs its benchmarks and writes the figures it prints (no speed is asserted
here: the bars are checked by running the benchmarks, see docs/benchmarks.md)."""

import json
import statistics

import pytest

from rnnlab.cli.bench import main


@pytest.mark.slow
def test_cells_benchmark_measures_every_cell_on_both_backends(tmp_path, capsys):
    main(["cells", "--repeats", "1", "--json", str(tmp_path / "cells.json")])
    result = json.loads((tmp_path / "cells.json").read_text())
    assert [row["cell"] for row in result["cells"]] == ["rnn_tanh", "rnn_relu", "lstm", "gru"]
    out = capsys.readouterr().out
    for row in result["cells"]:
        for backend in ("fused", "scratch"):  # each figure is the median of the timed runs it keeps
            assert row[f"{backend}_ms"] == statistics.median(row["runs_ms"][backend]) > 0
        assert f"{row['ratio']:.2f}x" in out  # the printed table shows the recorded ratios
    assert out.strip().splitlines()[-1].startswith("lstm scratch/fused: ")


def test_families_benchmark_times_every_family_at_one_budget(capsys):
    from rnnlab.bench import families

    result = families.measure(1, budget=5_000, steps=16, calls=1)
    rows = result["families"]
    assert [row["family"] for row in rows] == list(families.FAMILIES)
    for row in rows:
        assert abs(row["params"] - 5_000) <= 250 and row["ms"] == statistics.median(row["runs_ms"]) > 0
    assert next(row for row in rows if row["family"] == "lstm")["over_lstm"] == 1
    families.show(result)
    out = capsys.readouterr().out
    assert all(f"{row['over_lstm']:.2f}x" in out for row in rows)
    assert out.strip().splitlines()[-1].startswith("slowest: ")


def test_scan_benchmark_times_every_layer_against_the_sequence_length(capsys):
    from rnnlab.bench import scan

    result = scan.measure(1, batch=2, width=8, lengths=(16, 32), peak=False)
    assert [row["T"] for row in result["lengths"]] == [16, 32]
    for row in result["lengths"]:
        assert list(row["ms"]) == list(scan.LAYERS) and row["faster_than_gru"]["gru"] == 1
        assert all(row["ms"][name] == statistics.median(row["runs_ms"][name]) > 0 for name in scan.LAYERS)
    # nn.GRU's matrix products, counted by hand (2 FLOP a multiply-add; batch 2, T 32, width
    # 8, 3 gates): forward and the weights' gradients each 3 x 8 x (8 + 8) per step and
    # sequence; the hidden state's gradient 3 x 8 x 8 at every step but the first (the
    # input needs none)
    flops = result["flops"]
    assert flops["T"] == 32 and flops["rate"] > 0
    by_hand = 2 * (2 * (2 * 32) * 3 * 8 * 16 + (2 * 31) * 3 * 8 * 8)
    assert flops["gflop"]["gru"] * 1e9 == pytest.approx(by_hand)
    assert flops["gflop"]["mamba2"] > flops["gflop"]["mingru"] > 0
    scan.show(result)
    out = capsys.readouterr().out
    assert "T=32 vs nn.GRU: mingru " in out and "matrix products at T=32" in out


@pytest.mark.slow
def test_loader_benchmark_compares_both_loaders_on_both_tasks(tmp_path, capsys):
    main(["loader", "--repeats", "1", "--json", str(tmp_path / "loader.json")])
    result = json.loads((tmp_path / "loader.json").read_text())
    assert [row["task"] for row in result["tasks"]] == ["sine", "text"]
    for row in result["tasks"]:
        assert row["batch_size"] == 64 and row["ratio"] > 0
    assert "rnnlab/per-item: sine" in capsys.readouterr().out


@pytest.mark.slow
def test_pruning_benchmark_runs_every_search_and_compares_them(capsys):
    from rnnlab.bench import pruning

    result = pruning.measure(3, overrides=("debug=fast", "hydra.sweeper.startup_trials=1"))
    for name in ("none", "median", "hyperband"):
        assert result[name]["trials"] == 3 and result[name]["training_s"] > 0
    assert result["none"]["pruned"] == 0
    for name in ("median", "hyperband"):
        none, pruned = result["none"], result[name]
        assert pruned["training_ratio"] == none["training_s"] / pruned["training_s"]
        assert pruned["best_ratio"] == pruned["best_value"] / none["best_value"]
    pruning.show(result)
    rows = capsys.readouterr().out.strip().splitlines()[-4:-1]  # the table's last line is its border
    assert [row.split()[1] for row in rows] == ["none", "median", "hyperband"]
