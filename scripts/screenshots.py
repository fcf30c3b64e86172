"""Screenshots of every page on the sample data, as a user sees them.

    .venv/bin/python scripts/screenshots.py [--out DIR] [--pages overview data ...]

Writes <page>.png (1280×720 viewport) and <page>-full.png (whole page).
docs/overview.png in the README is the Overview's 1280×720 shot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from dashboard.data import SAMPLE_DIR
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.test_browser import PAGES


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/refport-shots")
    parser.add_argument("--data", default=str(SAMPLE_DIR))
    parser.add_argument("--pages", nargs="*", default=list(PAGES))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with streamlit_server(Path(args.data)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        for path in args.pages:
            page.goto(f"{url}/{path}")
            page.get_by_text(PAGES[path]).first.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
            )
            page.wait_for_timeout(1500)  # let plotly finish drawing
            name = path or "overview"
            page.screenshot(path=str(out / f"{name}.png"))
            # Streamlit scrolls inside its own container: a tall viewport shows the whole page
            page.set_viewport_size({"width": args.width, "height": 3200})
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / f"{name}-full.png"))
            page.set_viewport_size({"width": args.width, "height": args.height})
            print(out / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
