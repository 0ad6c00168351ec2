"""The images behind a chart: a table to pick one from, and a button that opens it on the Review page."""

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from drx.dashboards import ImageEntry
from drx.ui.review_link import ReviewTarget, open_in_review
from drx.ui.text import verbatim


def selected_points(event: Any) -> list[Mapping[str, Any]]:
    """The points selected on a ``st.plotly_chart(..., on_select="rerun")`` chart (none when nothing is)."""
    if not event:
        return []
    return list(event.get("selection", {}).get("points", []))


def selected_rows(event: Any) -> list[int]:
    """The row positions selected in a ``st.dataframe(..., on_select="rerun")`` table."""
    if not event:
        return []
    return list(event.get("selection", {}).get("rows", []))


def show_images(entries: Sequence[ImageEntry], key: str, *, empty: str = "No image behind this selection.") -> None:
    """A table of ``entries`` (one row selectable) and an *Open in Review* button for the selected one."""
    if not entries:
        st.caption(empty)
        return
    rows = [{"photograph": entry.file_name, **entry.details,
             "spot (x, y)": "" if entry.x is None else f"{entry.x}, {entry.y}", "sha256": entry.sha256[:12]}
            for entry in entries]
    event = st.dataframe(rows, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                         key=key)
    chosen = [entries[row] for row in selected_rows(event) if 0 <= row < len(entries)]
    if not chosen:
        st.caption(f"{len(entries)} photograph(s). Select a row to open it on the Review page.")
    elif st.button(f"Open {verbatim(chosen[0].file_name)} in Review", key=f"{key}_open", icon=":material/open_in_new:"):
        open_in_review(ReviewTarget(chosen[0].sha256, chosen[0].x, chosen[0].y))
