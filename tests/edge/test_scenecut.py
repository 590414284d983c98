"""Scene cuts end every track: found exactly where the Hamilton clip changes shot, at the
full frame rate and sampled at 2 fps, and never among people walking in one shot."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.scenecut import SceneCutDetector
from edge.sources import open_source, sample_frames
from tests.edge.conftest import facenet_video, hamilton_clip
from tests.edge.scene_truth import HAMILTON_SHOT_STARTS


def cut_frames(video: Path, target_fps: float | None) -> list[int]:
    detector = SceneCutDetector()
    return [
        frame.index
        for frame in sample_frames(open_source(str(video)), target_fps)
        if detector.is_cut(frame.image)
    ]


@pytest.mark.parametrize("target_fps", [None, 2.0])
def test_every_shot_change_of_the_hamilton_clip_is_a_cut(target_fps: float | None) -> None:
    cuts = cut_frames(hamilton_clip(), target_fps)
    assert len(cuts) == len(HAMILTON_SHOT_STARTS)
    fps = open_source(str(hamilton_clip())).fps
    assert fps is not None
    step = 1 if target_fps is None else fps / target_fps  # source frames between two seen
    for cut, start in zip(cuts, HAMILTON_SHOT_STARTS, strict=True):
        assert start <= cut < start + step  # the first frame of the new shot that was seen


def test_people_walking_in_one_shot_are_no_cut() -> None:
    assert cut_frames(facenet_video(), None) == []
