"""Work queue: assignment order, done = graded, next/previous, progress, who may assign."""

from __future__ import annotations

import pytest

from corrections_world import build_world, cheap_hashing, sha  # noqa: F401 (fixture)
from db.errors import PermissionDenied
from db.grading import grade_image
from db.repository import register_image
from db.work_queue import Progress, assign, next_image, previous_image, progress, unassign, work_queue

pytestmark = pytest.mark.usefixtures("cheap_hashing")


def test_queue_order_progress_next_and_previous(session_factory):
    world = build_world(session_factory)
    images = world.run(lambda s: [
        register_image(s, content_sha256=sha(f"q{k}"), file_name=f"q{k}.png", width=10, height=10, size_bytes=1,
                       source="upload").id for k in range(4)
    ])
    for image in (images[2], images[0], images[3], images[1]):
        world.run(lambda s: assign(s, image, world.a.id, by=world.reviewer))
    world.run(lambda s: assign(s, images[2], world.a.id, by=world.reviewer))  # again: nothing new
    world.run(lambda s: assign(s, images[1], world.b.id))  # the command line assigns too
    with pytest.raises(PermissionDenied):
        world.run(lambda s: assign(s, images[1], world.a.id, by=world.b))
    world.run(lambda s: grade_image(s, world.a, images[0], icdr_grade=0, referable=False))
    with session_factory() as session:
        queue = work_queue(session, world.a.id)
        assert [(q.image_id, q.done) for q in queue] == [
            (images[2], False), (images[0], True), (images[3], False), (images[1], False)]
        assert progress(session, world.a.id) == Progress(done=1, total=4)
        assert next_image(session, world.a.id) == images[2]
        assert next_image(session, world.a.id, images[2]) == images[3]  # skips the graded one
        assert next_image(session, world.a.id, images[2], skip_done=False) == images[0]
        assert next_image(session, world.a.id, images[1]) is None
        assert previous_image(session, world.a.id, images[3]) == images[0]
        assert previous_image(session, world.a.id, images[2]) is None
        assert [q.image_id for q in work_queue(session, world.b.id)] == [images[1]]
    world.run(lambda s: unassign(s, images[0], world.a.id, by=world.admin))
    world.run(lambda s: assign(s, images[0], world.a.id, by=world.admin))  # back, in its first place
    world.run(lambda s: unassign(s, images[3], world.a.id, by=world.admin))
    with session_factory() as session:
        assert [q.image_id for q in work_queue(session, world.a.id)] == [images[2], images[0], images[1]]
        assert progress(session, world.a.id).fraction == pytest.approx(1 / 3)
