"""What the default model's weak labels can teach: for each pair of lesion types, how many training
photographs say "this one present, that one absent".

A multiple-instance detector learns to tell lesion type A from type B only from photographs where A is known
present and B known absent (and the reverse). The labels are those of the default preset's sources, as
``drcore.weak_labels`` derives them (IDRiD grading: ICDR and DME grades; IDRiD segmentation: lesion presence per
photograph, no mask). Reads the label files only, not the photographs: about a second.

    python benchmarks/weak_label_contrasts.py
"""

import argparse

import numpy as np

from drcore.datasets import dataset_root, read
from drcore.vocabulary import LESION_TYPES, MODEL_OUTPUTS
from drcore.weak_labels import grade_labels, presence_labels


def label_rows() -> dict[str, np.ndarray]:
    """Weak-label rows (photographs x ``MODEL_OUTPUTS``; 1, 0 or NaN) of each source of the default preset."""
    grading = read("idrid_grading", dataset_root("idrid_grading"))
    segmentation = read("idrid_segmentation", dataset_root("idrid_segmentation"))
    graded = [grade_labels(int(s.labels["icdr_grade"]), int(s.labels["macular_edema_risk"])) for s in grading]
    present = [presence_labels({name: bool(s.labels[name]) for name in LESION_TYPES}) for s in segmentation]
    return {"IDRiD grading": np.stack(graded), "IDRiD segmentation": np.stack(present)}


def contrasts(rows: np.ndarray) -> np.ndarray:
    """``(types, types)`` counts: photographs with type ``i`` known present and type ``j`` known absent."""
    columns = [MODEL_OUTPUTS.index(name) for name in LESION_TYPES]
    labels = rows[:, columns]
    return np.array([[int(np.sum((labels[:, i] == 1) & (labels[:, j] == 0))) for j in range(len(columns))]
                     for i in range(len(columns))])


def markdown(counts: np.ndarray, title: str, total: int) -> str:
    header = "| present \\ absent | " + " | ".join(LESION_TYPES) + " |"
    lines = [f"**{title}** ({total} photographs)", "", header, "|---" * (len(LESION_TYPES) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join("-" if i == j else str(counts[i, j]) for j in range(len(LESION_TYPES)))
              + " |" for i, name in enumerate(LESION_TYPES)]
    return "\n".join(lines)


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    sources = label_rows()
    for title, rows in [*sources.items(), ("both", np.concatenate(list(sources.values())))]:
        print(markdown(contrasts(rows), title, len(rows)), end="\n\n")


if __name__ == "__main__":
    main()
