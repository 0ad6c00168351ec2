"""The floors import only downwards: views -> drx (the application layer, its UI and CLI packages) -> drcore, db.

Read from the source (every import statement, also those inside functions), so that a new module cannot
quietly break a rule; the database layer is also checked by importing it.
"""

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: plain constants that every layer may import (db included)
SHARED_CONSTANTS = {"drcore.limits", "drcore.vocabulary"}


def _imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names imported from it) of every import in a file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [alias.name for alias in node.names]


def _files(*parts: str) -> list[Path]:
    found = [path for part in parts for path in ([ROOT / part] if part.endswith(".py") else (ROOT / part).rglob("*.py"))]
    assert found, parts
    return found


def _offences(paths: list[Path], refused) -> list[str]:
    return [f"{path.relative_to(ROOT)}: {module} {names or ''}" for path in paths
            for module, names in _imports(path) if refused(module, names)]


def _top(module: str) -> str:
    return module.split(".")[0]


def test_drcore_imports_no_streamlit_database_or_application():
    assert _offences(_files("drcore"), lambda module, _: _top(module) in {"streamlit", "db", "drx", "sqlalchemy"}) == []


def test_db_imports_no_torch_streamlit_or_science():
    assert _offences(_files("db"), lambda module, _: _top(module) in {"torch", "streamlit", "drx"}
                     or (_top(module) == "drcore" and module not in SHARED_CONSTANTS)) == []


def test_importing_db_loads_no_torch_streamlit_or_science():
    code = (
        "import sys, db, db.models, db.repository, db.session, db.settings, db.errors\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'torch', 'streamlit', 'drcore'}\n"
        f"             and m not in {{'drcore', *{sorted(SHARED_CONSTANTS)!r}}})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_application_layer_imports_neither_streamlit_nor_its_ui_or_cli():
    application = [path for path in _files("drx") if path.parent == ROOT / "drx"]
    assert _offences(application, lambda module, _: _top(module) == "streamlit"
                     or module.startswith(("drx.ui", "drx.cli"))) == []


@pytest.mark.parametrize("page", _files("views", "app.py"), ids=lambda path: path.name)
def test_pages_use_no_database_and_no_science_beyond_types_and_constants(page: Path):
    """A page reads widgets, calls the application layer and draws: from drcore it may name types (CamelCase)
    and constants (UPPER_CASE) only, never a function; SQLAlchemy and db not at all."""
    def refused(module: str, names: list[str]) -> bool:
        if _top(module) in {"db", "sqlalchemy"}:
            return True
        return _top(module) == "drcore" and (not names or not all(name[0].isupper() for name in names))

    assert _offences([page], refused) == []


@pytest.mark.parametrize("page", _files("views", "app.py"), ids=lambda path: path.name)
def test_pages_are_short(page: Path):
    assert len(page.read_text().splitlines()) <= 150


def test_every_package_says_what_it_holds_and_may_import():
    packages = [path.parent for path in _files("drcore", "db", "drx") if path.name == "__init__.py"
                and "migrations" not in path.parts]
    assert len(packages) >= 8
    for package in packages:
        docstring = ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or ""
        assert "may import" in docstring.lower(), f"{package.relative_to(ROOT)} does not say what it may import"
