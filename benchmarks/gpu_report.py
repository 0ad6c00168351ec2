"""One prepared report of drx's speed on a GPU, with the CPU beside it.

    python benchmarks/gpu_report.py --json gpu_report.json            # on the GPU machine, about 80 s
    python benchmarks/gpu_report.py --device cpu --quick --json r.json  # a few seconds, checks it runs

Images/s of the bundled architecture at its input size for four workloads:
inference (forward, no gradients), sensitivity heatmaps (forward + backward
to the input), a plain training step and a heatmap-criterion training step
(double backpropagation), each in float32 and bfloat16 autocast, with the
default and the channels-last memory layout, and inference and heatmaps
through ``torch.compile`` (skipped, with the reason, where it fails or the
time budget is spent; double backpropagation is not compiled: AOTAutograd
does not differentiate twice). Then the same workloads on the CPU, float32,
briefly. Also how far bfloat16 moves scores and heatmaps from float32 (the
tolerance ``drx mine`` checks). Prints a table and writes everything as JSON,
rewritten after every measurement so that a run cut short keeps what it measured.
Nothing here stops the report: a failing measurement is recorded as an error.
"""

import argparse
import contextlib
import copy
import json
import platform
import time
import traceback

import torch

from drcore.heatmaps.sensitivity import sensitivity
from drcore.vocabulary import MODEL_OUTPUTS
from drcore.mining.pipeline import HEATMAP_TOLERANCE, SCORE_TOLERANCE, heatmap_difference
from drcore.models import load_model
from drcore.training import training_losses

WORKLOADS = ("inference", "heatmap", "train plain", "train heatmap")
COMPILE_RESERVE_S = 15  # torch.compile is tried only with this much budget left


class Report:
    """Measurements so far, and the time budget they share."""

    def __init__(self, budget_s: float, min_time_s: float, max_iterations: int, saved=lambda rows: None) -> None:
        self.deadline = time.perf_counter() + budget_s
        self.min_time_s, self.max_iterations = min_time_s, max_iterations
        self.rows: list[dict] = []
        self.saved = saved  # called after every measurement, so a run cut short keeps what it measured

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def measure(self, row: dict, function, batch: int, device: torch.device) -> None:
        """Time ``function`` (one batch per call) after a warm-up call; errors and overruns are recorded."""
        self.rows.append(row)
        if self.left() <= 0:
            row["error"] = "skipped: time budget spent"
            return
        try:
            started = time.perf_counter()
            function()  # warm-up (and compilation)
            _synchronise(device)
            row["first_call_s"] = round(time.perf_counter() - started, 3)
            iterations, started = 0, time.perf_counter()
            while iterations < self.max_iterations and (iterations < 2 or time.perf_counter() - started < self.min_time_s):
                function()
                iterations += 1
            _synchronise(device)
            elapsed = time.perf_counter() - started
            row.update(images_per_s=round(batch * iterations / elapsed, 2), seconds_per_batch=round(elapsed / iterations, 5),
                       iterations=iterations)
        except Exception as error:  # a report, not a test: say what failed and go on
            row["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
            row["traceback_tail"] = traceback.format_exc().splitlines()[-3:]
            if device.type == "cuda":
                torch.cuda.empty_cache()
        self.saved(self.rows)


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device: torch.device, precision: str):
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def _workload(name: str, model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
              device: torch.device, precision: str, forward=None):
    forward = forward if forward is not None else model
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-5) if name.startswith("train") else None

    def inference() -> None:
        model.eval()
        with torch.no_grad(), _autocast(device, precision):
            forward(images)

    def heatmap() -> None:
        model.eval()
        with _autocast(device, precision):
            sensitivity(forward, images, 0)

    def train_step() -> None:
        model.train()
        with _autocast(device, precision):
            loss, penalty = training_losses(forward, images, labels, with_heatmap=name == "train heatmap")
        total = loss if penalty is None else loss + penalty
        optimiser.zero_grad(set_to_none=True)
        total.backward()
        optimiser.step()

    return {"inference": inference, "heatmap": heatmap}.get(name, train_step)


def _inputs(batch: int, size: int, device: torch.device, channels_last: bool,
            outputs: int = len(MODEL_OUTPUTS)) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=generator).clamp(-1, 1).to(device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 2, (batch, outputs), generator=generator).float().to(device)
    return images, labels


def run_device(report: Report, base: torch.nn.Module, device: torch.device, batch: int, size: int,
               precisions: list[str], layouts: list[bool], compile_: bool) -> None:
    """Every workload in every precision and layout on ``device``; then compiled inference and heatmaps."""
    for precision in precisions:
        for channels_last in layouts:
            images, labels = _inputs(batch, size, device, channels_last)
            for name in WORKLOADS:
                model = copy.deepcopy(base).to(device)
                if channels_last:
                    model = model.to(memory_format=torch.channels_last)
                row = {"device": device.type, "workload": name, "precision": precision,
                       "channels_last": channels_last, "compiled": False, "batch": batch, "size": size}
                report.measure(row, _workload(name, model, images, labels, device, precision), batch, device)
    if not compile_:
        return
    for precision in precisions:
        images, labels = _inputs(batch, size, device, False)
        for name in ("inference", "heatmap"):
            model = copy.deepcopy(base).to(device).eval()
            row = {"device": device.type, "workload": name, "precision": precision, "channels_last": False,
                   "compiled": True, "batch": batch, "size": size}
            if report.left() < COMPILE_RESERVE_S:
                report.rows.append({**row, "error": f"skipped: under {COMPILE_RESERVE_S} s of budget left to compile"})
                continue
            try:
                compiled = torch.compile(model)
            except Exception as error:
                report.rows.append({**row, "error": f"{type(error).__name__}: {error}"[:300]})
                continue
            report.measure(row, _workload(name, model, images, labels, device, precision, forward=compiled),
                           batch, device)


