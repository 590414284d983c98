"""Face quality (api/sightings/quality.py) against naming accuracy, and the two gates' defaults.

On LFW View 1 *train* pairs (settings are chosen there; dev-test stays for confirming):
the first image of each chosen pair is enrolled, as it is (one per person: the gallery);
the second is the probe, as it is or degraded the way a camera degrades a face (Gaussian
blur, the whole image downscaled so the face has fewer pixels, under-exposure), one
degradation per probe drawn at random. Each image goes through the API's own steps (MTCNN,
align_face, FaceNet, face_quality) and each probe is named as the API names it: the most
similar enrolled person when the similarity reaches the open-set threshold, else nobody.
A probe is decided right when it is named as its own person if enrolled, or left unnamed
if not. Reported per quality band: probes, accuracy, true-match rate (enrolled people
named right) and false-match rate (probes named as someone else).

The gates follow from that. MIN_MATCH_QUALITY: the band edge that, with every face below
it answered unknown, keeps the most value, counting each right name as 1 and each wrong
one as -FALSE_MATCH_COST (a wrong name sends an operator after the wrong person; a missed
one is a sighting left for search and review). MIN_ENROL_QUALITY: an enrolled face is the
reference for every later match, so as strict as may be without refusing ordinary photos:
the highest multiple of 0.05 that refuses at most ENROL_REFUSALS of the gallery's photos,
and never below the match gate.

Also checked: on the same image, a blurred and a downscaled copy score lower than the
original (the share of images where they do).

Run: .venv/bin/python -m benchmarks.face_quality [--pairs-per-kind N] [--threads T]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from api.recognition.matcher import IDENTIFY_THRESHOLDS
from api.sightings.quality import face_quality
from api.vision import Embedder, MtcnnDetector, align_face, load_embedder
from benchmarks.common import (
    PRECISION,
    RESULTS,
    SHARED,
    chart,
    load_average,
    markdown_table,
    write_result,
)
from benchmarks.lfw import read_pairs, read_rgb, subject_face
from models.runtime import ModelStore

log = logging.getLogger("benchmarks.face_quality")

ROOT = SHARED / "data" / "lfw-view1-train"
EMBEDDER = "facenet128"
BANDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)
FALSE_MATCH_COST = 3.0  # a wrong name costs an operator this many missed ones
ENROL_REFUSALS = 0.01  # share of ordinary (undegraded) photos enrolment may refuse
# (kind, strength): what each probe may go through, drawn uniformly.
DEGRADATIONS: tuple[tuple[str, float], ...] = (
    ("original", 0.0),
    ("original", 0.0),
    ("blur", 1.5),
    ("blur", 3.0),
    ("blur", 5.0),
    ("downscale", 0.5),
    ("downscale", 0.3),
    ("downscale", 0.22),
    ("downscale", 0.16),
    ("dark", 0.2),
)


def degrade(rgb: np.ndarray, kind: str, strength: float) -> np.ndarray:
    if kind == "blur":
        return cv2.GaussianBlur(rgb, (0, 0), strength)
    if kind == "downscale":
        size = (max(1, round(rgb.shape[1] * strength)), max(1, round(rgb.shape[0] * strength)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    if kind == "dark":
        return np.clip(rgb.astype(np.float32) * strength, 0, 255).astype(np.uint8)
    return rgb


@dataclass(frozen=True)
class Probe:
    person: str
    degradation: str
    quality: float | None  # None: no face found
    embedding: np.ndarray | None


@dataclass(frozen=True)
class Decision:
    quality: float
    degradation: str
    enrolled: bool  # the probe's person is in the gallery
    named: str | None

    def correct(self, person_of: str) -> bool:
        return self.named == (person_of if self.enrolled else None)


class Faces:
    """The API's vision steps on one image."""

    def __init__(self, detector: MtcnnDetector, embedder: Embedder) -> None:
        self.detector = detector
        self.embedder = embedder

    def analyse(self, rgb: np.ndarray) -> tuple[float, np.ndarray] | None:
        face = subject_face(self.detector, rgb)
        if face is None:
            return None
        crop = align_face(rgb, face, self.embedder.crop)
        return face_quality(face, rgb).score, self.embedder.embed(crop[None])[0]


# The gallery (person -> embedding), the probes, and the quality of each gallery photo.
Collected = tuple[dict[str, np.ndarray], list[Probe], list[float]]


def person_of(name: str) -> str:
    return name.split("/")[0]


