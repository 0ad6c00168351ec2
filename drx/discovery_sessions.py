"""Discovery sessions: a run over an image set (drcore.discovery) kept in the database (db.discovery_repository).

The Discovery page and ``drx discover`` run a discovery with :func:`discovery_images` and :func:`run_discovery`
(the page stores it with :func:`start_session`, the command with ``--store``). The functions on a stored
session take a sessionmaker and run one retried transaction (:func:`db.run_in_transaction`).
Merges and splits recompute the new groups' statistics from the run (:class:`DiscoveryResult`), so the
database keeps each group's statistics as they were when it was made.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from PIL import Image as PILImage

from db import discovery_repository as repository
from db.repository import register_image
from db.discovery_repository import SessionState
from db.session import run_in_transaction
from drcore.discovery import DiscoveryImage, ExtractionParameters, GroupingParameters, discover, image_set
from drcore.discovery.grouping import split_members
from drcore.discovery.run import DiscoveryResult
from drcore.errors import DrxError
from drcore.imaging import image_sha256

__all__ = ["SessionSummary", "discovery_images", "list_sessions", "mark_patch", "merge_groups", "record_session",
           "register_photograph", "rename_group", "reopen_session", "run_discovery", "run_folder", "split_group",
           "start_session"]


@dataclass(frozen=True)
class SessionSummary:
    """A stored session as a list names it."""

    id: int
    name: str
    researcher: str
    created_at: datetime
    model_name: str

    @property
    def label(self) -> str:
        return f"#{self.id} · {self.name} · {self.researcher} · {self.created_at:%Y-%m-%d %H:%M} · {self.model_name}"


def list_sessions(sessions: sessionmaker[Session]) -> list[SessionSummary]:
    """Every stored session, newest first."""
    with sessions() as session:
        return [SessionSummary(row.id, row.name, row.researcher, row.created_at, row.model_name)
                for row in repository.discovery_sessions(session)]


def run_folder(home: Path, name: str) -> Path:
    """A new folder for a run under ``home/discovery``: the session's name made safe, and the UTC time."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "session"
    return home / "discovery" / f"{slug}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"


def discovery_images(spec: dict[str, Any]) -> list[DiscoveryImage]:
    """The photographs of an image set (:func:`drcore.discovery.image_set`); an empty set is refused."""
    images = image_set(spec)
    if not images:
        raise DrxError("the image set is empty")
    return images


def run_discovery(images: Sequence[DiscoveryImage], spec: dict[str, Any], model: str | None, folder: Path,
                  extraction: ExtractionParameters, grouping: GroupingParameters, *, batch_size: int | None = None,
                  progress: bool = True) -> DiscoveryResult:
    """Hot spots of every image through ``model`` (bundled name or checkpoint; None: the default), then groups,
    layout and statistics, all kept in ``folder`` (resumable: the same folder goes on where a run stopped)."""
    from drcore.device import default_device
    from drcore.models import load_model

    loaded = load_model(model)  # its own copy: the run hooks a layer, a shared one stays untouched
    loaded.model.to(default_device()).eval()
    return discover(images, loaded, folder, extraction, grouping, image_set_spec=dict(spec), batch_size=batch_size,
                    progress=progress)


def start_session(sessions: sessionmaker[Session], images: Sequence[DiscoveryImage], spec: dict[str, Any],
                  model: str | None, folder: Path, extraction: ExtractionParameters, grouping: GroupingParameters,
                  *, name: str, researcher: str) -> int:
    """:func:`run_discovery` (quietly), then :func:`record_session`; returns the new session's id."""
    result = run_discovery(images, spec, model, folder, extraction, grouping, progress=False)
    return record_session(sessions, result, name=name, researcher=researcher)


