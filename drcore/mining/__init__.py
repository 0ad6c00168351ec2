"""Mining an archive: heatmaps, scores and hot spots of every photograph, as files other tools read.

The engine-free parts live here: which files to mine (:mod:`.inputs`), how one
photograph is read and prepared and how a batch goes through the model
(:mod:`.pipeline`), the content-addressed heatmap store (:mod:`.store`), the
Parquet parts, the final tables, the errors file and the run manifest
(:mod:`.results`). The engines that drive them: :mod:`.local` (one machine,
worker processes for decoding) and :mod:`.ray_engine` (Ray Data, one model per
actor). Both write the same files with the same values.

May import numpy, torch, pyarrow, Ray (the Ray engine only) and the rest of drcore; never streamlit,
SQLAlchemy, db or drx.
"""

from drcore.mining.inputs import archive_files
from drcore.mining.pipeline import MiningSettings
from drcore.mining.store import HeatmapStore

__all__ = ["HeatmapStore", "MiningSettings", "archive_files"]
