"""The benchmark scripts run and print their tables (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORKLOADS = ["mlp_tiny", "mlp_softmax", "logreg", "logreg_stable"]


def run(*args):
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_bench_core_quick_prints_the_table_and_json(tmp_path):
    out_json = tmp_path / "bench.json"
    proc = run(BENCH / "bench_core.py", "--quick", "--json", out_json)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "== ratios of median times" in text
    assert "cr/hand" in text
    for name in WORKLOADS:
        assert f"== {name}:" in text
    assert text.count("gradients agree: yes") == len(WORKLOADS)
    assert "MISMATCH" not in text
    for contender in ("forward f(...)", "chainrule grad", "hand-written fwd+bwd"):
        assert contender in text

    data = json.loads(out_json.read_text())
    assert set(data["workloads"]) == set(WORKLOADS)
    for entry in data["workloads"].values():
        assert entry["gradients_agree"] is True
        times = entry["times"]
        assert {"forward f(...)", "chainrule grad", "hand-written fwd+bwd"} <= set(times)
        assert all(t["median_us"] > 0 for t in times.values())
        assert entry["ratios"]["cr/hand"] > 0


def test_bench_core_rejects_unknown_workload():
    proc = run(BENCH / "bench_core.py", "--quick", "--only", "no_such_workload")
    assert proc.returncode == 2
    assert "unknown workload" in proc.stderr


def test_profile_generated_runs():
    proc = run(
        BENCH / "profile_generated.py", "mlp_tiny", "--hand", "--rounds", "1", "--batch-ms", "0.2"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "chainrule's generated gradient, by statement" in proc.stdout
    assert "hand-written fwd+bwd, by statement" in proc.stdout
    assert "matmul" in proc.stdout  # the rule notes are shown next to the statements


def test_bench_loops_quick_prints_the_table_and_json(tmp_path):
    workloads = ["rnn", "oscillator", "residual", "conv_pool"]
    out_json = tmp_path / "loops.json"
    proc = run(BENCH / "bench_loops.py", "--quick", "--json", out_json)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    assert "== ratios of median times" in text
    for name in workloads:
        assert f"== {name}:" in text
    assert text.count("gradients agree: yes") == len(workloads)
    assert "MISMATCH" not in text

    data = json.loads(out_json.read_text())
    assert list(data["workloads"]) == workloads
    for name, entry in data["workloads"].items():
        assert entry["gradients_agree"] is True, name
        times = entry["times"]
        assert {"forward f(...)", "chainrule grad", "hand-written fwd+bwd"} <= set(times), name
        assert all(t["median_us"] > 0 for t in times.values())
        assert entry["ratios"]["cr/hand"] > 0


def test_bench_calls_quick_agrees_and_prints_ratios():
    proc = run(BENCH / "bench_calls.py", "--quick")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gradients agree (structured, flat, hand-written): yes" in proc.stdout
    assert "dict + helpers / hand-written:" in proc.stdout


def test_bench_issue14_quick_runs_every_part(tmp_path):
    """Every part of issue 14's benchmark, at small sizes, on one of the seven workloads."""
    out_json = tmp_path / "issue14.json"
    proc = run(BENCH / "bench_issue14.py", "--quick", "--only", "mlp_tiny", "--json", out_json)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = proc.stdout
    for heading in (
        "== mlp_tiny:",
        "== chainrule grad / hand-written fwd+bwd",
        "== elementwise loss",
        "== per-call overhead",
        "== transformation time",
        "== issue 14: summary against the targets",
    ):
        assert heading in text, heading
    assert "MISMATCH" not in text

    data = json.loads(out_json.read_text())
    assert set(data["spellings"]) == {"mlp_tiny"}
    for entry in data["spellings"].values():
        assert entry["gradients_agree"] is True
        for spelling in ("A", "B"):
            assert entry["spellings"][spelling]["ratios"]["cr/hand"] > 0
    first = data["spellings"]["mlp_tiny"]["spellings"]["A"]["first_call_median_ms"]
    assert first["cold"] > 0 and first["warm"] > 0
    assert data["elementwise"]["size"] == 100_000
    assert all(b > 0 for b in data["elementwise"]["peak_traced_bytes"].values())
    assert data["overhead"]["overhead_us"]["grad, four arrays"] is not None
    compile_times = data["compile"]
    assert "small function, small file" in compile_times
    assert all(entry["median_ms"]["cold"] > 0 for entry in compile_times.values())


def test_bench_dask_quick_agrees_and_prints_the_figures(tmp_path):
    import pytest

    pytest.importorskip("distributed")
    out_json = tmp_path / "dask.json"
    proc = run(BENCH / "bench_dask.py", "--quick", "--json", out_json)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("gradients agree: yes") == 3
    assert "MISMATCH" not in proc.stdout
    assert "per partition" in proc.stdout and "1 -> 2 worker processes" in proc.stdout
    assert json.loads(out_json.read_text())["speedup_1_to_2_processes"] > 0


def test_bench_guards_quick_prints_the_guard_cost():
    proc = run(BENCH / "bench_guards.py", "--quick", "--show")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "def __chainrule_guard_factory__" in proc.stdout
    assert "the guard adds" in proc.stdout and "14 checks" in proc.stdout
