"""LFW face verification with the API's own vision code: accuracy, ROC, TAR at FAR=1e-3.

Every image goes through what /api/v1/verify runs: MTCNN (the subject face, large and
central, api/vision/choice.py), align_face, then each FaceNet embedder with and without horizontal
flip test-time augmentation. A pair is "same" when the L2 distance of its unit embeddings
is below a threshold. Reported per embedder and flip setting:
- accuracy at the best threshold on the whole file (the single-split View 1 figure);
- 10-fold accuracy, mean and std, each fold scored with the threshold fitted on the other
  nine (View 2's standard protocol; View 1's 1,000 pairs are dealt into 10 folds for an
  honest estimate of the same kind);
- accuracy at the API's shipped 1:1 threshold (api/vision/embedder.py VERIFY_THRESHOLDS);
- TAR at FAR=1e-3, and how many impostor pairs that rests on;
- the ROC curve (benchmarks/results/<name>.png).
An image without a detected face makes its pairs count as "different".

Run: .venv/bin/python -m benchmarks.lfw_verification [--lfw-root DIR] [--pairs FILE]
(default: ../shared/data/lfw-view1 and its pairsDevTest.txt; for View 2 point --pairs at
pairs.txt and --lfw-root at the full LFW image folder). `--all-pairs` instead pairs every
two images of one person in both View 1 sets (DevTrain and DevTest: 4,991 images, 3,191
such pairs) with as many random different-people pairs (benchmarks/lfw.py all_pairs):
about three times the pairs, to tell int8 from float32 where 1,000 pairs cannot.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from api.vision import EMBEDDER_NAMES, Embedder, MtcnnDetector, load_embedder
from api.vision.embedder import PRECISIONS, VERIFY_THRESHOLDS, l2_normalise
from benchmarks.common import RESULTS, SHARED, chart, load_average, markdown_table, write_result
from benchmarks.lfw import (
    Pair,
    accuracy_at,
    aligned_crops,
    all_pairs,
    best_threshold,
    embed_batched,
    kfold_accuracies,
    pair_distances,
    read_pairs,
    roc_curve,
    split_folds,
    subject_face,
    tar_at_far,
)
from models.runtime import ModelStore

log = logging.getLogger("benchmarks.lfw_verification")

DEFAULT_ROOT = SHARED / "data" / "lfw-view1"
VIEW1_SETS = (SHARED / "data" / "lfw-view1-train", DEFAULT_ROOT)  # DevTrain, DevTest
FAR_TARGET = 1e-3
FOLDS = 10

# Published LFW accuracies to compare with, all on View 2 (10-fold, 6,000 pairs), with the
# embedder here that carries the same weights. deepface's "Facenet" is the 128-d
# 20170512-110547 model too.
PUBLISHED = (
    ("facenet128", "FaceNet 20170512-110547", 0.992, "davidsandberg/facenet README"),
    ("facenet512", "FaceNet 20180408-102900", 0.9905, "davidsandberg/facenet README"),
    (
        "facenet128",
        "deepface, MTCNN + FaceNet",
        0.968,
        "deepface benchmarks (as quoted in issue 7)",
    ),
)


def select_pairs(pairs: list[Pair], limit: int) -> list[Pair]:
    """At most `limit` pairs, evenly spread and balanced over same/different (for --quick)."""
    if limit <= 0 or limit >= len(pairs):
        return pairs
    chosen = []
    for same in (True, False):
        group = [p for p in pairs if p.same == same]
        chosen += group[:: max(1, len(group) // (limit // 2))][: limit // 2]
    return chosen


def view1_images() -> list[str]:
    """Every image the two View 1 pairs files name, as `<set folder>/<person>/<file>`."""
    names: set[str] = set()
    for folder in VIEW1_SETS:
        for pair in read_pairs(next(folder.glob("pairsDev*.txt"))):
            names |= {f"{folder.name}/{pair.first}", f"{folder.name}/{pair.second}"}
    return sorted(names)


def embed_plain_and_flipped(embedder: Embedder, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(plain, flip-TTA) unit vectors. Flip TTA is the normalised sum of the plain and the
    mirrored raw embeddings, centred, exactly what Embedder.embed(flip=True) returns
    (checked in tests/benchmarks), computed here from the two halves so the plain ones
    are not embedded twice."""
    plain = embed_batched(embedder, crops, centred=False)
    # a view: copied a batch at a time
    mirrored = embed_batched(embedder, crops[:, :, ::-1], centred=False)
    return embedder.centre(plain), embedder.centre(l2_normalise(plain + mirrored))


