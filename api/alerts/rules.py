"""Alert rules: which sightings fire an alert, read from and written to `alert_rules`.

Who: `person_ids` lists people (null: anyone known; [] nobody known) and `unknown` adds
faces nobody was recognised in; so {"person_ids": [], "unknown": true} is strangers only.
Where: `camera_ids` (null: any camera). When: `days` (mon..sun) and a window
`start_time`-`end_time` ("HH:MM", local time in `timezone`, an IANA name; a window whose
end is before its start runs past midnight and belongs to the day it starts). The
sighting's capture time decides, not the time it reached the server (an edge may upload a
spooled sighting late). `min_confidence` applies to recognised faces; `min_quality` to
sightings that carry a quality. `cooldown_seconds`: one alert per rule, subject (the
person, or the unknown face's group) and camera in that time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.routes.inputs import is_valid_id

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_LIST = 1000
MAX_COOLDOWN_SECONDS = 7 * 24 * 3600
UNKNOWN_SUBJECT = "unknown"


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    destination_id: str
    person_ids: frozenset[str] | None
    unknown: bool
    camera_ids: frozenset[str] | None
    days: frozenset[int] | None  # 0 = Monday
    start_time: time | None
    end_time: time | None
    timezone: str
    min_confidence: float | None
    min_quality: float | None
    cooldown_seconds: int

    def who_matches(self, person_id: str | None) -> bool:
        if person_id is None:
            return self.unknown
        return self.person_ids is None or person_id in self.person_ids

    def camera_matches(self, camera_id: str) -> bool:
        return self.camera_ids is None or camera_id in self.camera_ids

    def schedule_matches(self, captured_at: datetime) -> bool:
        """`captured_at` is naive UTC, as stored."""
        local = captured_at.replace(tzinfo=UTC).astimezone(ZoneInfo(self.timezone))
        day, moment = local.weekday(), local.time().replace(tzinfo=None)
        if self.start_time is not None and self.end_time is not None:
            start, end = self.start_time, self.end_time
            if start < end:
                if not start <= moment < end:
                    return False
            elif moment >= start:
                pass  # the evening part of an overnight window: today's
            elif moment < end:
                day = (local - timedelta(days=1)).weekday()  # the morning part: yesterday's
            else:
                return False
        return self.days is None or day in self.days

    def quality_matches(self, person_id: str | None, confidence: Any, quality: Any) -> bool:
        if (
            self.min_confidence is not None
            and person_id is not None
            and (confidence is None or confidence < self.min_confidence)
        ):
            return False
        if self.min_quality is not None and quality is not None:
            return quality >= self.min_quality
        return True

    def matches(self, event: dict[str, Any]) -> bool:
        """Whether a stored sighting (a row of `events_by_id`) fires this rule."""
        return (
            self.who_matches(event["person_id"])
            and self.camera_matches(event["camera_id"])
            and self.quality_matches(
                event["person_id"], event.get("confidence"), event.get("quality")
            )
            and self.schedule_matches(event["captured_at"])
        )


def subject_of(event: dict[str, Any]) -> str:
    """The cooldown's subject: the person, or the unknown face's group (one group for all
    strangers where sightings carry none)."""
    if event["person_id"] is not None:
        return event["person_id"]
    group = event.get("unknown_id")
    return f"{UNKNOWN_SUBJECT}:{group}" if group is not None else UNKNOWN_SUBJECT


# ---- from the API's JSON to column values (and back) ----------------------------------


def _id_list(body: dict[str, Any], field: str) -> list[str] | None:
    value = body.get(field)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > MAX_LIST
        or not all(is_valid_id(item) for item in value)
    ):
        raise ValueError(f"{field} must be null or a list of up to {MAX_LIST} valid ids")
    return sorted(set(value))


def _clock(body: dict[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) != 5:
            raise ValueError
        time.fromisoformat(value)
    except ValueError:
        raise ValueError(f'{field} must be a time "HH:MM" (24-hour)') from None
    return value


def _bounded(body: dict[str, Any], field: str, low: float, high: float) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{field} must be null or a number from {low} to {high}")
    return float(value)


def rule_columns(body: dict[str, Any]) -> dict[str, Any]:
    """Column values of a new rule from the request body (the name and destination are
    checked by the caller); ValueError with the client's message when a field is wrong."""
    unknown = body.get("unknown", False)
    if not isinstance(unknown, bool):
        raise ValueError("unknown must be true or false")
    days = body.get("days")
    if days is not None and (
        not isinstance(days, list) or not days or not all(day in DAYS for day in days)
    ):
        raise ValueError(f"days must be null or a non-empty list of {', '.join(DAYS)}")
    start, end = _clock(body, "start_time"), _clock(body, "end_time")
    if (start is None) != (end is None) or (start is not None and start == end):
        raise ValueError("start_time and end_time come together and must differ")
    timezone = body.get("timezone", "UTC")
    try:
        if not isinstance(timezone, str) or not timezone or len(timezone) > 64:
            raise ValueError
        ZoneInfo(timezone)
    except (ValueError, ZoneInfoNotFoundError):
        raise ValueError("timezone must be an IANA time zone name such as Europe/Paris") from None
    cooldown = body.get("cooldown_seconds", 60)
    if (
        isinstance(cooldown, bool)
        or not isinstance(cooldown, int)
        or not 0 <= cooldown <= MAX_COOLDOWN_SECONDS
    ):
        raise ValueError(f"cooldown_seconds must be an integer from 0 to {MAX_COOLDOWN_SECONDS}")
    person_ids = _id_list(body, "person_ids")
    if person_ids == [] and not unknown:
        raise ValueError("the rule matches nobody: list person_ids, or set unknown")
    camera_ids = _id_list(body, "camera_ids")
    return {
        "person_ids": None if person_ids is None else json.dumps(person_ids),
        "unknown": unknown,
        "camera_ids": None if camera_ids is None else json.dumps(camera_ids),
        "days": None if days is None else ",".join(d for d in DAYS if d in days),
        "start_time": start,
        "end_time": end,
        "timezone": timezone,
        "min_confidence": _bounded(body, "min_confidence", 0.0, 1.0),
        "min_quality": _bounded(body, "min_quality", 0.0, 1.0),
        "cooldown_seconds": cooldown,
    }


