"""The Alerts view in a real headless Chromium against a real gunicorn: add a webhook,
press "Send test", add a rule, and watch a sighting's alert appear as delivered; a dead
destination shows its pending alert with the last error. Screenshots in
tests/artifacts/ui/ (desktop and phone)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.conftest import start_alerts_api
from tests.alerts.receivers import WebhookReceiver
from tests.api.conftest import RECOGNIZE_TOKEN
from tests.databases import sqlite_url
from tests.live_api import ApiProcess, free_port
from tests.ui.browser import save_screenshot, set_viewport
from tests.ui.conftest import ADMIN_TOKEN, ARTIFACTS, Keyed, lfw
from tests.ui.test_page import (
    PHONE_WIDTH,
    go,
    open_signed_in,
    overflowing,
    reread,
    severe_console_messages,
    text,
    texts,
    wait_until,
)

pytest.importorskip("selenium", reason="selenium is absent: pip install -r requirements-dev.txt")

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

SECRET = "page-test-secret-0123456789"


@pytest.fixture(scope="module")
def alerts_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    folder = tmp_path_factory.mktemp("alerts-page")
    api = start_alerts_api(folder, sqlite_url(folder), workers=1)
    yield api
    api.stop()


def fill(driver: Any, element_id: str, value: str) -> None:
    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(value)


def add_webhook(driver: Any, url: str, name: str) -> None:
    Select(driver.find_element(By.ID, "destination-kind")).select_by_value("webhook")
    fill(driver, "destination-url", url)
    fill(driver, "destination-name", name)
    fill(driver, "destination-secret", SECRET)
    driver.find_element(By.ID, "destination-add").click()
    wait_until(driver, lambda d: name in texts(d, "#destinations-table td"), f"destination {name}")


def add_strangers_rule(driver: Any, name: str, destination: str, camera: str) -> None:
    fill(driver, "rule-name", name)
    reread(
        lambda: Select(driver.find_element(By.ID, "rule-destination")).select_by_visible_text(
            f"webhook: {destination}"
        )
    )
    Select(driver.find_element(By.ID, "rule-who")).select_by_value("strangers")
    fill(driver, "rule-cameras", camera)
    fill(driver, "rule-cooldown", "0")
    driver.find_element(By.ID, "rule-add").click()
    wait_until(driver, lambda d: name in texts(d, "#rules-table td"), f"rule {name}")


def test_add_destination_send_test_add_rule_and_watch_deliveries(
    alerts_api: ApiProcess, browser: Any, tmp_path: Path
) -> None:
    driver = browser
    receiver = WebhookReceiver().start()
    try:
        open_signed_in(driver, alerts_api.url)
        go(driver, "alerts")
        add_webhook(driver, receiver.url, "front desk")
        assert SECRET not in driver.page_source, "the secret is not shown back"
        reread(
            lambda: driver.find_element(By.CSS_SELECTOR, "#destinations-table button.test").click()
        )
        wait_until(
            driver,
            lambda d: text(d, "#destinations-table .test-result") == "Delivered.",
            "the test delivery",
        )
        assert len(receiver.received) == 1 and receiver.received[0].signed_by(SECRET)

        add_strangers_rule(driver, "strangers at the porch", "front desk", "porch")
        row = texts(driver, "#rules-table tbody tr td")
        assert row[:3] == ["strangers at the porch", "strangers", "porch"]

        # A dead destination (nothing listens) with the same rule: its alert stays pending.
        add_webhook(driver, f"http://127.0.0.1:{free_port()}/hook", "dead end")
        add_strangers_rule(driver, "also to the dead end", "dead end", "porch")

        keyed = Keyed(alerts_api.url, RECOGNIZE_TOKEN)
        assert keyed.recognize(lfw("Hu_Jintao", 2), camera_id="porch") == [None]
        wait_until(
            driver,
            lambda d: sorted(texts(d, "#deliveries-table .status")) == ["delivered", "pending"],
            "a delivered and a pending alert",
        )
        pending = '#deliveries-table tr[data-status="pending"]'
        wait_until(
            driver,
            lambda d: "connection failed" in text(d, f"{pending} td[data-label='Last error']"),
            "the pending alert's error",
        )
        assert receiver.wait_for(2, timeout=10)[-1].json()["event"]["camera_id"] == "porch"
        Select(driver.find_element(By.ID, "deliveries-status")).select_by_value("delivered")
        wait_until(
            driver, lambda d: texts(d, "#deliveries-table .status") == ["delivered"], "filtered"
        )
        assert text(driver, "#deliveries-summary") == "1 alert delivered."
        save_screenshot(driver, ARTIFACTS / "alerts.png")

        set_viewport(driver, PHONE_WIDTH, 812, mobile=True)
        try:
            assert overflowing(driver) == []
            save_screenshot(driver, ARTIFACTS / "phone-alerts.png")
        finally:
            set_viewport(driver, 1280, 900)
        assert severe_console_messages(driver) == []
    finally:
        receiver.stop()


def test_a_recognize_key_is_told_alerts_need_an_admin_key(
    alerts_api: ApiProcess, browser: Any
) -> None:
    driver = browser
    open_signed_in(driver, alerts_api.url, RECOGNIZE_TOKEN)
    go(driver, "alerts")
    wait_until(
        driver,
        lambda d: "needs an admin API key" in text(d, "#alerts-status"),
        "the admin-key message",
    )
    assert ADMIN_TOKEN not in driver.page_source
