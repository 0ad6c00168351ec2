"""``drx mine``: heatmaps, scores and hot spots of a whole archive, on one machine or a Ray cluster."""

import argparse
import json
import sys
from pathlib import Path

from drcore.device import default_device
from drcore.mining import MiningSettings, archive_files

DESCRIPTION = """\
Runs a model and a heatmap method over every file of a folder tree (or every path in a CSV column
named path, image or file) and writes into OUT: images.parquet (one row per photograph: sha256, size,
score_<output> probabilities, heatmap key, the prepared frame's geometry and the optic disc's centre and
radius), hot_spots.parquet (one row per hot spot, original pixels; none on the optic disc where the model
card leaves it out, as the Review page does), heatmaps/ (content-addressed store of float16 maps, keyed by
image sha256, model sha256, method and parameters), errors.csv (files that are not usable fundus
photographs, with the reason) and manifest.json (settings, counts, timings). A rerun skips the files
already done, so a killed run resumes and a finished one adds nothing.

Engines: local (worker processes decode while the model runs) or ray (Ray Data: decoding tasks and
an actor pool with one model per actor; --address HEAD:6379 joins a cluster started with
`ray start --head`, none starts a local instance). Both write the same files with the same values.
"""


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx mine``."""
    mine = commands.add_parser("mine", help=summary, description=DESCRIPTION, formatter_class=_Formatter)
    mine.add_argument("source", help="folder of photographs (searched recursively) or CSV listing them")
    mine.add_argument("--out", required=True, help="output folder (reused by a rerun: finished files are skipped)")
    mine.add_argument("--model", default=None, help="bundled model name or checkpoint path (default: the bundled default)")
    mine.add_argument("--method", default=None,
                      help="heatmap method (default: the model card's for the output, on the map the card reads "
                      "for it, as drx heatmap and the Review page; a method named here reads the output's own map)")
    mine.add_argument("--output", default=None, help="model output to explain (default: the first, any_lesion)")
    mine.add_argument("--batch-size", type=int, default=None,
                      help="photographs per model batch (default: by the model's input size, 8 at 512 px and "
                      "1 at 1280 px on CPUs, four times that on a GPU)")
    mine.add_argument("--precision", choices=["auto", "float32", "bfloat16", "float16"], default="auto",
                      help="auto: bfloat16 autocast on CUDA (checked against float32 on the first batch), "
                      "float32 elsewhere")
    mine.add_argument("--smoothing", type=float, default=10.0, help="hot spots: Gaussian sigma, px at 1500 px width")
    mine.add_argument("--nms-radius", type=float, default=10.0, help="hot spots: suppression radius, px at 1500 px width")
    mine.add_argument("--max-spots", type=int, default=100, help="hot spots kept per photograph")
    mine.add_argument("--skip-optic-disc", action=argparse.BooleanOptionalAction, default=None,
                      help="hot spots: leave out the optic disc, or keep it with --no-skip-optic-disc (default: "
                      "the model card's heatmap.skip_optic_disc, no where the card is silent)")
    mine.add_argument("--engine", choices=["local", "ray"], default="local", help="where the work runs")
    mine.add_argument("--workers", type=int, default=None, help="local engine: decoding processes (default: half the cores)")
    mine.add_argument("--threads", type=int, default=None, help="local engine: model threads (default: the other cores)")
    mine.add_argument("--address", default=None, help="ray engine: cluster address (default: a local instance)")
    mine.add_argument("--actors", type=int, default=1, help="ray engine: model actors (one model each)")
    mine.add_argument("--cpus-per-actor", type=float, default=1.0, help="ray engine: CPUs reserved per actor")
    mine.add_argument("--gpus-per-actor", type=float, default=0.0, help="ray engine: GPUs per actor (0: CPU)")
    mine.set_defaults(handler=run)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Help with each option's default, and the description laid out as written."""


def _on_cuda(arguments: argparse.Namespace) -> bool:
    return arguments.gpus_per_actor > 0 if arguments.engine == "ray" else default_device().type == "cuda"


def _precision(arguments: argparse.Namespace) -> str:
    if arguments.precision != "auto":
        return arguments.precision
    return "bfloat16" if _on_cuda(arguments) else "float32"


def run(arguments: argparse.Namespace) -> int:
    """Handle ``drx mine``."""
    files = archive_files(arguments.source)
    if not files:
        print(f"drx mine: no files in {arguments.source}", file=sys.stderr)
        return 1
    settings = MiningSettings(model=arguments.model, method=arguments.method, output=arguments.output,
                              smoothing_px=arguments.smoothing, nms_radius_px=arguments.nms_radius,
                              max_spots=arguments.max_spots, skip_optic_disc=arguments.skip_optic_disc,
                              batch_size=arguments.batch_size,
                              precision=_precision(arguments))
    out = Path(arguments.out)
    if arguments.engine == "ray":
        from drcore.mining.ray_engine import mine_ray

        manifest = mine_ray(files, out, settings, address=arguments.address, actors=arguments.actors,
                            cpus_per_actor=arguments.cpus_per_actor, gpus_per_actor=arguments.gpus_per_actor)
    else:
        from drcore.mining.local import mine_local

        manifest = mine_local(files, out, settings, workers=arguments.workers, threads=arguments.threads)
    run_ = manifest["runs"][-1]
    print(f"mined {run_['processed']} files ({run_['skipped']} already done) at {run_['images_per_s']} images/s; "
          f"{manifest['images']} photographs, {manifest['hot_spots']} hot spots, {manifest['errors']} errors "
          f"(see {out / 'errors.csv'})")
    print("time split (s): " + json.dumps(run_["timings_s"]))
    return 0
