"""benchmarks/default_model_study.py: the per-lesion-type choice of heatmap method on hand-made train CPM tables."""

import importlib.util
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "default_model_study.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("default_model_study", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_type_where_another_method_wins_gets_it(study) -> None:
    cpm = {"a": {"microaneurysm": 0.002, "hard_exudate": 0.417},
           "b": {"microaneurysm": 0.051, "hard_exudate": 0.237},
           "c": {"microaneurysm": 0.027, "hard_exudate": 0.141}}
    assert study.per_type_methods(cpm, "a") == {"microaneurysm": "b"}


def test_a_tie_with_the_single_method_keeps_it_even_when_it_comes_later(study) -> None:
    cpm = {"a": {"cotton_wool_spot": 0.024, "haemorrhage": 0.04, "microaneurysm": 0.05},
           "b": {"cotton_wool_spot": 0.01, "haemorrhage": 0.076, "microaneurysm": 0.01},
           "c": {"cotton_wool_spot": 0.024, "haemorrhage": 0.076, "microaneurysm": 0.02}}
    assert study.candidates(cpm, "c") == ["c", "a", "b"]
    assert study.per_type_methods(cpm, "c") == {"microaneurysm": "a"}


def test_a_tie_between_other_methods_goes_to_the_earlier_in_grid_order(study) -> None:
    cpm = {"a": {"haemorrhage": 0.04}, "b": {"haemorrhage": 0.076}, "c": {"haemorrhage": 0.076}}
    assert study.per_type_methods(cpm, "a") == {"haemorrhage": "b"}
    assert study.per_type_methods(cpm, "c") == {}


def test_an_undefined_cpm_counts_as_zero(study) -> None:
    cpm = {"a": {"microaneurysm": None}, "b": {"microaneurysm": 0.0}, "c": {"microaneurysm": 0.003}}
    assert study.per_type_methods(cpm, "b") == {"microaneurysm": "c"}
    assert study.per_type_methods({"a": cpm["a"], "b": cpm["b"]}, "b") == {}


def test_the_card_statement_lists_the_rule_and_every_train_cpm_in_tie_order(study) -> None:
    cpm = {"own": {"logit_map": {"microaneurysm": 0.002, "haemorrhage": 0.04},
                   "logit_map_sensitivity": {"microaneurysm": 0.051, "haemorrhage": 0.067}},
           "any_lesion": {"logit_map": {"microaneurysm": 0.0, "haemorrhage": 0.05},
                          "logit_map_sensitivity": {"microaneurysm": 0.066, "haemorrhage": 0.079}}}
    statement = study._per_type_statement(cpm, "logit_map", 10.0, 28, 1280)
    assert statement.startswith("DiaretDB1 train split (28 photographs) at 1280 px, rule declared before any test")
    assert ("best CPM at sigma 10 px among logit_map / logit_map_sensitivity / any_lesion logit_map / any_lesion "
            "logit_map_sensitivity (the type's own output's map unless an output is named; ties to the earlier"
            ) in statement
    assert statement.endswith("train CPM microaneurysm 0.002 / 0.051 / 0.000 / 0.066, "
                              "haemorrhage 0.040 / 0.067 / 0.050 / 0.079)")


# --- a reading per lesion type: the own output's map or another output's (Quellec et al.'s protocol) ------------

def test_a_type_read_best_on_another_outputs_map_gets_that_output(study) -> None:
    cpm = {"own": {"a": {"microaneurysm": 0.051, "hard_exudate": 0.5}, "b": {"microaneurysm": 0.0, "hard_exudate": 0.6}},
           "any_lesion": {"a": {"microaneurysm": 0.066, "hard_exudate": 0.1}, "b": {"microaneurysm": 0.01,
                                                                                   "hard_exudate": 0.2}},
           "referable_dr": {"a": {"microaneurysm": 0.0, "hard_exudate": 0.0}, "b": {"microaneurysm": 0.0,
                                                                                   "hard_exudate": 0.61}}}
    assert study.per_type_readings(cpm, "a") == {"microaneurysm": ("any_lesion", "a"),
                                                 "hard_exudate": ("referable_dr", "b")}
    assert study.reading_order(cpm, "b")[:3] == [("own", "b"), ("own", "a"), ("any_lesion", "b")]


def test_a_tie_goes_to_the_own_output_then_the_sources_in_order(study) -> None:
    cpm = {"own": {"a": {"haemorrhage": 0.04, "cotton_wool_spot": 0.0}, "b": {"haemorrhage": 0.07,
                                                                              "cotton_wool_spot": None}},
           "any_lesion": {"a": {"haemorrhage": 0.07, "cotton_wool_spot": 0.08}, "b": {"haemorrhage": 0.0,
                                                                                      "cotton_wool_spot": 0.0}},
           "referable_dr": {"a": {"haemorrhage": 0.0, "cotton_wool_spot": 0.08}, "b": {"haemorrhage": 0.07,
                                                                                       "cotton_wool_spot": 0.0}}}
    assert study.per_type_readings(cpm, "a") == {"haemorrhage": ("own", "b"), "cotton_wool_spot": ("any_lesion", "a")}
    nothing = {"own": {"a": {"microaneurysm": None}}, "any_lesion": {"a": {"microaneurysm": 0.0}}}
    assert study.per_type_readings(nothing, "a") == {"microaneurysm": ("own", "a")}


