"""The thresholds in the code are the ones the benchmarks fitted, not hand-written figures:
a re-run that moves them (a pipeline change) fails here until the code follows."""

from __future__ import annotations

import json

import pytest

from api.recognition.matcher import IDENTIFY_THRESHOLDS
from api.vision.embedder import EMBEDDER_NAMES, VERIFY_THRESHOLDS
from benchmarks.common import RESULTS


def results(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("embedder", EMBEDDER_NAMES)
@pytest.mark.parametrize("flip", [False, True])
def test_verify_thresholds_are_the_devtrain_fit(embedder: str, flip: bool) -> None:
    (fitted,) = [
        t
        for t in results("lfw_recipe")["thresholds"]
        if t["embedder"] == embedder and t["flip"] == flip
    ]
    assert fitted["pairs"] > 2100, "fitted on the whole of DevTrain (2,200 pairs)"
    assert VERIFY_THRESHOLDS[(embedder, flip)] == fitted["verify_distance"]


def test_naming_thresholds_are_the_open_set_benchmarks() -> None:
    assert results("open_set_identification")["shipped_thresholds"] == IDENTIFY_THRESHOLDS
