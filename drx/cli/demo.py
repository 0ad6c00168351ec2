"""``drx demo``: write the synthetic demo photographs to a folder."""

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx demo``."""
    demo = commands.add_parser("demo", help=summary, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    demo.add_argument("--out", default="demo-images", help="folder to write into")
    demo.add_argument("--count", type=int, default=6, help="how many photographs")
    demo.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Write the photographs and print their paths."""
    from drcore.synthetic import write_demo_images

    for path in write_demo_images(Path(arguments.out), count=arguments.count):
        print(path)
    return 0