def record_session(sessions: sessionmaker[Session], result: DiscoveryResult, *, name: str, researcher: str) -> int:
    """Store a finished run as a new session (its hot spots, groups and statistics); returns the session id."""
    spots = result.hot_spots.spots
    paths = result.hot_spots.images.set_index("image")["path"]
    hot_spots = [{"spot": int(row.spot), "image_key": str(row.image_key),
                  "image_path": None if paths[row.image] is None else str(paths[row.image]),
                  "row": float(row.row), "col": float(row.col), "strength": float(row.strength),
                  "layout_x": float(x), "layout_y": float(y)}
                 for row, (x, y) in zip(spots.itertuples(), result.layout)]
    statistics = {item.group: item.as_row() for item in result.statistics}
    parameters = {"run": result.hot_spots.parameters | {"image_keys": len(result.hot_spots.images)},
                  "grouping": dataclasses.asdict(result.parameters)}
    run = result.hot_spots.parameters

    def store(session: Session) -> int:
        return repository.start_session(
            session, name=name, researcher=researcher, run_folder=str(result.folder), model_name=run["model"],
            model_sha256=run["model_sha256"], parameters=parameters, hot_spots=hot_spots,
            group_of_spot=[int(label) for label in result.labels], group_statistics=statistics).id

    return run_in_transaction(sessions, store)


def reopen_session(sessions: sessionmaker[Session], session_id: int) -> SessionState:
    """The session as it stands now (groups, names, members, marks, events)."""
    return run_in_transaction(sessions, lambda session: repository.session_state(session, session_id), write=False)


def rename_group(sessions: sessionmaker[Session], session_id: int, group_id: int, name: str, researcher: str) -> None:
    """Name (or rename) a current group."""
    run_in_transaction(sessions, lambda session: repository.rename_group(session, session_id, group_id, name, researcher))


def mark_patch(sessions: sessionmaker[Session], session_id: int, spot: int, mark: str, researcher: str) -> None:
    """Mark a hot spot's patch ``in`` / ``out`` of its group, or ``clear`` the mark."""
    run_in_transaction(sessions, lambda session: repository.mark_patch(session, session_id, spot, mark, researcher))


def merge_groups(sessions: sessionmaker[Session], result: DiscoveryResult, session_id: int, group_ids: Sequence[int],
                 researcher: str, *, name: str | None = None) -> int:
    """Merge current groups into a new one with recomputed statistics; returns the new group's id."""
    def merge(session: Session) -> int:
        state = repository.session_state(session, session_id)
        members = [spot for group in state.groups if group.id in set(group_ids) for spot in group.members]
        statistics = result.statistics_for(members).as_row() if members else None
        return repository.merge_groups(session, session_id, group_ids, researcher, statistics=statistics, name=name).id

    return run_in_transaction(sessions, merge)


def split_group(sessions: sessionmaker[Session], result: DiscoveryResult, session_id: int, group_id: int,
                researcher: str, *, parts: Sequence[Sequence[int]] | None = None, count: int = 2) -> list[int]:
    """Split a current group: into the given ``parts`` (spot indices), or else into ``count`` parts proposed
    by k-means over the run's clustering space; returns the new groups' ids."""
    def split(session: Session) -> list[int]:
        state = repository.session_state(session, session_id)
        current = next((group for group in state.groups if group.id == group_id), None)
        chosen = parts
        if chosen is None and current is not None:
            chosen = [part.tolist() for part in split_members(result.space, current.members, parts=count,
                                                              seed=result.parameters.seed)]
        statistics = [result.statistics_for(part).as_row() for part in chosen or [] if len(part)]
        made = repository.split_group(session, session_id, group_id, chosen or [], researcher,
                                      statistics=statistics if len(statistics) == len(chosen or []) else None)
        return [group.id for group in made]

    return run_in_transaction(sessions, split)


def register_photograph(sessions: sessionmaker[Session], image_path: str) -> str:
    """Register a hot spot's photograph (if it is not yet) so that the Review page can open it from its
    ``stored_path``; returns its content hash. Raises OSError when the file cannot be read."""
    path = Path(image_path)
    data = path.read_bytes()
    sha256 = image_sha256(data)
    with PILImage.open(path) as picture:
        width, height = picture.size
    with sessions.begin() as session:
        register_image(session, content_sha256=sha256, file_name=path.name, width=width, height=height,
                       size_bytes=len(data), source="discovery", stored_path=str(path.resolve()))
    return sha256
