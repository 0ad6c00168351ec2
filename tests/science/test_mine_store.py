"""The content-addressed heatmap store: keys, float16 round trip, atomic writes."""

import numpy as np
import pytest

from drcore.errors import DrxError
from drcore.mining.store import FLOAT16_RELATIVE_TOLERANCE, HeatmapStore, encode_heatmap, heatmap_key


def test_a_stored_map_comes_back_within_float16_precision_of_its_largest_value(tmp_path) -> None:
    rng = np.random.default_rng(0)
    fov = rng.random((64, 64)) > 0.3
    store = HeatmapStore(tmp_path)
    for scale in (1e-9, 1.0, 3e4):  # tiny gradients must not vanish into float16's subnormals
        heatmap = (rng.standard_normal((64, 64)) * scale).astype(np.float32)
        key = heatmap_key("a" * 64, "b" * 64, "sensitivity", {"scale": scale})
        store.put(key, encode_heatmap(heatmap, fov))
        stored = store.get(key)
        error = np.abs(stored.heatmap - heatmap).max() / np.abs(heatmap).max()
        assert 0 < error <= FLOAT16_RELATIVE_TOLERANCE  # float16: not exact, but close
        assert np.array_equal(stored.fov, fov) and stored.heatmap.dtype == np.float32
    assert sorted(path.name for path in tmp_path.rglob("*") if path.name.startswith(".")) == []


def test_the_key_changes_with_every_part_of_its_identity() -> None:
    base = ("a" * 64, "b" * 64, "sensitivity", {"output": "any_lesion", "smoothing_px": 10.0})
    variants = [("c" * 64, *base[1:]), (base[0], "d" * 64, *base[2:]), (*base[:2], "grad_cam", base[3]),
                (*base[:3], {"output": "hard_exudate", "smoothing_px": 10.0})]
    keys = {heatmap_key(*base), *(heatmap_key(*variant) for variant in variants)}
    assert len(keys) == 5
    assert heatmap_key(*base) == heatmap_key(*base[:3], dict(reversed(list(base[3].items()))))  # order-free


def test_bad_entries_and_missing_keys_are_clear_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="same 2-D shape"):
        encode_heatmap(np.zeros((4, 4)), np.zeros((4, 5), dtype=bool))
    with pytest.raises(DrxError, match="no heatmap"):
        HeatmapStore(tmp_path).get("0" * 64)
