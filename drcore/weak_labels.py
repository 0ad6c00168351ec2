"""Image-level training labels from what a screening archive knows: grades, or which lesions an image has.

One row per image in :data:`drcore.vocabulary.MODEL_OUTPUTS` order, 1 = present,
0 = absent, NaN = unknown (the loss ignores unknown labels). Pixel masks never
enter here: only whether a lesion type is present in the whole image.

From an ICDR grade and a diabetic-macular-oedema (DME) grade (IDRiD's "risk of
macular edema": 0 none, 1-2 hard exudates near / within one disc diameter of
the macula):

=========  =====  ===  =========  ==========  ===========  =========
ICDR       any    MA   HE         EX          CWS          referable
=========  =====  ===  =========  ==========  ===========  =========
0          0      0    0          0 (DME 0)   0            DME >= 1
1          1      1    0          0 (DME 0)   0            DME >= 1
2          1      1    ?          DME >= 1    ?            1
3, 4       1      1    1          DME >= 1    ?            1
=========  =====  ===  =========  ==========  ===========  =========

ICDR 1 is "microaneurysms only", so HE, EX and CWS are absent there (an
ICDR 0-1 image with DME >= 1 is contradictory; its EX label follows DME).
ICDR 3 (severe NPDR) requires intraretinal haemorrhages in four quadrants
(one of its criteria, the commonest), so HE = 1 is the usual reading; "?"
means the grade does not say. Referable DR is ICDR >= 2 or DME >= 1.

From lesion presence alone (e.g. IDRiD segmentation images): the types as
given; any lesion if one is present; referable when a lesion other than a
microaneurysm is present (ICDR 2 is "more than microaneurysms only"), 0
when there is no lesion, unknown for microaneurysms only (DME unknown).
"""

import numpy as np

from drcore.vocabulary import ANY_LESION, ICDR_GRADES, LESION_TYPES, MODEL_OUTPUTS, REFERABLE_DR, is_referable

UNKNOWN = float("nan")
DME_GRADES = range(3)


def _row(values: dict[str, float]) -> np.ndarray:
    return np.array([values.get(name, UNKNOWN) for name in MODEL_OUTPUTS], dtype=np.float32)


def grade_labels(icdr: int, dme: int | None = None) -> np.ndarray:
    """Labels implied by an ICDR grade (0-4) and, when known, a DME grade (0-2); see the module table."""
    if icdr not in ICDR_GRADES:
        raise ValueError(f"ICDR grade must be 0-4, not {icdr!r}")
    if dme is not None and dme not in DME_GRADES:
        raise ValueError(f"DME grade must be 0-2, not {dme!r}")
    values: dict[str, float] = {ANY_LESION: float(icdr >= 1), "microaneurysm": float(icdr >= 1)}
    if icdr <= 1:
        values |= {"haemorrhage": 0.0, "cotton_wool_spot": 0.0}
    elif icdr >= 3:
        values["haemorrhage"] = 1.0
    if dme is not None:
        values["hard_exudate"] = 1.0 if dme >= 1 else (0.0 if icdr <= 1 else UNKNOWN)
        values[REFERABLE_DR] = float(is_referable(icdr, dme))
    elif icdr >= 2:
        values[REFERABLE_DR] = 1.0
    elif icdr <= 1:
        values["hard_exudate"] = 0.0
    return _row(values)


def presence_labels(present: dict[str, bool]) -> np.ndarray:
    """Labels implied by which lesion types an image has (every type of ``LESION_TYPES`` must be given)."""
    missing = set(LESION_TYPES) - set(present)
    if missing:
        raise ValueError(f"presence of {sorted(missing)} not given")
    values = {name: float(bool(present[name])) for name in LESION_TYPES}
    values[ANY_LESION] = float(any(present[name] for name in LESION_TYPES))
    beyond_microaneurysms = any(present[name] for name in LESION_TYPES if name != "microaneurysm")
    if beyond_microaneurysms or not values[ANY_LESION]:
        values[REFERABLE_DR] = float(beyond_microaneurysms)
    return _row(values)
