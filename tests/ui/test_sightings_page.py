"""The page's sightings in headless Chromium: the face of each sighting beside the enrolled
face it was matched to (Live and History), search by photo, and camera settings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import RECOGNIZE_TOKEN
from tests.live_api import ApiProcess
from tests.ui.browser import save_screenshot
from tests.ui.conftest import ARTIFACTS, Keyed, lfw
from tests.ui.test_page import go, open_signed_in, text, texts, wait_until

pytest.importorskip("selenium", reason="selenium is absent: pip install -r requirements-dev.txt")

from selenium.webdriver.common.by import By


def loaded_widths(driver: Any, css: str) -> list[int]:
    """naturalWidth of every image matching `css` (0 while one has not loaded)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])]"
        ".map((img) => (img.complete && img.src.startsWith('blob:') ? img.naturalWidth : 0));",
        css,
    )


def test_sightings_show_their_face_and_can_be_searched_by_photo(
    keyed_api: ApiProcess, admin: Keyed, browser: Any
) -> None:
    driver = browser
    admin.create_person("meryl", "Meryl Streep")
    admin.enrol("meryl", [lfw("Meryl_Streep", n) for n in (1, 2, 3)])
    assert admin.recognize(lfw("Meryl_Streep", 10), camera_id="porch", location="Porch") == [
        "meryl"
    ]
    assert admin.recognize(lfw("Hu_Jintao", 3), camera_id="porch") == [None]
    open_signed_in(driver, keyed_api.url)

    # Live: each sighting's face; the known one also shows Meryl's enrolled face.
    go(driver, "live")
    wait_until(driver, lambda d: len(texts(d, "#live-list li")) == 2, "two live sightings")
    wait_until(
        driver,
        lambda d: loaded_widths(d, "#live-list .sighting-face") == [160, 160],
        "both sighting faces",
    )
    wait_until(
        driver,
        lambda d: loaded_widths(d, "#live-list li.known .enrolled-face img") == [96],
        "the enrolled face beside the known sighting",
    )
    assert loaded_widths(driver, "#live-list li.unknown .enrolled-face img") == []
    assert "quality" in text(driver, "#live-list li.known .score")
    save_screenshot(driver, ARTIFACTS / "live-faces.png")

    # History: the person's timeline shows the sighting's face too.
    driver.get(f"{keyed_api.url}/ui#history?person=meryl")
    wait_until(driver, lambda d: len(texts(d, "#person-timeline li")) == 1, "one sighting")
    wait_until(
        driver,
        lambda d: loaded_widths(d, "#person-timeline .sighting-face") == [160],
        "the sighting face in the timeline",
    )

    # Search by photo: another photo of her finds the porch sighting, not the stranger.
    go(driver, "search")
    driver.find_element(By.ID, "search-file").send_keys(str(lfw("Meryl_Streep", 11)))
    driver.find_element(By.ID, "search-submit").click()
    wait_until(driver, lambda d: text(d, "#search-status").startswith("Seen"), "search results")
    assert texts(driver, "#search-results .who") == ["Meryl Streep"]
    assert texts(driver, "#search-results .where") == ["porch · Porch"]
    wait_until(
        driver,
        lambda d: loaded_widths(d, "#search-results .sighting-face") == [160],
        "the found sighting's face",
    )
    save_screenshot(driver, ARTIFACTS / "search.png")
    driver.find_element(By.ID, "search-file").send_keys(str(lfw("Nestor_Kirchner", 1)))
    driver.find_element(By.ID, "search-submit").click()
    wait_until(driver, lambda d: text(d, "#search-status").startswith("Not seen"), "no results")
    assert texts(driver, "#search-results li") == []


def test_camera_settings_view_saves_a_threshold(
    keyed_api: ApiProcess, admin: Keyed, browser: Any
) -> None:
    driver = browser
    admin.recognize(lfw("Hu_Jintao", 4), camera_id="gate")
    open_signed_in(driver, keyed_api.url)
    go(driver, "cameras")
    wait_until(
        driver, lambda d: "gate" in texts(d, "#cameras-table tbody tr td:first-child"), "gate"
    )
    driver.find_element(By.CSS_SELECTOR, '#cameras-table tr[data-camera-id="gate"] button').click()
    assert driver.find_element(By.ID, "camera-id").get_attribute("value") == "gate"
    driver.find_element(By.ID, "camera-location").send_keys("Car park")
    driver.find_element(By.ID, "camera-threshold").send_keys("0.7")
    driver.find_element(By.ID, "camera-save").click()
    wait_until(driver, lambda d: text(d, "#camera-status").startswith("Saved"), "saved")
    assert text(driver, "#camera-status") == "Saved gate: threshold 0.70."
    row = '#cameras-table tr[data-camera-id="gate"]'
    wait_until(driver, lambda d: text(d, f"{row} .threshold") == "0.70", "the new threshold")
    settings = admin.call("GET", "/api/v1/cameras/gate").json()
    assert settings["threshold"] == pytest.approx(0.7) and settings["location"] == "Car park"
    save_screenshot(driver, ARTIFACTS / "cameras.png")

    # A recognize key reads the settings but may not change them: the page says so.
    open_signed_in(driver, keyed_api.url, RECOGNIZE_TOKEN)
    go(driver, "cameras")
    wait_until(driver, lambda d: text(d, f"{row} .threshold") == "0.70", "the settings")
    driver.find_element(By.ID, "camera-id").send_keys("gate")
    driver.find_element(By.ID, "camera-threshold").send_keys("0.2")
    driver.find_element(By.ID, "camera-save").click()
    wait_until(driver, lambda d: text(d, "#camera-status").startswith("Not saved"), "refusal")
    assert admin.call("GET", "/api/v1/cameras/gate").json()["threshold"] == pytest.approx(0.7)
