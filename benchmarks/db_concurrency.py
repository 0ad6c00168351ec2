"""Concurrent grade corrections: N processes x M corrections against one database.

    python benchmarks/db_concurrency.py [--url URL] [--processes 8] [--corrections 500]
                                        [--images 5] [--shared-grader] [--sqlite-deferred]

Each process starts on its own (``init_database``: on a fresh database the
processes race to migrate it), registers a small shared set of images (they
race to insert the same rows), acts as its own grader and, once every
process is ready, saves M corrections: each a new grade superseding that
grader's current grade of one of the images (``db.repository.save_grade``),
run through ``db.session.run_in_transaction`` which retries lock,
serialization and conflict errors with a fresh session. ``--shared-grader``
makes every process the same grader, so concurrent edits of one chain
collide (``GradeConflict``) and are retried.

At the end the script verifies, and exits 1 when any check fails:

- exactly N*M grade rows were written, each correction exactly once (no
  lost or duplicated rows);
- every (image, grader) history is one unbroken chain: one root, every
  other row supersedes exactly one earlier row of the same image and grader,
  no row superseded twice, and each process's corrections appear in the
  order it made them;
- no error escaped ``run_in_transaction`` to the caller (in particular no
  SQLite "database is locked").

It prints the wall time of the correction phase and rows/s. Without
``--url`` it uses a fresh SQLite file in a temporary folder; any SQLAlchemy
URL works (e.g. ``postgresql+psycopg://user@host/db``); the run's graders
and images carry a random tag, so runs never mix.

The test ``tests/database/test_db_concurrency.py`` runs a small version
(4 x 50) with :func:`run_benchmark`.
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

from db.models import Grade, Grader, Image  # noqa: E402
from db.repository import current_grade, get_or_create_grader, register_image, save_grade  # noqa: E402
from db.session import init_database, run_in_transaction  # noqa: E402
from db.settings import sqlite_url_for  # noqa: E402

START_TIMEOUT_S = 300.0


@dataclass
class BenchmarkResult:
    backend: str
    processes: int
    corrections: int
    images: int
    shared_grader: bool
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
            f"{self.backend}: {self.processes} processes x {self.corrections} corrections on "
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
    if "serializ" in text:
        return "serialization"
    if "deadlock" in text:
        return "deadlock"
    if "unique" in text or "duplicate" in text:
        return "unique-violation"
    return type(exc).__name__


def _worker(
    url: str,
    process: int,
    corrections: int,
    images: int,
    tag: str,
    shared_grader: bool,
    immediate: bool,
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

        def setup(session):
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
            grader = get_or_create_grader(session, _grader_name(tag, process, shared_grader))
            return ids, grader.id

        image_ids, grader_id = run_in_transaction(sessions, setup, write=immediate, on_retry=count)
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
        image_id = image_ids[rng.randrange(len(image_ids))]
        note = _note(process, correction)

        def correct(session, image_id=image_id, note=note):
            image = session.get(Image, image_id)
            grader = session.get(Grader, grader_id)
            previous = current_grade(session, image, grader)
            value = 0 if previous is None or previous.icdr_grade is None else (previous.icdr_grade + 1) % 5
            return save_grade(
                session, image=image, grader=grader, icdr_grade=value, referable=value >= 2, note=note
            ).id

        try:
            run_in_transaction(sessions, correct, write=immediate, on_retry=count)
        except Exception as exc:  # noqa: BLE001 - an error that escaped the retry policy
            escaped.append(f"{note}: {type(exc).__name__}: {getattr(exc, 'orig', None) or exc}")
    report["started"] = started
    report["finished"] = time.monotonic()
    sessions.kw["bind"].dispose()
    results.put(report)


def verify(sessions: Any, *, tag: str, processes: int, corrections: int) -> tuple[int, list[str]]:
    """Check the grades the run wrote; return (row count, problems)."""
    problems: list[str] = []
    with sessions() as session:
        graders = {
            g.id: g.name for g in session.scalars(select(Grader).where(Grader.name.like(f"bench-{tag}-%")))
        }
        rows = list(session.scalars(select(Grade).where(Grade.grader_id.in_(graders)).order_by(Grade.id)))
    expected = processes * corrections
    if len(rows) != expected:
        problems.append(f"{len(rows)} grade rows, expected exactly {expected}")

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

    superseded = Counter(row.supersedes_id for row in rows if row.supersedes_id is not None)
    twice = [rid for rid, n in superseded.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} rows superseded more than once, e.g. {twice[:5]}")

    groups: dict[tuple[int, int], list[Grade]] = defaultdict(list)
    for row in rows:
        groups[(row.image_id, row.grader_id)].append(row)
    for (image_id, grader_id), group in groups.items():
        where = f"image {image_id}, grader {graders.get(grader_id)!r}"
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
    timeout_s: float = 1800.0,
) -> BenchmarkResult:
    """Run the benchmark (see the module docstring) and verify what it wrote."""
    if processes < 1 or corrections < 1 or images < 1:
        raise ValueError("processes, corrections and images must be >= 1")
    with tempfile.TemporaryDirectory(prefix="drx-bench-") as folder:
        url = url or sqlite_url_for(Path(folder) / "bench.sqlite3")
        return _run(url, processes, corrections, images, shared_grader, not sqlite_deferred, timeout_s)


def _run(
    url: str, processes: int, corrections: int, images: int, shared_grader: bool, immediate: bool, timeout_s: float
) -> BenchmarkResult:
    context = multiprocessing.get_context("spawn")
    tag = uuid.uuid4().hex[:10]
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=(url, p, corrections, images, tag, shared_grader, immediate, barrier, results),
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
        rows, problems = verify(sessions, tag=tag, processes=processes, corrections=corrections)
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
    args = parser.parse_args(argv)
    result = run_benchmark(
        args.url,
        processes=args.processes,
        corrections=args.corrections,
        images=args.images,
        shared_grader=args.shared_grader,
        sqlite_deferred=args.sqlite_deferred,
    )
    print(result.summary())
    for problem in result.problems:
        print(f"  problem: {problem}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
