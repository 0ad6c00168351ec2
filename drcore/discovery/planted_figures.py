"""The figures of the planted-biomarker experiment (issue 8) from a finished discovery run.

- the **ring group**: the group with the largest share of hot spots on planted rings; its share
  (precision), the share of all planted rings it covers (:func:`planted_coverage`) and its flag;
- per lesion type, the **purity** of the groups it dominates: for the largest group whose dominant type it
  is, the share of that group's hot spots inside that type's mask;
- the **red-lesion group**: microaneurysms and haemorrhages counted as one type (both red lesions, as
  DiaretDB1 and the literature group them): the largest group with at least ``DOMINANT_SHARE`` of its hot
  spots inside a microaneurysm or haemorrhage mask, and that share (its purity);
- the groups flagged unexplained (ideally the ring group alone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from drcore.discovery.run import DiscoveryResult
from drcore.discovery.statistics import DOMINANT_SHARE, planted_coverage
from drcore.vocabulary import LESION_TYPES

__all__ = ["RED_LESIONS", "PlantedFigures", "planted_figures"]

#: The lesion types counted together for the red-lesion group.
RED_LESIONS: tuple[str, ...] = ("microaneurysm", "haemorrhage")


@dataclass
class PlantedFigures:
    """Ring group and its figures; per lesion type (group, size, purity) of its largest dominated group or None;
    the same for the red-lesion group."""

    ring_group: int
    ring_share: float
    ring_coverage: float
    ring_group_size: int
    ring_group_unexplained: bool | None
    ring_group_auc: tuple[float, float, float]
    groups_on_rings: int
    unexplained_groups: list[int] = field(default_factory=list)
    type_groups: dict[str, tuple[int, int, float] | None] = field(default_factory=dict)
    red_lesion_group: tuple[int, int, float] | None = None

    def lines(self) -> list[str]:
        """Human-readable summary."""
        low, high = self.ring_group_auc[1:]
        out = [f"ring group {self.ring_group}: {self.ring_group_size} hot spots, {self.ring_share:.1%} on planted "
               f"rings, covers {self.ring_coverage:.1%} of the rings, AUC {self.ring_group_auc[0]:.2f} "
               f"[{low:.2f}, {high:.2f}], unexplained: {self.ring_group_unexplained}; groups with a majority "
               f"of hot spots on rings: {self.groups_on_rings}; groups flagged unexplained: "
               f"{', '.join(map(str, self.unexplained_groups)) or 'none'}"]
        for lesion, found in self.type_groups.items():
            out.append(f"{lesion}: " + ("no group dominated by it" if found is None else
                                        f"group {found[0]} ({found[1]} hot spots), purity {found[2]:.1%}"))
        red = self.red_lesion_group
        out.append("red lesions (microaneurysm or haemorrhage): " + (
            "no group dominated by them" if red is None else
            f"group {red[0]} ({red[1]} hot spots), purity {red[2]:.1%}"))
        return out


def _red_lesion_group(result: DiscoveryResult) -> tuple[int, int, float] | None:
    """(group, size, share inside a red-lesion mask) of the largest group that share dominates, or None."""
    spots = result.hot_spots.spots
    dominated = []
    for item in result.statistics:
        inside = spots.iloc[result.members(item.group)][[f"in_{lesion}" for lesion in RED_LESIONS]]
        inside = inside.max(axis=1, skipna=False).to_numpy()
        inside = inside[~np.isnan(inside)]
        if inside.size and inside.mean() >= DOMINANT_SHARE:
            dominated.append((item.group, item.size, float(inside.mean())))
    return max(dominated, key=lambda found: found[1], default=None)


def planted_figures(result: DiscoveryResult) -> PlantedFigures:
    """Figures of a run over synthetic photographs with planted rings (NaN shares are ignored)."""
    statistics = [item for item in result.statistics if not math.isnan(item.planted_share)]
    if not statistics:
        raise ValueError("this run has no planted truth (synthetic photographs with ring_probability > 0)")
    ring = max(statistics, key=lambda item: item.planted_share)
    type_groups: dict[str, tuple[int, int, float] | None] = {}
    for lesion in LESION_TYPES:
        dominated = [item for item in result.statistics if item.dominant_type == lesion]
        best = max(dominated, key=lambda item: item.size, default=None)
        type_groups[lesion] = None if best is None else (best.group, best.size, best.lesion_shares[lesion])
    return PlantedFigures(
        ring_group=ring.group, ring_share=ring.planted_share,
        ring_coverage=planted_coverage(result.hot_spots, result.members(ring.group)), ring_group_size=ring.size,
        ring_group_unexplained=ring.unexplained, ring_group_auc=(ring.auc, ring.auc_low, ring.auc_high),
        groups_on_rings=sum(item.planted_share > 0.5 for item in statistics),
        unexplained_groups=[item.group for item in result.statistics if item.unexplained], type_groups=type_groups,
        red_lesion_group=_red_lesion_group(result))
