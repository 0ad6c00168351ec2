"""Issue 20, H10: file names with Markdown (``**x**``, ``[a](javascript:…)``) are shown as typed, never as
Markdown, in button labels and captions (main: drx/ui/image_list.py and views/methods.py rendered them)."""

from __future__ import annotations

from pathlib import Path

import streamlit
from streamlit.testing.v1 import AppTest

from drx.ui import resources
from drx.ui.text import verbatim

HOSTILE = "**x** [a](javascript:alert(1)) <img src=x onerror=alert(1)> :red[y].png"
METHODS_PAGE = str(Path(__file__).resolve().parents[2] / "views" / "methods.py")


def test_the_open_in_review_button_shows_a_hostile_file_name_as_typed(monkeypatch) -> None:
    monkeypatch.setattr(streamlit, "dataframe", lambda *args, **kwargs: {"selection": {"rows": [0]}})

    def page() -> None:
        from drx.dashboards import ImageEntry
        from drx.ui.image_list import show_images

        show_images([ImageEntry("ab" * 32, "**x** [a](javascript:alert(1)) <img src=x onerror=alert(1)> :red[y].png")],
                    "hostile")

    app = AppTest.from_function(page)
    app.run()
    assert not app.exception, app.exception
    assert app.button[0].label == f"Open {verbatim(HOSTILE)} in Review"  # every Markdown character escaped


def test_the_methods_page_names_an_unreadable_photograph_as_typed(tmp_path, monkeypatch) -> None:
    photograph = tmp_path / HOSTILE
    photograph.write_bytes(b"not a photograph at all")
    monkeypatch.setattr(resources, "demo_images", lambda folder: [photograph])
    app = AppTest.from_file(METHODS_PAGE, default_timeout=120)
    app.run()
    assert not app.exception, app.exception
    message = app.error[0].value
    assert message.startswith(f"**{verbatim(HOSTILE)}** cannot be explained.")  # bold, the name escaped within
