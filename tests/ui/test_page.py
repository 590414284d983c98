"""The operator's page in a real headless Chromium against a real gunicorn with API keys.

The main test is the issue's story: sign in, enrol a person by dropping images, recognise
a photo of them through the API with a camera, and watch the sighting appear in Live and
in the person's history without the page being reloaded. Screenshots of every view go to
tests/artifacts/ui/ (desktop and 375 px wide).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import requests

from tests.api.conftest import ADMIN_TOKEN, RECOGNIZE_TOKEN
from tests.api.images import blank_png, gif
from tests.live_api import ApiProcess
from tests.ui.browser import drop_files, save_screenshot, set_viewport
from tests.ui.conftest import ARTIFACTS, Keyed, lfw

pytest.importorskip("selenium", reason="selenium is absent: pip install -r requirements-dev.txt")

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

PHONE_WIDTH = 375

T = TypeVar("T")


# ---- helpers ------------------------------------------------------------------------


def wait_until(driver: Any, predicate: Callable[[Any], Any], what: str, timeout: float = 30) -> Any:
    return WebDriverWait(
        driver,
        timeout,
        poll_frequency=0.2,
        ignored_exceptions=(StaleElementReferenceException,),
    ).until(predicate, f"waited {timeout} s for {what}")


def reread(read: Callable[[], T], attempts: int = 20) -> T:
    """`read()` again when the page rebuilt a list under it: the people and live lists are
    re-rendered whole on every refresh, so an element found a moment ago may be gone."""
    for _ in range(attempts - 1):
        try:
            return read()
        except StaleElementReferenceException:
            time.sleep(0.1)
    return read()


def text(driver: Any, css: str) -> str:
    return reread(lambda: driver.find_element(By.CSS_SELECTOR, css).text)


def texts(driver: Any, css: str) -> list[str]:
    return reread(lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)])


def visible(driver: Any, css: str) -> bool:
    return driver.find_element(By.CSS_SELECTOR, css).is_displayed()


def severe_console_messages(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def open_signed_out(driver: Any, url: str) -> None:
    driver.get(f"{url}/")  # redirects to /ui
    driver.execute_script("sessionStorage.clear()")
    driver.refresh()
    wait_until(driver, lambda d: visible(d, "#sign-in"), "the sign-in form")


def sign_in(driver: Any, key: str) -> None:
    field = driver.find_element(By.ID, "api-key")
    field.clear()
    field.send_keys(key, Keys.ENTER)


def open_signed_in(driver: Any, url: str, key: str = ADMIN_TOKEN) -> None:
    open_signed_out(driver, url)
    sign_in(driver, key)
    wait_until(driver, lambda d: visible(d, "#people") and visible(d, "#nav"), "the People view")
    severe_console_messages(driver)  # drains the log: each test reads its own messages


def go(driver: Any, view: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#nav a[href="#{view}"]').click()
    wait_until(driver, lambda d: visible(d, f"#{view}"), f"the {view} view")


def person_row(driver: Any, person_id: str) -> Any:
    rows = driver.find_elements(By.CSS_SELECTOR, f'#people-table tr[data-person-id="{person_id}"]')
    return rows[0] if rows else None


def thumbnail_width(driver: Any, person_id: str) -> int:
    """naturalWidth of the row's thumbnail once it has loaded, else 0."""
    return int(
        driver.execute_script(
            "const row = `#people-table tr[data-person-id='${arguments[0]}']`;"
            "const img = document.querySelector(`${row} img`);"
            "return img && img.complete ? img.naturalWidth : 0;",
            person_id,
        )
    )


def overflowing(driver: Any) -> list[str]:
    """Elements reaching past the viewport's right edge (what would scroll sideways)."""
    return driver.execute_script(
        """
        const limit = document.documentElement.clientWidth + 0.5;
        return [...document.querySelectorAll('body *')]
          .map((e) => [e, e.getBoundingClientRect()])
          .filter(([, r]) => r.width > 0 && r.right > limit)
          .map(([e, r]) => `${e.tagName.toLowerCase()}#${e.id}.${e.className} right=${r.right}`);
        """
    )


