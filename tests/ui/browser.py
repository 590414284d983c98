"""Headless Chromium driven by selenium through Debian's chromedriver (nothing downloaded).

`apt-get install chromium chromium-driver` provides both binaries; where either is
absent, or selenium is not installed, the tests that need a browser skip and say which.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")


def chromium_or_skip() -> None:
    """Skip the calling test, naming what is missing, unless a browser can be driven."""
    for binary, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} is absent: apt-get install {package}")
    pytest.importorskip(
        "selenium", reason="selenium is absent: pip install -r requirements-dev.txt"
    )


@contextmanager
def chromium(profile: Path, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A fresh headless Chromium (its own profile folder) with a width x height viewport."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which(CHROMIUM) or CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which(CHROMEDRIVER)))
    try:
        set_viewport(driver, width, height)
        yield driver
    finally:
        driver.quit()


def set_viewport(driver: Any, width: int, height: int, mobile: bool = False) -> None:
    """The layout viewport the page sees (a phone's when `mobile`), scale 1."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def save_screenshot(driver: Any, path: Path) -> Path:
    """The whole page, not only the viewport, as a PNG."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


_DROP = """
const [selector, files] = arguments;
const transfer = new DataTransfer();
for (const file of files) {
  const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
  transfer.items.add(new File([bytes], file.name, { type: file.type }));
}
const target = document.querySelector(selector);
for (const type of ["dragenter", "dragover", "drop"]) {
  const init = { bubbles: true, cancelable: true, dataTransfer: transfer };
  target.dispatchEvent(new DragEvent(type, init));
}
return transfer.files.length;
"""

_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp"}


def drop_files(driver: Any, selector: str, files: list[tuple[str, bytes]]) -> int:
    """Drop `files` (name, bytes) on the element `selector` as a user dragging them from
    the desktop would: the page receives the same DragEvents with a DataTransfer of Files.
    (WebDriver cannot drive the operating system's drag and drop.)"""
    payload = [
        {
            "name": name,
            "type": _TYPES.get(Path(name).suffix.lower(), "application/octet-stream"),
            "data": base64.b64encode(data).decode("ascii"),
        }
        for name, data in files
    ]
    return int(driver.execute_script(_DROP, selector, payload))
