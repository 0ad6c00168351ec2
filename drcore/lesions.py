"""Lesion types and model outputs shared by every part of drx."""

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

LESION_LABELS: dict[str, str] = {
    ANY_LESION: "Any lesion",
    "microaneurysm": "Microaneurysms",
    "haemorrhage": "Haemorrhages",
    "hard_exudate": "Hard exudates",
    "cotton_wool_spot": "Cotton-wool spots",
    REFERABLE_DR: "Referable DR",
}
