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
    cpm = {"logit_map": {"microaneurysm": 0.002, "haemorrhage": 0.04},
           "logit_map_sensitivity": {"microaneurysm": 0.051, "haemorrhage": 0.067}}
    statement = study._per_type_statement(cpm, "logit_map", 10.0, 28, 1280)
    assert statement.startswith("DiaretDB1 train split (28 photographs) at 1280 px, rule declared before any test")
    assert "best CPM at sigma 10 px among logit_map / logit_map_sensitivity (ties to the earlier" in statement
    assert statement.endswith("train CPM microaneurysm 0.002 / 0.051, haemorrhage 0.040 / 0.067)")
