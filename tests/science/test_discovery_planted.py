"""The planted biomarker is found: with the bundled drx-planted-rings-v1 (trained on image-level labels
only), discovery over fresh synthetic photographs puts the planted pale rings in a group of their own,
flagged unexplained (the only group flagged), while the red lesions (microaneurysms and haemorrhages
together), hard exudates and cotton-wool spots each come out as a group dominated by them.

The full experiment (300 photographs) is benchmarks/discovery_planted_biomarker.py; this is its short form.
"""

import pytest

from drcore.discovery import ExtractionParameters, GroupingParameters, discover, image_set
from drcore.discovery.planted_figures import planted_figures
from drcore.models import load_model

SPEC = {"kind": "synthetic", "start": 50_000_000, "count": 60, "width": 512, "ring_probability": 0.35}


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    result = discover(image_set(SPEC), load_model("drx-planted-rings-v1"), tmp_path_factory.mktemp("planted"),
                      ExtractionParameters(), GroupingParameters(n_resamples=300), image_set_spec=SPEC,
                      progress=False)
    return planted_figures(result)


def test_planted_rings_form_one_unexplained_group(figures):
    assert figures.ring_share >= 0.8
    assert figures.ring_coverage >= 0.75
    assert figures.groups_on_rings == 1
    assert figures.ring_group_unexplained is True
    assert figures.unexplained_groups == [figures.ring_group]


def test_known_lesions_form_groups_dominated_by_their_type(figures):
    # Microaneurysms and haemorrhages are both red lesions (as DiaretDB1 groups them): one group may hold both.
    assert figures.red_lesion_group is not None, "no group dominated by red lesions"
    group, size, purity = figures.red_lesion_group
    assert size >= 10 and purity >= 0.75, ("red lesions", group, size, purity)
    least_purity = {"hard_exudate": 0.8, "cotton_wool_spot": 0.8}
    for lesion, least in least_purity.items():
        assert figures.type_groups[lesion] is not None, f"no group dominated by {lesion}"
        group, size, purity = figures.type_groups[lesion]
        assert size >= 10 and purity >= least, (lesion, group, size, purity)
