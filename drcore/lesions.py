"""Lesion types and model outputs shared by every part of drx."""

LESION_TYPES: tuple[str, ...] = (
    "microaneurysm",
    "haemorrhage",
    "hard_exudate",
    "cotton_wool_spot",
)

ANY_LESION = "any_lesion"

#: Image-level outputs of a drx model, in logit order.
OUTPUTS: tuple[str, ...] = (ANY_LESION, *LESION_TYPES)

LESION_LABELS: dict[str, str] = {
    ANY_LESION: "Any lesion",
    "microaneurysm": "Microaneurysms",
    "haemorrhage": "Haemorrhages",
    "hard_exudate": "Hard exudates",
    "cotton_wool_spot": "Cotton-wool spots",
}
