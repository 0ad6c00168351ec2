"""Starting a discovery session from the page: the run folder, and the run itself with a progress bar."""

import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

from drcore.discovery import DiscoveryImage, DiscoveryResult, ExtractionParameters, GroupingParameters, discover
from drcore.models import LoadedModel


def run_folder(home: Path, name: str) -> Path:
    """A new folder for a run under ``home/discovery``: the session's name made safe, and the UTC time."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "session"
    return home / "discovery" / f"{slug}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"


def _done(folder: Path) -> int:
    return len(list((folder / "images").glob("*.npz"))) if (folder / "images").is_dir() else 0


def discover_with_progress(images: Sequence[DiscoveryImage], loaded: LoadedModel, folder: Path,
                           extraction: ExtractionParameters, grouping: GroupingParameters,
                           image_set: dict) -> DiscoveryResult:
    """:func:`drcore.discovery.discover` with a Streamlit progress bar (images/s and time left).

    The run works in a thread; the bar counts the per-image files it writes (the run is resumable, so a
    run cut short by a closed tab goes on from there when started again with the same folder).
    """
    bar = st.progress(0.0, text="Finding hot spots…")
    started, initial = time.monotonic(), _done(folder)
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(discover, images, loaded, folder, extraction, grouping, image_set_spec=dict(image_set),
                             progress=False)
        while not future.done():
            done = _done(folder)
            rate = (done - initial) / max(time.monotonic() - started, 1e-9)
            left = f", about {(len(images) - done) / rate:.0f} s left" if rate > 0 and done < len(images) else ""
            text = (f"Hot spots: {done}/{len(images)} photographs, {rate:.2f} images/s{left}" if done < len(images)
                    else "Grouping the hot spots and laying them out…")
            bar.progress(min(done / len(images), 1.0), text=text)
            time.sleep(0.5)
        result = future.result()
    bar.empty()
    return result
