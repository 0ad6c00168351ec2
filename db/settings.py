"""Runtime settings of drx, read from the environment in one place.

``DRX_HOME``          folder where the app keeps its files (default ``~/.drx``)
``DRX_DATABASE_URL``  SQLAlchemy URL of the database
                      (default ``sqlite:///<DRX_HOME>/drx.sqlite3``)

Reading the settings never touches the disk; :meth:`Settings.ensure_home`
creates the folders explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings", "HOME_ENV", "DATABASE_URL_ENV"]

HOME_ENV = "DRX_HOME"
DATABASE_URL_ENV = "DRX_DATABASE_URL"
DATABASE_FILE_NAME = "drx.sqlite3"


def sqlite_url_for(path: Path) -> str:
    """SQLAlchemy URL of the SQLite file ``path`` (made absolute)."""
    return "sqlite:///" + Path(path).expanduser().absolute().as_posix()


@dataclass(frozen=True)
class Settings:
    """Where drx keeps its files and which database it talks to."""

    home: Path
    database_url: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Build the settings from ``environ`` (default: the process environment).

        An empty variable counts as unset. ``home`` is made absolute so that
        the default SQLite URL does not depend on the working directory.
        """
        home_value = (environ.get(HOME_ENV) or "").strip()
        home = Path(home_value) if home_value else Path("~") / ".drx"
        home = home.expanduser().absolute()
        url = (environ.get(DATABASE_URL_ENV) or "").strip()
        if not url:
            url = sqlite_url_for(home / DATABASE_FILE_NAME)
        return cls(home=home, database_url=url)

    @property
    def demo_dir(self) -> Path:
        return self.home / "demo"

    @property
    def heatmap_dir(self) -> Path:
        return self.home / "heatmaps"

    @property
    def upload_dir(self) -> Path:
        return self.home / "uploads"

    def ensure_home(self) -> None:
        """Create ``home`` and its sub-folders if they do not exist yet."""
        for folder in (self.home, self.demo_dir, self.heatmap_dir, self.upload_dir):
            folder.mkdir(parents=True, exist_ok=True)
