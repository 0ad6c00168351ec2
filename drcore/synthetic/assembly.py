"""``generate_fundus``: argument checks, the random streams, and the assembly of background, lesions, planted
rings and sensor noise into one ``SyntheticFundus``."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from drcore.lesions import ANY_LESION, LESION_TYPES, OUTPUTS
from drcore.synthetic.background import procedural_scene, retina_scene
from drcore.synthetic.cotton_wool_spots import draw_cotton_wool_spots
from drcore.synthetic.haemorrhages import draw_haemorrhages
from drcore.synthetic.hard_exudates import draw_hard_exudates
from drcore.synthetic.microaneurysms import draw_microaneurysms
from drcore.synthetic.pale_rings import draw_pale_rings
from drcore.synthetic.scene import finish
from drcore.vocabulary import REFERENCE_WIDTH  # every size in this package is specified at this width (DiaretDB1)

BACKGROUNDS: tuple[str, ...] = ("procedural", "retina")
#: Name of the planted, unnamed pattern (not a lesion type, see the module docstring).
PLANTED_PATTERN = "pale_ring"

#: Default height / width (DiaretDB1: 1152 / 1500).
DEFAULT_ASPECT = 0.768
MIN_WIDTH = 64
MIN_HEIGHT = 48
MAX_SIDE = 6000

MICROANEURYSM, HAEMORRHAGE, HARD_EXUDATE, COTTON_WOOL_SPOT = LESION_TYPES


@dataclass(frozen=True, eq=False)
class SyntheticFundus:
    """One synthetic photograph with its truth.

    image: uint8 (H, W, 3) RGB. masks: bool (H, W) for every name in
    ``LESION_TYPES``. labels: 0/1 for every name in ``OUTPUTS``.
    fov: bool (H, W) field of view. ring_mask: bool (H, W) band pixels of the
    planted rings; rings: float (n, 3) row, col, outer radius of each ring (px),
    empty unless rings were drawn. optic_disc: (row, col, radius) in px.
    """

    image: np.ndarray
    masks: dict[str, np.ndarray]
    labels: dict[str, int]
    fov: np.ndarray
    seed: int
    background: str
    ring_mask: np.ndarray
    rings: np.ndarray
    optic_disc: tuple[float, float, float]

    @property
    def lesion_types(self) -> tuple[str, ...]:
        """The lesion types present, in ``LESION_TYPES`` order."""
        return tuple(t for t in LESION_TYPES if self.labels[t])

    def label_vector(self) -> np.ndarray:
        """float32 labels in ``OUTPUTS`` (logit) order."""
        return np.array([self.labels[o] for o in OUTPUTS], dtype=np.float32)


def generate_fundus(
    seed: int,
    *,
    width: int = REFERENCE_WIDTH,
    height: int | None = None,
    background: str = "procedural",
    lesions: Sequence[str] | None = None,
    lesion_probability: float = 0.5,
    ring_probability: float = 0.0,
    rings: bool | None = None,
) -> SyntheticFundus:
    """Draw one synthetic fundus photograph.

    seed: non-negative int; same arguments give byte-identical output.
    width, height: output size in px; height defaults to round(0.768 * width).
    background: one of ``BACKGROUNDS``.
    lesions: ``None`` draws the types at random: with probability
        ``lesion_probability`` the image has lesions (so 0 gives only healthy
        images and 1 only diseased ones), and then each type is present
        independently with probability 1/2, conditioned on at least one
        (every type is in 8/15 of the lesion images). A sequence forces
        exactly those types; an empty one gives a healthy image.
    Raises ValueError on an unknown lesion or background name or a bad
    size / probability / seed.
    """
    seed = _check_seed(seed)
    W, H = _check_size(width, height)
    if background not in BACKGROUNDS:
        raise ValueError(
            f"unknown background {background!r}; valid backgrounds: {', '.join(BACKGROUNDS)}"
        )
    forced = _check_lesions(lesions)
    p = float(lesion_probability)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"lesion_probability must be within [0, 1], got {lesion_probability!r}")
    if not 0.0 <= float(ring_probability) <= 1.0:
        raise ValueError(f"ring_probability must be within [0, 1], got {ring_probability!r}")

    root = np.random.default_rng(seed)
    # the ring stream is the last child: the first ones are those of a generator without rings
    bg_rng, choice_rng, noise_rng, *type_rngs, ring_rng = root.spawn(4 + len(LESION_TYPES))
    present = forced if forced is not None else choose_types(choice_rng, p)
    draw_rings = bool(rings) if rings is not None else bool(ring_rng.random() < float(ring_probability))

    if background == "procedural":
        scene = procedural_scene(bg_rng, W, H)
    else:
        scene = retina_scene(bg_rng, W, H)

    masks = {t: np.zeros((H, W), dtype=bool) for t in LESION_TYPES}
    occupied: list[tuple[float, float, float]] = []
    for t in _DRAW_ORDER:
        if t in present:
            _DRAWERS[t](type_rngs[LESION_TYPES.index(t)], scene, masks[t], occupied)
    ring_mask = np.zeros((H, W), dtype=bool)
    ring_table = draw_pale_rings(ring_rng, scene, ring_mask, occupied) if draw_rings else np.zeros((0, 3))

    image = finish(scene, noise_rng)
    for t in LESION_TYPES:
        masks[t] &= scene.fov
    ring_mask &= scene.fov
    labels = {t: int(masks[t].any()) for t in LESION_TYPES}
    labels = {ANY_LESION: int(any(labels.values()) or ring_mask.any()), **labels}
    return SyntheticFundus(
        image=image,
        masks=masks,
        labels={o: labels[o] for o in OUTPUTS},
        fov=scene.fov,
        seed=seed,
        background=background,
        ring_mask=ring_mask,
        rings=ring_table,
        optic_disc=(float(scene.disc_y), float(scene.disc_x), float(scene.disc_r)),
    )


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _check_size(width, height) -> tuple[int, int]:
    W = int(width)
    if W != width or not MIN_WIDTH <= W <= MAX_SIDE:
        raise ValueError(f"width must be an int in [{MIN_WIDTH}, {MAX_SIDE}], got {width!r}")
    if height is None:
        H = int(round(W * DEFAULT_ASPECT))
    else:
        H = int(height)
        if H != height or not MIN_HEIGHT <= H <= MAX_SIDE:
            raise ValueError(f"height must be an int in [{MIN_HEIGHT}, {MAX_SIDE}], got {height!r}")
    return W, H


def _check_lesions(lesions) -> tuple[str, ...] | None:
    if lesions is None:
        return None
    if isinstance(lesions, str):
        raise ValueError(
            f"lesions must be a sequence of lesion type names, not the string {lesions!r}"
        )
    names = list(lesions)
    unknown = [n for n in names if n not in LESION_TYPES]
    if unknown:
        raise ValueError(
            f"unknown lesion type(s) {', '.join(map(repr, unknown))}; "
            f"valid lesion types: {', '.join(LESION_TYPES)}"
        )
    return tuple(t for t in LESION_TYPES if t in names)


def choose_types(rng: np.random.Generator, p: float) -> tuple[str, ...]:
    if not rng.random() < p:
        return ()
    while True:
        flags = rng.random(len(LESION_TYPES)) < 0.5
        if flags.any():
            return tuple(t for t, f in zip(LESION_TYPES, flags) if f)


_DRAWERS = {
    MICROANEURYSM: draw_microaneurysms,
    HAEMORRHAGE: draw_haemorrhages,
    HARD_EXUDATE: draw_hard_exudates,
    COTTON_WOOL_SPOT: draw_cotton_wool_spots,
}
#: Large fuzzy lesions first, small sharp ones last.
_DRAW_ORDER = (COTTON_WOOL_SPOT, HARD_EXUDATE, HAEMORRHAGE, MICROANEURYSM)
