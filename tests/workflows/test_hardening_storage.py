"""Issue 20, H8: one photograph saved by several browser sessions at once — every writer succeeds and the file is
whole (main: all writers shared one temporary name, so 3 of 4 raised FileNotFoundError)."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import numpy as np

from drx import storage


def test_writers_racing_for_one_upload_all_succeed_and_leave_one_whole_file(tmp_path, monkeypatch) -> None:
    data = bytes(range(256)) * 4096
    errors: list[BaseException] = []
    written = threading.Barrier(4)
    write_bytes = Path.write_bytes

    def write_then_wait(self, payload):  # every writer has written its temporary file before any renames it
        count = write_bytes(self, payload)
        with contextlib.suppress(threading.BrokenBarrierError):  # a writer that finds the file kept writes no copy
            written.wait(timeout=2)
        return count

    monkeypatch.setattr(Path, "write_bytes", write_then_wait)
    for round_ in range(3):
        barrier = threading.Barrier(4)
        written.reset()

        def save(round_=round_, barrier=barrier) -> None:
            try:
                barrier.wait()
                storage.keep_upload(tmp_path, f"{round_:064x}", "eye.PNG", data)
            except BaseException as error:  # noqa: BLE001  (collected for the assertion)
                errors.append(error)

        threads = [threading.Thread(target=save) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{k:064x}.png" for k in range(3)]  # no temporary left
    assert all(p.read_bytes() == data for p in tmp_path.iterdir())


def test_a_heatmap_stored_twice_reports_it_was_new_once(tmp_path) -> None:
    values = np.arange(12, dtype=np.float64).reshape(3, 4)
    path, new = storage.store_heatmap(tmp_path, "key", values)
    assert new and np.array_equal(np.load(path), values.astype(np.float32))
    assert storage.store_heatmap(tmp_path, "key", values) == (path, False)
