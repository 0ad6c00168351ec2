"""Weak labels from grades and lesion presence, against the table in drcore.weak_labels worked by hand."""

import math

import numpy as np
import pytest

from drcore.vocabulary import MODEL_OUTPUTS
from drcore.weak_labels import grade_labels, presence_labels

N = math.nan
# any, MA, HE, EX, CWS, referable: worked by hand from the ICDR and DME definitions
GRADE_TABLE = {
    (0, 0): (0, 0, 0, 0, 0, 0),
    (0, 1): (0, 0, 0, 1, 0, 1),  # contradictory, EX and referable follow DME
    (1, 0): (1, 1, 0, 0, 0, 0),
    (1, None): (1, 1, 0, 0, 0, N),
    (2, 0): (1, 1, N, N, N, 1),
    (2, 2): (1, 1, N, 1, N, 1),
    (2, None): (1, 1, N, N, N, 1),
    (3, 0): (1, 1, 1, N, N, 1),
    (4, 1): (1, 1, 1, 1, N, 1),
    (0, None): (0, 0, 0, 0, 0, N),
}


def _same(row: np.ndarray, expected: tuple) -> bool:
    return all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(row.tolist(), expected))


@pytest.mark.parametrize(("grades", "expected"), GRADE_TABLE.items())
def test_grade_labels_follow_the_table(grades, expected) -> None:
    row = grade_labels(*grades)
    assert row.shape == (len(MODEL_OUTPUTS),) and row.dtype == np.float32
    assert _same(row, expected), (grades, row)


def test_grades_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="ICDR"):
        grade_labels(5)
    with pytest.raises(ValueError, match="DME"):
        grade_labels(2, 3)


@pytest.mark.parametrize(("present", "expected"), [
    ((0, 0, 0, 0), (0, 0, 0, 0, 0, 0)),
    ((1, 0, 0, 0), (1, 1, 0, 0, 0, N)),  # microaneurysms only: ICDR 1, DME unknown
    ((1, 1, 0, 0), (1, 1, 1, 0, 0, 1)),
    ((0, 0, 1, 1), (1, 0, 0, 1, 1, 1)),
])
def test_presence_labels(present, expected) -> None:
    names = ("microaneurysm", "haemorrhage", "hard_exudate", "cotton_wool_spot")
    assert _same(presence_labels(dict(zip(names, map(bool, present)))), expected)
    with pytest.raises(ValueError, match="haemorrhage"):
        presence_labels({"microaneurysm": True})
