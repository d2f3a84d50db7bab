"""End to end: the dashboard served by Streamlit, driven in Debian's chromium by Playwright.

Every page is opened and its main interaction done (search a gene, upload the AML example and
wait for its results, open a compound); results must be visible and no error shown. Screenshots
go to ``tests/artifacts/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from dashboard.fixtures import atlases_for_tests
from dashboard.server import server_command

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EXAMPLE = "ai4loop-upstream/prediction/"
AML = ("Samples_RNASeqdata.bed", "Samples_RNASeqdata.bed.columns.txt", "Genepairs_1000.bedpe")
GENE = "S100A10"
TIMEOUT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(request):
    """The dashboard on the demo atlases, as ``ai4loop dashboard`` starts it."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    root, models = atlases_for_tests(request.config.cache.mkdir("dashboard"), demo=True)
    port = _free_port()
    repo_models = Path(__file__).resolve().parent.parent / "models"
    argv, env = server_command(
        atlas=[root], port=port, address="127.0.0.1", models_dir=[repo_models, models]
    )
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")  # noqa: SIM115 (closed at teardown)
    proc = subprocess.Popen(
        argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the dashboard did not start; see tests/artifacts/streamlit.log")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(TIMEOUT_MS)
        yield tab
        browser.close()


def settle(page, *, timeout_s: float = 120) -> float:
    """Wait until the page has a title, the script has finished and every chart is drawn;
    returns the seconds that took."""
    start = time.monotonic()
    page.wait_for_selector('[data-testid="stMain"] h1')
    quiet = 0
    while quiet < 4:
        busy = (
            page.locator('[data-testid="stStatusWidget"]').count() > 0
            or page.locator('[data-stale="true"]').count() > 0
            or page.locator('[data-testid="stPlotlyChart"]').count()
            > page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').count()
        )
        quiet = 0 if busy else quiet + 1
        if time.monotonic() - start > timeout_s:
            raise TimeoutError("the page did not settle")
        page.wait_for_timeout(150)
    return time.monotonic() - start - 0.6  # less the quiet period


def check(page, name: str, *, charts: int = 1) -> None:
    """No exception or error box, at least ``charts`` drawn charts; a full-page screenshot."""
    assert page.locator('[data-testid="stException"]').count() == 0, name
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, name
    assert page.locator(".js-plotly-plot").count() >= charts, name
    height = page.evaluate(
        "() => (document.querySelector('[data-testid=\"stMain\"]') || document.body).scrollHeight"
    )
    page.set_viewport_size({"width": 1400, "height": min(max(int(height) + 40, 1000), 8000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_every_page_and_its_main_interaction(page, server, reg):
    timings = {}
    page.goto(server)
    settle(page)
    check(page, "01-overview")
    page.get_by_label("Gene symbol or Ensembl id").fill(GENE.lower())
    t = time.monotonic()
    page.keyboard.press("Enter")
    link = page.get_by_role("link", name=GENE).first
    link.wait_for()
    settle(page)
    timings["gene search"] = time.monotonic() - t
    check(page, "02-overview-gene-search", charts=1)
    t = time.monotonic()
    link.click()
    page.wait_for_url("**/explorer?*")
    settle(page)
    timings["open the gene in the explorer"] = time.monotonic() - t
    assert "expl_gene=ENSG" in page.url  # the view is in the URL
    check(page, "03-explorer-gene", charts=2)

    page.goto(f"{server}/landscape")
    settle(page)
    check(page, "04-landscape-heatmap")
    t = time.monotonic()
    page.get_by_role("tab", name="GGI burden").click()
    page.wait_for_timeout(200)
    settle(page)
    timings["landscape: switch tab"] = time.monotonic() - t
    check(page, "05-landscape-burden")
    page.get_by_role("tab", name="Differential GGIs").click()
    settle(page)
    assert "land_tab=" in page.url
    check(page, "06-landscape-differential")

    page.goto(f"{server}/drugs")
    settle(page)
    box = page.get_by_role("combobox", name="Compound")
    box.click()
    option = page.get_by_role("option").nth(2)
    if not option.is_visible():
        box.press("ArrowDown")  # open the list if the click only focused the box
    chosen = option.inner_text().strip()
    t = time.monotonic()
    option.click()
    page.get_by_role("heading", name=chosen).wait_for()
    settle(page)
    timings["open a compound"] = time.monotonic() - t
    assert page.get_by_role("heading", name=chosen).count() == 1
    check(page, "07-drugs-compound", charts=3)

    page.goto(f"{server}/upload")
    settle(page)
    page.locator('input[type="file"]').set_input_files([str(reg(EXAMPLE + n)) for n in AML])
    page.get_by_role("button", name="Run prediction").wait_for()
    settle(page)
    t = time.monotonic()
    page.get_by_role("button", name="Run prediction").click()
    page.get_by_text("Scored 1,000 pairs").wait_for(timeout=300_000)
    settle(page)
    timings["upload: run the AML example (model load + 1,000 pairs + catalog)"] = (
        time.monotonic() - t
    )
    check(page, "08-upload-results", charts=2)

    page.goto(f"{server}/models")
    settle(page)
    check(page, "09-models", charts=5)
    print("\n  browser, action to settled page (includes the 0.6 s quiet check):")
    print("\n".join(f"  {k}: {v * 1000:.0f} ms" for k, v in timings.items()))
