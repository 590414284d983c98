"""Each rule dimension decides right (who, camera, schedule, confidence/quality), and the
cooldown holds in the database, on SQLite and MariaDB, however many workers see a face."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from api.alerts import store
from api.alerts.outbox import enqueue_alerts
from api.alerts.rules import rule_columns, rule_from_row
from api.db.events import NewEvent, add_events
from api.db.schema import alert_deliveries

# A Monday, 12:00 UTC.
NOON_MONDAY = datetime(2026, 11, 30, 12, 0)


def rule(**body: Any):
    row = {"rule_id": "r", "name": "n", "destination_id": "d", **rule_columns(body)}
    return rule_from_row(row)


def event(person_id: str | None = "ada", camera_id: str = "door", **extra: Any) -> dict:
    return {
        "person_id": person_id,
        "camera_id": camera_id,
        "captured_at": extra.pop("captured_at", NOON_MONDAY),
        "confidence": extra.pop("confidence", 0.9),
        **extra,
    }


def test_who() -> None:
    listed = rule(person_ids=["ada"])
    assert listed.matches(event("ada"))
    assert not listed.matches(event("bob"))
    assert not listed.matches(event(None)), "a stranger is not a listed person"
    anyone_known = rule(person_ids=None)
    assert anyone_known.matches(event("bob")) and not anyone_known.matches(event(None))
    strangers = rule(person_ids=[], unknown=True)
    assert strangers.matches(event(None)) and not strangers.matches(event("ada"))
    everyone = rule(unknown=True)
    assert everyone.matches(event(None)) and everyone.matches(event("bob"))


def test_camera() -> None:
    gate = rule(camera_ids=["gate", "yard"])
    assert gate.matches(event(camera_id="gate")) and gate.matches(event(camera_id="yard"))
    assert not gate.matches(event(camera_id="door"))
    assert rule(camera_ids=None).matches(event(camera_id="anything"))


def test_schedule_in_a_time_zone_with_an_overnight_window() -> None:
    # 22:00-06:00 in Paris (UTC+1 in winter), on Mondays: Monday 21:30 UTC is 22:30 there.
    night = rule(days=["mon"], start_time="22:00", end_time="06:00", timezone="Europe/Paris")
    monday = NOON_MONDAY.replace(hour=0)
    assert night.matches(event(captured_at=monday.replace(hour=21, minute=30)))
    assert not night.matches(event(captured_at=monday.replace(hour=20, minute=30)))  # 21:30
    # Tuesday 04:00 Paris (03:00 UTC) belongs to Monday's night; Monday 04:00 to Sunday's.
    assert night.matches(event(captured_at=monday + timedelta(days=1, hours=3)))
    assert not night.matches(event(captured_at=monday + timedelta(hours=3)))
    assert not night.matches(event(captured_at=monday + timedelta(days=1, hours=5)))  # 06:00
    office = rule(days=["mon", "tue"], start_time="09:00", end_time="17:00", timezone="UTC")
    assert office.matches(event(captured_at=NOON_MONDAY))
    assert not office.matches(event(captured_at=NOON_MONDAY + timedelta(days=2)))  # Wednesday
    assert not office.matches(event(captured_at=NOON_MONDAY.replace(hour=17)))
    weekend = rule(days=["sat", "sun"], timezone="America/New_York")
    # Sunday 02:00 UTC is still Saturday in New York; Monday 03:00 UTC is Sunday there.
    assert weekend.matches(event(captured_at=NOON_MONDAY.replace(hour=3)))
    assert not weekend.matches(event(captured_at=NOON_MONDAY))


def test_confidence_and_quality() -> None:
    sure = rule(min_confidence=0.8, min_quality=0.5, unknown=True)
    assert sure.matches(event(confidence=0.85))
    assert not sure.matches(event(confidence=0.7))
    assert sure.matches(event(None, confidence=0.1)), "a stranger has no identity to be sure of"
    assert not sure.matches(event(quality=0.4)), "a quality below the minimum"
    assert sure.matches(event(quality=0.6))
    assert sure.matches(event()), "no quality on the sighting: only the confidence decides"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"person_ids": "ada"}, "person_ids"),
        ({"person_ids": ["a/b"]}, "person_ids"),
        ({"person_ids": []}, "matches nobody"),
        ({"days": ["monday"]}, "days"),
        ({"start_time": "22:00"}, "together"),
        ({"start_time": "25:00", "end_time": "06:00"}, "HH:MM"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"cooldown_seconds": -1}, "cooldown_seconds"),
        ({"cooldown_seconds": True}, "cooldown_seconds"),
        ({"min_confidence": 2}, "min_confidence"),
        ({"unknown": "yes"}, "unknown"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(body: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rule_columns(body)


# ---- the cooldown, in the database --------------------------------------------------


def _destination_and_rule(engine: Engine, **body: Any) -> str:
    with engine.begin() as conn:
        destination = store.add_destination(conn, {"kind": "webhook", "url": "http://x.test/"})
        row = store.add_rule(
            conn, {"name": "r", "destination_id": destination["destination_id"], **body}
        )
    return row["rule_id"]


def _sight(engine: Engine, person_id: str | None, camera_id: str, at: datetime) -> int:
    sighting = NewEvent(at, camera_id, None, person_id, 0.9, 0.8, (1, 2, 3, 4), None)
    with engine.begin() as conn:
        return enqueue_alerts(conn, add_events(conn, [sighting]))


def test_cooldown_per_rule_subject_and_camera(engine: Engine) -> None:
    _destination_and_rule(engine, **rule_columns({"unknown": True, "cooldown_seconds": 60}))
    start = NOON_MONDAY
    fired = [
        _sight(engine, "ada", "door", start),
        _sight(engine, "ada", "door", start + timedelta(seconds=30)),  # cooling down
        _sight(engine, "ada", "gate", start + timedelta(seconds=31)),  # other camera
        _sight(engine, "bob", "door", start + timedelta(seconds=32)),  # other person
        _sight(engine, None, "door", start + timedelta(seconds=33)),  # a stranger
        _sight(engine, None, "door", start + timedelta(seconds=34)),  # strangers' group
        _sight(engine, "ada", "door", start + timedelta(seconds=60)),  # cooled down
        _sight(engine, "ada", "door", start + timedelta(seconds=61)),
    ]
    assert fired == [1, 0, 1, 1, 1, 0, 1, 0]


def test_no_cooldown_fires_every_sighting(engine: Engine) -> None:
    _destination_and_rule(engine, **rule_columns({"cooldown_seconds": 0}))
    assert [_sight(engine, "ada", "door", NOON_MONDAY) for _ in range(3)] == [1, 1, 1]


def test_workers_seeing_one_face_at_once_fire_one_alert(engine: Engine) -> None:
    """Eight threads (as eight workers would) store the same person's sighting together:
    one alert, no deadlock, every sighting stored."""
    _destination_and_rule(engine, **rule_columns({"cooldown_seconds": 300}))
    barrier = threading.Barrier(8)
    results: list[int] = []

    def sight() -> None:
        barrier.wait()
        results.append(_sight(engine, "ada", "door", NOON_MONDAY))

    threads = [threading.Thread(target=sight) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == [0] * 7 + [1]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alert_deliveries)).scalar() == 1
