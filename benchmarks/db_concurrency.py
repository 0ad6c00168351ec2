"""Concurrent grader corrections: N processes x M corrections against one database.

    python benchmarks/db_concurrency.py [--url URL] [--processes 8] [--corrections 500]
                                        [--images 5] [--shared-grader] [--sqlite-deferred]
                                        [--kind corrections|grades]

Each process starts on its own (``init_database``: on a fresh database the
processes race to migrate it), registers a small shared set of images (they
race to insert the same rows), acts as its own grader and, once every
process is ready, saves M corrections, each run through
``db.session.run_in_transaction`` which retries lock, serialization and
conflict errors with a fresh session:

- ``--kind corrections`` (default): the rows graders make in the Review
  page. Even-numbered corrections are candidate decisions
  (``db.decisions.decide``: confirm with a lesion type or reject with a
  reason, a new version of the grader's decision on one of 3 candidates per
  image); odd-numbered ones are drawn annotations (``db.annotations``:
  alternately a new polygon, and an edit of the grader's latest polygon on
  that image). Each process logs in with its own account (the accounts,
  model and candidates are registered concurrently at start-up);
- ``--kind grades``: each correction a new grade superseding the grader's
  current grade of one of the images (``db.repository._save_grade``).

``--shared-grader`` makes every process the same grader, so concurrent
edits of one chain collide (``ChangeConflict``/``GradeConflict``) and are
retried.

At the end the script verifies, and exits 1 when any check fails:

- exactly N*M rows were written (grade rows, or annotation + decision
  rows), each correction exactly once (no lost or duplicated rows);
- every history (per image and grader, per lesion uid, per candidate and
  grader) is one unbroken chain: one root, every other row supersedes
  exactly one earlier row of the same history, no row superseded twice, and
  each process's corrections appear in the order it made them;
- no error escaped ``run_in_transaction`` to the caller (in particular no
  SQLite "database is locked").

It prints the wall time of the correction phase and rows/s. Without
``--url`` it uses a fresh SQLite file in a temporary folder; any SQLAlchemy
URL works (e.g. ``postgresql+psycopg://user@host/db``); the run's graders
and images carry a random tag, so runs never mix.

The test ``tests/database/test_db_concurrency.py`` runs a small version
(4 x 50, both kinds) with :func:`run_benchmark`.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import queue
import random
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from db import accounts  # noqa: E402
from db.annotations import add_annotation, edit_annotation  # noqa: E402
from db.decisions import decide, register_candidate  # noqa: E402
from db.errors import AccountExists  # noqa: E402
from db.geometry import Geometry  # noqa: E402
from drcore.vocabulary import ANNOTATION_TYPES, REJECTION_REASONS  # noqa: E402
from db.models import Annotation, CandidateDecision, Grade, Grader, Image  # noqa: E402
from db.repository import (  # noqa: E402
    current_grade,
    get_or_create_grader,
    register_image,
    register_model,
    _save_grade,
)
from db.session import init_database, run_in_transaction  # noqa: E402
from db.settings import sqlite_url_for  # noqa: E402

START_TIMEOUT_S = 300.0
KINDS = ("corrections", "grades")
CANDIDATES_PER_IMAGE = 3


@dataclass
class BenchmarkResult:
    backend: str
    processes: int
    corrections: int
    images: int
    shared_grader: bool
    kind: str
    rows: int
    wall_s: float
    retries: Counter = field(default_factory=Counter)
    escaped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s if self.wall_s > 0 else float("inf")

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        retried = ", ".join(f"{kind} x{count}" for kind, count in sorted(self.retries.items())) or "none"
        status = "OK" if self.ok else f"FAILED ({len(self.problems)} problem(s))"
        return (
            f"{self.backend}: {self.processes} processes x {self.corrections} {self.kind} on "
            f"{self.images} images{' (one shared grader)' if self.shared_grader else ''}: "
            f"{self.rows} rows in {self.wall_s:.2f} s = {self.rows_per_s:,.0f} rows/s; "
            f"retries: {retried}; {status}"
        )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _note(process: int, correction: int) -> str:
    return f"p{process}-c{correction}"


def _grader_name(tag: str, process: int, shared: bool) -> str:
    return f"bench-{tag}-grader" if shared else f"bench-{tag}-grader-{process}"


def _retry_kind(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {getattr(exc, 'orig', None) or exc}".lower()
    if "locked" in text or "busy" in text:
        return "sqlite-busy"
    if "gradeconflict" in text:
        return "grade-conflict"
    if "changeconflict" in text:
        return "change-conflict"
    if "serializ" in text:
        return "serialization"
    if "deadlock" in text:
        return "deadlock"
    if "unique" in text or "duplicate" in text:
        return "unique-violation"
    return type(exc).__name__


def _user(session: Any, name: str) -> accounts.User:
    """The account called ``name``, created if new (processes sharing a grader race to create it)."""
    try:
        return accounts.create_account(session, name, _PASSWORD)
    except AccountExists:
        info = next(info for info in accounts.list_accounts(session) if info.name == name)
        return accounts.User(info.grader_id, info.name, info.role)


_PASSWORD = "benchmark-password"


def _setup(session: Any, kind: str, tag: str, process: int, images: int, shared_grader: bool) -> dict[str, Any]:
    """Register the shared images (and, for corrections, the model, candidates and the process's account)."""
    ids = []
    for k in range(images):
        image = register_image(
            session,
            content_sha256=_sha(f"{tag}-image-{k}"),
            file_name=f"bench-{k}.png",
            width=1500,
            height=1152,
            size_bytes=100_000 + k,
            source="benchmark",
        )
        ids.append(image.id)
    name = _grader_name(tag, process, shared_grader)
    if kind == "grades":
        return {"images": ids, "grader_id": get_or_create_grader(session, name).id}
    model = register_model(session, name=f"bench-{tag}", sha256=_sha(f"{tag}-model"), architecture="bench",
                           version="1", card_json="{}")
    candidates = {
        image_id: [
            register_candidate(session, image=image_id, model=model, method="sensitivity", output="any_lesion",
                               x=100.0 + 50 * c, y=200.0 + 30 * c, score=1.0 - 0.1 * c).id
            for c in range(CANDIDATES_PER_IMAGE)
        ]
        for image_id in ids
    }
    return {"images": ids, "candidates": candidates, "user": _user(session, name)}


def _polygon(rng: random.Random) -> Geometry:
    x, y = rng.uniform(50, 1400), rng.uniform(50, 1050)
    return Geometry.create("polygon", [[x, y], [x + 20, y + 3], [x + 8, y + 25]])


def _correction(kind: str, state: dict[str, Any], rng: random.Random, correction: int, note: str) -> Any:
    """The unit of work of one correction: inserts exactly one row whose note is ``note``."""
    image_id = state["images"][rng.randrange(len(state["images"]))]
    if kind == "grades":
        grader_id = state["grader_id"]

        def correct_grade(session):
            image = session.get(Image, image_id)
            grader = session.get(Grader, grader_id)
            previous = current_grade(session, image, grader)
            value = 0 if previous is None or previous.icdr_grade is None else (previous.icdr_grade + 1) % 5
            return _save_grade(
                session, image=image, grader=grader, icdr_grade=value, referable=value >= 2, note=note
            ).id

        return correct_grade
    user = state["user"]
    if correction % 2 == 0:
        candidate = rng.choice(state["candidates"][image_id])
        step = correction // 2
        if step % 2 == 0:
            values = dict(decision="confirmed", lesion_type=ANNOTATION_TYPES[step % len(ANNOTATION_TYPES)])
        else:
            values = dict(decision="rejected", reason=REJECTION_REASONS[step % len(REJECTION_REASONS)])
        return lambda session: decide(session, user, candidate, note=note, **values).id
    shape = _polygon(rng)
    if correction % 4 == 1:
        return lambda session: add_annotation(session, user, image_id, shape, "haemorrhage", note).id

    def edit_latest(session):
        latest = session.scalars(
            select(Annotation.uid).where(Annotation.image_id == image_id, Annotation.grader_id == user.id)
            .order_by(Annotation.id.desc()).limit(1)
        ).first()
        if latest is None:  # nothing drawn on this image yet: draw
            return add_annotation(session, user, image_id, shape, "haemorrhage", note).id
        return edit_annotation(session, user, latest, geometry=shape, note=note).id

    return edit_latest


def _worker(
    url: str,
    process: int,
    corrections: int,
    images: int,
    tag: str,
    shared_grader: bool,
    immediate: bool,
    kind: str,
    barrier: Any,
    results: Any,
) -> None:
    """One process: start, register, wait for the others, correct, report."""
    retries: Counter = Counter()
    escaped: list[str] = []
    report: dict[str, Any] = {"process": process, "retries": retries, "escaped": escaped}

    def count(exc: BaseException, attempt: int) -> None:
        retries[_retry_kind(exc)] += 1

    try:
        sessions = init_database(url)
        state = run_in_transaction(
            sessions, lambda session: _setup(session, kind, tag, process, images, shared_grader),
            write=immediate, on_retry=count,
        )
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        report["fatal"] = f"start-up failed: {type(exc).__name__}: {exc}"
        results.put(report)
        barrier.abort()
        return

    rng = random.Random(process)
    try:
        barrier.wait(timeout=START_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001
        report["fatal"] = f"barrier: {type(exc).__name__}"
        results.put(report)
        return

    started = time.monotonic()
    for correction in range(corrections):
        note = _note(process, correction)
        try:
            run_in_transaction(sessions, _correction(kind, state, rng, correction, note), write=immediate,
                               on_retry=count)
        except Exception as exc:  # noqa: BLE001 - an error that escaped the retry policy
            escaped.append(f"{note}: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")
    report["started"] = started
    report["finished"] = time.monotonic()
    sessions.kw["bind"].dispose()
    results.put(report)


def _histories(session: Any, kind: str, graders: dict[int, str]) -> dict[tuple, list[Any]]:
    """The run's rows grouped by history (chain), each group from one table, in id order."""
    groups: dict[tuple, list[Any]] = defaultdict(list)
    if kind == "grades":
        for row in session.scalars(select(Grade).where(Grade.grader_id.in_(graders)).order_by(Grade.id)):
            groups[("grade", f"image {row.image_id}", f"grader {graders[row.grader_id]!r}")].append(row)
        return groups
    for row in session.scalars(select(Annotation).where(Annotation.grader_id.in_(graders)).order_by(Annotation.id)):
        groups[("annotation", f"uid {row.uid}")].append(row)
    decisions = select(CandidateDecision).where(CandidateDecision.grader_id.in_(graders)).order_by(CandidateDecision.id)
    for row in session.scalars(decisions):
        groups[("decision", f"candidate {row.candidate_id}", f"grader {graders[row.grader_id]!r}")].append(row)
    return groups


def verify(
    sessions: Any, *, tag: str, processes: int, corrections: int, kind: str = "grades"
) -> tuple[int, list[str]]:
    """Check the rows the run wrote (grades, or annotations and decisions); return (row count, problems)."""
    problems: list[str] = []
    with sessions() as session:
        graders = {
            g.id: g.name for g in session.scalars(select(Grader).where(Grader.name.like(f"bench-{tag}-%")))
        }
        groups = _histories(session, kind, graders)
    rows = [row for group in groups.values() for row in group]
    expected = processes * corrections
    if len(rows) != expected:
        what = "grade" if kind == "grades" else "annotation and decision"
        problems.append(f"{len(rows)} {what} rows, expected exactly {expected}")

    notes = Counter(row.note for row in rows)
    wanted = {_note(p, c) for p in range(processes) for c in range(corrections)}
    lost = wanted - set(notes)
    duplicated = sorted(note for note, n in notes.items() if n > 1)
    stray = set(notes) - wanted
    if lost:
        problems.append(f"{len(lost)} corrections lost, e.g. {sorted(lost)[:5]}")
    if duplicated:
        problems.append(f"{len(duplicated)} corrections saved more than once, e.g. {duplicated[:5]}")
    if stray:
        problems.append(f"{len(stray)} unexpected rows, e.g. {sorted(stray)[:5]}")

    superseded = Counter((type(row).__name__, row.supersedes_id) for row in rows if row.supersedes_id is not None)
    twice = [rid for (_, rid), n in superseded.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} rows superseded more than once, e.g. {twice[:5]}")

    for key, group in groups.items():
        where = ", ".join(key)
        by_id = {row.id: row for row in group}
        roots = [row for row in group if row.supersedes_id is None]
        if len(roots) != 1:
            problems.append(f"{where}: {len(roots)} chain roots, expected 1")
            continue
        for row in group:
            if row.supersedes_id is None:
                continue
            target = by_id.get(row.supersedes_id)
            if target is None:
                problems.append(f"{where}: row {row.id} supersedes {row.supersedes_id}, not in this history")
            elif target.id >= row.id:
                problems.append(f"{where}: row {row.id} supersedes the later row {target.id}")
        successor = {row.supersedes_id: row for row in group if row.supersedes_id is not None}
        chain, node = [], roots[0]
        while node is not None and len(chain) <= len(group):
            chain.append(node)
            node = successor.get(node.id)
        if len(chain) != len(group):
            problems.append(f"{where}: chain covers {len(chain)} of {len(group)} rows")
            continue
        last_seen: dict[str, int] = {}
        for row in chain:
            process, _, correction = row.note.partition("-c")
            if process in last_seen and int(correction) <= last_seen[process]:
                problems.append(f"{where}: {row.note} comes after {process}-c{last_seen[process]} in the chain")
            last_seen[process] = int(correction)
    return len(rows), problems


def run_benchmark(
    url: Optional[str] = None,
    *,
    processes: int = 8,
    corrections: int = 500,
    images: int = 5,
    shared_grader: bool = False,
    sqlite_deferred: bool = False,
    kind: str = "corrections",
    timeout_s: float = 1800.0,
) -> BenchmarkResult:
    """Run the benchmark (see the module docstring) and verify what it wrote."""
    if processes < 1 or corrections < 1 or images < 1:
        raise ValueError("processes, corrections and images must be >= 1")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    with tempfile.TemporaryDirectory(prefix="drx-bench-") as folder:
        url = url or sqlite_url_for(Path(folder) / "bench.sqlite3")
        return _run(url, processes, corrections, images, shared_grader, not sqlite_deferred, kind, timeout_s)


def _run(
    url: str, processes: int, corrections: int, images: int, shared_grader: bool, immediate: bool, kind: str,
    timeout_s: float,
) -> BenchmarkResult:
    context = multiprocessing.get_context("spawn")
    tag = uuid.uuid4().hex[:10]
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(url, p, corrections, images, tag, shared_grader, immediate, kind, barrier, results),
            name=f"bench-{p}",
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(reports) < processes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                reports.append(results.get(timeout=min(remaining, 5.0)))
            except queue.Empty:
                if all(not w.is_alive() for w in workers) and results.empty():
                    break
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
                worker.join()

    sessions = init_database(url)
    backend = sessions.kw["bind"].dialect.name
    try:
        rows, problems = verify(sessions, tag=tag, processes=processes, corrections=corrections, kind=kind)
    finally:
        sessions.kw["bind"].dispose()

    retries: Counter = Counter()
    escaped: list[str] = []
    for report in reports:
        retries.update(report["retries"])
        escaped.extend(report["escaped"])
        if "fatal" in report:
            problems.insert(0, f"process {report['process']}: {report['fatal']}")
    if len(reports) < processes:
        problems.insert(0, f"only {len(reports)} of {processes} processes reported")
    for worker in workers:
        if worker.exitcode not in (0, None):
            problems.append(f"process {worker.name} exited with {worker.exitcode}")
    if escaped:
        locked = [e for e in escaped if "locked" in e.lower()]
        problems.insert(
            0,
            f"{len(escaped)} errors escaped to the caller ({len(locked)} 'database is locked'), "
            f"e.g. {escaped[:3]}",
        )
    timed = [r for r in reports if "started" in r]
    wall = max(r["finished"] for r in timed) - min(r["started"] for r in timed) if timed else float("nan")
    return BenchmarkResult(
        backend=backend,
        processes=processes,
        corrections=corrections,
        images=images,
        shared_grader=shared_grader,
        kind=kind,
        rows=rows,
        wall_s=wall,
        retries=retries,
        escaped=escaped,
        problems=problems,
    )


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="SQLAlchemy URL (default: a fresh SQLite file in a temporary folder)")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--corrections", type=int, default=500, help="corrections per process")
    parser.add_argument("--images", type=int, default=5, help="size of the shared image set")
    parser.add_argument("--shared-grader", action="store_true", help="every process is the same grader")
    parser.add_argument(
        "--sqlite-deferred",
        action="store_true",
        help="SQLite: plain deferred transactions instead of BEGIN IMMEDIATE (more retries)",
    )
    parser.add_argument("--kind", choices=KINDS, default="corrections",
                        help="corrections: candidate decisions and drawn annotations; grades: image-level grades")
    args = parser.parse_args(argv)
    result = run_benchmark(
        args.url,
        processes=args.processes,
        corrections=args.corrections,
        images=args.images,
        shared_grader=args.shared_grader,
        sqlite_deferred=args.sqlite_deferred,
        kind=args.kind,
    )
    print(result.summary())
    for problem in result.problems:
        print(f"  problem: {problem}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
