"""Many users at once: N concurrent browser sessions against one server (issue 8).

    .venv/bin/python scripts/load.py [--size M | --data DIR] [--sessions 10] [--steps 12] [--think 3]
                                     [--seed 1] [--reload] [--protocol | --screenshot PATH]

Each session is its own chromium context (own cookies, own Streamlit websocket session) and uses the
app as a person does: it opens it once, then for a fixed number of steps alternates between clicking an
analysis page in the sidebar navigation (a rerun over the same websocket, no reload) and changing a
sidebar filter (picking a value in one of the multiselects, then removing it again at its next filter
step), with a think time to read between steps. A step's completion time runs from the click (or Enter)
until the script run it started is over and the page shows its result: the new page's key text, the
new filter in the page's caption. The script reports p50/p95/max completion, the server's CPU per step
and its memory after warm-up, during the steps and at the end. Traffic goes to 127.0.0.1 only.

The browsers run on this machine too, and on two cores they, not the server, use most of the CPU: the
report says how much the whole machine used besides the server, per step.

--reload instead loads each step's page afresh from its URL, the filter in the query string: every step
then costs the browser a whole front end and a new websocket session (this script's first version).

--protocol leaves the browsers out: each session is a websocket client that sends the messages the
front end sends (open the app, ask for a run of a page with the filters' widget values) and a step is
complete once the server has sent the whole run, with the same texts in it that the browser steps wait
for. That is the server's page completion for many real Streamlit sessions, with no browsers on the
machine competing for its cores; each user's own browser adds its drawing time (with one browser
alone on this machine a step takes 0.4-0.9 s at size M, the server's part of it 0.2-0.5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
from tests.test_browser import PAGES

# the pages a session clicks through, offset per session (each session opens on the Overview)
ANALYSIS_PAGES = ["concentration", "drift", "tiering", "flows", "relationships", "attribution", "ror"]
# Labels of the sidebar multiselects the sessions change (dashboard/state.py FILTER_LABELS). Not
# "Work type": many of its values are work the firm does not take on (insurance, family), with no fees,
# so most pages show a notice instead of their key element.
FILTERS = ["Team", "Referrer type", "Region"]
RELOAD_QUERIES = ["", "team=corporate", "referrer_type=bank", "region=London", "work_type=insolvency"]

VIEWPORT = {"width": 1280, "height": 720}
OPEN_TIMEOUT_S = 120  # ten sessions loading the whole front end at once on two cores is slow
STEP_TIMEOUT_S = 60
MEMORY_SAMPLE_S = 2.0

NAVIGATION = '[data-testid="stSidebarNav"]'
SIDEBAR = '[data-testid="stSidebar"]'
EXCEPTION = '[data-testid="stException"]'

# Resolves (null) once the main area shows every one of the texts and the script run is over (stApp's
# data-test-script-state is "notRunning"); after the timeout (ms), with what is missing. A step waits
# for a text only its own run can draw: the new page's key text after a page switch, the caption's new
# filter description ("· team: corporate", "· no filters") after a filter change. "Not running" alone
# is no proof: while the front end is busy it handles a whole run's messages before React renders, so
# the state may never show "running" and would read "done" before the rerun began. React renders the
# run state and the elements from the same messages in order, so a screen with the new text and "not
# running" is one whose run has finished. A MutationObserver checks on every change of the page, so
# the time is exact (a Playwright locator's wait polls every 500 ms after its first second). The
# promise is kept on window: Chromium's inspector holds the promise it awaits only weakly, and under load
# a step failed with "Resulting promise was garbage collected".
SETTLED = """([texts, timeout]) => window.__loadSettled = new Promise((resolve) => {
    const running = () => document.querySelector('[data-testid="stApp"]')
        ?.getAttribute('data-test-script-state') !== 'notRunning';
    const missing = () => {
        const shown = document.querySelector('[data-testid="stMain"]')?.textContent ?? '';
        return texts.filter((text) => !shown.includes(text));
    };
    if (!running() && !missing().length) return resolve(null);
    const observer = new MutationObserver(() => {
        if (!running() && !missing().length) { observer.disconnect(); clearTimeout(timer); resolve(null); }
    });
    const timer = setTimeout(() => {
        observer.disconnect();
        resolve(running() ? 'the script is still running' : `the page does not show: ${missing().join(' and ')}`);
    }, timeout);
    observer.observe(document.body, {subtree: true, childList: true, characterData: true,
                                     attributes: true, attributeFilter: ['data-test-script-state']});
})"""

# whether the sidebar multiselect's list highlights this value, which Enter then picks
HIGHLIGHTED = """([label, value]) => {
    const box = document.querySelector(`[data-testid="stSidebar"] input[aria-label="${label}"]`);
    const active = box && document.getElementById(box.getAttribute('aria-activedescendant'));
    return active?.textContent === value;
}"""


class StepFailed(Exception):
    pass


@dataclass
class Step:
    session: int
    kind: str  # "open", "page", "filter" or "reload"
    what: str
    view: str  # url path of the page on screen after the step
    seconds: float = 0.0
    error: str = ""


class Session:
    """One person: a browser context of its own, opened on the app once.

    Each action returns what it did and its completion time in seconds."""

    def __init__(self, browser, url: str, number: int, seed: int) -> None:
        self.browser, self.url, self.number = browser, url, number
        self.rng = random.Random(seed * 1000 + number)
        self.view = ""  # url path of the page on screen
        self.picked: tuple[str, str] | None = None  # (filter label, value) applied now
        self.steps: list[Step] = []

    async def open(self) -> None:
        self.context = await self.browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(STEP_TIMEOUT_S * 1000)
        self.page = await self.context.new_page()
        await self.attempt("open", "Overview", self.load, "", "", OPEN_TIMEOUT_S)

    async def close(self) -> None:
        await self.context.close()

    async def walk(self, steps: int, think: float, reload: bool, screenshot: Path | None) -> None:
        for number in range(steps):
            # a person reading, jittered so sessions don't act in lockstep
            await asyncio.sleep(think * self.rng.uniform(0.5, 1.5))
            view = ANALYSIS_PAGES[(self.number + number // 2) % len(ANALYSIS_PAGES)]
            if reload:
                query = RELOAD_QUERIES[(self.number * 3 + number) % len(RELOAD_QUERIES)]
                await self.attempt("reload", f"load /{view}?{query}", self.load, view, query, STEP_TIMEOUT_S)
            elif number % 2 == 0:
                await self.attempt("page", f"click /{view}", self.switch_page, view)
            elif self.picked:
                await self.attempt("filter", "remove {} = {}".format(*self.picked), self.remove_filter)
            else:
                label = FILTERS[(self.number + number // 4) % len(FILTERS)]
                await self.attempt("filter", f"pick {label}", self.pick_filter, label)
            if screenshot is not None and number == steps // 2 - 1:
                await self.page.screenshot(path=screenshot)
                filters = "{} = {}".format(*self.picked) if self.picked else "no filter"
                print(f"screenshot of session {self.number} after step {number + 1} (page /{self.view}, "
                      f"{filters}, url {self.page.url}): {screenshot}")

    async def attempt(self, kind: str, what: str, action, *arguments) -> None:
        """Do one step; a timeout, a missing element or an exception on the page makes it a failed step."""
        try:
            what, seconds = await action(*arguments)
            if await self.shows_exception():
                raise StepFailed("the page shows an exception")
        except (PlaywrightError, StepFailed, OSError) as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.steps.append(Step(self.number, kind, what, self.view, error=message))
            await self.recover()
            return
        self.steps.append(Step(self.number, kind, what, self.view, seconds))

    async def shows_exception(self) -> bool:
        return bool(await self.page.locator(EXCEPTION).count())

    async def recover(self) -> None:
        with contextlib.suppress(PlaywrightError):
            await self.page.keyboard.press("Escape")  # a list left open hides the rest of the app

    async def load(self, view: str, query: str, timeout: float) -> tuple[str, float]:
        started = time.perf_counter()
        await self.page.goto(f"{self.url}/{view}?{query}", timeout=timeout * 1000)
        self.view = view
        await self.settle([PAGES[view]], timeout)
        return f"load /{view}?{query}", time.perf_counter() - started

    # The clicks below note their effect at once, so that a step that fails afterwards (too slow, or
    # the page not showing its key text) leaves the next steps knowing what is on screen.

    async def switch_page(self, view: str) -> tuple[str, float]:
        async def click() -> None:
            await self.page.locator(f'{NAVIGATION} a[href="{self.url}/{view}"]').click()
            self.view = view

        return f"click /{view}", await self._rerun(click, [PAGES[view]])

    async def pick_filter(self, label: str) -> tuple[str, float]:
        # The list is worked from the keyboard. A click on the box or its chevron at times only focused
        # it (once the app had been idle for a second), and under load a click on an option at times did
        # not take (the list still coming in); ArrowDown opens the list, typing a value narrows it to
        # that value and Enter picks it.
        box = self.page.locator(SIDEBAR).get_by_role("combobox", name=label, exact=True)
        await box.focus()
        await box.press("ArrowDown")
        values = self.page.get_by_role("option").filter(has_not_text="Select all")
        await values.first.wait_for()
        value = self.rng.choice(await values.all_inner_texts())
        await box.fill(value)
        await self.page.wait_for_function(HIGHLIGHTED, arg=[label, value])

        async def enter() -> None:
            await box.press("Enter")
            self.picked = (label, value)

        # the caption's filter description (Filters.describe in dashboard/window.py): "· team: corporate"
        seconds = await self._rerun(enter, [PAGES[self.view], f"· {label.lower()}: {value}"])
        await box.press("Escape")  # the list stays open for more picks
        return f"pick {label} = {value}", seconds

    async def remove_filter(self) -> tuple[str, float]:
        label, value = self.picked
        remove = self.page.locator(SIDEBAR).get_by_role("button", name=f"Remove {value}", exact=True)
        if not await remove.count():  # the last step's run is over, so the sidebar is drawn
            self.picked = None
            raise StepFailed(f"{label} = {value} is no longer picked in the sidebar")

        async def click() -> None:
            await remove.click()
            self.picked = None

        return f"remove {label} = {value}", await self._rerun(click, [PAGES[self.view], "· no filters"])

    async def _rerun(self, click, texts: list[str]) -> float:
        """Time from the click to the end of the run it starts, with the texts on screen."""
        started = time.perf_counter()
        await click()
        await self.settle(texts, STEP_TIMEOUT_S)
        return time.perf_counter() - started

    async def settle(self, texts: list[str], timeout: float) -> None:
        if problem := await self.page.evaluate(SETTLED, [texts, timeout * 1000]):
            raise StepFailed(f"after {timeout:g} s {problem}")


class ProtocolSession(Session):
    """One person as the server sees it: the front end's websocket messages, without a browser.

    It sends what the front end sends (a rerun request with the page, the query string and the sidebar
    filters' values) and a step is complete when the server reports the run it started finished, its
    messages holding the same texts the browser steps wait for. This is the server's page completion
    for many real Streamlit sessions; drawing the page is left to each user's own browser."""

    socket = None
    query = ""  # the URL's query string, as the server last set it
    shown_exception = False

    async def open(self) -> None:
        self.page_hashes: dict[str, str] = {}  # url path → page script hash, from the navigation message
        self.filters: dict[str, tuple[str, list[str]]] = {}  # label → (widget id, options), of FILTERS
        await self.attempt("open", "Overview", self.load, "", "", OPEN_TIMEOUT_S)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
            self.socket = None

    async def load(self, view: str, query: str, timeout: float) -> tuple[str, float]:
        """Open the app on a page as a browser tab does: a new websocket session, then its first run."""
        await self.close()
        started = time.perf_counter()
        address = self.url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.socket = await websockets.connect(address, subprotocols=["streamlit"], origin=self.url,
                                               max_size=None, open_timeout=timeout)
        self.query, self.picked = query, None
        await self.run_page(view, [PAGES[view]], timeout)
        return f"load /{view}?{query}", time.perf_counter() - started

    async def switch_page(self, view: str) -> tuple[str, float]:
        return f"click /{view}", await self.run_page(view, [PAGES[view]])

    async def pick_filter(self, label: str) -> tuple[str, float]:
        value = self.rng.choice(self.filters[label][1])
        self.picked = (label, value)
        seconds = await self.run_page(self.view, [PAGES[self.view], f"· {label.lower()}: {value}"])
        return f"pick {label} = {value}", seconds

    async def remove_filter(self) -> tuple[str, float]:
        label, value = self.picked
        self.picked = None
        return f"remove {label} = {value}", await self.run_page(self.view, [PAGES[self.view], "· no filters"])

    async def shows_exception(self) -> bool:
        return self.shown_exception

    async def recover(self) -> None:
        pass

    async def run_page(self, view: str, texts: list[str], timeout: float = STEP_TIMEOUT_S) -> float:
        """Ask for a run of the page with the filters picked now; the time until it finished."""
        if self.socket is None:
            raise StepFailed("no connection: an earlier step of this session timed out or failed to connect")
        request = BackMsg()
        request.rerun_script.query_string = self.query
        request.rerun_script.page_script_hash = self.page_hashes.get(view, "")
        for label, (widget_id, _) in self.filters.items():
            state = request.rerun_script.widget_states.widgets.add()
            state.id = widget_id
            state.string_array_value.data.extend([self.picked[1]] if self.picked and self.picked[0] == label else [])
        started = time.perf_counter()
        await self.socket.send(request.SerializeToString())
        self.view = view
        try:
            received = await asyncio.wait_for(self._until_finished(), timeout)
        except TimeoutError:
            # the late run's messages would end the next step early: this session stops here
            await self.close()
            raise StepFailed(f"after {timeout:g} s the run has not finished") from None
        seconds = time.perf_counter() - started
        if missing := [text for text in texts if text.encode() not in received]:
            raise StepFailed(f"the page does not show: {' and '.join(missing)}")
        return seconds

    async def _until_finished(self) -> bytes:
        """Read the server's messages up to the end of the run; all of them, as one byte string."""
        self.shown_exception = False
        received = []
        while True:
            data = await self.socket.recv()
            message = ForwardMsg()
            message.ParseFromString(data)
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                if element.WhichOneof("type") == "exception":
                    self.shown_exception = True
                elif element.WhichOneof("type") == "multiselect" and element.multiselect.label in FILTERS:
                    self.filters[element.multiselect.label] = (element.multiselect.id, list(element.multiselect.options))
            elif kind == "navigation":
                self.page_hashes = {page.url_pathname: page.page_script_hash for page in message.navigation.app_pages}
            elif kind == "page_info_changed":
                self.query = message.page_info_changed.query_string
            elif kind == "script_finished":
                if message.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # the app asked for another run at once: the step ends with that one
                return b"".join(received)
            received.append(data)


def server_rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The server's resident memory now (VmRSS), or its peak since it started (VmHWM), with its children."""
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith(f"{field}:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds every process on the machine has used so far (all but idle and I/O wait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def sample_memory(pid: int, samples: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(server_rss_mb(pid))
        try:
            await asyncio.wait_for(stop.wait(), MEMORY_SAMPLE_S)
        except TimeoutError:
            pass


def p95(seconds: list[float]) -> float:
    ordered = sorted(seconds)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank


def summary(steps: list[Step]) -> str:
    seconds = [s.seconds for s in steps if not s.error]
    if not seconds:
        return "none completed"
    return (f"p50 {statistics.median(seconds):.2f} s, p95 {p95(seconds):.2f} s, max {max(seconds):.2f} s "
            f"(n={len(seconds)})")


async def run(url: str, pid: int, args: argparse.Namespace) -> int:
    """Warm up, run the sessions, print the report; returns how many steps failed."""
    async with contextlib.AsyncExitStack() as stack:
        browser = None
        if not args.protocol:
            playwright = await stack.enter_async_context(async_playwright())
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            stack.push_async_callback(browser.close)
        person = ProtocolSession if args.protocol else Session
        warm = person(browser, url, 0, args.seed)
        started = time.perf_counter()
        await warm.open()
        for view in ANALYSIS_PAGES:
            await warm.attempt("page", f"click /{view}", warm.switch_page, view)
        await warm.close()
        warm_up_s, after_warm_up = time.perf_counter() - started, server_rss_mb(pid)

        sessions = [person(browser, url, n, args.seed) for n in range(args.sessions)]
        opened = asyncio.Barrier(args.sessions + 1)  # the steps start together, once all are open

        async def use(session: Session) -> None:
            try:
                await session.open()
            finally:
                await opened.wait()
            if not session.steps[0].error:
                await session.walk(args.steps, args.think, args.reload,
                                   args.screenshot if session.number == 0 else None)
            await session.close()

        opening = time.perf_counter()
        users = [asyncio.create_task(use(session)) for session in sessions]
        await opened.wait()
        opening_s, after_opening = time.perf_counter() - opening, server_rss_mb(pid)
        started, cpu_before, busy_before = time.perf_counter(), server_cpu_s(pid), machine_busy_s()
        memory: list[float] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_memory(pid, memory, stop))
        await asyncio.gather(*users)
        wall = time.perf_counter() - started
        server_cpu, machine_cpu = server_cpu_s(pid) - cpu_before, machine_busy_s() - busy_before
        stop.set()
        await sampler

    opens = [s.steps[0] for s in sessions]
    steps = [step for s in sessions for step in s.steps[1:]]
    failed = [step for step in [*warm.steps, *opens, *steps] if step.error]
    mode = "each step reloads the page from its URL" if args.reload else "sidebar clicks over one websocket each"
    if args.protocol:
        mode += "; no browsers: the front end's websocket messages, completion when the server's run ends"
    print(f"{f'data {args.data}' if args.data else f'size {args.size}'}: {args.sessions} sessions × {args.steps} steps ({mode}), think time "
          f"{args.think:g} s ± 50% between steps (seed {args.seed})")
    print(f"warm-up: one session opened the app and visited {len(ANALYSIS_PAGES)} pages in {warm_up_s:.1f} s")
    print(f"opening: {args.sessions} sessions at once, all open after {opening_s:.1f} s: {summary(opens)}")
    print(f"{len(steps)} steps in {wall:.1f} s, {len(failed)} failed")
    print(f"  all steps:      {summary(steps)}")
    for kind, name in (("page", "page switches: "), ("filter", "filter changes:"), ("reload", "page reloads:  ")):
        if any(step.kind == kind for step in steps):
            print(f"  {name} {summary([step for step in steps if step.kind == kind])}")
    by_page = "  ".join(
        f"{view} {statistics.median(times):.2f}/{max(times):.2f}"
        for view in ANALYSIS_PAGES
        if (times := [s.seconds for s in steps if s.kind in ("page", "reload") and s.view == view and not s.error])
    )
    print(f"  per page, p50/max s: {by_page}")
    done = len(steps) - sum(1 for step in steps if step.error)
    print(f"CPU over the steps: server {server_cpu:.1f} s ({server_cpu / max(done, 1):.2f} s per step); "
          f"the whole machine (server, browsers, this script, anything else) {machine_cpu:.0f} s "
          f"({(machine_cpu - server_cpu) / max(done, 1):.2f} s per step besides the server) "
          f"of {wall * (os.cpu_count() or 1):.0f} core-seconds available")
    # the largest sample in each quarter of the steps: flat, or still growing at the end?
    quarters = [memory[len(memory) * i // 4:len(memory) * (i + 1) // 4] for i in range(4)]
    print(f"server memory: {after_warm_up:.0f} MB after warm-up, {after_opening:.0f} MB with all sessions open; "
          f"during the steps (sampled every {MEMORY_SAMPLE_S:g} s) max {max(memory):.0f} MB, by quarter "
          f"{'/'.join(f'{max(quarter):.0f}' for quarter in quarters if quarter)} MB; "
          f"{server_rss_mb(pid):.0f} MB at the end; peak since it started (the kernel's VmHWM) "
          f"{server_rss_mb(pid, 'VmHWM'):.0f} MB")
    for step in failed:
        who = "warm-up" if step in warm.steps else f"session {step.session}"
        print(f"FAILED {who}, {step.kind} step ({step.what}): {step.error}")
    return len(failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="M", choices=("S", "M", "L"))
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--think", type=float, default=3.0, metavar="SECONDS",
                        help="mean pause between a session's steps, jittered ±50%% (0: none)")
    parser.add_argument("--seed", type=int, default=1, help="for the think-time jitter and the filter values")
    parser.add_argument("--reload", action="store_true",
                        help="load every step's page from its URL instead of clicking in the sidebar")
    parser.add_argument("--screenshot", type=Path, metavar="PATH",
                        help="save session 0's screen halfway through its steps")
    parser.add_argument("--protocol", action="store_true",
                        help="no browsers: each session sends the front end's websocket messages itself "
                             "and a step ends when the server has sent the whole run (the server's share)")
    parser.add_argument("--data", type=Path, metavar="DIR",
                        help="a data directory to serve instead of the generated sample of --size")
    args = parser.parse_args()
    if args.protocol and args.screenshot:
        parser.error("--screenshot needs a browser: leave out --protocol")
    from dashboard.sample import generate

    data = args.data or Path(tempfile.gettempdir()) / f"refport-bench-{args.size}"
    if args.data is None and not (data / "fees.parquet").exists():
        print(f"generating sample size {args.size} into {data} ...", file=sys.stderr)
        generate(data, args.size, 1)
    # stopped from outside, the run still stops its Streamlit server on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with streamlit_server(data) as url:
        failures = asyncio.run(run(url, _server_pid(url), args))
    sys.exit(1 if failures else 0)


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
