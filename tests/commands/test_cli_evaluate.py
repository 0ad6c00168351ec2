"""`drx evaluate`: several methods in one run on DiaretDB1, files, database runs, rendering JSON, bad input."""

import json

import pytest
from sqlalchemy import select

from db.models import EvaluationRun
from drcore.heatmaps import METHODS
from drcore.evaluation_report import comparison_markdown
from drcore.vocabulary import LESION_TYPES
from drx.cli import main
from drx.cli.evaluate import method_names, parse_parameters, split_names
from drx.records import database


def test_two_methods_on_two_diaretdb1_photographs(diaretdb1_root, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("DRX_DIARETDB1_ROOT", str(diaretdb1_root))
    out = tmp_path / "run"
    assert main(["evaluate", "--method", "sensitivity,grad_cam", "--limit", "2", "--resamples", "20",
                 "--pixel-resamples", "5", "--skip-optic-disc", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads((out / "table.json").read_text())["rows"]
    assert len(rows) == 2 * len(LESION_TYPES)
    assert {(row["method"], row["images"], row["dataset"], row["split"]) for row in rows} == {
        ("sensitivity", 2, "diaretdb1", "test"), ("grad_cam", 2, "diaretdb1", "test")}
    assert {row["settings"]["skip_optic_disc"] for row in rows} == {True}
    assert (out / "table.md").read_text() == comparison_markdown(rows) and comparison_markdown(rows) in printed
    html = (out / "froc.html").read_text()
    assert html.count("plotly.js v") == 1  # plotly inlined once
    assert html.count('class="plotly-graph-div"') == len(LESION_TYPES) and "Hard exudates" in html
    with database()() as session:
        runs = session.scalars(select(EvaluationRun)).all()
    assert sorted(run.method for run in runs) == ["grad_cam", "sensitivity"]
    assert main(["evaluate", "--render", str(out / "table.json"), str(out / "table.json")]) == 0
    assert capsys.readouterr().out == comparison_markdown(rows + rows)


def test_names_and_parameters_are_parsed_and_bad_ones_refused(capsys) -> None:
    assert split_names(["a,b", "b", " c "]) == ["a", "b", "c"]
    assert method_names(None) == ["sensitivity"] and method_names(["all"]) == list(METHODS)
    assert parse_parameters(["occlusion.stride=32", "smoothgrad.noise_level=0.2", "grad_cam.layer=features.3"]) == {
        "occlusion": {"stride": 32}, "smoothgrad": {"noise_level": 0.2}, "grad_cam": {"layer": "features.3"}}
    for bad in (["--method", "nonsense"], ["--param", "occlusion"], ["--param", "nonsense.stride=3"]):
        assert main(["evaluate", *bad]) == 2
        assert "drx evaluate:" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown heatmap method"):
        method_names(["sensitivity,occlusionn"])
