"""Frames per second of ``ninestep playground`` while it trains [2, 8, 8, 1] on 500 points.

Usage::

    python benchmarks/playground_fps.py [--seconds 5] [--runs 3] [--no-browser]

It starts the real server (uvicorn, on a free port of 127.0.0.1) and
measures, over ``--runs`` runs of ``--seconds`` each, at speed 1 (one epoch
per frame, so frames/s is also epochs/s):

* **http**: a client that asks for the next frame as soon as it has one, as
  the page does, but draws nothing - the server's own rate;
* **page**: the real page in headless Chromium (Playwright, system
  ``chromium``): frames drawn per second, counted by the page itself, and
  how long the page takes to answer while it plays (its main thread stays
  free: the training is on the server).

The data: a CSV of 500 rows, two features x1, x2 uniform in [-1, 1] and a
target y = sin(3 x1) x2, uploaded as a user would, so that the network is
[2, 8, 8, 1] (tanh, Adam, batches of 16, 350 training rows). Moons
([2, 8, 8, 2], classification) is measured beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import threading
import time

import numpy as np


def start_server():
    import uvicorn

    from ninestep.playground.server import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def regression_csv(n: int = 500, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    y = np.sin(3 * X[:, 0]) * X[:, 1]
    return ("x1,x2,y\n" + "".join(f"{a:.5f},{b:.5f},{t:.5f}\n" for (a, b), t in zip(X, y))).encode()


def http_fps(base: str, case: str, seconds: float) -> float:
    import httpx

    with httpx.Client(base_url=base) as c:
        sid = c.post("/api/sessions", json={"data": "moons", "n": "500", "layers": "8,8"}).json()["id"]
        if case == "regression":
            r = c.post(f"/api/sessions/{sid}/csv", content=regression_csv())
            assert r.json()["dataset"]["layer_sizes"] == [2, 8, 8, 1], r.text
        since, frames, start = 0, 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            f = c.post(f"/api/sessions/{sid}/tick", json={"action": "play", "since": since}).json()
            since, frames = f["metrics"]["epoch"], frames + 1
        elapsed = time.perf_counter() - start
        c.post(f"/api/sessions/{sid}/close")
    return frames / elapsed


def page_fps(browser, base: str, case: str, seconds: float, tmp: str) -> tuple[float, float]:
    """Frames drawn per second by the page, and the slowest answer of its main thread while playing (ms)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(base + "/?data=moons&n=500&layers=8,8")
    page.wait_for_selector("body[data-ready=true]")
    if case == "regression":
        path = os.path.join(tmp, "plane.csv")
        with open(path, "wb") as f:
            f.write(regression_csv())
        page.set_input_files("#csv-file", path)
        page.wait_for_function("document.getElementById('message').textContent.includes('Loaded')")
        assert "[2,8,8,1]" in page.inner_text("#description")
    page.click("#play")
    page.wait_for_function("Number(document.body.dataset.frames || 0) > 5")
    f0, t0 = int(page.evaluate("document.body.dataset.frames")), time.perf_counter()
    lags = []
    while time.perf_counter() - t0 < seconds:
        s = time.perf_counter()
        page.evaluate("1")  # answered by the page's main thread
        lags.append((time.perf_counter() - s) * 1000)
        time.sleep(0.05)
    f1, t1 = int(page.evaluate("document.body.dataset.frames")), time.perf_counter()
    page.click("#pause")
    page.close()
    return (f1 - f0) / (t1 - t0), max(lags)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    server, base = start_server()
    browser = None
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not args.no_browser and os.path.exists(chromium):
        from playwright.sync_api import sync_playwright
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
    import tempfile
    tmp = tempfile.mkdtemp()
    print(f"ninestep playground, speed 1 (one epoch a frame), {args.runs} runs of {args.seconds:g} s; "
          f"{os.cpu_count()} CPUs")
    for case, label in (("regression", "[2, 8, 8, 1] regression, 500 points (CSV)"),
                        ("moons", "[2, 8, 8, 2] moons, 500 points")):
        http = [http_fps(base, case, args.seconds) for _ in range(args.runs)]
        line = f"{label:44s} http {min(http):6.1f}-{max(http):6.1f} frames/s"
        if browser is not None:
            runs = [page_fps(browser, base, case, args.seconds, tmp) for _ in range(args.runs)]
            fps = [r[0] for r in runs]
            line += (f"   page {min(fps):5.1f}-{max(fps):5.1f} frames/s (median {statistics.median(fps):.1f}), "
                     f"page answers within {max(r[1] for r in runs):.0f} ms while playing")
        print(line, flush=True)
    if browser is not None:
        browser.close()
        pw.stop()
    server.should_exit = True


if __name__ == "__main__":
    main()
