"""Long-lived resources shared by every session: settings, database, models, demo images."""

from pathlib import Path

import streamlit as st
import torch
from sqlalchemy.orm import Session, sessionmaker

from db.session import init_database
from db.settings import Settings
from drcore.datasets import read
from drcore.datasets.demo import NAME as DEMO
from drcore.heatmaps import card_reading
from drcore.device import default_device
from drcore.models import LoadedModel, bundled_models, load_model
from drcore.synthetic import write_demo_images
from drx import dashboards


@st.cache_resource
def settings() -> Settings:
    """Settings from the environment, with the home folder created."""
    current = Settings.from_env()
    current.ensure_home()
    return current


@st.cache_resource
def session_factory(database_url: str) -> sessionmaker[Session]:
    """A session factory for the database, its schema created on first start."""
    return init_database(database_url)


@st.cache_resource
def device() -> torch.device:
    """Where the models compute (CUDA when available, else the CPU)."""
    return default_device()


def model_names() -> list[str]:
    """The bundled models' names."""
    return list(bundled_models())


@st.cache_resource
def model(name: str) -> LoadedModel:
    """A bundled model on the default device, in eval mode."""
    loaded = load_model(name)
    loaded.model.to(default_device())
    return loaded


def card_reading_of(name: str, output: str) -> tuple[str, str]:
    """How model ``name``'s card reads ``output``: (the output whose map it computes, the method)
    (:func:`drcore.heatmaps.card_reading`)."""
    return card_reading(model(name).card, output)


@st.cache_data(max_entries=16, show_spinner="Reading the data set's split…")
def split_references(dataset: str, split: str) -> frozenset[str]:
    """:func:`drx.dashboards.split_references`, read once per data set and split."""
    return dashboards.split_references(dataset, split)


@st.cache_resource
def demo_images(folder: Path) -> list[Path]:
    """The demo photographs: the bundled IDRiD ones (real photographs with lesions) first, then the synthetic
    ones, generated into ``folder`` on first use."""
    return [sample.image_path for sample in read(DEMO)] + write_demo_images(folder)
