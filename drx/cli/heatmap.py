"""``drx heatmap``: heatmaps of photographs as ``.npy`` arrays with ``.json`` records."""

import argparse
import sys
from pathlib import Path

DESCRIPTION = (
    "For every photograph writes OUT/<stem>.npy (float32, the photograph's height x width, raw values, 0 outside "
    "the field of view) and OUT/<stem>.json (image, model and sha256, method, output, map_output: the output whose map "
    "was read, which the card may choose for an output, e.g. the any-lesion map for a lesion type; the model's probability "
    "for every output and, where the model has one, referable_dr: probability, the card's threshold and the "
    "decision 'refer' / 'no referable DR')."
)


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx heatmap``."""
    heatmap = commands.add_parser("heatmap", help=summary, description=DESCRIPTION,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    heatmap.add_argument("inputs", nargs="+", metavar="IMAGE_OR_FOLDER", help="photographs, or folders searched recursively")
    heatmap.add_argument("--out", required=True, help="folder to write into")
    heatmap.add_argument("--model", default=None, help="bundled model name or checkpoint path (default: the bundled default)")
    heatmap.add_argument("--method", default=None,
                         help="heatmap method, applied to --output's own map (default: the model card's method and map "
                         "for --output, else sensitivity)")
    heatmap.add_argument("--output", default=None,
                         help="model output to explain (default: the card's, else referable_dr if the model has it, "
                         "else the first)")
    heatmap.add_argument("--batch-size", type=int, default=None,
                         help="photographs per model batch (default: by the model's input size, 8 at 512 px and 1 at "
                         "1280 px on CPUs)")
    heatmap.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Write the heatmaps; 1 when a photograph was skipped."""
    from drcore.device import default_device
    from drcore.heatmap_export import collect_images, export_heatmaps
    from drcore.models import load_model

    loaded = load_model(arguments.model)
    loaded.model.to(default_device())
    images = collect_images(arguments.inputs)
    if not images:
        print("drx heatmap: no photographs found (JPEG, PNG or TIFF)", file=sys.stderr)
        return 1
    failures = export_heatmaps(
        images, Path(arguments.out), loaded, method=arguments.method, output=arguments.output,
        batch_size=arguments.batch_size,
    )
    for failure in failures:
        print(f"drx heatmap: skipped {failure.image}: {failure.reason}", file=sys.stderr)
    print(f"wrote {len(images) - len(failures)} heatmaps to {arguments.out}")
    return 1 if failures else 0
