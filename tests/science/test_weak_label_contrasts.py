"""benchmarks/weak_label_contrasts.py: counts of "type A present, type B absent" worked by hand."""

import importlib.util
from pathlib import Path

import numpy as np

from drcore.weak_labels import grade_labels, presence_labels

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "weak_label_contrasts.py"


def _module():
    spec = importlib.util.spec_from_file_location("weak_label_contrasts", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contrasts_count_known_present_against_known_absent() -> None:
    rows = np.stack([
        grade_labels(0, 0),  # nothing: no type present
        grade_labels(1, 0),  # microaneurysms only: MA present, HE, EX, CWS absent
        grade_labels(3, 1),  # MA, HE, EX present; CWS unknown: contrasts nothing
        grade_labels(3, 0),  # MA, HE present; EX, CWS unknown
        presence_labels({"microaneurysm": False, "haemorrhage": True, "hard_exudate": False,
                         "cotton_wool_spot": True}),  # HE and CWS present, MA and EX absent
    ])
    counts = _module().contrasts(rows)  # rows: present; columns: absent; MA, HE, EX, CWS
    np.testing.assert_array_equal(counts, [[0, 1, 1, 1],
                                           [1, 0, 1, 0],
                                           [0, 0, 0, 0],
                                           [1, 0, 1, 0]])
