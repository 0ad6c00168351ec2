"""Seeded synthetic fundus photographs with per-type lesion masks.

``generate_fundus(seed)`` draws a colour fundus photograph, the pixel mask of
every lesion type it drew and the image-level labels those masks imply. It is
used to train the bundled default model with image-level labels only, by the
tests (pixels with a known truth) and for the app's demo images.

Everything is derived from ``np.random.default_rng(seed)``: the same arguments
give byte-identical output. The generator spawns independent streams for the
background, the choice of lesion types, each lesion type and the sensor
noise, so the same seed with a different ``lesions=`` list keeps the same
background (and the same lesions of the types both lists contain, up to
placement conflicts): ``generate_fundus(s, lesions=[])`` is the healthy
counterpart of ``generate_fundus(s, lesions=["haemorrhage"])``.

Geometry follows DiaretDB1 (1500 x 1152 px): every size below is given at
1500 px width and scales with ``width``; ``height`` defaults to
``round(0.768 * width)``, so the circular field of view (radius ~0.47 *
width) is cut at the top and bottom. Black outside the field of view.

Backgrounds (``BACKGROUNDS``):

``"procedural"``
    Drawn from scratch: an orange-red disc with smooth low-frequency
    illumination, vignetting, a fine choroidal texture, a darker macula at the
    centre, a bright yellowish optic disc (radius 0.055-0.068 * width, about
    0.3 * width from the macula) with a paler cup, on the left or right, a
    tapering, branching vessel tree from the disc (veins darker and wider
    than arteries, arteries with a central light reflex, temporal arcades
    bending around the macula, no vessel in the fovea or across the
    horizontal raphe), mild sensor noise. Colours, positions and the eye
    side vary per seed.
``"retina"``
    The CC0 photograph ``skimage.data.retina()`` (bundled with scikit-image,
    1411 x 1411 px, a healthy left eye) scaled so that its field of view has
    radius 0.47 * width like the procedural one, centred, cropped / padded
    to ``height`` x ``width``, with a random horizontal flip, rotation
    (+/- 12 degrees) and brightness / colour jitter per seed; its field of
    view is where the photo is not black. It is a real photograph: its labels
    only describe the lesions drawn on top of it (it shows a small
    peripapillary atrophy crescent, which is not a labelled lesion).

Lesions (sizes at 1500 px width; all within 0.86 * the field-of-view
radius of its centre, never within 1.3 disc radii of the optic disc; separate
lesions do not overlap; microaneurysms and exudates avoid large vessels).
Colours are relative to the local background (median colour around the
lesion) and alpha-blended, sharp lesions with a 1-2 px soft edge:

``microaneurysm``
    3-15 small dark-red round dots, radius 2-6 px (mostly small), strong
    contrast so that they stay visible at 512 px (the pixel under a sub-pixel
    dot is always darkened and masked).
``haemorrhage``
    1-6 dark-red lesions: irregular, mottled round blots (radius 8-30 px)
    or flame shapes (elongated, striated, one end narrower; semi-axes
    18-40 x 7-13 px, random direction). Their colour range overlaps that of
    the veins, so shape, not colour, tells them from vessels.
``hard_exudate``
    1-4 clusters of 3-12 bright yellow, sharp-edged, irregular blobs
    (radius 3-15 px, mostly small), a third of them arranged in a circinate
    ring (radius 35-90 px).
``cotton_wool_spot``
    1-4 pale whitish-yellow fuzzy blobs with a Gaussian fall-off, half-maximum
    radius 20-60 px, oval and mottled.

Planted pattern (``PLANTED_PATTERN``, off by default; issue 8, lesion discovery):

``pale_ring``
    2-5 small pale bluish-white rings (outer radius 18-30 px, band 6-9 px
    wide, darker centre) that belong to none of the four lesion types but make
    the image positive for ``any_lesion``. They are drawn after every lesion,
    from their own random stream, clear of lesions and large vessels, so
    switching them on keeps the image otherwise identical. ``ring_mask`` holds
    the band pixels; ``rings`` the (row, col, outer radius) of every ring.

The mask of a type holds the pixels where one of its lesions visibly changes
the image: inside the lesion's edge for sharp lesions, where the lesion's
shape function is above one half for cotton-wool spots (whose faint fringe
reaches further). ``labels[t]`` is 1 exactly when ``masks[t]`` is non-empty;
``labels["any_lesion"]`` is their OR, or-ed with the presence of planted
rings. Masks lie inside ``fov``.

Modules, one job each: ``assembly`` (``generate_fundus``: checks, random streams, the order of drawing),
``background`` (procedural and retina), ``vessels`` (the procedural vessel tree), ``microaneurysms``,
``haemorrhages``, ``hard_exudates``, ``cotton_wool_spots`` and ``pale_rings`` (one lesion type each),
``placement`` (where a lesion goes, how it is blended), ``scene`` (the shared canvas and geometry) and
``demo`` (the app's demo photographs). It may import numpy, scipy, scikit-image and Pillow, and
``drcore.lesions`` / ``drcore.vocabulary``; no torch, Streamlit, database or ``drx``.
"""

from drcore.synthetic.assembly import BACKGROUNDS, DEFAULT_ASPECT, PLANTED_PATTERN, SyntheticFundus, generate_fundus
from drcore.synthetic.demo import demo_image_name, write_demo_images
from drcore.vocabulary import REFERENCE_WIDTH

__all__ = [
    "BACKGROUNDS",
    "DEFAULT_ASPECT",
    "PLANTED_PATTERN",
    "REFERENCE_WIDTH",
    "SyntheticFundus",
    "demo_image_name",
    "generate_fundus",
    "write_demo_images",
]
