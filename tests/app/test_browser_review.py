"""The Review page in headless Chromium: log in, decide candidates, draw a polygon with the real canvas, then
``drx train --corrections`` learns from exactly that work; the grade form's refusals; a photograph decided,
graded and left with the keyboard only.

Serves the app with ``streamlit run`` on a free port and drives Debian's
chromium through Playwright. The polygon is drawn with mouse clicks on the
drawing canvas (streamlit-drawable-canvas), so this checks the component
itself and the canvas-to-photograph conversion end to end: at zoom 1 the
1024 x 680 demo photograph (the first, from IDRiD) is shown 760 x 505 canvas pixels, so a click
at canvas (u, v) must be stored at (u * 1024 / 760, v * 680 / 505).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select

from db.annotations import current_annotations, geometry_of
from db.decisions import current_decisions
from db.models import Grade, Image
from db.session import init_database
from db.settings import Settings
from drcore.models import load_checkpoint
from drx.cli import main
from strictness import unavailable
from tiny_models import tiny_default

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CLICKS = [(200, 150), (330, 140), (360, 260), (230, 280)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served_app(make_user, isolated_home):
    """The app served from this test's DRX_HOME, with grader alice; its URL."""
    make_user("alice")
    port = _free_port()
    log = open(isolated_home / "streamlit.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the app did not start: " + (isolated_home / "streamlit.log").read_text())
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _settle(page) -> None:
    """Wait until the script run is over and no element is stale."""
    page.wait_for_timeout(600)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=60_000)
    page.wait_for_timeout(600)


