"""The system's headless Chromium, driven by Selenium: to photograph the gallery's pages, and for the tests.

Chromium and its driver come from the OS packages (``chromium``, ``chromium-driver``); the driver's
path is always given, so Selenium never looks for or downloads one of its own.  The browser starts
with a fresh profile and without the background traffic a browser makes on its own (updates, sync,
safe browsing), so that opening a page fetches nothing from anywhere.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from derive.errors import DeriveError

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DESKTOP = (1280, 900)  # CSS pixels: a laptop
PHONE = (390, 844)  # CSS pixels: a phone held upright


def tools() -> tuple[str, str] | None:
    """Chromium and chromedriver, if both are installed."""
    browser = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    driver = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def chromium(width: int = DESKTOP[0], height: int = DESKTOP[1]) -> Iterator[Any]:
    """A headless Chromium of the given window size, with its browser log kept, closed afterwards."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise DeriveError("the browser needs Selenium: pip install selenium") from None
    found = tools()
    if found is None:
        raise DeriveError("no Chromium found: on Debian or Ubuntu, apt-get install chromium chromium-driver")
    browser, driver_path = found
    with tempfile.TemporaryDirectory(prefix="derive-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for argument in (
            "--headless=new",
            f"--window-size={width},{height}",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--disable-dev-shm-usage",  # a container's small /dev/shm would crash the renderer
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(argument)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            options.add_argument("--no-sandbox")  # Chromium refuses to run as root inside its sandbox
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        try:
            resize(driver, width, height)
            yield driver
        finally:
            driver.quit()


def resize(driver: Any, width: int, height: int) -> None:
    """Make the page's viewport exactly width × height CSS pixels (a headless window has a minimum
    width, wider than a phone).  Not as a "mobile" device: Chromium would then lay the page out in a
    taller viewport than it shows, which a real phone of that size does not do."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def screenshot(page: Path, width: int, height: int) -> bytes:
    """A PNG of the whole page as a browser of that width shows it."""
    with chromium(width, height) as driver:
        driver.get(page.resolve().as_uri())
        return driver.get_screenshot_as_png()
