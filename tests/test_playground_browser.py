"""The playground in a real browser: Playwright driving the system's headless Chromium.

Needs ``pip install playwright`` (its Python package only: the browser is
Debian's ``chromium``, never ``playwright install``) and ``apt-get install
chromium``; without them these tests skip (and CI, which sets CI=true,
turns a skip into a failure). The server runs in a thread of this process
on a free port. About 30 s in all on a 2-core machine.
"""

import csv
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from ninestep.playground.server import create_app  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("NINESTEP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def base_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.problems = []
    pg.on("console", lambda m: pg.problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    yield pg
    context.close()


def open_page(page, url):
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)


def epoch(page) -> int:
    return int(page.inner_text("#epoch"))


def step_times(page, n):
    for _ in range(n):
        before = epoch(page)
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function(f"Number(document.getElementById('epoch').textContent) === {before + 1}")


def test_the_page_loads_clean_with_every_control_named(page, base_url):
    open_page(page, base_url + "/")
    for name in ("Dataset", "Samples", "Noise", "Classes", "Train ratio", "Upload CSV", "Hidden layers", "Activation",
                 "Initialisation", "Bias initialisation", "Optimiser", "Learning rate", "Momentum", "Batch size",
                 "L2 alpha", "Schedule", "Epochs", "Seed", "Speed"):
        assert page.get_by_label(name, exact=True).count() == 1, name
    for name in ("Play", "Pause", "Step", "Reset", "Regenerate", "The article", "Well configured", "Add layer",
                 "Remove layer", "Add a unit to hidden layer 1"):
        assert page.get_by_role("button", name=name, exact=True).count() == 1, name
    for text in ("Epoch", "Train loss", "Test loss", "Test accuracy"):
        assert page.get_by_text(text, exact=True).is_visible(), text
    assert page.inner_text("#epoch") == "0" and page.inner_text("#message") == ""
    assert page.problems == []


def test_spirals_learn_to_90_percent_test_accuracy(page, base_url):
    open_page(page, base_url + "/?data=circles&speed=5")
    page.get_by_label("Dataset", exact=True).select_option("spirals")
    page.wait_for_function("new URL(location.href).searchParams.get('data') === 'spirals'")
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function("Number(document.getElementById('test-accuracy').textContent) >= 0.9", timeout=60_000)
    page.get_by_role("button", name="Pause", exact=True).click()
    assert float(page.inner_text("#test-accuracy")) >= 0.9
    assert page.problems == []


def test_the_same_url_gives_the_same_run_in_two_tabs(browser, base_url):
    url = base_url + "/?data=moons&n=300&layers=6,4&act=relu&opt=momentum&lr=0.05&batch=16&seed=11"
    seen = []
    for _ in range(2):
        context = browser.new_context()
        tab = context.new_page()
        open_page(tab, url)
        step_times(tab, 5)
        seen.append((tab.inner_text("#epoch"), tab.inner_text("#train-loss"), tab.inner_text("#test-loss"),
                     tab.inner_text("#test-accuracy"), tab.url))
        context.close()
    assert seen[0] == seen[1] and seen[0][0] == "5"
    assert "seed=11" in seen[0][4] and "layers=6%2C4" in seen[0][4]  # every setting stays in the URL


def test_keyboard_plays_pauses_and_steps(page, base_url):
    open_page(page, base_url + "/?data=xor&n=200")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "play"
    page.locator("body").press("s")
    page.wait_for_function("document.getElementById('epoch').textContent === '1'")
    page.locator("h1").click()
    page.keyboard.press("Space")
    page.wait_for_function("Number(document.getElementById('epoch').textContent) >= 5")
    page.keyboard.press("Space")
    assert page.get_by_role("button", name="Play", exact=True).is_enabled()


def test_a_good_csv_upload_and_a_bad_one(page, base_url, tmp_path):
    rng = np.random.default_rng(0)
    good = tmp_path / "houses.csv"
    with open(good, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["size", "rooms", "price"])
        for _ in range(120):
            size, rooms = rng.uniform(40, 200), rng.integers(1, 6)
            w.writerow([f"{size:.1f}", rooms, f"{2.5 * size + 10 * rooms + rng.normal(0, 5):.1f}"])
    bad = tmp_path / "broken.csv"
    bad.write_text("size,price\n" + "".join(f"{i},{i * 2}\n" for i in range(20)) + "n/a,3\n")
    open_page(page, base_url + "/")
    page.set_input_files("#csv-file", str(good))
    page.wait_for_function("document.getElementById('message').textContent.includes('Loaded houses.csv')")
    assert "uploaded CSV: 120 rows, target 'price'" in page.inner_text("#description")
    assert page.get_by_label("Target", exact=True).input_value() == "price"
    step_times(page, 2)
    page.set_input_files("#csv-file", str(bad))
    page.wait_for_function("document.getElementById('message').textContent.includes('broken.csv')")
    message = page.inner_text("#message")
    assert "'size'" in message and "line 22" in message and "previous data is still loaded" in message
    assert "uploaded CSV: 120 rows" in page.inner_text("#description")
    step_times(page, 1)  # the server kept going, on the good file
    assert page.inner_text("#epoch") == "3"
    assert [p for p in page.problems if "400" not in p] == []  # the refused upload is the only error


def test_the_exported_model_is_read_by_ninestep_predict_and_agrees(page, base_url, tmp_path):
    cli = pytest.importorskip("ninestep.cli")
    open_page(page, base_url + "/?data=gauss&classes=3&n=300&layers=5&speed=10&epochs=30")
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function("document.getElementById('epoch').textContent === '30'", timeout=30_000)
    shown = float(page.inner_text("#test-accuracy"))
    with page.expect_download() as model:
        page.get_by_role("link", name="Download model (.npz)").click()
    with page.expect_download() as data:
        page.get_by_role("link", name="Download data (CSV)").click()
    model.value.save_as(tmp_path / "model.npz")
    data.value.save_as(tmp_path / "data.csv")
    assert cli.main(["predict", "--model", str(tmp_path / "model.npz"), "--data", str(tmp_path / "data.csv"),
                     "--output", str(tmp_path / "pred.csv"), "--quiet"]) == 0
    with open(tmp_path / "data.csv") as f:
        rows = list(csv.DictReader(f))
    with open(tmp_path / "pred.csv") as f:
        predicted = [r["class"] for r in csv.DictReader(f)]
    test = [p == r["class"] for r, p in zip(rows, predicted) if r["split"] == "test"]
    assert len(test) == 90
    assert round(sum(test) / len(test), 3) == shown
    page.get_by_role("button", name="Show command and Python").click()
    page.wait_for_function("document.getElementById('command').value.startsWith('ninestep train --data gauss')")
    assert "# the page used 3 classes (ninestep train's: 2)" in page.input_value("#command")
    assert "X, y = make_gauss(300, noise=0.1, n_classes=3, seed=rng(streams[0]))" in page.input_value("#python")


def test_the_article_preset_shows_its_dead_units(page, base_url):
    open_page(page, base_url + "/?data=moons")
    page.get_by_role("button", name="The article", exact=True).click()
    page.wait_for_function("new URL(location.href).searchParams.get('bias') === 'same'")
    assert "[2,4,4,3]" in page.inner_text("#description")
    page.get_by_label("Speed", exact=True).select_option("500")
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_function("Number(document.getElementById('epoch').textContent) >= 3000", timeout=30_000)
    page.get_by_role("button", name="Pause", exact=True).click()
    assert "layer 2: 2 of 4" in page.inner_text("#dead")
    assert page.problems == []
