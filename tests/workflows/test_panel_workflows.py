"""The login gate, work queue, drawing and history workflows, called directly (no page in between)."""

import hashlib
from pathlib import Path

import pytest

from db.accounts import User
from db.errors import AuthenticationFailed, InvalidValue, PermissionDenied
from db.repository import register_image
from db.session import init_database, run_in_transaction
from db.settings import sqlite_url_for
from drx import accounts, drawings, history, work_queue
from drx.drawings import DrawnShape

SQUARE = DrawnShape("polygon", ((10.0, 10.0), (40.0, 10.0), (40.0, 40.0), (10.0, 40.0)))
CIRCLE = DrawnShape("circle", ((100.0, 80.0),), radius=12.0)
SIZE = (1500, 1152)


@pytest.fixture
def world(tmp_path: Path):
    """A database with an admin, two graders and three registered photographs."""
    sessions = init_database(sqlite_url_for(tmp_path / "drx.sqlite3"))
    admin = accounts.create_account(sessions, None, "adam", "a long enough password", "admin",
                                    must_change_password=False)
    ann, bob = (accounts.create_account(sessions, admin, name, "a long enough password", "grader",
                                        must_change_password=False) for name in ("ann", "bob"))
    images = [run_in_transaction(sessions, lambda session, n=n: register_image(
        session, content_sha256=hashlib.sha256(f"eye {n}".encode()).hexdigest(), file_name=f"eye{n}.png",
        width=SIZE[0], height=SIZE[1], size_bytes=1000, source="upload").id) for n in range(3)]
    return sessions, admin, ann, bob, images


def test_logging_in_refreshing_and_changing_ones_password(world) -> None:
    sessions, admin, ann, _, _ = world
    assert accounts.log_in(sessions, "ann", "a long enough password") == User(ann.id, "ann", "grader")
    with pytest.raises(AuthenticationFailed):
        accounts.log_in(sessions, "ann", "a wrong password!")
    assert accounts.current_account(sessions, ann) == User(ann.id, "ann", "grader", False)
    accounts.set_role(sessions, admin, "ann", "reviewer")
    assert accounts.current_account(sessions, ann).role == "reviewer"  # a stale session user gets the new role
    changed = accounts.change_own_password(sessions, ann, "a long enough password", "another long password")
    assert changed.must_change_password is False
    assert accounts.log_in(sessions, "ann", "another long password").id == ann.id
    with pytest.raises(AuthenticationFailed):
        accounts.change_own_password(sessions, ann, "not the password", "yet another password")
    accounts.set_disabled(sessions, admin, "ann", True)
    assert accounts.current_account(sessions, ann) is None


def test_the_first_admin_and_single_sign_on_names(world, tmp_path: Path) -> None:
    sessions = world[0]
    assert accounts.first_admin(sessions, lambda line: None) is None  # there is an admin already
    empty = init_database(sqlite_url_for(tmp_path / "empty" / "drx.sqlite3"))
    lines: list[str] = []
    password = accounts.first_admin(empty, lines.append)
    assert password and any(password in line for line in lines)
    assert accounts.log_in(empty, "admin", password).role == "admin"
    assert accounts.organisation_name("  ann ") == "ann"
    with pytest.raises(InvalidValue):
        accounts.organisation_name("ann\x07@example.org")
    assert accounts.organisation_account(sessions, "ann").name == "ann"
    assert accounts.organisation_account(sessions, "nobody@example.org") is None
    accounts.set_disabled(sessions, world[1], "bob", True)
    assert accounts.organisation_account(sessions, "bob") is None


def test_the_work_queue_in_order_with_progress_and_steps(world) -> None:
    sessions, admin, ann, bob, images = world
    assert not work_queue.has_queue(sessions, ann)
    assert accounts.assign_images(sessions, admin, ann.id, images) == 3
    assert work_queue.has_queue(sessions, ann) and not work_queue.has_queue(sessions, bob)
    queue = work_queue.queue_view(sessions, ann)
    assert [item.image_id for item in queue.items] == images and queue.first_open == images[0]
    assert (queue.progress.done, queue.progress.total) == (0, 3)
    assert work_queue.step(sessions, ann, images[0], forward=True) == images[1]
    assert work_queue.step(sessions, ann, images[1], forward=False) == images[0]
    assert work_queue.step(sessions, ann, images[0], forward=False) is None
    assert work_queue.step(sessions, ann, images[2], forward=True) is None


def test_drawings_are_saved_edited_deleted_undone_and_reverted(world) -> None:
    sessions, _, ann, bob, images = world
    image = images[0]
    drawings.save_shapes(sessions, ann, image, [SQUARE, CIRCLE], "haemorrhage", SIZE)
    square, circle = drawings.my_drawings(sessions, ann, image)
    assert (square.kind, circle.kind, square.lesion_type) == ("polygon", "circle", "haemorrhage")
    assert drawings.outline(square) == drawings.Outline([(10.0, 10.0), (40.0, 10.0), (40.0, 40.0), (10.0, 40.0)],
                                                         True)
    assert drawings.my_drawings(sessions, bob, image) == []
    with pytest.raises(InvalidValue):  # outside the photograph: nothing is saved
        outside = DrawnShape("polygon", ((5.0, 5.0), (1600.0, 5.0), (5.0, 9.0)))
        drawings.save_shapes(sessions, ann, image, [SQUARE, outside], "haemorrhage", SIZE)
    assert len(drawings.my_drawings(sessions, ann, image)) == 2
    drawings.change_type(sessions, ann, square.uid, "hard_exudate")
    drawings.replace_outline(sessions, ann, circle.uid, DrawnShape("circle", ((200.0, 90.0),), radius=5.0), SIZE)
    with pytest.raises(PermissionDenied):
        drawings.delete_drawing(sessions, bob, square.uid)
    drawings.delete_drawing(sessions, ann, square.uid)
    (left,) = drawings.my_drawings(sessions, ann, image)
    assert left.uid == circle.uid and drawings.outline(left).closed
    drawings.undo_last_action(sessions, ann, image)  # the deletion
    assert {row.lesion_type for row in drawings.my_drawings(sessions, ann, image)} == {"hard_exudate", "haemorrhage"}
    steps = history.timeline(sessions, image)
    assert [(step.kind, step.action) for step in steps] == [
        ("annotation", "create"), ("annotation", "create"), ("annotation", "edit"), ("annotation", "edit"),
        ("annotation", "delete"), ("annotation", "undo")]
    assert {step.actor for step in steps} == {"ann"}
    retyped = steps[2]
    with pytest.raises(PermissionDenied):  # another grader's change
        history.revert_change(sessions, bob, retyped)
    history.revert_change(sessions, ann, retyped)
    assert {row.lesion_type for row in drawings.my_drawings(sessions, ann, image)} == {"haemorrhage"}
    assert history.timeline(sessions, image)[-1].action == "revert"
