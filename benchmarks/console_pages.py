"""How fast the web console's pages are ready, measured in the browser: each page opened ``--runs`` times
by an admin key in headless Chromium (Playwright, the system's ``chromium``) against ``xingqu serve``
(a process of its own) on a world like the tests' (the tiny preset, 400 users, 12 days) or the demo
preset.

    python benchmarks/console_pages.py [--folder DIR] [--runs 5] [--preset tiny|demo]

For every page: the median time from navigation start to the load event, and to every first API
answer drawn (``window.xqReadyMs``), in ms. The world is built once in ``--folder`` and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from xingqu.ingest import import_path
from xingqu.runtime import Runtime
from xingqu.services.keys import create_key
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.training import train


def world(folder: Path, name: str) -> tuple[str, str]:
    """The store URL and models folder of a simulated, imported and trained world (built once)."""
    db, models = folder / "s.db", folder / "models"
    if not db.exists():
        options = {"users": 400, "days": 12} if name == "tiny" else {}
        simulate(preset(name, **options), folder / "m")
        store = Store(f"sqlite:///{db}")
        import_path(store, folder / "m")
        train(store, models)
        store.close()
    return f"sqlite:///{db}", str(models)


def ids(runtime: Runtime) -> dict[str, str]:
    """The busiest shop, its product with most events, the creator with most followers, the busiest user."""
    with runtime.store.reading() as c:
        shop = c.exec_driver_sql(
            "SELECT shop_id FROM products GROUP BY shop_id ORDER BY COUNT(*) DESC LIMIT 1"
        ).scalar_one()
        product = c.exec_driver_sql(
            "SELECT p.product_id FROM products p JOIN events e ON e.product_id = p.product_id "
            "WHERE p.shop_id = ? GROUP BY p.product_id ORDER BY COUNT(*) DESC LIMIT 1",
            (shop,),
        ).scalar_one()
        creator = c.exec_driver_sql(
            "SELECT creator_id FROM creators ORDER BY follower_count DESC LIMIT 1"
        ).scalar_one()
        user = c.exec_driver_sql(
            "SELECT user_id FROM events GROUP BY user_id ORDER BY COUNT(*) DESC LIMIT 1"
        ).scalar_one()
    return {"shop": shop, "product": product, "creator": creator, "user": user}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preset", choices=("tiny", "demo"), default="tiny")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="xingqu-console-"))
    folder.mkdir(parents=True, exist_ok=True)
    db, models = world(folder, args.preset)
    runtime = Runtime(db=db, models_dir=models)
    key = create_key(runtime, "admin", name="console benchmark")[0]
    x = ids(runtime)
    pages = {
        "overview": f"/console/overview?shop={x['shop']}&days=7",
        "product": f"/console/products/{x['product']}",
        "creator": f"/console/creators/{x['creator']}",
        "audiences": f"/console/audiences?a_kind=shop&a_key={x['shop']}&b_kind=creator&b_key={x['creator']}",
        "governance": "/console/governance",
        "feed": f"/console/feed?user={x['user']}",
        "models": "/console/models",
    }
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "XINGQU_DB": db, "XINGQU_MODELS_DIR": models}
    server = subprocess.Popen(
        [sys.executable, "-m", "xingqu.cli.app", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 300
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the server did not start")
        time.sleep(0.2)
    chromium = os.environ.get("XINGQU_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    results: dict[str, dict[str, float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(f"{url}/console/login")
        page.fill("#key", key)
        page.click("#login-form button")
        page.wait_for_url("**/console/overview")
        for name, path in pages.items():
            loads, ready = [], []
            for _ in range(args.runs + 1):  # the first opening warms the server's caches: not counted
                page.goto(url + path)
                page.wait_for_selector("body[data-ready='1']", state="attached")
                t = page.evaluate(
                    "() => ({load: performance.getEntriesByType('navigation')[0].loadEventEnd,"
                    " ready: window.xqReadyMs})"
                )
                loads.append(t["load"])
                ready.append(t["ready"])
            results[name] = {
                "load_ms": round(statistics.median(loads[1:]), 1),
                "ready_ms": round(statistics.median(ready[1:]), 1),
                "ready_max_ms": round(max(ready[1:]), 1),
            }
        browser.close()
    server.terminate()
    server.wait(timeout=30)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; preset {args.preset}; runs {args.runs}")
    print(f"{'page':<12}{'load (ms)':>12}{'ready (ms)':>12}{'worst (ms)':>12}")
    for name, r in results.items():
        print(f"{name:<12}{r['load_ms']:>12}{r['ready_ms']:>12}{r['ready_max_ms']:>12}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