def test_the_chosen_reading_of_a_card_heatmap(study) -> None:
    chosen = {"method": "logit_map", "methods": {"microaneurysm": "logit_map_sensitivity"},
              "map_outputs": {"microaneurysm": "any_lesion", "cotton_wool_spot": "any_lesion"}}
    assert study._chosen_reading(chosen, "microaneurysm") == ("any_lesion", "logit_map_sensitivity")
    assert study._chosen_reading(chosen, "cotton_wool_spot") == ("any_lesion", "logit_map")
    assert study._chosen_reading(chosen, "haemorrhage") == ("own", "logit_map")
    assert study._chosen_reading({"method": "logit_map"}, "haemorrhage") == ("own", "logit_map")


def test_the_choice_statement_says_whether_the_method_was_fixed(study) -> None:
    assert study._choice_statement(28, 1280, 4, (10.0,), "logit_map") == (
        "DiaretDB1 train split (28 photographs) at 1280 px: the smoothing with the best mean CPM over the four "
        "lesion types of logit_map (fixed) among 10 px")
    assert study._choice_statement(28, 768, 2, (5.0, 10.0, 20.0), None) == (
        "DiaretDB1 train split (28 photographs) at 768 px: best mean CPM over the four lesion types among 6 "
        "(method, smoothing) pairs")


# --- the optic disc in or out of the hot spots -------------------------------------------------------------------

def test_the_disc_is_left_out_only_when_the_mean_cpm_rises_by_the_stated_gain(study) -> None:
    kept = {"microaneurysm": 0.066, "haemorrhage": 0.079, "hard_exudate": 0.532, "cotton_wool_spot": 0.083}
    left_out = {"microaneurysm": 0.065, "haemorrhage": 0.080, "hard_exudate": 0.614, "cotton_wool_spot": 0.083}
    rule = study.disc_rule(kept, left_out)
    assert rule["mean_kept"] == pytest.approx(0.760 / 4) and rule["mean_left_out"] == pytest.approx(0.842 / 4)
    assert rule["gain"] == pytest.approx(0.0205) and rule["adopted"] is True
    # a mean gain of exactly DISC_GAIN (0.02 on one of two types) is adopted, half a thousandth less is not
    assert study.disc_rule({"a": 0.1, "b": None}, {"a": 0.12, "b": 0.0})["adopted"] is True
    assert study.disc_rule({"a": 0.1, "b": None}, {"a": 0.119, "b": 0.0})["adopted"] is False
    assert study.disc_rule(left_out, kept)["adopted"] is False


def _estimate(value: float) -> dict:
    return {"value": value, "low": value - 0.01, "high": value + 0.01, "note": ""}


def test_the_card_states_the_disc_rule_and_the_cpm_with_the_disc_left_out(study) -> None:
    train = {"images": 28, "mean_kept": 0.19, "mean_left_out": 0.21,
             "types": {"microaneurysm": {"cpm_disc_kept": _estimate(0.066), "cpm_disc_left_out": _estimate(0.065)},
                       "hard_exudate": {"cpm_disc_kept": _estimate(0.532), "cpm_disc_left_out": {"value": None}}}}
    assert study._disc_statement(train) == (
        "DiaretDB1 train split (28 photographs), rule declared before any test figure: the optic disc "
        "(drcore.optic_disc) is left out of the hot spots if the mean CPM over the four lesion types, each by its "
        "reading, rises by at least 0.01; train CPM kept / left out: microaneurysm 0.066 / 0.065, hard exudate "
        "0.532 / 0.000; mean 0.190 / 0.210")
    figures = {"any_lesion_image_auc": _estimate(0.823),
               **{name: {"cpm": _estimate(0.001), "pixel_auc": _estimate(0.9)} for name in
                  ("microaneurysm", "haemorrhage", "hard_exudate", "cotton_wool_spot")},
               "per_output_methods": {"hard_exudate": {"map_output": "any_lesion", "method": "local_map",
                                                       "cpm": _estimate(0.52)}}}
    before = study._limitations(figures, "logit_map")
    assert "microaneurysm 0.001 (logit_map), haemorrhage 0.001 (logit_map), hard exudate 0.520 (any-lesion map, " \
           "local_map)," in before
    figures["optic_disc_left_out"] = {"microaneurysm": {"cpm": _estimate(0.05)}, "hard_exudate": {"cpm": _estimate(0.6)}}
    after = study._limitations(figures, "logit_map")
    assert "microaneurysm 0.050 (logit_map, optic disc left out), haemorrhage 0.001 (logit_map), hard exudate 0.600 " \
           "(any-lesion map, local_map, optic disc left out)," in after
