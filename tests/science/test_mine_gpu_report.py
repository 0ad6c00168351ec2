"""benchmarks/gpu_report.py runs start to end (on the CPU, --quick) and writes a complete JSON report."""

import json
import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_report.py"


@pytest.mark.slow
def test_the_gpu_report_runs_on_the_cpu_and_measures_every_workload(tmp_path, monkeypatch, capsys) -> None:
    report = tmp_path / "report.json"
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--device", "cpu", "--quick", "--budget", "300",
                                      "--json", str(report)])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    result = json.loads(report.read_text())
    rows = result["rows"]
    measured = {(row["workload"], row["precision"], row["channels_last"]) for row in rows if "images_per_s" in row}
    assert len(measured) == 16 and not [row for row in rows if "error" in row]  # 4 workloads x 2 precisions x 2 layouts
    assert all(row["images_per_s"] > 0 for row in rows)
    check = result["precision_check"]
    assert 0 < check["max_score_difference"] < check["score_tolerance"]  # bfloat16 is not float32, but close
    assert 0 < check["max_heatmap_relative_l2_difference"]
    assert "train heatmap" in capsys.readouterr().out
