"""`drx discover`: the report folder, resuming a run, storing the session."""

import json

import numpy as np
import pandas as pd

from db.discovery_repository import discovery_sessions, session_state
from drx.cli import main
from drx.records import database

ARGUMENTS = ["discover", "--synthetic", "6", "--ring-probability", "0.5", "--width", "320", "--k-min", "2",
             "--k-max", "3", "--resamples", "50", "--max-spots", "6"]


def test_report_folder_resume_and_session(tmp_path, capsys):
    out = tmp_path / "report"
    assert main([*ARGUMENTS, "--out", str(out), "--csv", "--store", "--researcher", "dr. a"]) == 0
    printed = capsys.readouterr().out
    spots = pd.read_parquet(out / "hot_spots.parquet")
    assert spots.equals(pd.read_csv(out / "hot_spots.csv").astype(spots.dtypes.to_dict()))
    groups = pd.read_csv(out / "groups.csv")
    summary = json.loads((out / "groups.json").read_text())
    assert summary["k"] == len(groups) == spots["group"].nunique() and 2 <= summary["k"] <= 3
    assert list(groups["size"]) == spots.groupby("group").size().tolist()
    assert set(spots["image_key"]) <= {f"synthetic-{seed}" for seed in range(20_000_000, 20_000_006)}
    page = (out / "report.html").read_text()
    assert "plotly" in page and page.count("data:image/png;base64,") >= len(groups)
    assert "src=\"http" not in page and "src='http" not in page  # self-contained
    assert f"wrote {out / 'report.html'}" in printed and "stored as discovery session" in printed

    with database()() as session:
        (stored,) = discovery_sessions(session)
        state = session_state(session, stored.id)
        assert (stored.researcher, stored.name) == ("dr. a", "report")
        members = {group.number: group.members for group in state.groups}
        assert members == {int(g): sorted(spots.loc[spots["group"] == g, "spot"]) for g in spots["group"].unique()}

    # the same command again continues the finished run: nothing recomputed, the same groups
    heatmaps = sorted((out / "run" / "heatmaps").iterdir())
    stamps = [path.stat().st_mtime_ns for path in heatmaps]
    assert main([*ARGUMENTS, "--out", str(out)]) == 0
    assert [path.stat().st_mtime_ns for path in heatmaps] == stamps
    again = pd.read_parquet(out / "hot_spots.parquet")
    assert np.array_equal(again["group"], spots["group"])


def test_a_run_folder_with_other_parameters_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "report"
    assert main([*ARGUMENTS[:2], "3", *ARGUMENTS[3:], "--out", str(out)]) == 0
    assert main([*ARGUMENTS[:2], "3", *ARGUMENTS[3:], "--out", str(out), "--max-spots", "3"]) == 1
    assert "holds a run with other parameters" in capsys.readouterr().err


def test_session_merge_and_split_store_recomputed_statistics(tmp_path):
    from drcore.discovery import load_discovery
    from drx import discovery_sessions

    out = tmp_path / "report"
    assert main([*ARGUMENTS, "--out", str(out), "--store"]) == 0
    result = load_discovery(out / "run")
    sessions = database()
    with sessions() as session:
        session_id = _only_session_id(session)
    state = discovery_sessions.reopen_session(sessions, session_id)
    first, second = state.groups[0], state.groups[1]
    merged = discovery_sessions.merge_groups(sessions, result, session_id, [first.id, second.id], "dr. b",
                                             name="both")
    state = discovery_sessions.reopen_session(sessions, session_id)
    (group,) = [group for group in state.groups if group.id == merged]
    assert group.name == "both" and group.members == sorted(first.members + second.members)
    expected = result.statistics_for(group.members)
    assert group.statistics["size"] == expected.size == len(group.members)
    assert group.statistics["auc"] == expected.auc
    made = discovery_sessions.split_group(sessions, result, session_id, merged, "dr. b")
    state = discovery_sessions.reopen_session(sessions, session_id)
    parts = [group for group in state.groups if group.id in made]
    assert sorted(spot for part in parts for spot in part.members) == group.members
    assert all(part.statistics["size"] == len(part.members) for part in parts)


def _only_session_id(session):
    (stored,) = discovery_sessions(session)
    return stored.id