# ---- the story of the issue -----------------------------------------------------------


def test_enrol_by_dropping_then_sightings_appear_live_and_in_history(
    keyed_api: ApiProcess, admin: Keyed, browser: Any
) -> None:
    driver = browser
    open_signed_in(driver, keyed_api.url)
    driver.execute_script("window.sameDocument = true")  # a reload would lose it

    # Enrol: three photos and two files the service must refuse, dropped at once.
    driver.find_element(By.ID, "enrol-id").send_keys("renee")
    driver.find_element(By.ID, "enrol-name").send_keys("Renée Zellweger")
    photos = [lfw("Renee_Zellweger", number) for number in (1, 2, 3)]
    files = [(p.name, p.read_bytes()) for p in photos]
    files += [("blank.png", blank_png()), ("animation.gif", gif())]
    assert drop_files(driver, "#drop-zone", files) == 5
    assert texts(driver, "#enrol-queue .file-name") == [name for name, _ in files]
    driver.find_element(By.ID, "enrol-submit").click()
    wait_until(driver, lambda d: len(texts(d, "#enrol-results li")) == 5, "5 enrolment results")
    results = driver.find_elements(By.CSS_SELECTOR, "#enrol-results li")
    outcome = {
        item.find_element(By.CSS_SELECTOR, ".file-name").text: item.get_attribute("class")
        for item in results
    }
    assert outcome == {p.name: "accepted" for p in photos} | {
        "blank.png": "rejected",
        "animation.gif": "rejected",
    }
    assert texts(driver, "#enrol-results .rejected code") == [
        "NO_FACE_FOUND",
        "UNSUPPORTED_IMAGE_FORMAT",
    ]
    assert text(driver, "#enrol-status") == "renee created: 3 images accepted, 2 rejected."
    assert texts(driver, "#enrol-queue li") == []

    # The list shows them with 3 faces, a thumbnail from the thumbnail endpoint, never seen.
    wait_until(driver, lambda d: thumbnail_width(d, "renee") == 96, "renee's thumbnail")
    row = '#people-table tr[data-person-id="renee"]'
    assert text(driver, f"{row} strong") == "Renée Zellweger"
    assert text(driver, f"{row} .faces") == "3"
    assert text(driver, f"{row} .last-seen") == "Never"
    assert admin.call("GET", "/api/v1/people/renee").json()["faces"] == 3
    save_screenshot(driver, ARTIFACTS / "people-after-enrolment.png")

    # Live: a camera reports her, then a stranger; both appear without a reload.
    go(driver, "live")
    assert driver.find_element(By.ID, "live-list").get_attribute("aria-live") == "polite"
    assert admin.recognize(lfw("Renee_Zellweger", 10), camera_id="door-1", location="Lobby") == [
        "renee"
    ]
    assert admin.recognize(lfw("Hu_Jintao", 2), camera_id="door-1", location="Lobby") == [None]
    wait_until(driver, lambda d: len(texts(d, "#live-list li")) == 2, "two live sightings")
    assert texts(driver, "#live-list li.known .who") == ["Renée Zellweger"]
    assert texts(driver, "#live-list li.unknown .who") == ["Unknown face"]
    assert texts(driver, "#live-list .where") == ["door-1 · Lobby", "door-1 · Lobby"]
    assert text(driver, "#live-list li.known .score").startswith("similarity ")
    save_screenshot(driver, ARTIFACTS / "live.png")

    # History from the person's row: one sighting, then a second camera while watching.
    go(driver, "people")
    reread(lambda: person_row(driver, "renee").find_element(By.LINK_TEXT, "History").click())
    wait_until(driver, lambda d: len(texts(d, "#person-timeline li")) == 1, "one sighting")
    assert "door-1" in text(driver, "#person-timeline li")
    assert "Lobby" in text(driver, "#person-timeline li")
    assert Select(driver.find_element(By.ID, "history-person")).first_selected_option.text == (
        "Renée Zellweger (renee)"
    )
    assert admin.recognize(lfw("Renee_Zellweger", 11), camera_id="door-2", location="Hall") == [
        "renee"
    ]
    wait_until(driver, lambda d: len(texts(d, "#person-timeline li")) == 2, "a second sighting")
    assert texts(driver, "#person-timeline li .camera") == ["door-2", "door-1"]
    assert texts(driver, "#person-timeline li .location") == ["Hall", "Lobby"]
    assert text(driver, "#person-summary") == (
        "Renée Zellweger: 2 sightings at 2 cameras; last at door-2 (Hall)."
    )

    # Per camera: door-1 saw one known and one unknown face this hour.
    wait_until(driver, lambda d: "door-2" in texts(d, "#history-camera option"), "door-2")
    Select(driver.find_element(By.ID, "history-camera")).select_by_value("door-1")
    wait_until(driver, lambda d: text(d, "#camera-chart-summary").startswith("door-1"), "the chart")
    assert "door-1, last 24 hours: 1 known, 1 unknown" in text(driver, "#camera-chart-summary")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#camera-chart svg rect.known")) == 1
    assert len(driver.find_elements(By.CSS_SELECTOR, "#camera-chart svg rect.unknown")) == 1
    driver.find_element(By.CSS_SELECTOR, "#history details summary").click()
    known = [int(cell) for cell in texts(driver, "#camera-table tbody td.known")]
    unknown = [int(cell) for cell in texts(driver, "#camera-table tbody td.unknown")]
    assert (sum(known), sum(unknown)) == (1, 1)
    save_screenshot(driver, ARTIFACTS / "history.png")

    assert driver.execute_script("return window.sameDocument") is True
    assert severe_console_messages(driver) == []


