"""Open-set identification with the API's own decision code: who is named, who is refused.

Enrol k images (k = 1, 3, 5) of each of the 20 people of ../shared/data/lfw-ident20, then
probe with
- their other images (the same probes for every k: each person's images after the 5th),
- strangers: one image of each of other LFW people (from ../shared/data/lfw-view1, never
  enrolled).
Each image gives its largest MTCNN face (what the API enrols with `largest_face_only`),
aligned and embedded as the API does. The decision is api.recognition.matcher.identify on
an in-memory GalleryIndex (a GallerySnapshot of the enrolled vectors) with a Release
holding the classifier api.recognition.classifier trains: exactly the code that serves
/api/v1/recognize. "gallery only" is the same call without a release, as for people
enrolled since the last training.

identify() names its best candidate when that candidate's similarity reaches the
threshold, and the candidate does not depend on the threshold; so one call per probe with
no threshold gives the winner and its similarity, and every threshold is then read off:
- identification rate (DIR): probes named as the right person;
- misidentification: probes named as someone else;
- false accept rate: strangers named as anyone.
Writes results/open_set_identification.json and .png (DIR against stranger FAR).

Run: .venv/bin/python -m benchmarks.open_set_identification [--strangers N]
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from api.config import Settings
from api.db.gallery import GallerySnapshot
from api.recognition.gallery import GalleryIndex
from api.recognition.matcher import IDENTIFY_THRESHOLDS, identify
from api.recognition.release import Release
from api.training import release_from_snapshot
from api.vision import EMBEDDER_NAMES, MtcnnDetector, load_embedder
from benchmarks.common import (
    PRECISION,
    RESULTS,
    SHARED,
    chart,
    load_average,
    markdown_table,
    write_result,
)
from benchmarks.lfw import aligned_crops, embed_batched, largest_face
from models.runtime import ModelStore

log = logging.getLogger("benchmarks.open_set_identification")

IDENT_ROOT = SHARED / "data" / "lfw-ident20"
STRANGER_ROOT = SHARED / "data" / "lfw-view1"
ENROL_POOL = 5  # images 1-5 of each person may be enrolled; the rest are probes
KS = (1, 3, 5)
THRESHOLDS = np.round(np.arange(0.0, 1.0001, 0.01), 2)


@dataclass(frozen=True)
class Protocol:
    """Which image plays which role."""

    enrol: dict[str, list[Path]]  # person -> the ENROL_POOL images, in order
    probes: list[tuple[str, Path]]  # (true person, image)
    strangers: list[Path]


def build_protocol(ident_root: Path, stranger_root: Path, strangers: int) -> Protocol:
    people = {d.name: sorted(d.glob("*.jpg")) for d in sorted(ident_root.iterdir()) if d.is_dir()}
    enrol = {person: images[:ENROL_POOL] for person, images in people.items()}
    probes = [(person, image) for person, images in people.items() for image in images[ENROL_POOL:]]
    others = [
        min(d.glob("*.jpg"))
        for d in sorted(stranger_root.iterdir())
        if d.is_dir() and d.name not in people and any(d.glob("*.jpg"))
    ]
    if 0 < strangers < len(others):
        others = [others[round(i * len(others) / strangers)] for i in range(strangers)]
    return Protocol(enrol, probes, others)


def embed_all(
    images: list[Path], detector: MtcnnDetector, name: str, store: ModelStore, threads: int
) -> dict[Path, np.ndarray]:
    """The largest face of each image that has one, cut out and embedded as the API does
    by default (the embedder's crop, FLIP_AUGMENTATION)."""
    embedder = load_embedder(name, store, threads, precision=PRECISION)
    crops = aligned_crops(images, detector, largest_face, embedder.crop)
    log.info("%s: %d images, %d with a face", name, len(images), len(crops))
    vectors = embed_batched(embedder, list(crops.values()), flip=Settings().flip_augmentation)
    return dict(zip(crops, vectors, strict=True))


def enrolled_index(
    protocol: Protocol, vectors: dict[Path, np.ndarray], k: int
) -> tuple[GalleryIndex, list[str]]:
    """The gallery after enrolling the first k enrol images with a face of each person."""
    owners, rows = [], []
    for person, images in protocol.enrol.items():
        usable = [image for image in images if image in vectors][:k]
        owners += [person] * len(usable)
        rows += [vectors[image] for image in usable]
    snapshot = GallerySnapshot(
        version=1,
        face_ids=np.arange(len(owners), dtype=np.int64),
        person_ids=tuple(owners),
        vectors=np.ascontiguousarray(np.stack(rows), dtype=np.float32),
    )
    return GalleryIndex.build(snapshot), owners


def trained_release(index: GalleryIndex, embedder: str) -> Release:
    """What a training job publishes, kept in memory (api/training.py train_release)."""
    return release_from_snapshot(
        index.snapshot, embedder, IDENTIFY_THRESHOLDS[embedder], threads=1, version="benchmark"
    )


def decisions(
    probes: list[Path],
    vectors: dict[Path, np.ndarray],
    release: Release | None,
    index: GalleryIndex,
) -> tuple[list[str | None], np.ndarray]:
    """identify()'s winner and similarity for each probe; (None, -inf) without a face."""
    winners: list[str | None] = []
    similarities = []
    for path in probes:
        if path not in vectors:
            winners.append(None)
            similarities.append(-np.inf)
            continue
        match = identify(vectors[path], release, index, threshold=-np.inf, top_k=1)
        winners.append(match.person_id)
        similarities.append(match.similarity)
    return winners, np.array(similarities)


def sweep(
    truth: list[str], winners: list[str | None], sims: np.ndarray, stranger_sims: np.ndarray
) -> dict[str, list[float]]:
    """DIR, misidentification and stranger FAR at every threshold of THRESHOLDS."""
    right = np.array([w == t for w, t in zip(winners, truth, strict=True)])
    accepted = sims[None, :] >= THRESHOLDS[:, None]
    return {
        "threshold": THRESHOLDS.tolist(),
        "dir": (accepted & right).mean(axis=1).round(4).tolist(),
        "misidentified": (accepted & ~right).mean(axis=1).round(4).tolist(),
        "far": (stranger_sims[None, :] >= THRESHOLDS[:, None]).mean(axis=1).round(4).tolist(),
    }


def at(curve: dict[str, list[float]], threshold: float) -> dict[str, float]:
    row = int(np.argmin(np.abs(np.array(curve["threshold"]) - threshold)))
    return {key: values[row] for key, values in curve.items()}


def why_shipped(rows: list[dict[str, Any]], embedder: str, k: int) -> str:
    """The shipped threshold's operating point and what moving it by 0.05 would trade."""
    row = next(r for r in rows if (r["embedder"], r["k"], r["mode"]) == (embedder, k, "classifier"))
    shipped = IDENTIFY_THRESHOLDS[embedder]
    low, mid, high = (at(row["curve"], t) for t in (shipped - 0.05, shipped, shipped + 0.05))

    def change(point: dict[str, float]) -> str:
        return (
            f"at {point['threshold']:.2f} it would name {point['dir'] - mid['dir']:+.1%} "
            f"probes correctly and {point['far'] - mid['far']:+.1%} strangers"
        )

    return (
        f"{embedder}, shipped threshold {shipped} (k={k}, classifier): names "
        f"{mid['dir']:.1%} of the enrolled people's probes correctly, {mid['misidentified']:.1%}"
        f" as someone else, and {mid['far']:.1%} of strangers; {change(low)}; {change(high)}. "
        "It is stricter than the 1:1 threshold because a stranger gets one chance per "
        "enrolled person to look like someone."
    )


def plot(rows: list[dict[str, Any]], strangers: int, path: Path) -> None:
    """Top: identification rate and strangers named against the threshold (classifier
    decisions); bottom: one against the other (ROC-style, log FAR). Dots: shipped."""
    embedders = sorted({r["embedder"] for r in rows})
    with chart(
        path, 2, len(embedders), figsize=(6 * len(embedders), 9), squeeze=False, dpi=100
    ) as axes:
        floor = 0.5 / strangers  # where FAR = 0 is drawn on the log axis
        for column, embedder in enumerate(embedders):
            shipped = IDENTIFY_THRESHOLDS[embedder]
            by_threshold, roc = axes[0][column], axes[1][column]
            for row in (r for r in rows if r["embedder"] == embedder):
                curve, point = row["curve"], row["shipped"]
                label = f"k={row['k']}, {row['mode']}"
                style = "-" if row["mode"] == "classifier" else "--"
                far = np.maximum(np.array(curve["far"]), floor)
                (line,) = roc.plot(far, curve["dir"], style, label=label)
                roc.plot(max(point["far"], floor), point["dir"], "o", color=line.get_color())
                if row["mode"] == "classifier":
                    for key, line_style, what in (
                        ("dir", "-", "probes named correctly"),
                        ("far", ":", "strangers named"),
                    ):
                        by_threshold.plot(
                            curve["threshold"],
                            curve[key],
                            line_style,
                            color=line.get_color(),
                            label=f"k={row['k']}: {what}",
                        )
            by_threshold.axvline(shipped, color="grey", linestyle="--", linewidth=1)
            by_threshold.set(
                xlim=(0.2, 0.9),
                xlabel="cosine similarity threshold",
                ylabel="rate",
                title=f"{embedder}: shipped threshold {shipped} (dashed)",
            )
            roc.set(
                xscale="log",
                xlim=(floor / 1.2, 1.05),
                ylim=(0.8, 1.0),
                xlabel=f"strangers named (of {strangers}; left edge = none)",
                ylabel="probes named correctly (DIR)",
                title=f"{embedder}: DIR against false accepts, dots = {shipped}",
            )
            for axis in (by_threshold, roc):
                axis.grid(alpha=0.3)
                axis.legend(fontsize=7, loc="lower left" if axis is by_threshold else "lower right")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--strangers", type=int, default=0, help="how many (0: one per other person)"
    )
    parser.add_argument("--ks", type=int, nargs="+", default=KS)
    parser.add_argument("--embedders", nargs="+", choices=EMBEDDER_NAMES, default=EMBEDDER_NAMES)
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    args = parser.parse_args()
    load_before = load_average()
    protocol = build_protocol(IDENT_ROOT, STRANGER_ROOT, args.strangers)
    enrol_images = [image for images in protocol.enrol.values() for image in images]
    probe_images = [image for _, image in protocol.probes]
    all_images = enrol_images + probe_images + protocol.strangers
    store = ModelStore()
    detector = MtcnnDetector(store, intra_op_threads=args.threads)
    truth = [person for person, _ in protocol.probes]
    rows = []
    without_face: set[Path] = set()
    for embedder in args.embedders:
        vectors = embed_all(all_images, detector, embedder, store, args.threads)
        without_face.update(p for p in all_images if p not in vectors)
        log.info("%s embedded", embedder)
        for k in args.ks:
            index, _ = enrolled_index(protocol, vectors, k)
            for mode, release in (
                ("classifier", trained_release(index, embedder)),
                ("gallery only", None),
            ):
                winners, sims = decisions(probe_images, vectors, release, index)
                _, stranger_sims = decisions(protocol.strangers, vectors, release, index)
                curve = sweep(truth, winners, sims, stranger_sims)
                rank1 = float(np.mean([w == t for w, t in zip(winners, truth, strict=True)]))
                rows.append(
                    {
                        "embedder": embedder,
                        "k": k,
                        "mode": mode,
                        "enrolled_faces": index.snapshot.size,
                        "closed_set_rank1": round(rank1, 4),
                        "shipped": at(curve, IDENTIFY_THRESHOLDS[embedder]),
                        "curve": curve,
                    }
                )
    explanations = {e: why_shipped(rows, e, max(args.ks)) for e in args.embedders}
    table = markdown_table(
        [
            "embedder",
            "k",
            "decision",
            "rank-1 (closed set)",
            "threshold",
            "DIR",
            "misidentified",
            "strangers named",
        ],
        [
            [
                r["embedder"],
                r["k"],
                r["mode"],
                f"{r['closed_set_rank1']:.1%}",
                r["shipped"]["threshold"],
                f"{r['shipped']['dir']:.1%}",
                f"{r['shipped']['misidentified']:.1%}",
                f"{r['shipped']['far']:.1%}",
            ]
            for r in rows
        ],
    )
    text = table + "\n\n" + "\n\n".join(explanations.values())
    print(text)
    write_result(
        "open_set_identification",
        {
            "precision": PRECISION,
            "load_average_before": load_before,
            "people": len(protocol.enrol),
            "probes": len(protocol.probes),
            "strangers": len(protocol.strangers),
            "images_without_face": sorted(str(p.relative_to(SHARED)) for p in without_face),
            "shipped_thresholds": dict(IDENTIFY_THRESHOLDS),
            "why_shipped": explanations,
            "results": rows,
            "markdown": text,
        },
    )
    plot(rows, len(protocol.strangers), RESULTS / "open_set_identification.png")


if __name__ == "__main__":
    main()
