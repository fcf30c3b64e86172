"""Many users at once: N concurrent browser sessions against one server (issue 8).

    .venv/bin/python scripts/load.py [--size M] [--sessions 10] [--steps 12]

Each session is a real chromium context with its own Streamlit websocket
session. It visits pages with different filters in the URL for a fixed
number of steps; the script reports p50/p95 of page completion (navigation
until the page's key text is shown and the script run is over) and the
server's memory after warm-up and at the end. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.async_api import async_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.test_browser import PAGES

VIEWS = ["", "concentration", "drift", "tiering", "flows", "relationships", "attribution", "ror"]
FILTERS = ["", "team=corporate", "referrer_type=bank", "region=London", "work_type=insolvency"]
DONE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def server_rss_mb(pid: int) -> float:
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def session(browser, url: str, number: int, steps: int, times: list[float]) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    for step in range(steps):
        view = VIEWS[(number + step) % len(VIEWS)]
        query = FILTERS[(number * 3 + step) % len(FILTERS)]
        started = time.perf_counter()
        await page.goto(f"{url}/{view}?{query}")
        await page.get_by_text(PAGES[view]).first.wait_for(timeout=120_000)
        await page.wait_for_function(DONE, timeout=120_000)
        times.append(time.perf_counter() - started)
    await context.close()


async def run(url: str, pid: int, sessions: int, steps: int) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm: list[float] = []
        await session(browser, url, 0, len(VIEWS), warm)  # one pass over every page
        after_warm_up = server_rss_mb(pid)
        times: list[float] = []
        started, cpu_before = time.perf_counter(), server_cpu_s(pid)
        await asyncio.gather(*(session(browser, url, n, steps, times) for n in range(sessions)))
        wall, server_cpu = time.perf_counter() - started, server_cpu_s(pid) - cpu_before
        await browser.close()
    ordered = sorted(times)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    print(f"{sessions} sessions × {steps} steps = {len(times)} page loads in {wall:.1f} s")
    print(f"page completion: p50 {statistics.median(times):.2f} s, p95 {p95:.2f} s, max {ordered[-1]:.2f} s")
    print(f"server memory: {after_warm_up:.0f} MB after warm-up, {server_rss_mb(pid):.0f} MB at the end")
    # what the server needs against what the machine had: the rest went to the browsers
    print(f"server CPU: {server_cpu:.1f} s for {len(times)} page loads ({server_cpu / len(times):.2f} s each), "
          f"of {wall * (os.cpu_count() or 1):.0f} core-seconds available")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=("S", "M", "L"))
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    import tempfile

    from dashboard.sample import generate

    data = Path(tempfile.gettempdir()) / f"refport-bench-{args.size}"
    if not (data / "fees.parquet").exists():
        print(f"generating sample size {args.size} into {data} ...", file=sys.stderr)
        generate(data, args.size, 1)
    with streamlit_server(data) as (url):
        pid = _server_pid(url)
        asyncio.run(run(url, pid, args.sessions, args.steps))


def _server_pid(url: str) -> int:
    port = url.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "streamlit" in cmd and f"--server.port {port}" in cmd:
                return int(proc.name)
    raise RuntimeError(f"no streamlit process serves {url}")


if __name__ == "__main__":
    main()
