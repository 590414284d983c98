"""Alert latency: a sighting to the webhook receiving it and to the MQTT message arriving.

Starts a real gunicorn (2 workers x 2 threads, SQLite) with two rules firing on every
sighting (no cooldown): one to a local webhook receiver, one to the Mosquitto broker at
`--mqtt` (the machine's, 127.0.0.1:1883 by default; where none answers there, one of its
own on a free port) on a topic of its own. Clients then
send POST /api/v1/recognize with a one-face LFW crop and a camera id of its own at a fixed
rate (open loop: 20 sightings/s by default, each request sent at its planned time whether
or not earlier ones have answered) for `--seconds`. Latencies are measured from the
request being sent ("sighting", recognition included) and from its answer arriving (the
sighting stored with its alerts: the alert path alone) to the message received.

Run: .venv/bin/python -m benchmarks.alert_latency [--rate 20] [--seconds 15]
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.fernet import Fernet

from benchmarks.common import SHARED, load_average, markdown_table, write_result
from tests.alerts.receivers import PrivateMosquitto, Subscriber, WebhookReceiver
from tests.api.client import call
from tests.live_api import ApiProcess

WORKERS, THREADS = 2, 2
CLIENTS = 16  # enough in flight to keep the planned rate while recognition queues


def start_server(folder: Path) -> ApiProcess:
    return ApiProcess(
        env={
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "MODEL_DIR": str(folder / "models"),
            "ALERT_SECRETS_KEY": Fernet.generate_key().decode(),
            "ALERT_ALLOW_PRIVATE_DESTINATIONS": "true",
        },
        workers=WORKERS,
        threads=THREADS,
        log_path=folder / "gunicorn.log",
    ).start()


def add_rule(server: ApiProcess, destination: dict[str, Any]) -> None:
    answer = call("POST", f"{server.url}/api/v1/alerts/destinations", json=destination)
    answer.raise_for_status()
    rule = {"name": destination["kind"], "destination_id": answer.json()["destination_id"]}
    rule |= {"unknown": True, "cooldown_seconds": 0}
    call("POST", f"{server.url}/api/v1/alerts/rules", json=rule).raise_for_status()


def send_sightings(
    server: ApiProcess, image: bytes, rate: float, seconds: float
) -> dict[str, tuple[float, float]]:
    """camera id -> (time sent, time answered), at `rate` per second for `seconds`."""
    total = round(rate * seconds)
    times: dict[str, tuple[float, float]] = {}
    sessions = threading.local()
    begin = time.time() + 0.5

    def one(index: int) -> None:
        planned = begin + index / rate
        time.sleep(max(0.0, planned - time.time()))
        session = getattr(sessions, "session", None) or requests.Session()
        sessions.session = session
        camera = f"bench{index}"
        sent = time.time()
        answer = session.post(
            f"{server.url}/api/v1/recognize",
            files={"image": ("crop.jpg", image, "image/jpeg")},
            data={"camera_id": camera},
            timeout=120,
        )
        answer.raise_for_status()
        assert answer.json()["events_stored"] == 1
        times[camera] = (sent, time.time())

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, range(total)))
    return times


def broker_url(wanted: str, folder: Path) -> tuple[str, PrivateMosquitto | None]:
    """`wanted` if a broker answers there, else a private Mosquitto's URL (and the broker)."""
    parts = urlsplit(wanted)
    try:
        socket.create_connection((parts.hostname, parts.port or 1883), timeout=2).close()
        return wanted, None
    except OSError:
        broker = PrivateMosquitto(folder / "mosquitto").start()
        return broker.url, broker


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000, 1)

    return {"p50_ms": at(0.5), "p95_ms": at(0.95), "max_ms": round(ordered[-1] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="sightings per second")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--mqtt", default="mqtt://127.0.0.1:1883", help="the broker")
    args = parser.parse_args()
    image = (
        SHARED / "data" / "lfw-ident20" / "Nicole_Kidman" / "Nicole_Kidman_0001.jpg"
    ).read_bytes()
    topic = f"facerec-bench-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory() as tmp:
        mqtt_url, own_broker = broker_url(args.mqtt, Path(tmp))
        receiver = WebhookReceiver().start()
        subscriber = Subscriber(urlsplit(mqtt_url).port or 1883, f"{topic}/#", client_id=topic)
        subscriber.start(clean=True)
        server = start_server(Path(tmp))
        try:
            add_rule(server, {"kind": "webhook", "url": receiver.url, "secret": "b" * 32})
            add_rule(server, {"kind": "mqtt", "url": mqtt_url, "topic": topic + "/{camera_id}"})
            for _ in range(4):  # warm-up: every worker's models and connections
                call(
                    "POST", f"{server.url}/api/v1/recognize", files={"image": image}
                ).raise_for_status()
            load_before = load_average()
            started = time.time()
            times = send_sightings(server, image, args.rate, args.seconds)
            sending = time.time() - started - 0.5
            total = len(times)
            hooks = receiver.wait_for(total, timeout=120)
            subscriber.wait_for(total, timeout=60)
        finally:
            server.stop()
            receiver.stop()
            subscriber.stop()
            if own_broker is not None:
                own_broker.stop()
    webhook = {item.json()["event"]["camera_id"]: item.at for item in hooks}
    mqtt = {topic_name.rsplit("/", 1)[1]: at for topic_name, _, _, at in subscriber.messages}
    rows = []
    for name, arrived in (("webhook", webhook), ("MQTT", mqtt)):
        rows.append(
            {
                "destination": name,
                "received": len(arrived),
                "from_sighting": percentiles([arrived[c] - times[c][0] for c in arrived]),
                "from_stored": percentiles([arrived[c] - times[c][1] for c in arrived]),
            }
        )
    recognition = percentiles([answered - sent for sent, answered in times.values()])
    table = markdown_table(
        [
            "destination",
            "received",
            "sighting → received p50 / p95 ms",
            "stored → received p50 / p95 ms",
        ],
        [
            [
                r["destination"],
                f"{r['received']} / {total}",
                f"{r['from_sighting']['p50_ms']} / {r['from_sighting']['p95_ms']}",
                f"{r['from_stored']['p50_ms']} / {r['from_stored']['p95_ms']}",
            ]
            for r in rows
        ],
    )
    load = (
        f"{total} sightings in {sending:.1f} s ({total / sending:.1f}/s planned {args.rate:g}/s); "
        f"POST /recognize itself p50 {recognition['p50_ms']} ms, p95 {recognition['p95_ms']} ms; "
        f"load average before {load_before[0]}, after {load_average()[0]} on this machine."
    )
    markdown = table + "\n\n" + load
    print(markdown)
    write_result(
        "alert_latency",
        {
            "configuration": {"workers": WORKERS, "threads": THREADS, "clients": CLIENTS},
            "broker": "the machine's" if own_broker is None else "private, started by the run",
            "rate_planned": args.rate,
            "rate_achieved": round(total / sending, 2),
            "sightings": total,
            "recognize": recognition,
            "destinations": rows,
            "markdown": markdown,
        },
    )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
