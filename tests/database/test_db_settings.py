from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from db.settings import Settings


def test_defaults_when_nothing_is_set(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = Settings.from_env({})
    assert settings.home == tmp_path / ".drx"
    assert settings.database_url == f"sqlite:///{(tmp_path / '.drx' / 'drx.sqlite3').as_posix()}"
    assert settings.demo_dir == tmp_path / ".drx" / "demo"
    assert settings.heatmap_dir == tmp_path / ".drx" / "heatmaps"
    assert settings.upload_dir == tmp_path / ".drx" / "uploads"
    assert not (tmp_path / ".drx").exists(), "reading settings must not create folders"


def test_drx_home_moves_home_and_default_database(tmp_path):
    home = tmp_path / "elsewhere"
    settings = Settings.from_env({"DRX_HOME": str(home)})
    assert settings.home == home
    assert settings.database_url == "sqlite:///" + (home / "drx.sqlite3").as_posix()
    assert settings.heatmap_dir == home / "heatmaps"


def test_drx_database_url_wins_over_home(tmp_path):
    url = "postgresql+psycopg://drx@db.example/drx"
    settings = Settings.from_env({"DRX_HOME": str(tmp_path), "DRX_DATABASE_URL": url})
    assert settings.home == tmp_path
    assert settings.database_url == url


def test_empty_variables_count_as_unset(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = Settings.from_env({"DRX_HOME": "", "DRX_DATABASE_URL": "  "})
    assert settings.home == tmp_path / ".drx"
    assert settings.database_url.endswith("/.drx/drx.sqlite3")


def test_from_env_reads_process_environment_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("DRX_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("DRX_DATABASE_URL", "sqlite:////tmp/x.sqlite3")
    settings = Settings.from_env()
    assert settings.home == tmp_path / "h"
    assert settings.database_url == "sqlite:////tmp/x.sqlite3"


def test_relative_home_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"DRX_HOME": "rel"})
    assert settings.home == tmp_path / "rel"
    assert settings.home.is_absolute()


def test_ensure_home_creates_the_folders(tmp_path):
    settings = Settings.from_env({"DRX_HOME": str(tmp_path / "h")})
    settings.ensure_home()
    settings.ensure_home()  # idempotent
    for folder in (settings.home, settings.demo_dir, settings.heatmap_dir, settings.upload_dir):
        assert folder.is_dir()


def test_settings_are_frozen():
    settings = Settings(home=Path("/x"), database_url="sqlite://")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.home = Path("/y")  # type: ignore[misc]