def precision_check(base: torch.nn.Module, device: torch.device, batch: int, size: int) -> dict:
    """How far bfloat16 autocast moves probabilities and sensitivity maps from float32 (drx mine's measure)."""
    model = copy.deepcopy(base).to(device).eval()
    images, _ = _inputs(batch, size, device, False)
    results = {}
    for precision in ("float32", "bfloat16"):
        with _autocast(device, precision):
            with torch.no_grad():
                scores = torch.sigmoid(model(images).float())
            maps = sensitivity(model, images, 0).float()
        results[precision] = (scores, maps)
    (scores32, maps32), (scores16, maps16) = results["float32"], results["bfloat16"]
    maps16, maps32 = maps16.flatten(1), maps32.flatten(1)
    largest = maps32.abs().amax(1).clamp(min=1e-30)
    return {"max_score_difference": (scores16 - scores32).abs().max().item(),
            "max_heatmap_relative_l2_difference": heatmap_difference(maps16.numpy(force=True), maps32.numpy(force=True)),
            "max_heatmap_difference_over_largest_value": ((maps16 - maps32).abs().amax(1) / largest).max().item(),
            "score_tolerance": SCORE_TOLERANCE, "heatmap_tolerance": HEATMAP_TOLERANCE, "batch": batch, "size": size}


def print_table(rows: list[dict]) -> None:
    print(f"{'device':6} {'workload':14} {'precision':9} {'layout':13} {'compiled':8} {'images/s':>10}  note")
    for row in rows:
        layout = "channels-last" if row["channels_last"] else "default"
        rate = f"{row['images_per_s']:10.2f}" if "images_per_s" in row else f"{'-':>10}"
        note = row.get("error", f"first call {row.get('first_call_s', 0):.2f} s")
        print(f"{row['device']:6} {row['workload']:14} {row['precision']:9} {layout:13} {str(row['compiled']):8} {rate}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", required=True, help="write the report here")
    parser.add_argument("--batch", type=int, default=None, help="GPU batch (default 32; 2 with --quick)")
    parser.add_argument("--budget", type=float, default=55.0, help="seconds for the main device's measurements")
    parser.add_argument("--cpu-budget", type=float, default=10.0, help="seconds for the CPU comparison")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--compile-on-cpu", action="store_true", help="also try torch.compile when --device cpu")
    parser.add_argument("--quick", action="store_true", help="tiny batches and inputs: checks the script runs")
    arguments = parser.parse_args()
    started = time.perf_counter()
    device = torch.device(arguments.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False  # as drx: heatmaps are gradients
        torch.backends.cuda.matmul.allow_tf32 = False
    loaded = load_model()
    base = loaded.model
    size = 32 if arguments.quick else loaded.card.input_size
    batch = arguments.batch or (2 if arguments.quick else 32)
    on_gpu = device.type == "cuda"
    result = {"host": platform.node(), "torch": torch.__version__, "model": loaded.card.name,
              "device_name": torch.cuda.get_device_name(device) if on_gpu else platform.processor() or "CPU"}

    def save(rows: list[dict]) -> None:
        with open(arguments.json, "w") as handle:
            json.dump({**result, "rows": rows, "total_s": round(time.perf_counter() - started, 1)}, handle, indent=2)

    report = Report(arguments.budget, 0.0 if arguments.quick else 1.0, 1 if arguments.quick else 50, save)
    mixed = on_gpu or arguments.quick  # --quick on the CPU runs the bfloat16 code paths too
    try:
        result["precision_check"] = precision_check(base, device, min(batch, 8), size) if mixed else None
    except Exception as error:
        result["precision_check"] = {"error": f"{type(error).__name__}: {error}"[:300]}
    run_device(report, base, device, batch, size, ["float32", "bfloat16"] if mixed else ["float32"],
               [False, True], compile_=(on_gpu or arguments.compile_on_cpu) and not arguments.no_compile)
    if on_gpu:  # the CPU beside it: float32, default layout, small batch, short
        cpu = Report(arguments.cpu_budget, 0.0, 2, lambda rows: save(report.rows + rows))
        run_device(cpu, base, torch.device("cpu"), 2, size, ["float32"], [False], compile_=False)
        report.rows += cpu.rows
    save(report.rows)
    print(f"{result['device_name']} (torch {result['torch']}), model {result['model']}, {size} px")
    print_table(report.rows)
    if result["precision_check"]:
        print("bfloat16 vs float32: " + json.dumps(result["precision_check"]))
    print(f"total {time.perf_counter() - started:.1f} s; JSON in {arguments.json}")


if __name__ == "__main__":
    main()
