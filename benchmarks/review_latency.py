"""Latency of the Review page against the model's own work, for the same photographs.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/review_latency.py [--model NAME]

For each bundled demo photograph (IDRiD, 1024 x 680), in a fresh drx home (each photograph seen for the first
time: nothing cached, nothing stored; the model is loaded before the clock starts):

* **model**: the model's forward pass and the backward pass of the heatmap's output on the prepared photograph
  (what no page can avoid), best of three, after one warm-up;
* **upload to heatmap**: the Review page run by Streamlit's AppTest from the moment the photograph is uploaded
  to the end of the script run that draws it with its heatmap and candidates (decode, preparation, scores,
  heatmap, hot spots, optic disc, storing the photograph and the map, the figure);
* **decision visible**: from clicking *Save decision* on a candidate to the end of the run that shows it saved.

It prints each figure, the median ratio upload / model (target <= UPLOAD_RATIO_TARGET) and the median decision
time (target <= DECISION_TARGET_S). AppTest times the server's script runs: the browser's own transfer and
drawing (about 0.1-0.3 s for the figure) come on top.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

#: the issue's targets
UPLOAD_RATIO_TARGET = 1.5
DECISION_TARGET_S = 1.0


def model_seconds(data: bytes, model_name: str) -> float:
    """Best of three: forward and backward of the card's default output on the prepared photograph."""
    from drcore.imaging import load_image, prepare
    from drcore.inference import batch_from_prepared
    from drcore.models import load_model

    loaded = load_model(model_name)
    batch = batch_from_prepared([prepare(load_image(data), loaded.card.input_size)])
    output = loaded.card.outputs.index(loaded.card.default_output())
    times = []
    for _ in range(4):
        started = time.perf_counter()
        inputs = batch.clone().requires_grad_(True)
        loaded.model(inputs)[:, output].sum().backward()
        times.append(time.perf_counter() - started)
    return min(times[1:])


def page_seconds(user, name: str, data: bytes) -> tuple[float, float]:
    """(upload to heatmap, decision visible) on a fresh Review page, in seconds."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(REPOSITORY / "views" / "review.py"), default_timeout=600)
    app.session_state["user"] = user
    app.session_state["source"] = "Upload"
    app.run()
    app.file_uploader(key="uploads").set_value((name, data, "image/jpeg"))
    started = time.perf_counter()
    app.run()
    upload = time.perf_counter() - started
    assert not app.exception and len(app.get("plotly_chart")) == 1, app.exception
    app.radio(key="candidate_pick").set_value(1).run()
    next(radio for radio in app.radio if radio.label == "Decision").set_value("confirmed")
    button = next(button for button in app.button if button.label == "Save decision")
    started = time.perf_counter()
    button.click().run()
    decision = time.perf_counter() - started
    assert [message.value for message in app.success] == ["Candidate 1: confirm saved."], app.success
    return upload, decision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="bundled model (default: drx's default)")
    arguments = parser.parse_args()
    from drcore.datasets import read
    from drcore.models import DEFAULT_MODEL

    from db.accounts import create_account
    from db.session import init_database, run_in_transaction
    from db.settings import Settings

    model_name = arguments.model or DEFAULT_MODEL
    ratios, decisions = [], []
    home = tempfile.mkdtemp(prefix="drx-latency-")
    os.environ["DRX_HOME"] = home
    os.environ.pop("DRX_DATABASE_URL", None)
    settings = Settings.from_env()
    settings.ensure_home()
    sessions = init_database(settings.database_url)
    user = run_in_transaction(sessions, lambda session: create_account(session, "benchmark", "benchmark password",
                                                                       role="grader"))
    for sample in read("demo"):
        data = sample.image_path.read_bytes()
        model = model_seconds(data, model_name)
        upload, decision = page_seconds(user, sample.image_path.name, data)
        ratios.append(upload / model)
        decisions.append(decision)
        print(f"{sample.image_id}: model forward+backward {model:.2f} s; upload to heatmap {upload:.2f} s "
              f"({upload / model:.2f}x); decision visible {decision:.2f} s", flush=True)
    print(f"median upload / model: {statistics.median(ratios):.2f}x (target <= {UPLOAD_RATIO_TARGET}x); "
          f"median decision visible: {statistics.median(decisions):.2f} s (target <= {DECISION_TARGET_S} s)")


if __name__ == "__main__":
    main()
