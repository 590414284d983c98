"""Face quality (api/sightings/quality.py) against naming accuracy, and the two gates' defaults.

On LFW View 1 *train* pairs (settings are chosen there; dev-test stays for confirming):
the first image of each pair is the enrolled face, as it is; the second is the probe,
either as it is or degraded the way a camera degrades a face (Gaussian blur, the whole
image downscaled so the face has fewer pixels, under-exposure), one degradation per pair
drawn at random. Each probe goes through the API's own steps (MTCNN, align_face, FaceNet,
face_quality) and is "named" when its similarity to the reference reaches the open-set
threshold. Reported per quality band: how many probes, the share decided right, the
true-match rate on same-person pairs and the false-match rate on different-people pairs.

The gates' defaults follow from the bands: MIN_MATCH_QUALITY is the lowest band edge from
which every band up names at least as well as ACCURACY_FLOOR and mistakes a stranger for
someone no more often than FALSE_MATCH_CEILING; MIN_ENROL_QUALITY is the edge from which
the accuracy is within a point of the undegraded faces' (an enrolled face is a reference
for every later match, so it must be as good as an ordinary photo).

Also checked: on the same image, a blurred and a downscaled copy score lower than the
original (the share of images where they do).

Run: .venv/bin/python -m benchmarks.face_quality [--pairs-per-kind N] [--threads T]
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from api.recognition.matcher import IDENTIFY_THRESHOLDS
from api.sightings.quality import face_quality
from api.vision import Embedder, MtcnnDetector, align_face, load_embedder
from benchmarks.common import RESULTS, SHARED, chart, load_average, markdown_table, write_result
from benchmarks.lfw import central_face, read_pairs, read_rgb
from models.runtime import ModelStore

log = logging.getLogger("benchmarks.face_quality")

ROOT = SHARED / "data" / "lfw-view1-train"
EMBEDDER = "facenet128"
BANDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001)
ACCURACY_FLOOR = 0.95
FALSE_MATCH_CEILING = 0.03
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
    same: bool
    degradation: str
    quality: float | None  # None: no face found
    similarity: float | None


class Faces:
    """The API's vision steps, with the reference embeddings cached per image."""

    def __init__(self, detector: MtcnnDetector, embedder: Embedder) -> None:
        self.detector = detector
        self.embedder = embedder
        self.references: dict[str, np.ndarray | None] = {}

    def analyse(self, rgb: np.ndarray) -> tuple[float, np.ndarray] | None:
        face = central_face(self.detector, rgb)
        if face is None:
            return None
        crop = align_face(rgb, face)
        return face_quality(face, crop).score, self.embedder.embed(crop[None])[0]

    def reference(self, name: str) -> np.ndarray | None:
        if name not in self.references:
            found = self.analyse(read_rgb(ROOT / name))
            self.references[name] = None if found is None else found[1]
        return self.references[name]


def probes(faces: Faces, per_kind: int, rng: np.random.Generator) -> list[Probe]:
    pairs = read_pairs(ROOT / "pairsDevTrain.txt")
    chosen = []
    for same in (True, False):
        group = [p for p in pairs if p.same == same]
        step = max(1, len(group) // per_kind)
        chosen += group[::step][:per_kind]
    result = []
    for pair in chosen:
        reference = faces.reference(pair.first)
        if reference is None:
            continue
        kind, strength = DEGRADATIONS[rng.integers(len(DEGRADATIONS))]
        found = faces.analyse(degrade(read_rgb(ROOT / pair.second), kind, strength))
        label = kind if kind == "original" else f"{kind} {strength:g}"
        if found is None:
            result.append(Probe(pair.same, label, None, None))
        else:
            result.append(Probe(pair.same, label, found[0], float(found[1] @ reference)))
    return result


def band_rows(items: list[Probe], threshold: float) -> list[dict[str, Any]]:
    rows = []
    for low, high in itertools.pairwise(BANDS):
        inside = [p for p in items if p.quality is not None and low <= p.quality < high]
        same = [p for p in inside if p.same]
        different = [p for p in inside if not p.same]
        named_same = sum(p.similarity >= threshold for p in same)
        named_different = sum(p.similarity >= threshold for p in different)
        rows.append(
            {
                "band": [low, min(high, 1.0)],
                "probes": len(inside),
                "accuracy": (named_same + len(different) - named_different) / len(inside)
                if inside
                else None,
                "true_match_rate": named_same / len(same) if same else None,
                "false_match_rate": named_different / len(different) if different else None,
            }
        )
    return rows


def rates_from(items: list[Probe], threshold: float, low: float) -> dict[str, float | int]:
    """Accuracy and false-match rate over every probe of quality >= low."""
    kept = [p for p in items if p.quality is not None and p.quality >= low]
    different = [p for p in kept if not p.same]
    right = sum((p.similarity >= threshold) == p.same for p in kept)
    false = sum(p.similarity >= threshold for p in different)
    return {
        "min_quality": low,
        "probes": len(kept),
        "accuracy": right / len(kept) if kept else 0.0,
        "false_match_rate": false / len(different) if different else 0.0,
    }


def choose_gates(items: list[Probe], threshold: float) -> dict[str, Any]:
    """The lowest edges meeting each gate's rule (module docstring), from the bands up."""
    edges = [round(edge, 2) for edge in BANDS[:-1]]
    originals = [p for p in items if p.degradation == "original" and p.quality is not None]
    baseline = rates_from(originals, threshold, 0.0)["accuracy"]
    rows = band_rows(items, threshold)

    def bands_from(index: int) -> list[dict[str, Any]]:
        return [row for row in rows[index:] if row["probes"]]

    match_gate = next(
        edges[i]
        for i in range(len(edges))
        if all(
            row["accuracy"] >= ACCURACY_FLOOR
            and (row["false_match_rate"] or 0.0) <= FALSE_MATCH_CEILING
            for row in bands_from(i)
        )
    )
    enrol_gate = next(
        edges[i]
        for i in range(len(edges))
        if all(row["accuracy"] >= baseline - 0.01 for row in bands_from(i))
    )
    return {
        "original_accuracy": baseline,
        "min_match_quality": match_gate,
        "min_enrol_quality": max(enrol_gate, match_gate),
        "above_match_gate": rates_from(items, threshold, match_gate),
        "everything": rates_from(items, threshold, 0.0),
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
    parser.add_argument("--quick", action="store_true", help="100 pairs a kind, 40 images")
    args = parser.parse_args()
    if args.quick:
        args.pairs_per_kind, args.ordering_images = 100, 40
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store = ModelStore()
    faces = Faces(
        MtcnnDetector(store, intra_op_threads=args.threads),
        load_embedder(EMBEDDER, store, intra_op_threads=args.threads),
    )
    threshold = IDENTIFY_THRESHOLDS[EMBEDDER]
    started = time.perf_counter()
    items = probes(faces, args.pairs_per_kind, np.random.default_rng(13))
    rows = band_rows(items, threshold)
    gates = choose_gates(items, threshold)
    order = ordering(faces, args.ordering_images)
    by_degradation = {
        kind: float(np.median([p.quality for p in items if p.degradation == kind and p.quality]))
        for kind in sorted({p.degradation for p in items})
        if any(p.quality for p in items if p.degradation == kind)
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
            "threshold": threshold,
            "load_average": load_average(),
            "seconds": round(time.perf_counter() - started, 1),
            "probes": len(items),
            "no_face": sum(p.quality is None for p in items),
            "bands": rows,
            "gates": gates,
            "ordering": order,
            "median_quality_by_degradation": by_degradation,
        },
    )


if __name__ == "__main__":
    main()
