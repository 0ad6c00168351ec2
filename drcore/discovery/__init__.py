"""Lesion discovery: mine what the heatmaps find over an archive (issue 8).

- :mod:`~drcore.discovery.images`: image sets (synthetic, data set, folder) with whatever truth exists;
- :mod:`~drcore.discovery.hotspots`: heatmaps, hot spots and a feature vector per hot spot (resumable);
- :mod:`~drcore.discovery.grouping`: clustering space, k-means / HDBSCAN, t-SNE layout, split proposals;
- :mod:`~drcore.discovery.statistics`: per-group statistics, the *unexplained* flag, planted-ring coverage;
- :mod:`~drcore.discovery.run`: the whole run kept in one folder (:func:`discover`, :func:`load_discovery`);
- :mod:`~drcore.discovery.report`: the report folder (Parquet, group table, self-contained HTML);
- :mod:`~drcore.discovery.patches`: patch thumbnails centred on a hot spot with its heatmap contour.

May import the rest of drcore (models, heatmaps, imaging, datasets, metrics); never db, drx or streamlit.
"""

from drcore.discovery.hotspots import (
    ExtractionParameters,
    HotSpotSet,
    extract_hot_spots,
    load_hot_spots,
)
from drcore.discovery.images import (
    DiscoveryImage,
    ImageTruth,
    dataset_images,
    folder_images,
    image_set,
    synthetic_images,
)
from drcore.discovery.run import (
    DiscoveryResult,
    GroupingParameters,
    discover,
    group_run,
    load_discovery,
    run_images,
)
from drcore.discovery.statistics import (
    DOMINANT_SHARE,
    UNEXPLAINED_MIN_AUC_LOW,
    GroupStatistics,
    planted_coverage,
)

__all__ = [
    "DOMINANT_SHARE",
    "UNEXPLAINED_MIN_AUC_LOW",
    "DiscoveryImage",
    "DiscoveryResult",
    "ExtractionParameters",
    "GroupStatistics",
    "GroupingParameters",
    "HotSpotSet",
    "ImageTruth",
    "dataset_images",
    "discover",
    "extract_hot_spots",
    "folder_images",
    "group_run",
    "image_set",
    "load_discovery",
    "load_hot_spots",
    "planted_coverage",
    "run_images",
    "synthetic_images",
]