def gallery_and_probes(faces: Faces, per_kind: int, rng: np.random.Generator) -> Collected:
    """The gallery (the first image of each chosen pair, as it is: one per person) and the
    probes (the second image, degraded at random)."""
    pairs = read_pairs(ROOT / "pairsDevTrain.txt")
    chosen = []
    for same in (True, False):
        group = [p for p in pairs if p.same == same]
        step = max(1, len(group) // per_kind)
        chosen += group[::step][:per_kind]
    gallery: dict[str, np.ndarray] = {}
    reference_qualities: list[float] = []
    probes = []
    for pair in chosen:
        if person_of(pair.first) not in gallery:
            found = faces.analyse(read_rgb(ROOT / pair.first))
            if found is not None:
                reference_qualities.append(found[0])
                gallery[person_of(pair.first)] = found[1]
        kind, strength = DEGRADATIONS[rng.integers(len(DEGRADATIONS))]
        found = faces.analyse(degrade(read_rgb(ROOT / pair.second), kind, strength))
        label = kind if kind == "original" else f"{kind} {strength:g}"
        probes.append(
            Probe(
                person_of(pair.second),
                label,
                None if found is None else found[0],
                None if found is None else found[1],
            )
        )
    return gallery, probes, reference_qualities


def cached(path: Path | None, compute: Callable[[], Collected]) -> Collected:
    """The gallery and probes from `path` when it exists, else computed (and saved there)."""
    if path is not None and path.exists():
        data = np.load(path, allow_pickle=False)
        gallery = dict(zip(data["people"].tolist(), data["gallery"], strict=True))
        probes = [
            Probe(person, kind, None if np.isnan(q) else float(q), None if np.isnan(q) else v)
            for person, kind, q, v in zip(
                data["persons"].tolist(),
                data["kinds"].tolist(),
                data["qualities"],
                data["embeddings"],
                strict=True,
            )
        ]
        return gallery, probes, data["reference_qualities"].tolist()
    gallery, probes, reference_qualities = compute()
    if path is not None:
        dim = next(iter(gallery.values())).shape[0]
        np.savez(
            path,
            people=np.array(list(gallery)),
            reference_qualities=np.array(reference_qualities),
            gallery=np.stack(list(gallery.values())),
            persons=np.array([p.person for p in probes]),
            kinds=np.array([p.degradation for p in probes]),
            qualities=np.array([np.nan if p.quality is None else p.quality for p in probes]),
            embeddings=np.stack(
                [np.zeros(dim, np.float32) if p.embedding is None else p.embedding for p in probes]
            ),
        )
    return gallery, probes, reference_qualities


def decide(gallery: dict[str, np.ndarray], probes: list[Probe], threshold: float) -> list[Decision]:
    """Open-set naming as the API does it: the most similar enrolled person, if similar
    enough (faces without a detection are left out)."""
    people = list(gallery)
    matrix = np.stack([gallery[p] for p in people])
    decisions = []
    for probe in probes:
        if probe.embedding is None or probe.quality is None:
            continue
        scores = matrix @ probe.embedding
        best = int(np.argmax(scores))
        named = people[best] if scores[best] >= threshold else None
        decisions.append(Decision(probe.quality, probe.degradation, probe.person in gallery, named))
    return decisions


def rates(decisions: list[Decision], people: list[str]) -> dict[str, Any]:
    pairs = list(zip(decisions, people, strict=True))
    enrolled = [(d, p) for d, p in pairs if d.enrolled]
    return {
        "probes": len(pairs),
        "accuracy": sum(d.correct(p) for d, p in pairs) / len(pairs) if pairs else None,
        "true_match_rate": sum(d.named == p for d, p in enrolled) / len(enrolled)
        if enrolled
        else None,
        "false_match_rate": sum(d.named is not None and d.named != p for d, p in pairs) / len(pairs)
        if pairs
        else None,
    }


def band_rows(decisions: list[Decision], people: list[str]) -> list[dict[str, Any]]:
    rows = []
    for low, high in itertools.pairwise(BANDS):
        inside = [i for i, d in enumerate(decisions) if low <= d.quality < high]
        rows.append(
            {
                "band": [low, min(high, 1.0)],
                **rates([decisions[i] for i in inside], [people[i] for i in inside]),
            }
        )
    return rows


def gated(decisions: list[Decision], people: list[str], gate: float) -> dict[str, Any]:
    """Every probe decided with the match gate at `gate` (faces below it: unknown)."""
    kept = [
        Decision(d.quality, d.degradation, d.enrolled, d.named if d.quality >= gate else None)
        for d in decisions
    ]
    return {
        "min_match_quality": gate,
        **rates(kept, people),
        "true_matches": sum(d.named == p for d, p in zip(kept, people, strict=True)),
        "false_matches": sum(
            d.named is not None and d.named != p for d, p in zip(kept, people, strict=True)
        ),
    }


def choose_gates(
    decisions: list[Decision], people: list[str], references: list[float]
) -> dict[str, Any]:
    """The two defaults, by the rules in the module docstring."""
    edges = [round(edge, 2) for edge in BANDS[:-1]]
    curve = [gated(decisions, people, edge) for edge in edges]
    for row in curve:
        row["value"] = row["true_matches"] - FALSE_MATCH_COST * row["false_matches"]
    match_gate = max(curve, key=lambda row: (row["value"], -row["min_match_quality"]))
    originals = sorted(references)  # the gallery: ordinary photos, enrolled as they are
    floor = float(np.quantile(originals, ENROL_REFUSALS))
    enrol_gate = max(
        [e / 20 for e in range(21) if e / 20 <= floor] + [match_gate["min_match_quality"]]
    )
    return {
        "min_match_quality": match_gate["min_match_quality"],
        "min_enrol_quality": round(enrol_gate, 2),
        "false_match_cost": FALSE_MATCH_COST,
        "reference_quality_quantile": {
            "share": ENROL_REFUSALS,
            "quality": floor,
            "photos": len(originals),
        },
        "gate_curve": curve,
    }


def ordering(faces: Faces, count: int) -> dict[str, Any]:
    """On `count` images: does each degraded copy score below the original?"""
    names = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*.jpg"))[::7][:count]
    scores: dict[str, list[float]] = {"original": [], "blur 3": [], "downscale 0.22": []}
    for name in names:
        rgb = read_rgb(ROOT / name)
        found = [
            faces.analyse(degrade(rgb, kind, strength))
            for kind, strength in (("original", 0.0), ("blur", 3.0), ("downscale", 0.22))
        ]
        if any(f is None for f in found):
            continue
        for key, item in zip(scores, found, strict=True):
            scores[key].append(item[0])
    original = np.array(scores["original"])
    return {
        "images": len(original),
        "median": {key: float(np.median(values)) for key, values in scores.items()},
        "blurred_lower": float(np.mean(np.array(scores["blur 3"]) < original)),
        "downscaled_lower": float(np.mean(np.array(scores["downscale 0.22"]) < original)),
    }


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    shown = [row for row in rows if row["probes"]]
    labels = [f"{row['band'][0]:.1f}-{row['band'][1]:.1f}" for row in shown]
    with chart(path, figsize=(8, 4), dpi=110) as axes:
        axes.plot(labels, [row["accuracy"] for row in shown], "o-", label="named right")
        axes.plot(
            labels, [row["false_match_rate"] or 0 for row in shown], "s-", label="false match"
        )
        axes.set_xlabel("face quality band")
        axes.set_ylabel("share of probes")
        axes.set_ylim(0, 1.02)
        axes.legend()
        axes.grid(alpha=0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs-per-kind", type=int, default=500)
    parser.add_argument("--ordering-images", type=int, default=150)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--cache", type=Path, help="keep the embeddings here: a rerun only re-scores them"
    )
    parser.add_argument("--quick", action="store_true", help="100 pairs a kind, 40 images")
    args = parser.parse_args()
    if args.quick:
        args.pairs_per_kind, args.ordering_images = 100, 40
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store = ModelStore()
    faces = Faces(
        MtcnnDetector(store, intra_op_threads=args.threads),
        load_embedder(EMBEDDER, store, args.threads, precision=PRECISION),
    )
    threshold = IDENTIFY_THRESHOLDS[EMBEDDER]
    started = time.perf_counter()
    gallery, probes, references = cached(
        args.cache,
        lambda: gallery_and_probes(faces, args.pairs_per_kind, np.random.default_rng(13)),
    )
    decisions = decide(gallery, probes, threshold)
    people = [p.person for p in probes if p.quality is not None]
    rows = band_rows(decisions, people)
    gates = choose_gates(decisions, people, references)
    order = ordering(faces, args.ordering_images)
    by_degradation = {
        kind: float(np.median([d.quality for d in decisions if d.degradation == kind]))
        for kind in sorted({d.degradation for d in decisions})
    }
    plot(rows, RESULTS / "face_quality.png")
    log.info(
        markdown_table(
            ["band", "probes", "accuracy", "true match", "false match"],
            [
                [f"{r['band'][0]:.1f}-{r['band'][1]:.1f}", r["probes"]]
                + [
                    "" if r[k] is None else f"{r[k]:.3f}"
                    for k in ("accuracy", "true_match_rate", "false_match_rate")
                ]
                for r in rows
            ],
        )
    )
    log.info("gates %s\nordering %s\nmedian by degradation %s", gates, order, by_degradation)
    write_result(
        "face_quality",
        {
            "data": f"LFW View 1 train pairs ({args.pairs_per_kind} a kind), {ROOT.name}",
            "embedder": EMBEDDER,
            "precision": PRECISION,
            "threshold": threshold,
            "load_average": load_average(),
            "seconds": round(time.perf_counter() - started, 1),
            "gallery_people": len(gallery),
            "probes": len(probes),
            "no_face": sum(p.quality is None for p in probes),
            "bands": rows,
            "gates": gates,
            "ordering": order,
            "median_quality_by_degradation": by_degradation,
        },
    )


if __name__ == "__main__":
    main()
