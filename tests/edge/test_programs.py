"""The interaction-with-framework programs, run as a user runs them (subprocesses)."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.edge.conftest import hamilton_clip
from tests.edge.http_recorder import RecordingServer
from tests.edge.programs import PROGRAMS, program_env, run_program, wait_until
from tests.edge.scene_truth import HAMILTON_FRAMES
from tests.live_api import free_port
from tests.shared_data import shared_path

NETWORK_PROGRAMS = (
    "add_user_from_dataset.py",
    "add_user_with_camera.py",
    "real_time_camera.py",
    "video_recognition.py",
    "api_benchmark.py",
)


@pytest.mark.parametrize("name", sorted(p.name for p in PROGRAMS.glob("*.py")))
def test_every_program_explains_itself(name: str) -> None:
    result = run_program(name, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    if name in NETWORK_PROGRAMS:
        assert "--url" in result.stdout and "--ip-address" in result.stdout
        assert "--api-key" in result.stdout


def test_a_network_program_without_an_address_is_a_usage_error() -> None:
    result = run_program("real_time_camera.py", "--no-display")
    assert result.returncode == 2
    assert "--url" in result.stderr


@pytest.mark.slow
def test_the_extractor_writes_one_image_per_new_face_or_better_view(tmp_path: Path) -> None:
    clip = str(hamilton_clip())
    result = run_program(
        "video_face_images_extractor.py",
        *("--source", clip, "--output-folder", str(tmp_path / "tracked")),
        *("--detector", "ultraface-640"),
    )
    assert result.returncode == 0, result.stderr
    tracked = sorted((tmp_path / "tracked").glob("*.jpg"))
    # Measured: 459 faces in 275 frames (9 under --min-size), 25 worth sending (no track
    # runs across the clip's three scene cuts).
    assert len(tracked) == 25
    assert result.stdout.startswith(f"25 face images from {HAMILTON_FRAMES} frames")
    for path in tracked:
        image = cv2.imread(str(path))
        assert image is not None and max(image.shape[:2]) <= 256

    result = run_program(
        "video_face_images_extractor.py",
        *("--source", clip, "--output-folder", str(tmp_path / "all")),
        *("--detector", "ultraface-640", "--no-tracker", "--target-fps", "10"),
    )
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "all").glob("*.jpg"))) > 5 * len(tracked)


@pytest.mark.slow
def test_video_recognition_with_the_cloud_down_spools_every_crop(tmp_path: Path) -> None:
    """Nothing listens at the URL: the CSV lists every track as pending, the annotated
    video is complete, and every crop sent waits in the spool for the next run."""
    spool = tmp_path / "spool"
    result = run_program(
        "video_recognition.py",
        *("--url", f"http://127.0.0.1:{free_port()}", "--source", str(hamilton_clip())),
        *("--output", str(tmp_path / "out.mp4"), "--csv", str(tmp_path / "seen.csv")),
        *("--detector", "ultraface-640", "--spool-dir", str(spool)),
        *("--retries", "0", "--drain-timeout", "0", "--timeout", "1"),
    )
    assert result.returncode == 0, result.stderr
    with (tmp_path / "seen.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) >= 10
    for row in rows:  # no answers: spooled crops wait, faces under --min-size never left
        assert row["status"] == ("pending" if int(row["crops_sent"]) else "not_sent")
    crops_sent = sum(int(row["crops_sent"]) for row in rows)
    assert crops_sent == 25  # the same crops the extractor writes
    assert len(list(spool.glob("*.crop"))) == crops_sent
    assert f"still spooled      {crops_sent} crops" in result.stdout
    video = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == HAMILTON_FRAMES


# A folder of the same group photo under many names: a source far longer than the time
# to the first spooled crop on any machine (a video ran out first on a fast one).
STILL_FRAMES = 3000


def test_ctrl_c_prints_the_report_and_keeps_the_spool(tmp_path: Path) -> None:
    frames, spool = tmp_path / "frames", tmp_path / "spool"
    frames.mkdir()
    still = shared_path("data", "scenes", "stills", "insightface_t1.jpg")
    for index in range(STILL_FRAMES):
        (frames / f"{index:05d}.jpg").symlink_to(still)
    process = subprocess.Popen(
        [
            sys.executable,
            str(PROGRAMS / "real_time_camera.py"),
            *("--url", f"http://127.0.0.1:{free_port()}", "--no-display"),
            *("--source", str(frames), "--retries", "0"),
            *("--detector", "ultraface-640", "--spool-dir", str(spool)),
        ],
        env=program_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: any(spool.glob("*.crop")), timeout_s=60)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "frames processed" in stdout and "crops sent" in stdout
    processed = int(stdout.split("frames processed", 1)[1].split()[0])
    assert 0 < processed < STILL_FRAMES  # stopped mid-source, not at the end
    assert list(spool.glob("*.crop"))


def test_api_benchmark_reports_rate_and_percentiles(tmp_path: Path) -> None:
    cloud = RecordingServer().start()
    try:
        result = run_program(
            "api_benchmark.py",
            *("--url", cloud.url, "--requests", "20", "--concurrency", "4", "--warmup", "2"),
            *("--image", str(shared_path("data", "scenes", "stills", "insightface_t1.jpg"))),
            *("--json", str(tmp_path / "bench.json")),
        )
    finally:
        cloud.stop()
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["outcomes"] == {"ok": 20}
    assert len(cloud.received) == 22  # the warm-up requests are sent, not timed
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert report["requests_per_s"] > 0
    assert "requests/s" in result.stdout
