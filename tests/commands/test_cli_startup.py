"""The command line starts without the heavy libraries: ``drx --help`` and ``drx models`` load no torch,
scikit-learn or Streamlit (each subcommand imports what it needs itself)."""

import os
import subprocess
import sys

HEAVY = ("torch", "sklearn", "streamlit")


def _loaded_after(code: str) -> list[str]:
    probe = code + f"\nimport sys\nprint(sorted(name for name in {HEAVY!r} if name in sys.modules))\n"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(result.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import drx.cli") == []


def test_help_and_models_load_no_heavy_library(capsys):
    assert _loaded_after("import drx.cli\ndrx.cli.build_parser('')") == []
    assert _loaded_after("from drx.cli import main\nmain(['models'])") == []


def test_models_lists_every_bundled_model_from_its_card(capsys):
    from drcore.models import DEFAULT_MODEL, bundled_models, load_model
    from drx.cli import main

    assert main(["models"]) == 0
    printed = capsys.readouterr().out
    for name in bundled_models():
        card = load_model(name).card  # the card as a full load reads it, sha256 checked against the weights
        assert f"{name}{' (default)' if name == DEFAULT_MODEL else ''}: {card.architecture}, input " \
               f"{card.input_size} px" in printed
        assert f"sha256 {card.sha256}" in printed


def test_only_the_chosen_subcommand_is_built_in_full():
    from drx.cli import COMMANDS, build_parser

    for name in set(COMMANDS) - {"db"}:  # drx db parses its own arguments
        choices = next(a for a in build_parser(name)._actions if a.dest == "command").choices
        assert choices[name].get_default("handler") is not None, f"drx {name} runs nothing"
        assert all(parser.get_default("handler") is None for other, parser in choices.items() if other != name)


def test_a_reader_that_has_left_gets_no_traceback():
    """``drx models | head -1`` once ``head`` has gone: exit status 1 and nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE
    try:
        result = subprocess.run([sys.executable, "-m", "drx.cli", "models"], stdout=write_end,
                                stderr=subprocess.PIPE, text=True)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")
