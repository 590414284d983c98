"""Frame sources and sampling (--target-fps, --skip-frames) on the real video files."""

from __future__ import annotations

import pytest

from edge.sources import ImageFolderSource, SourceError, open_source, sample_frames
from tests.edge.conftest import facenet_video
from tests.shared_data import shared_path


def test_a_video_file_yields_every_frame_on_its_own_clock() -> None:
    source = open_source(str(facenet_video()))
    assert (source.fps, source.frame_count, source.live) == (25.0, 105, False)
    frames = list(source)
    assert [f.index for f in frames] == list(range(105))
    assert frames[50].position_s == pytest.approx(2.0)
    assert frames[0].image.shape == (1080, 1920, 3)
    assert frames[0].captured_at.tzinfo is not None


def test_target_fps_keeps_that_many_frames_a_second_of_video() -> None:
    kept = list(sample_frames(open_source(str(facenet_video())), target_fps=10))
    assert len(kept) == 42  # 4.2 s at 10 frames a second
    assert [f.index for f in kept[:5]] == [0, 3, 5, 8, 10]


def test_skip_frames_processes_one_frame_in_n_plus_one() -> None:
    kept = list(sample_frames(open_source(str(facenet_video())), skip_frames=4))
    assert [f.index for f in kept] == list(range(0, 105, 5))


def test_a_folder_of_images_is_a_source() -> None:
    source = open_source(str(shared_path("data", "scenes", "stills")))
    assert isinstance(source, ImageFolderSource)
    frames = list(source)
    assert len(frames) == 4
    assert [f.position_s for f in frames] == [0.0, 1.0, 2.0, 3.0]


def test_a_missing_file_is_a_clear_error() -> None:
    with pytest.raises(SourceError, match="does not exist"):
        open_source("/nonexistent/clip.mp4")
