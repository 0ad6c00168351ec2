"""Starting a discovery session from the page: the form, and the run itself with a progress bar."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from db.errors import DbError
from drcore.datasets import DATASETS
from drcore.discovery import ExtractionParameters, GroupingParameters
from drcore.errors import DrxError
from drcore.heatmaps import DEFAULT_METHOD, METHODS
from drcore.models import DEFAULT_MODEL, bundled_models
from drcore.vocabulary import LESION_LABELS, OUTPUTS
from drx.discovery_sessions import discovery_images, run_folder, start_session
from drx.ui.text import verbatim


def _done(folder: Path) -> int:
    return len(list((folder / "images").glob("*.npz"))) if (folder / "images").is_dir() else 0


def start_with_progress(sessions: sessionmaker[Session], spec: dict[str, Any], model: str, folder: Path,
                        extraction: ExtractionParameters, grouping: GroupingParameters, *, name: str,
                        researcher: str) -> int:
    """:func:`drx.discovery_sessions.start_session` with a Streamlit progress bar (images/s and time left).

    The run works in a thread; the bar counts the per-image files it writes (the run is resumable, so a
    run cut short by a closed tab goes on from there when started again with the same folder).
    """
    images = discovery_images(spec)
    bar = st.progress(0.0, text="Finding hot spots…")
    started, initial = time.monotonic(), _done(folder)
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(start_session, sessions, images, spec, model, folder, extraction, grouping, name=name,
                             researcher=researcher)
        while not future.done():
            done = _done(folder)
            rate = (done - initial) / max(time.monotonic() - started, 1e-9)
            left = f", about {(len(images) - done) / rate:.0f} s left" if rate > 0 and done < len(images) else ""
            text = (f"Hot spots: {done}/{len(images)} photographs, {rate:.2f} images/s{left}" if done < len(images)
                    else "Grouping the hot spots and laying them out…")
            bar.progress(min(done / len(images), 1.0), text=text)
            time.sleep(0.5)
        session_id = future.result()
    bar.empty()
    return session_id


def start_form(sessions: sessionmaker[Session], home: Path, researcher: str) -> Optional[int]:
    """The form that starts a session; the new session's id once one was started (an error is shown otherwise)."""
    with st.form("disc_start"):
        top = st.columns([2, 1, 1])
        name = top[0].text_input("Session name", key="disc_name", placeholder="e.g. DiaretDB1 test, any lesion")
        kind = top[1].selectbox("Image set", ["data set", "synthetic", "folder"], key="disc_kind")
        models = list(bundled_models())
        model_name = top[2].selectbox("Model", models, key="disc_model",
                                      index=models.index(st.session_state.get("model_name") or DEFAULT_MODEL))
        source = st.columns(3)
        dataset = source[0].selectbox("Data set", sorted(DATASETS), key="disc_dataset")
        split = source[1].selectbox("Split", ["all", "train", "test"], key="disc_split")
        folder_text = source[2].text_input("Folder or photographs (one per line)", key="disc_folder")
        synthetic = st.columns(3)
        count = synthetic[0].number_input("Synthetic photographs", 10, 2000, 100, key="disc_count")
        first_seed = synthetic[1].number_input("First seed", 0, 10**9, 20_000_000, key="disc_seed0")
        rings = synthetic[2].slider("Share with planted rings", 0.0, 1.0, 0.3, key="disc_rings")
        how = st.columns(4)
        method = how[0].selectbox("Heatmap method", sorted(METHODS), index=sorted(METHODS).index(DEFAULT_METHOD),
                                  key="disc_method")
        output = how[1].selectbox("Output", list(OUTPUTS), format_func=LESION_LABELS.get, key="disc_output")
        max_spots = how[2].number_input("Hot spots per image", 1, 100, ExtractionParameters.max_spots,
                                        key="disc_max_spots")
        smoothing = how[3].number_input("Smoothing sigma (px at 1500 px width)", 0.0, 40.0,
                                        ExtractionParameters.smoothing_sigma,
                                        key="disc_smoothing")
        grouping_row = st.columns(4)
        clustering = grouping_row[0].selectbox("Grouping", ["kmeans", "hdbscan"], key="disc_clustering")
        k_min, k_max = grouping_row[1].slider("k-means groups (silhouette picks)", 2, 30, (2, 12), key="disc_k")
        seed = grouping_row[2].number_input("Seed", 0, 10**6, 0, key="disc_grouping_seed")
        resamples = grouping_row[3].number_input("Bootstrap resamples", 100, 5000, 1000, key="disc_resamples")
        if not st.form_submit_button("Start", type="primary"):
            return None
    spec = {"data set": {"kind": "dataset", "name": dataset, "split": split},
            "synthetic": {"kind": "synthetic", "start": int(first_seed), "count": int(count),
                          "ring_probability": float(rings)},
            "folder": {"kind": "folder", "paths": [line.strip() for line in folder_text.splitlines()
                                                   if line.strip()]}}[kind]
    try:
        return start_with_progress(
            sessions, spec, model_name, run_folder(home, name or kind),
            ExtractionParameters(output=output, method=method, max_spots=int(max_spots),
                                 smoothing_sigma=float(smoothing)),
            GroupingParameters(method=clustering, k_min=k_min, k_max=k_max, seed=int(seed),
                               n_resamples=int(resamples)),
            name=name or kind, researcher=researcher)
    except (DrxError, DbError, OSError) as error:
        st.error(f"The session could not be started: {verbatim(str(error))}", icon=":material/block:")
        return None