# ---- signing in, scopes, other actions -------------------------------------------------


def test_sign_in_refuses_bad_keys_and_a_recognize_key_cannot_retrain(
    keyed_api: ApiProcess, browser: Any
) -> None:
    driver = browser
    open_signed_out(driver, keyed_api.url)
    assert driver.current_url == f"{keyed_api.url}/ui"
    assert not visible(driver, "#nav")
    save_screenshot(driver, ARTIFACTS / "sign-in.png")

    sign_in(driver, "not-a-key")
    wait_until(driver, lambda d: text(d, "#sign-in-error"), "the refusal")
    assert text(driver, "#sign-in-error") == "Not signed in: the API key is invalid or revoked"
    sign_in(driver, "")
    wait_until(driver, lambda d: "needs an API key" in text(d, "#sign-in-error"), "a refusal")
    assert driver.execute_script("return sessionStorage.getItem('facerec.apiKey')") is None

    sign_in(driver, RECOGNIZE_TOKEN)
    wait_until(driver, lambda d: visible(d, "#people"), "the People view")
    assert driver.execute_script("return sessionStorage.getItem('facerec.apiKey')") == (
        RECOGNIZE_TOKEN
    )
    go(driver, "model")
    driver.find_element(By.ID, "retrain").click()
    wait_until(driver, lambda d: "admin key" in text(d, "#retrain-status"), "the refusal")
    assert text(driver, "#retrain-status") == (
        "This API key may not retrain: an admin key is needed."
    )

    driver.find_element(By.ID, "sign-out").click()
    wait_until(driver, lambda d: visible(d, "#sign-in"), "the sign-in form")
    assert driver.execute_script("return sessionStorage.getItem('facerec.apiKey')") is None


