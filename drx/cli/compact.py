"""``drx compact``: store a checkpoint as int8 deltas from its pretrained weights (about a quarter of the size)."""

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx compact``."""
    parser = commands.add_parser("compact", help=summary, description=summary)
    parser.add_argument("source", help="checkpoint to compact: weights file, card or their common stem")
    parser.add_argument("out", help="stem of the compact checkpoint: writes OUT.safetensors and OUT.json")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Write the compact checkpoint; print both sizes and the largest relative tensor error."""
    from drcore.models.card import WEIGHTS_SUFFIX, beside, checkpoint_files
    from drcore.models.checkpoint import compact_checkpoint

    source, _ = checkpoint_files(arguments.source)
    before = source.stat().st_size  # read first: OUT may be the source's own stem
    card, worst = compact_checkpoint(source, Path(arguments.out))
    after = beside(Path(arguments.out), WEIGHTS_SUFFIX).stat().st_size
    print(f"wrote {arguments.out}{WEIGHTS_SUFFIX}: {after / 2**20:.2f} MiB (was {before / 2**20:.2f} MiB), "
          f"largest relative tensor error {worst:.1e}, sha256 {card.sha256[:12]}…")
    return 0
