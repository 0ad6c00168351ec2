"""Icons are Material Symbols (drawn by Streamlit's own font), never emoji, which render as empty boxes on a
machine without an emoji font."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _icons() -> list[tuple[str, str]]:
    """(file:line, value) of every literal ``icon=`` and ``page_icon=`` argument in the app's sources."""
    found = []
    for path in [ROOT / "app.py", *sorted((ROOT / "views").glob("*.py")), *sorted((ROOT / "drx" / "ui").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg in ("icon", "page_icon") \
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                found.append((f"{path.relative_to(ROOT)}:{node.value.lineno}", node.value.value))
    return found


def test_every_icon_is_a_material_symbol() -> None:
    icons = _icons()
    assert len(icons) > 20  # the scan sees the app's icons
    assert [(where, icon) for where, icon in icons if not icon.startswith(":material/")] == []