def evaluate(
    pairs: list[Pair], vectors: dict[str, np.ndarray], shipped_threshold: float
) -> dict[str, Any]:
    """Every figure of one embedder and flip setting on `pairs` (folds already set)."""
    distances, same = pair_distances(pairs, vectors)
    folds = np.array([p.fold for p in pairs])
    threshold, accuracy = best_threshold(distances, same)
    per_fold = kfold_accuracies(distances, same, folds)
    fold_accuracies = np.array([acc for _, acc in per_fold])
    tar = tar_at_far(distances, same, FAR_TARGET)
    far, tar_curve = roc_curve(distances, same)
    return {
        "best_threshold": round(threshold, 4),
        "accuracy_best_threshold": round(accuracy, 4),
        "folds": len(per_fold),
        "fold_accuracies": [round(float(a), 4) for a in fold_accuracies],
        "fold_thresholds": [round(t, 4) for t, _ in per_fold],
        "accuracy_10fold_mean": round(float(fold_accuracies.mean()), 4),
        "accuracy_10fold_std": round(float(fold_accuracies.std()), 4),
        "shipped_threshold": shipped_threshold,
        "accuracy_shipped_threshold": round(accuracy_at(distances, same, shipped_threshold), 4),
        "tar_at_far": {
            "far_target": tar.far_target,
            "tar": round(tar.tar, 4),
            "threshold": round(tar.threshold, 4),
            "impostor_pairs": tar.impostor_pairs,
            "false_accepts_allowed": tar.false_accepts_allowed,
            "far_achieved": round(tar.far_achieved, 5),
        },
        "roc": {"far": far.round(5).tolist(), "tar": tar_curve.round(5).tolist()},
    }


def label(row: dict[str, Any]) -> str:
    """The embedder's name, with its precision when that is not the float32 default."""
    precision = row.get("precision", "fp32")
    return row["embedder"] if precision == "fp32" else f"{row['embedder']} {precision}"


def plot(rows: list[dict[str, Any]], title: str, path: Path) -> None:
    with chart(path, figsize=(6.5, 5), dpi=110) as axis:
        for row in rows:
            far, tar = np.array(row["roc"]["far"]), np.array(row["roc"]["tar"])
            keep = far > 0
            name = f"{label(row)}{' + flip' if row['flip'] else ''}"
            axis.step(far[keep], tar[keep], where="post", label=name)
        smallest = 1 / rows[0]["tar_at_far"]["impostor_pairs"]
        axis.axvline(smallest, color="grey", linestyle=":", linewidth=1)
        axis.text(smallest, 0.905, " 1 impostor pair", color="grey", fontsize=8)
        axis.set(
            xscale="log",
            xlim=(smallest / 1.5, 1),
            ylim=(0.9, 1.002),
            xlabel="false accept rate",
            ylabel="true accept rate",
            title=title,
        )
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")