def _canvas_box(page, timeout_s: float = 60) -> dict:
    """The drawing canvas's box once it is mounted at its final size (a new zoom remounts it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        canvas = page.locator("canvas.upper-canvas").first
        box = canvas.bounding_box() if canvas.count() else None
        if box and round(box["height"]) == 505 or time.monotonic() > deadline:
            canvas.scroll_into_view_if_needed()
            page.wait_for_timeout(800)
            return canvas.bounding_box()
        page.wait_for_timeout(500)


def _review_as_alice(browser, served_app: str):
    """A new page logged in as alice, on the Review page with its candidates drawn."""
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.goto(served_app, timeout=120_000)
    page.get_by_label("Name").fill("alice")
    page.get_by_label("Password", exact=True).fill("a long enough password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Candidates, strongest first").wait_for(timeout=240_000)
    _settle(page)
    return page


def test_a_grader_decides_candidates_and_draws_a_polygon_in_the_browser(served_app: str, tmp_path, capsys) -> None:
    from playwright.sync_api import sync_playwright  # a dev dependency: missing is an error, not a skip

    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("no chromium on PATH (apt-get install -y chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=FLAGS)
        page = _review_as_alice(browser, served_app)
        assert page.get_by_text("Logged in as alice").is_visible()

        for rank, decision in ((1, "confirm"), (2, "confirm"), (3, "reject (false positive)")):
            page.locator('[data-testid="stRadio"] label').filter(has_text=f"{rank} · score").first.click()
            _settle(page)
            page.locator('[data-testid="stForm"]').get_by_text(decision, exact=True).first.click()
            page.get_by_role("button", name="Save decision").last.click()
            _settle(page)

        page.locator('[data-testid="stRadio"] label').filter(has_text="Whole photograph").first.click()
        _settle(page)
        page.get_by_text("Draw missed lesions").click()
        _settle(page)
        page.get_by_text("1×", exact=True).click()
        page.get_by_text("Photograph x 0–1024, y 0–680").wait_for(timeout=60_000)  # the whole photograph
        _settle(page)
        page.wait_for_timeout(1500)  # the canvas of the new view mounts after the script run
        box = _canvas_box(page)
        assert (round(box["width"]), round(box["height"])) == (760, 505)
        for u, v in CLICKS + CLICKS[:1]:  # the last click, on the first vertex, closes the polygon
            page.mouse.click(box["x"] + u, box["y"] + v)
            page.wait_for_timeout(250)
        _settle(page)
        page.get_by_text("1 shape(s) on the canvas").wait_for(timeout=30_000)
        page.get_by_role("button", name="Save the drawn shapes").click()
        page.get_by_text("1 lesion(s) saved.").first.wait_for(timeout=60_000)
        browser.close()

    sessions = init_database(Settings.from_env().database_url)
    with sessions() as session:
        image = session.scalars(select(Image)).one()
        decisions = sorted(row.decision for row in current_decisions(session, image))
        (drawn,) = current_annotations(session, image)
        shape = geometry_of(drawn)
    assert decisions == ["confirmed", "confirmed", "rejected"]
    assert shape.kind == "polygon" and len(shape.points) == len(CLICKS)
    expected = [(u * 1024 / 760, v * 680 / 505) for u, v in CLICKS]
    for (x, y), (ex, ey) in zip(shape.points, expected):
        assert abs(x - ex) < 1.5 and abs(y - ey) < 1.5, (shape.points, expected)

    # The next model learns from that work: 3 decisions and 1 drawing on 1 photograph (no grade saved).
    tiny_default(tmp_path / "start")
    code = main(["train", "--corrections", Settings.from_env().database_url, "--initial-model",
                 str(tmp_path / "start"), "--epochs", "1", "--batch-size", "1", "--out", str(tmp_path / "next")])
    assert code == 0, capsys.readouterr().err
    provenance = load_checkpoint(tmp_path / "next").card.training["corrections"]
    assert (provenance["photographs"], provenance["grades"], provenance["decisions"], provenance["drawings"]) == \
        (1, 0, 3, 1)


def test_the_grade_form_refuses_an_unchosen_grade_and_asks_before_icdr_0_with_referable(served_app: str) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("no chromium on PATH (apt-get install -y chromium)")
    sessions = init_database(Settings.from_env().database_url)

    def grades() -> int:
        with sessions() as session:
            return len(session.scalars(select(Grade)).all())

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=FLAGS)
        page = _review_as_alice(browser, served_app)
        page.get_by_role("tab", name="Grade").click()
        page.get_by_role("button", name="Save grade").click()
        page.get_by_text("choose an ICDR grade (or Ungradable) first").wait_for(timeout=60_000)
        assert grades() == 0

        page.locator('[data-testid="stSelectbox"]').filter(has_text="ICDR grade").locator("input").click()
        page.get_by_role("option", name="0 · No apparent retinopathy").click()
        page.get_by_text("Referable DR", exact=True).click()
        page.get_by_role("button", name="Save grade").click()
        page.get_by_text("ICDR 0 (no apparent retinopathy) marked referable").wait_for(timeout=60_000)
        _settle(page)
        assert grades() == 0
        page.get_by_role("button", name="Save anyway").click()
        page.get_by_text("Grade saved.", exact=True).wait_for(timeout=60_000)
        browser.close()
    assert grades() == 1


def _tab_to(page, test: str, limit: int = 150) -> None:
    """Press Tab until the focused element passes the JavaScript ``test`` (of ``element``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(element => {test})(document.activeElement)"):
            return
    pytest.fail(f"no element passing {test} within {limit} Tab presses")


def _chosen(page) -> set[str]:
    """The chosen options of the page's segmented controls (photograph source, heatmap mode, view)."""
    return {text.strip() for text in
            page.locator('button[data-variant="segmented_control"][data-selected]').all_inner_texts()}


def test_a_grader_decides_candidates_grades_and_moves_on_with_the_keyboard_only(served_app: str) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        unavailable("no chromium on PATH (apt-get install -y chromium)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(served_app, timeout=120_000)
        page.get_by_label("Name").press_sequentially("alice")
        page.keyboard.press("Tab")
        page.keyboard.type("a long enough password")
        page.keyboard.press("Enter")
        page.get_by_text("Candidates, strongest first").wait_for(timeout=240_000)
        _settle(page)
        assert page.get_by_text("J / K next / previous candidate").is_visible()  # the legend

        def key(name: str, then: str) -> None:
            page.keyboard.press(name)
            page.get_by_text(then, exact=True).first.wait_for(timeout=60_000)
            _settle(page)

        key("j", "Candidate 1")
        key("a", "Candidate 1: confirm saved.")
        key("j", "Candidate 2")
        key("x", "Candidate 2: reject (false positive) saved.")
        key("k", "Candidate 1")
        page.get_by_text("at x", exact=False).first.wait_for()
        assert page.get_by_text("confirmed: microaneurysm").count() == 1  # the list's caption of candidate 1

        # Typing a note presses none of the keys it holds (x would reject candidate 1, k select the whole photograph).
        _tab_to(page, "element.tagName === 'INPUT' && "
                      "element.closest('[data-testid=\"stTextInput\"]')?.innerText.includes('Note')")
        page.keyboard.type("a jk x")
        page.keyboard.press("Tab")
        _settle(page)
        assert page.get_by_text("Candidate 1", exact=True).count() == 1

        assert {"Overlay", "Colour"} <= _chosen(page)
        page.keyboard.press("h")
        _settle(page)
        assert "Off" in _chosen(page) and "Overlay" not in _chosen(page)
        page.keyboard.press("h")
        _settle(page)
        assert "Overlay" in _chosen(page) and "Off" not in _chosen(page)

        # The grade: Tab to the side panel's tabs, arrow to "Grade", then through its form.
        _tab_to(page, "element.getAttribute('role') === 'tab' && element.innerText.trim() === 'Candidates'")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Enter")
        _tab_to(page, "element.getAttribute('role') === 'combobox' && "
                      "element.closest('[data-testid=\"stSelectbox\"]').innerText.includes('ICDR grade')")
        page.keyboard.type("Moderate")
        page.keyboard.press("Enter")
        _tab_to(page, "element.type === 'checkbox'")
        page.keyboard.press("Space")
        _tab_to(page, "element.tagName === 'BUTTON' && element.innerText.includes('Save grade')")
        page.keyboard.press("Enter")
        page.get_by_text("Grade saved.", exact=True).wait_for(timeout=60_000)
        _settle(page)

        page.keyboard.press("n")
        page.get_by_text("idrid-demo-02.jpg ·").first.wait_for(timeout=240_000)
        _settle(page)
        browser.close()

    sessions = init_database(Settings.from_env().database_url)
    with sessions() as session:
        first = session.scalars(select(Image).where(Image.file_name == "idrid-demo-01.jpg")).one()
        decided = sorted((row.decision, row.lesion_type, row.reason) for row in current_decisions(session, first))
        (grade,) = session.scalars(select(Grade)).all()
        images = session.scalars(select(Image.file_name).order_by(Image.id)).all()
    assert decided == [("confirmed", "microaneurysm", None), ("rejected", None, "vessel")]
    assert (grade.image_id, grade.icdr_grade, grade.referable, grade.ungradable) == (first.id, 2, True, False)
    assert images == ["idrid-demo-01.jpg", "idrid-demo-02.jpg"]