def rule_from_row(row: dict[str, Any]) -> Rule:
    def ids(text: str | None) -> frozenset[str] | None:
        return None if text is None else frozenset(json.loads(text))

    return Rule(
        rule_id=row["rule_id"],
        name=row["name"],
        destination_id=row["destination_id"],
        person_ids=ids(row["person_ids"]),
        unknown=bool(row["unknown"]),
        camera_ids=ids(row["camera_ids"]),
        days=None if row["days"] is None else frozenset(map(DAYS.index, row["days"].split(","))),
        start_time=None if row["start_time"] is None else time.fromisoformat(row["start_time"]),
        end_time=None if row["end_time"] is None else time.fromisoformat(row["end_time"]),
        timezone=row["timezone"],
        min_confidence=row["min_confidence"],
        min_quality=row["min_quality"],
        cooldown_seconds=int(row["cooldown_seconds"]),
    )


def rule_json(row: dict[str, Any]) -> dict[str, Any]:
    """A stored rule as the API answers it."""
    return {
        "rule_id": row["rule_id"],
        "name": row["name"],
        "destination_id": row["destination_id"],
        "person_ids": None if row["person_ids"] is None else json.loads(row["person_ids"]),
        "unknown": bool(row["unknown"]),
        "camera_ids": None if row["camera_ids"] is None else json.loads(row["camera_ids"]),
        "days": None if row["days"] is None else row["days"].split(","),
        "start_time": row["start_time"],
        "end_time": row["end_time"],
        "timezone": row["timezone"],
        "min_confidence": row["min_confidence"],
        "min_quality": row["min_quality"],
        "cooldown_seconds": int(row["cooldown_seconds"]),
    }
