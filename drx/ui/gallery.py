"""Galleries of a discovery session: the run behind it, patch thumbnails, and the way to the Review page."""

from collections.abc import Sequence

import numpy as np
import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session, sessionmaker

from drcore.discovery import DiscoveryImage, DiscoveryResult, load_discovery
from drcore.discovery.patches import spot_patches
from drcore.discovery.run import run_images
from drx.discovery_sessions import register_photograph
from drx.ui.review_link import ReviewTarget


@st.cache_resource(max_entries=4, show_spinner="Opening the discovery run…")
def discovery_run(folder: str) -> DiscoveryResult:
    """The run a session was made from (hot spots, features, grouping), read once per folder."""
    return load_discovery(folder)


@st.cache_resource(max_entries=4, show_spinner=False)
def run_photographs(folder: str) -> list[DiscoveryImage]:
    """The photographs of a run, rebuilt from its image set."""
    return run_images(folder)


@st.cache_data(max_entries=64, show_spinner="Cutting the patches…")
def patches(folder: str, spots: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Thumbnails of ``spots`` (96 px, centred on the hot spot, heatmap region outlined in cyan)."""
    table = discovery_run(folder).hot_spots.spots
    return spot_patches(folder, run_photographs(folder), table[table["spot"].isin(spots)])


def gallery_order(members: Sequence[int], statistics: dict, strength: pd.Series) -> list[int]:
    """A group's spots in the order a gallery shows them: the medoid, then the strongest first."""
    medoid = statistics.get("medoid")
    rest = sorted((spot for spot in members if spot != medoid), key=lambda spot: -float(strength[spot]))
    return ([medoid] if medoid in members else []) + rest


def review_target(sessions: sessionmaker[Session], image_path: str, row: float, col: float,
                  output: str | None) -> ReviewTarget:
    """The Review page's target for a hot spot: its photograph (registered by
    :func:`drx.discovery_sessions.register_photograph`) at the spot, in original pixels.

    Raises OSError when the photograph's file cannot be read.
    """
    return ReviewTarget(register_photograph(sessions, image_path), x=int(round(col)), y=int(round(row)), output=output)
