"""A real `streamlit run` on a free port and Debian chromium driven by playwright, for browser tests.

Browser tests skip locally when chromium is missing but fail under CI=true: CI must never go green
without having run them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The app is idle and connected: the script has finished its run.
READY = '[data-testid="stApp"][data-test-script-state="notRunning"][data-test-connection-state="CONNECTED"]'


def chromium_path() -> str:
    """Path of Debian's chromium; skip (locally) or fail (CI=true) when it is missing."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = "Debian chromium is not installed (apt-get install chromium); browser tests need it"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def streamlit_server(
    script: str = "app.py", timeout: float = 60.0, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start ``streamlit run script`` on a free localhost port; yield its base URL; stop that process.

    ``env`` adds to (or overrides) this process's environment for the server."""
    with streamlit_process(script, timeout, env) as (url, _):
        yield url


@contextmanager
def streamlit_process(
    script: str = "app.py", timeout: float = 60.0, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """As :func:`streamlit_server`, yielding the server's process too (for its CPU time and memory)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.headless=true",
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--browser.gatherUsageStats=false",
        "--server.fileWatcherType=none",
    ]
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / f"streamlit-{port}.log").open("wb")
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=None if env is None else {**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {process.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not answer on {url} within {timeout} s")
            time.sleep(0.2)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_ready(page, timeout_ms: float = 60_000) -> None:
    """Wait until the app has finished its run and is connected."""
    page.wait_for_selector(READY, timeout=timeout_ms)


def full_page_screenshot(page, name: str) -> Path:
    """Save a screenshot of the whole page (the main section scrolls, so grow the viewport first)."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate(
        "() => document.querySelector('section[data-testid=\"stMain\"]')?.scrollHeight ?? 1000"
    )
    width = page.viewport_size["width"] if page.viewport_size else 1400
    page.set_viewport_size({"width": width, "height": max(800, min(int(height) + 40, 8000))})
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def slider_value(slider) -> float:
    return float(slider.get_attribute("aria-valuenow"))


def press_keys(
    page, slider, presses: int, changed: Callable[[], None] | None = None, gap_s: float = 0.0
) -> None:
    """Press ArrowRight ``presses`` times on ``slider`` (its range input), ``gap_s`` apart; wait for
    ``changed`` (if given) and for the app to be idle; fail if any press was lost.

    Each press is made once: the slider's final value says how many took effect, and every one that did
    not is a lost press (a press that lands while a rerun redraws the slider must still count). Pressing
    again until something changes would hide exactly that bug.
    """
    step = float(slider.get_attribute("step"))
    start = float(slider.input_value())
    slider.focus()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
        if gap_s:
            time.sleep(gap_s)
    try:
        if changed is not None:
            changed()
    finally:  # the count first: a wait that timed out because presses were lost says why
        wait_ready(page)
        lost = presses - round((float(slider.input_value()) - start) / step)
        assert lost == 0, f"{lost} of {presses} key presses were lost"


@contextmanager
def busy_cpu(processes: int | None = None) -> Iterator[None]:
    """Keep every core busy with spinning Python processes (started here, stopped by their ids)."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(processes or os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()


def save_screenshot(png: bytes, out: Path, max_bytes: int) -> None:
    """Save a page screenshot as an optimised PNG; over ``max_bytes``, with 256 colours instead."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.save(out, optimize=True)
    if out.stat().st_size > max_bytes:  # fewer colours, at some cost to the colour bars
        image = image.quantize(256, method=Image.Quantize.MEDIANCUT)
        image.save(out, optimize=True)
    print(f"{out}: {image.width}×{image.height}, {out.stat().st_size / 1024:.0f} KiB")
