"""The spool keeps every crop while the cloud is down, across a restart of the edge, and
delivers them all in capture order once the cloud is back."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.accounting import EdgeStats
from edge.client import CloudClient
from edge.crops import CropPolicy, encode_jpeg, make_crop
from edge.detectors import FaceDetector
from edge.sender import Sender, SenderConfig
from edge.spool import Spool, SpooledCrop
from tests.edge.conftest import still
from tests.edge.http_recorder import RecordingServer
from tests.edge.programs import wait_until

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
FAST = SenderConfig(workers=4, retries=1, backoff_s=0.01, drain_backoff_max_s=0.2)


def crop_at(seconds: float, jpeg: bytes = b"\xff\xd8face") -> SpooledCrop:
    return SpooledCrop(jpeg, T0 + timedelta(seconds=seconds), "cam-1", "entrance")


@pytest.fixture(scope="module")
def face_jpegs(ultraface640: FaceDetector) -> list[bytes]:
    """The 12 faces of the two group photos, as the edge would crop them."""
    jpegs = []
    for name in ("facenet_pytorch_multiface.jpg", "insightface_t1.jpg"):
        image = still(name)
        for detection in ultraface640.detect(image):
            crop = make_crop(image, detection.box, CropPolicy())
            assert crop is not None
            jpegs.append(encode_jpeg(crop.image, 90))
    assert len(jpegs) == 12
    return jpegs


def test_the_spool_hands_out_crops_oldest_first_whatever_the_order_they_came(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path)
    for seconds in (3, 1, 2):
        spool.put(crop_at(seconds))
    order = []
    while (entry := spool.oldest()) is not None:
        key, crop = entry
        order.append(crop.captured_at)
        spool.remove(key)
    assert order == [T0 + timedelta(seconds=s) for s in (1, 2, 3)]
    assert len(spool) == 0 and spool.bytes_used == 0
    assert list(tmp_path.iterdir()) == []


def test_past_its_bound_the_spool_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    probe = Spool(tmp_path / "probe")
    probe.put(crop_at(0, b"j" * 120))
    spool = Spool(tmp_path / "spool", max_bytes=3 * probe.bytes_used)
    for seconds in range(5):
        spool.put(crop_at(seconds, b"j" * 120))
    assert len(spool) == 3
    assert spool.dropped == 2
    kept = Spool(tmp_path / "spool")  # what is on disk agrees
    assert len(kept) == 3
    entry = kept.oldest()
    assert entry is not None and entry[1].captured_at == T0 + timedelta(seconds=2)


def test_a_write_cut_short_is_not_taken_for_a_crop(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(crop_at(1))
    (tmp_path / ".tmp-00000000000000000001-half.crop").write_bytes(b'{"captured_at"')
    reopened = Spool(tmp_path)
    assert len(reopened) == 1
    assert sorted(p.name.startswith(".tmp-") for p in tmp_path.iterdir()) == [False]


def test_crops_survive_an_outage_and_a_restart_and_arrive_in_capture_order(
    tmp_path: Path, face_jpegs: list[bytes]
) -> None:
    cloud = RecordingServer()  # not started: nothing listens on its port
    client = CloudClient(cloud.url, timeout=1.0)
    captures = list(range(len(face_jpegs)))
    random.Random(5).shuffle(captures)  # submitted out of capture order

    # 1. The cloud is unreachable: every crop lands in the spool.
    stats = EdgeStats()
    sender = Sender(client, Spool(tmp_path), stats, FAST)
    for seconds, jpeg in zip(captures, face_jpegs, strict=True):
        sender.submit(crop_at(seconds, jpeg))
    sender.close()
    assert stats["spooled"] == len(face_jpegs)
    assert stats["delivered"] == 0

    # 2. It comes back answering 503: still nothing is lost.
    cloud.status = 503
    cloud.start()
    stats = EdgeStats()
    sender = Sender(client, Spool(tmp_path), stats, FAST)
    assert wait_until(lambda: cloud.attempts >= 3)
    sender.close()
    assert len(Spool(tmp_path)) == len(face_jpegs)

    # 3. The edge restarts on the same spool directory and the cloud is healthy.
    cloud.status = 200
    stats = EdgeStats()
    spool = Spool(tmp_path)
    sender = Sender(client, spool, stats, FAST)
    assert wait_until(lambda: len(cloud.received) == len(face_jpegs))
    sender.close()
    cloud.stop()

    assert stats["delivered"] == len(face_jpegs)
    times = [request.fields["captured_at"] for request in cloud.received]
    assert times == [
        f"2024-05-01T09:00:{s:02d}.000Z" for s in range(len(face_jpegs))
    ]  # in capture order, each with its own capture time
    by_time = dict(zip(captures, face_jpegs, strict=True))
    assert [request.files["image"][0] for request in cloud.received] == [
        by_time[s] for s in range(len(face_jpegs))
    ]
    assert len(spool) == 0
    assert list(tmp_path.iterdir()) == []


def test_a_rejected_crop_is_counted_and_not_retried(tmp_path: Path) -> None:
    cloud = RecordingServer(status=400).start()
    stats = EdgeStats()
    sender = Sender(CloudClient(cloud.url), Spool(tmp_path), stats, FAST)
    sender.submit(crop_at(1))
    sender.close()
    cloud.stop()
    assert cloud.attempts == 1
    assert stats.rejected == {"TEST_ERROR": 1}
    assert stats["spooled"] == 0 and len(Spool(tmp_path)) == 0


def test_an_answer_delivered_from_the_spool_still_reaches_its_track(tmp_path: Path) -> None:
    cloud = RecordingServer(status=503).start()
    answered: list[int | None] = []
    sender = Sender(
        CloudClient(cloud.url),
        Spool(tmp_path),
        EdgeStats(),
        FAST,
        on_result=lambda crop, track_id, answer: answered.append(track_id),
    )
    sender.submit(crop_at(1), track_id=7)
    assert wait_until(lambda: len(sender.spool) == 1)
    cloud.status = 200
    assert wait_until(lambda: answered == [7])
    sender.close()
    cloud.stop()
