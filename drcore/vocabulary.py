"""The words drx uses in every layer, each defined once.

Lesion types (order, labels, colours), the model's outputs, the ICDR scale, what a grader can say about a
candidate, the photograph types accepted, the width that pixel settings refer to and the run-time notes of
the slow heatmap methods.

Plain constants and nothing else: the science, the database layer (which imports no other part of drcore,
no torch), the application layer and the pages all import this module.
"""

#: The expert lesion types, in the order every table, figure and model output lists them.
LESION_TYPES: tuple[str, ...] = (
    "microaneurysm",
    "haemorrhage",
    "hard_exudate",
    "cotton_wool_spot",
)

ANY_LESION = "any_lesion"

#: Screening's question: refer (ICDR grade >= 2, or any diabetic macular oedema) or not.
REFERABLE_DR = "referable_dr"

#: Image-level lesion outputs of a drx model, in logit order (every bundled model has them).
OUTPUTS: tuple[str, ...] = (ANY_LESION, *LESION_TYPES)

#: The outputs drx trains today, in logit order: the lesion outputs, then referable DR.
MODEL_OUTPUTS: tuple[str, ...] = (*OUTPUTS, REFERABLE_DR)

#: A model output or lesion type as a heading ("Hard exudates").
LESION_LABELS: dict[str, str] = {
    ANY_LESION: "Any lesion",
    "microaneurysm": "Microaneurysms",
    "haemorrhage": "Haemorrhages",
    "hard_exudate": "Hard exudates",
    "cotton_wool_spot": "Cotton-wool spots",
    REFERABLE_DR: "Referable DR",
}

#: Lesion types a grader can confirm or draw: the expert types, then "other".
ANNOTATION_TYPES: tuple[str, ...] = (*LESION_TYPES, "other")

#: One lesion of a type, in running text ("hard exudate").
LESION_NAMES: dict[str, str] = {
    "microaneurysm": "microaneurysm",
    "haemorrhage": "haemorrhage",
    "hard_exudate": "hard exudate",
    "cotton_wool_spot": "cotton-wool spot",
    "other": "other",
}

#: Colour of a lesion type wherever it is drawn (expert contours, graders' outlines).
LESION_COLOURS: dict[str, str] = {
    "microaneurysm": "#00e5ff",
    "haemorrhage": "#39ff14",
    "hard_exudate": "#f5d000",
    "cotton_wool_spot": "#ff4fd8",
    "other": "#ffffff",
}

#: The ICDR (International Clinical Diabetic Retinopathy) severity scale, grade -> label.
ICDR_LABELS: dict[int, str] = {
    0: "0 · No apparent retinopathy",
    1: "1 · Mild non-proliferative DR",
    2: "2 · Moderate non-proliferative DR",
    3: "3 · Severe non-proliferative DR",
    4: "4 · Proliferative DR",
}
ICDR_GRADES: tuple[int, ...] = tuple(ICDR_LABELS)
#: The lowest ICDR grade that is referable by itself (below it, only macular oedema makes a photograph referable).
REFERABLE_ICDR_GRADE = 2


def is_referable(icdr_grade: int, macular_oedema: int) -> bool:
    """Referable diabetic retinopathy: ICDR grade :data:`REFERABLE_ICDR_GRADE` or more, or any diabetic macular
    oedema (``macular_oedema`` >= 1, e.g. IDRiD's risk of macular edema)."""
    return icdr_grade >= REFERABLE_ICDR_GRADE or macular_oedema >= 1

#: Account roles, least to most privileged: a reviewer may do what a grader may, an admin what a reviewer may.
ROLES: tuple[str, ...] = ("grader", "reviewer", "admin")

#: What a grader said about a candidate.
DECISIONS: tuple[str, ...] = ("confirmed", "rejected", "undecided")

#: Why a candidate is a false positive, -> its words.
REASON_LABELS: dict[str, str] = {
    "vessel": "vessel",
    "optic_disc": "optic disc",
    "artefact": "artefact",
    "reflection": "reflection",
    "other": "other",
}
REJECTION_REASONS: tuple[str, ...] = tuple(REASON_LABELS)

#: File suffixes of the photographs drx reads from folders (lower case).
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
#: The same as the file types of an upload widget.
UPLOAD_TYPES: tuple[str, ...] = tuple(suffix[1:] for suffix in IMAGE_SUFFIXES)

#: DiaretDB1's width: hot-spot smoothing and spacing, and the sizes of synthetic photographs, are given in pixels of
#: a photograph this wide and scaled to the actual width.
REFERENCE_WIDTH = 1500

#: Occlusion windows offered in the app, label -> (patch_size, stride) in model-input pixels.
OCCLUSION_WINDOWS: dict[str, tuple[int, int]] = {
    "64 px, stride 64": (64, 64),
    "32 px, stride 32": (32, 32),
    "32 px, stride 16": (32, 16),
}
#: Seconds per 512 px photograph and output on one CPU thread (bundled small network) of each occlusion window
#: (64, 256 and 961 forward passes).
OCCLUSION_CPU_SECONDS: dict[str, float] = {"64 px, stride 64": 3.0, "32 px, stride 32": 11.0, "32 px, stride 16": 40.0}
#: Seconds per 512 px photograph and output on one CPU thread (bundled small network) of the methods that take
#: long (occlusion at 32 px, stride 16); about ten times more at 768 px.
SLOW_METHOD_CPU_SECONDS: dict[str, float] = {
    "smoothgrad": 1.5,
    "integrated_gradients": 3.2,
    "occlusion": OCCLUSION_CPU_SECONDS["32 px, stride 16"],
}
