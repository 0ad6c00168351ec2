"""Crash safety: a process killed (SIGKILL) in the middle of saving a batch of
annotations leaves none of them behind, and the database keeps working;
SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from corrections_world import build_world, cheap_hashing  # noqa: F401 (fixture)
from db.annotations import add_annotation, current_annotations
from db.geometry import Geometry
from db.models import Annotation

pytestmark = pytest.mark.usefixtures("cheap_hashing")

REPOSITORY = Path(__file__).resolve().parents[2]

#: saves 40 annotations in one transaction, says so after 20, then waits to be killed
CHILD = textwrap.dedent("""
    import sys, time
    from db.accounts import User
    from db.annotations import add_annotation
    from db.geometry import Geometry
    from db.session import init_database, run_in_transaction

    url, user_id, image_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sessions = init_database(url)
    user = User(user_id, "dr. a", "grader")

    def save(session):
        for k in range(40):
            shape = Geometry.create("rectangle", [[k, k], [k + 5, k + 5]])
            row = add_annotation(session, user, image_id, shape, "haemorrhage", f"batch {k}")
            if k == 19:  # 20 rows inserted (flushed, ids given) in the open transaction
                print("HALFWAY", row.id, flush=True)
                time.sleep(600)

    run_in_transaction(sessions, save)
""")


def test_sigkill_in_the_middle_of_a_save_leaves_no_partial_annotation(session_factory, database_url, backend):
    world = build_world(session_factory)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, str(world.a.id), str(world.image)],
        cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPOSITORY)},
    )
    try:
        line = child.stdout.readline()
        assert line.split() == ["HALFWAY", "20"], child.stderr.read()
        with session_factory() as session:  # 20 rows are flushed in the child's open transaction, none visible
            assert session.scalar(select(func.count()).select_from(Annotation)) == 0
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
        child.stderr.close()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Annotation)) == 0
        if backend == "sqlite":
            assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    # the database takes the next save at once (no lock left behind)
    shape = Geometry.create("polygon", [[1, 1], [9, 1], [5, 8]])
    world.run(lambda s: add_annotation(s, world.a, world.image, shape, "other", "after the crash"))
    with session_factory() as session:
        assert [a.note for a in current_annotations(session, world.image)] == ["after the crash"]