def markdown(rows: list[dict[str, Any]], pairs: int) -> str:
    results = markdown_table(
        [
            "embedder",
            "flip",
            "accuracy (best threshold)",
            f"{rows[0]['folds']}-fold accuracy",
            "at shipped threshold",
            "TAR @ FAR=1e-3",
        ],
        [
            [
                label(r),
                "on" if r["flip"] else "off",
                f"{r['accuracy_best_threshold']:.2%} (L2 < {r['best_threshold']:.3f})",
                f"{r['accuracy_10fold_mean']:.2%} ± {r['accuracy_10fold_std']:.2%}",
                f"{r['accuracy_shipped_threshold']:.2%} (L2 < {r['shipped_threshold']})",
                f"{r['tar_at_far']['tar']:.2%} ({r['tar_at_far']['impostor_pairs']} impostor "
                f"pairs, {r['tar_at_far']['false_accepts_allowed']} false accepts allowed)",
            ]
            for r in rows
        ],
    )
    published = markdown_table(
        ["published (LFW View 2, 6,000 pairs)", "same weights as", "accuracy", "source"],
        [
            [name, embedder, f"{accuracy:.2%}", source]
            for embedder, name, accuracy, source in PUBLISHED
        ],
    )
    return f"{pairs} pairs\n\n{results}\n\n{published}"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw-root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--pairs", type=Path, help="default: <lfw-root>/pairsDevTest.txt")
    parser.add_argument("--embedders", nargs="+", choices=EMBEDDER_NAMES, default=EMBEDDER_NAMES)
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=PRECISIONS,
        default=["fp32"],
        help="FaceNet precisions to compare (int8: models/quantize.py)",
    )
    parser.add_argument("--max-pairs", type=int, default=0, help="balanced subset (0: all)")
    parser.add_argument(
        "--all-pairs",
        action="store_true",
        help="every same-person pair of both View 1 sets, and as many random others",
    )
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime threads")
    args = parser.parse_args()
    pairs_file = args.pairs or args.lfw_root / "pairsDevTest.txt"
    load_before = load_average()
    if args.all_pairs:
        args.lfw_root, view = VIEW1_SETS[0].parent, "view1_all_pairs"
        file_pairs = all_pairs(view1_images())
        pairs = select_pairs(file_pairs, args.max_pairs)
        pairs_file = Path("+".join(folder.name for folder in VIEW1_SETS))
    else:
        file_pairs = read_pairs(pairs_file)
        view = "view2" if len({p.fold for p in file_pairs}) > 1 else "view1"
        pairs = split_folds(select_pairs(file_pairs, args.max_pairs), FOLDS)
    names = sorted({p.first for p in pairs} | {p.second for p in pairs})
    store = ModelStore()
    started = time.perf_counter()
    detector = MtcnnDetector(store, intra_op_threads=args.threads)
    rows = []
    for embedder_name, precision in itertools.product(args.embedders, args.precisions):
        embedder = load_embedder(embedder_name, store, args.threads, precision=precision)
        paths = (args.lfw_root / name for name in names)
        crops = aligned_crops(paths, detector, subject_face, embedder.crop)
        found = [name for name in names if args.lfw_root / name in crops]
        missed = [name for name in names if args.lfw_root / name not in crops]
        log.info("%d images, %d without a face, %.0f s", len(names), len(missed), _since(started))
        stacked = np.stack([crops[args.lfw_root / name] for name in found])
        plain, flipped = embed_plain_and_flipped(embedder, stacked)
        log.info("%s %s embedded, %.0f s", embedder_name, precision, _since(started))
        for flip, vectors in ((False, plain), (True, flipped)):
            figures = evaluate(
                pairs,
                dict(zip(found, vectors, strict=True)),
                VERIFY_THRESHOLDS[(embedder_name, flip)],
            )
            rows.append(
                {"embedder": embedder_name, "precision": precision, "flip": flip, **figures}
            )
    name = f"lfw_{view}" if "fp32" in args.precisions else f"lfw_{view}_{'_'.join(args.precisions)}"
    table = markdown(rows, len(pairs))
    print(table)
    write_result(
        name,
        {
            "load_average_before": load_before,
            "pairs_file": pairs_file.name,
            "view": view,
            "view_title": "View 1, all same-person pairs" if args.all_pairs else view,
            "pairs": len(pairs),
            "pairs_in_file": len(file_pairs),
            "images": len(names),
            "images_without_face": missed,
            "folds_from_file": view == "view2",
            "published": [
                {"embedder": e, "model": m, "accuracy": a, "source": s} for e, m, a, s in PUBLISHED
            ],
            "results": rows,
            "markdown": table,
        },
    )
    plot(rows, f"LFW {view} ({pairs_file.name}, {len(pairs)} pairs)", RESULTS / f"{name}.png")


def _since(started: float) -> float:
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
