"""``drx models``: the registered architectures and the bundled models, read from their cards (no torch)."""

import argparse


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx models``."""
    commands.add_parser("models", help=summary).set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Print the architectures, then each bundled model's card in brief."""
    from drcore.models import ARCHITECTURES, DEFAULT_MODEL, bundled_models, read_card

    print("architectures: " + ", ".join(sorted(ARCHITECTURES)))
    for name, path in bundled_models().items():
        card = read_card(path)
        default = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{default}: {card.architecture}, input {card.input_size} px, outputs {', '.join(card.outputs)}")
        print(f"  sha256 {card.sha256}")
        print(f"  {card.limitations}")
    return 0