def test_page_is_public_and_its_data_calls_need_the_key(keyed_api: ApiProcess) -> None:
    url = keyed_api.url
    root = requests.get(f"{url}/", allow_redirects=False, timeout=10)
    assert root.status_code == 302 and root.headers["Location"].endswith("/ui")
    page = requests.get(f"{url}/ui", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = requests.get(f"{url}/static/app.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    for path in ("/api/v1/events/hourly", "/api/v1/cameras", "/api/v1/people/x/faces/1/thumbnail"):
        assert requests.get(f"{url}{path}", timeout=10).status_code == 401, path


def test_enrol_with_the_file_chooser_and_retrain(
    keyed_api: ApiProcess, admin: Keyed, browser: Any
) -> None:
    """The keyboard user's way in: the <input type=file>, then the Retrain button."""
    driver = browser
    open_signed_in(driver, keyed_api.url)
    driver.find_element(By.ID, "enrol-id").send_keys("jackie")
    chooser = driver.find_element(By.ID, "enrol-files")
    chooser.send_keys("\n".join(str(lfw("Jackie_Chan", n)) for n in (1, 2)))
    assert len(texts(driver, "#enrol-queue li")) == 2
    driver.find_element(By.ID, "enrol-submit").click()
    wait_until(driver, lambda d: "accepted" in text(d, "#enrol-status"), "the enrolment")
    assert text(driver, "#enrol-status") == "jackie created: 2 images accepted, 0 rejected."
    person = admin.call("GET", "/api/v1/people/jackie").json()
    assert person["name"] == "jackie" and person["faces"] == 2

    go(driver, "model")
    driver.find_element(By.ID, "retrain").click()
    wait_until(
        driver, lambda d: "succeeded" in text(d, "#retrain-status"), "the training", timeout=120
    )
    model = admin.call("GET", "/api/v1/model").json()
    assert model["version"] and model["people"] >= 1
    wait_until(driver, lambda d: model["version"] in text(d, "#model-facts"), "the new release")
    first_job = driver.find_element(By.CSS_SELECTOR, "#jobs-table tbody tr")
    assert first_job.find_element(By.CSS_SELECTOR, ".status").text == "succeeded"
    assert model["version"] in first_job.text
    save_screenshot(driver, ARTIFACTS / "model.png")
    assert severe_console_messages(driver) == []


def test_delete_asks_for_confirmation(keyed_api: ApiProcess, admin: Keyed, browser: Any) -> None:
    driver = browser
    admin.create_person("bremer", "Paul Bremer")
    admin.enrol("bremer", [lfw("Paul_Bremer", 1), lfw("Paul_Bremer", 2)])
    open_signed_in(driver, keyed_api.url)
    wait_until(driver, lambda d: person_row(d, "bremer") is not None, "Paul Bremer's row")

    def ask() -> Any:
        delete_button = (By.CSS_SELECTOR, "button.danger")
        reread(lambda: person_row(driver, "bremer").find_element(*delete_button).click())
        dialog = driver.find_element(By.ID, "confirm-delete")
        wait_until(driver, lambda d: dialog.get_attribute("open") is not None, "the dialog")
        return dialog

    dialog = ask()
    assert "Paul Bremer (bremer) and their 2 face images" in dialog.text
    assert driver.switch_to.active_element.get_attribute("id") == "confirm-cancel"
    save_screenshot(driver, ARTIFACTS / "delete-confirmation.png")
    driver.find_element(By.ID, "confirm-cancel").click()
    dialog = ask()
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_until(driver, lambda d: dialog.get_attribute("open") is None, "the dialog to close")
    assert admin.call("GET", "/api/v1/people/bremer").status_code == 200

    ask()
    driver.find_element(By.ID, "confirm-ok").click()
    wait_until(driver, lambda d: person_row(d, "bremer") is None, "the row to go")
    assert "Paul Bremer was deleted." in text(driver, "#people-summary")
    assert admin.call("GET", "/api/v1/people/bremer").status_code == 404


def test_names_are_shown_as_text_never_run_as_markup(
    keyed_api: ApiProcess, admin: Keyed, browser: Any
) -> None:
    driver = browser
    name = '<img src=x onerror="window.injected=1">Eve'
    admin.create_person("eve", name)
    open_signed_in(driver, keyed_api.url)
    wait_until(driver, lambda d: person_row(d, "eve") is not None, "Eve's row")
    assert text(driver, '#people-table tr[data-person-id="eve"] strong') == name
    assert driver.execute_script("return window.injected") is None
    assert driver.find_elements(By.CSS_SELECTOR, '#people-table img[src="x"]') == []


# ---- accessibility and small screens ---------------------------------------------------


def test_controls_are_labelled_and_the_page_is_keyboard_operable(
    keyed_api: ApiProcess, browser: Any
) -> None:
    driver = browser
    open_signed_in(driver, keyed_api.url)
    unlabelled = driver.execute_script(
        """
        return [...document.querySelectorAll('input, select, button, textarea')]
          .filter((e) => !(e.labels?.length || e.ariaLabel || e.textContent.trim()))
          .map((e) => e.id || e.outerHTML);
        """
    )
    assert unlabelled == []
    landmarks = driver.execute_script(
        "return ['header', 'nav[aria-label]', 'main']"
        ".map((s) => document.querySelectorAll(s).length)"
    )
    assert landmarks[0] == 1 and landmarks[1] >= 1 and landmarks[2] == 1

    driver.refresh()  # signed in still (the key is in sessionStorage); focus at the top
    wait_until(driver, lambda d: visible(d, "#people"), "the People view")
    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("class") == "skip-link"
    assert focused.value_of_css_property("outline-style") == "solid"  # focus is visible
    for expected in ("People", "Live"):
        focused.send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        assert focused.text == expected
    focused.send_keys(Keys.ENTER)
    wait_until(driver, lambda d: visible(d, "#live"), "the Live view")
    assert driver.switch_to.active_element.get_attribute("id") == "live-title"
    assert driver.find_element(By.CSS_SELECTOR, '#nav a[href="#live"]').get_attribute(
        "aria-current"
    ) == ("page")


def test_nothing_overflows_a_phone_sized_screen(
    keyed_api: ApiProcess, admin: Keyed, browser: Any
) -> None:
    driver = browser
    long_id = "mike.weir-" + "x" * 60
    admin.create_person(long_id, "Mike Weir, captain of the international golf team " * 2)
    admin.enrol(long_id, [lfw("Mike_Weir", 1), lfw("Mike_Weir", 2)])
    camera = "north-entrance-camera-with-a-very-long-identifier-0001"
    assert admin.recognize(lfw("Mike_Weir", 3), camera_id=camera, location="Car park") == [long_id]
    open_signed_in(driver, keyed_api.url)
    set_viewport(driver, PHONE_WIDTH, 812, mobile=True)
    try:
        for view in ("people", "live", "history", "search", "cameras", "model"):
            go(driver, view)
            if view == "history":
                Select(driver.find_element(By.ID, "history-person")).select_by_value(long_id)
                wait_until(driver, lambda d: texts(d, "#person-timeline li"), "the timeline")
            if view == "people":
                wait_until(driver, lambda d: thumbnail_width(d, long_id) == 96, "the thumbnail")
            if view == "live":
                wait_until(driver, lambda d: texts(d, "#live-list li"), "live sightings")
            if view == "cameras":
                wait_until(driver, lambda d: texts(d, "#cameras-table tbody tr"), "the cameras")
            assert driver.execute_script("return document.documentElement.clientWidth") == (
                PHONE_WIDTH
            )
            assert overflowing(driver) == [], view
            assert driver.execute_script("return document.documentElement.scrollWidth") == (
                PHONE_WIDTH
            )
            save_screenshot(driver, ARTIFACTS / f"phone-{view}.png")
    finally:
        set_viewport(driver, 1280, 900)
