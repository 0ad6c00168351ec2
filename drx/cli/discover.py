"""``drx discover``: mine the hot spots of an image set and write a report folder."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = (
    "Computes the heatmap of one model output for every photograph of an image set, finds its hot spots, "
    "describes each by the model's activations at that place plus strength, area, colour and distance to the "
    "optic disc, groups them (k-means with k chosen by silhouette, or HDBSCAN), lays them out in 2-D (PCA, "
    "t-SNE) and writes OUT/hot_spots.parquet, OUT/groups.csv, OUT/groups.json and a self-contained "
    "OUT/report.html. The run folder (default OUT/run) keeps heatmaps and hot spots: run the same command "
    "again after an interruption and it continues where it stopped. k-means is fitted on the stronger half of "
    "the hot spots; the others join the nearest group. A group is flagged unexplained when the lower end of its "
    "AUC interval for referable DR is at least 0.6, its median strength is at least the run's median and fewer "
    "than half of its hot spots lie in a known lesion's mask."
)


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """Register ``drx discover`` on the ``drx`` subcommands."""
    from drcore.discovery import ExtractionParameters, GroupingParameters

    extraction, grouping = ExtractionParameters(), GroupingParameters()
    parser = commands.add_parser("discover", help=summary, description=DESCRIPTION,
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", type=int, metavar="N", help="N fresh synthetic photographs")
    source.add_argument("--dataset", help="a registered data set, e.g. diaretdb1")
    source.add_argument("--images", nargs="+", metavar="IMAGE_OR_FOLDER", help="photographs or folders")
    parser.add_argument("--split", default="all", help="data set split (with --dataset)")
    parser.add_argument("--first-seed", type=int, default=20_000_000, help="seed of the first synthetic photograph")
    parser.add_argument("--width", type=int, default=512, help="width of the synthetic photographs")
    parser.add_argument("--ring-probability", type=float, default=0.0,
                        help="share of synthetic photographs with planted pale rings")
    parser.add_argument("--out", required=True, help="report folder")
    parser.add_argument("--run", default=None, help="run folder with heatmaps and hot spots (default OUT/run)")
    parser.add_argument("--model", default=None, help="bundled model name or checkpoint path")
    parser.add_argument("--method", default=extraction.method, help="heatmap method")
    parser.add_argument("--output", default=extraction.output, help="model output whose heatmap is mined")
    parser.add_argument("--layer", default=None, help="layer whose activations describe a hot spot (default: the "
                        "last one with stride <= 16)")
    parser.add_argument("--smoothing", type=float, default=extraction.smoothing_sigma,
                        help="Gaussian sigma before peak finding, original px at 1500 px width")
    parser.add_argument("--min-distance", type=int, default=extraction.min_distance,
                        help="non-maximum suppression radius, original px at 1500 px width")
    parser.add_argument("--max-spots", type=int, default=extraction.max_spots, help="hot spots per image at most")
    parser.add_argument("--threshold-rel", type=float, default=extraction.threshold_rel,
                        help="hot spots must exceed this share of the image's largest heatmap value")
    parser.add_argument("--clustering", choices=["kmeans", "hdbscan"], default=grouping.method)
    parser.add_argument("--k-min", type=int, default=grouping.k_min, help="fewest k-means groups tried")
    parser.add_argument("--k-max", type=int, default=grouping.k_max, help="most k-means groups tried")
    parser.add_argument("--seed", type=int, default=grouping.seed, help="seed of clustering, layout and bootstrap")
    parser.add_argument("--resamples", type=int, default=grouping.n_resamples, help="bootstrap resamples")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="photographs per model batch (default: by the model's input size, 8 at 512 px and 1 at "
                        "1280 px on CPUs)")
    parser.add_argument("--csv", action="store_true", help="write hot_spots.csv as well")
    parser.add_argument("--store", action="store_true", help="store the run as a discovery session in the database")
    parser.add_argument("--researcher", default="drx discover", help="who the stored session is by")
    parser.add_argument("--name", default=None, help="name of the stored session (default: the report folder)")
    parser.set_defaults(handler=run)


def _image_set(arguments: argparse.Namespace) -> dict:
    if arguments.synthetic is not None:
        return {"kind": "synthetic", "start": arguments.first_seed, "count": arguments.synthetic,
                "width": arguments.width, "ring_probability": arguments.ring_probability}
    if arguments.dataset is not None:
        return {"kind": "dataset", "name": arguments.dataset, "split": arguments.split}
    return {"kind": "folder", "paths": [str(Path(path).resolve()) for path in arguments.images]}


def run(arguments: argparse.Namespace) -> int:
    """Run the discovery and write the report (see ``drx discover --help``)."""
    from drcore.discovery import ExtractionParameters, GroupingParameters
    from drcore.discovery.report import write_report
    from drx.discovery_sessions import discovery_images, record_session, run_discovery

    spec = _image_set(arguments)
    images = discovery_images(spec)
    extraction = ExtractionParameters(output=arguments.output, method=arguments.method, layer=arguments.layer,
                                      smoothing_sigma=arguments.smoothing, min_distance=arguments.min_distance,
                                      max_spots=arguments.max_spots, threshold_rel=arguments.threshold_rel)
    grouping = GroupingParameters(method=arguments.clustering, k_min=arguments.k_min, k_max=arguments.k_max,
                                  n_resamples=arguments.resamples, seed=arguments.seed)
    out = Path(arguments.out)
    result = run_discovery(images, spec, arguments.model, Path(arguments.run or out / "run"), extraction, grouping,
                           batch_size=arguments.batch_size)
    page = write_report(result, images, out, csv=arguments.csv)
    for item in result.statistics:
        flag = "  UNEXPLAINED" if item.unexplained else ""
        dominant = item.dominant_type or "no dominant type"
        print(f"group {item.group}: {item.size} hot spots in {item.images} images, AUC {item.auc:.2f} "
              f"[{item.auc_low:.2f}, {item.auc_high:.2f}], {dominant}{flag}")
    if arguments.store:
        from drx.records import database

        session_id = record_session(database(), result, name=arguments.name or out.name,
                                    researcher=arguments.researcher)
        print(f"stored as discovery session {session_id}")
    print(f"wrote {page}")
    return 0
