"""Writing a file so that readers see the old file or the whole new one, never half of it."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(temporary_path)`` and a rename; the temporary file goes if ``write`` fails.

    The temporary file sits beside ``path`` (same file system, so the rename is
    atomic) and keeps its suffix, for writers such as ``numpy.save`` that add one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp makes the file private; the written file is an ordinary one
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
