"""The page's unknown people and corrections in headless Chromium: groups of strangers as
face strips, "Name this person" (then recognised), "Dismiss", and a sighting's "Wrong
person" and "This is..." actions."""

from __future__ import annotations

from typing import Any

import pytest

from tests.live_api import ApiProcess
from tests.ui.browser import save_screenshot
from tests.ui.conftest import ARTIFACTS, Keyed, lfw
from tests.ui.test_page import go, open_signed_in, text, texts, wait_until
from tests.ui.test_sightings_page import loaded_widths

pytest.importorskip("selenium", reason="selenium is absent: pip install -r requirements-dev.txt")

from selenium.webdriver.common.by import By

GROUP = "#unknowns-list li.unknown-group"


def sighted(admin: Keyed, person: str, number: int, camera: str) -> dict[str, Any]:
    response = admin.call(
        "POST",
        "/api/v1/recognize",
        files={"image": ("p.jpg", lfw(person, number).read_bytes(), "image/jpeg")},
        data={"camera_id": camera},
    )
    assert response.status_code == 200, response.text
    return response.json()["faces"][0]


def test_unknown_people_are_named_and_dismissed(
    keyed_api: ApiProcess, admin: Keyed, browser: Any
) -> None:
    driver = browser
    chan = [
        sighted(admin, "Jackie_Chan", n, cam) for n, cam in ((1, "door"), (2, "hall"), (3, "door"))
    ]
    assert len({face["unknown_id"] for face in chan}) == 1 and chan[0]["unknown_id"]
    other = [sighted(admin, "Nestor_Kirchner", n, "hall") for n in (1, 2)]
    open_signed_in(driver, keyed_api.url)
    go(driver, "unknowns")
    wait_until(driver, lambda d: len(texts(d, GROUP)) == 2, "two unknown people")
    first = f'{GROUP}[data-unknown-id="{chan[0]["unknown_id"]}"]'
    assert text(driver, f"{first} .group-summary").startswith("3 sightings at door, hall")
    wait_until(
        driver,
        lambda d: loaded_widths(d, f"{first} .face-strip img") == [160, 160, 160],
        "the group's face strip",
    )
    # Last seen first: Nestor was seen after Jackie.
    ids = [e.get_attribute("data-unknown-id") for e in driver.find_elements(By.CSS_SELECTOR, GROUP)]
    assert ids[0] == other[-1]["unknown_id"]
    save_screenshot(driver, ARTIFACTS / "unknowns.png")

    driver.find_element(By.CSS_SELECTOR, f'{first} button[data-action="name"]').click()
    driver.find_element(By.CSS_SELECTOR, f"{first} .name-form input").send_keys("jackie")
    driver.find_elements(By.CSS_SELECTOR, f"{first} .name-form input")[1].send_keys("Jackie Chan")
    driver.find_element(By.CSS_SELECTOR, f'{first} .name-form button[type="submit"]').click()
    wait_until(driver, lambda d: "created" in text(d, "#unknowns-status"), "named")
    assert admin.recognize(lfw("Jackie_Chan", 4), camera_id="door") == ["jackie"]
    wait_until(driver, lambda d: len(texts(d, GROUP)) == 1, "the named group gone")

    dismiss = f'{GROUP} button[data-action="dismiss"]'
    driver.find_element(By.CSS_SELECTOR, dismiss).click()
    wait_until(driver, lambda d: len(texts(d, GROUP)) == 0, "the dismissed group gone")
    assert text(driver, "#unknowns-status").startswith("Dismissed")


def test_sighting_actions_correct_a_name(keyed_api: ApiProcess, admin: Keyed, browser: Any) -> None:
    driver = browser
    admin.create_person("meryl", "Meryl Streep")
    admin.enrol("meryl", [lfw("Meryl_Streep", n) for n in (1, 2, 3)])
    named = sighted(admin, "Meryl_Streep", 10, "porch")
    assert named["person_id"] == "meryl"
    stranger = sighted(admin, "Hu_Jintao", 3, "porch")
    open_signed_in(driver, keyed_api.url)
    go(driver, "live")
    item = f'#live-list li[data-event-id="{named["event_id"]}"]'
    wait_until(driver, lambda d: texts(d, f"{item} .who") == ["Meryl Streep"], "the sighting")
    driver.find_element(By.CSS_SELECTOR, f'{item} button[data-action="wrong-person"]').click()
    wait_until(driver, lambda d: texts(d, f"{item} .who") == ["Unknown face"], "relabelled")
    event = admin.call("GET", f"/api/v1/events/{named['event_id']}").json()
    assert event["person_id"] is None and event["corrected"] is True
    assert event["corrections"][0]["key_id"].startswith("env-")

    unknown = f'#live-list li[data-event-id="{stranger["event_id"]}"]'
    driver.find_element(By.CSS_SELECTOR, f'{unknown} button[data-action="this-is"]').click()
    choice = wait_until(
        driver,
        lambda d: (d.find_elements(By.CSS_SELECTOR, f"{unknown} .this-is select") or [None])[0],
        "the choice of a person",
    )
    choice.find_element(By.CSS_SELECTOR, 'option[value="meryl"]').click()
    driver.find_element(By.CSS_SELECTOR, f"{unknown} .this-is button").click()
    wait_until(driver, lambda d: texts(d, f"{unknown} .who") == ["Meryl Streep"], "this is")
    event = admin.call("GET", f"/api/v1/events/{stranger['event_id']}").json()
    assert event["person_id"] == "meryl" and event["corrected"] is True
