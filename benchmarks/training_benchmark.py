"""Training time vs identities: the working-set linear SVM against LinearSVC one-vs-rest.

Synthetic unit embeddings (dim 128) with LFW's shape: 5,749 identities, 13,233 faces, 71%
of identities with a single face, a long tail of identities with hundreds (scaled down for
the smaller sizes). Each class is a random direction plus noise (same-identity cosine
~0.8, different ~0), as FaceNet embeddings roughly are. The training is what a job runs:
`train_linear_classifier` (fit + a second, warm-started fit for the temperature) on
TRAINING_THREADS=2 threads. LinearSVC (liblinear on all faces for each class) is the
reference; it is run up to --linearsvc-max identities (at LFW size it takes minutes) and
the largest coefficient difference between the two solutions is recorded.

Run: .venv/bin/python -m benchmarks.training_benchmark [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.svm import LinearSVC

from api.recognition.fitting import train_linear_classifier
from api.recognition.linear_svm import fit_ovr_l2svm
from benchmarks.common import RESULTS, chart, fastest_run, markdown_table, write_result

NAME = "training_time"
LFW_IDENTITIES, LFW_FACES, LFW_SINGLES = 5749, 13233, 4069
DIM = 128
THREADS = 2


def lfw_like_counts(identities: int) -> np.ndarray:
    """Faces per identity: LFW's share of single-face identities and a Zipf tail."""
    faces = round(identities * LFW_FACES / LFW_IDENTITIES)
    singles = round(identities * LFW_SINGLES / LFW_IDENTITIES)
    multi = identities - singles
    weights = 1.0 / np.arange(1, multi + 1) ** 1.1
    extra = faces - singles - 2 * multi
    counts = 2 + np.floor(weights / weights.sum() * extra).astype(np.int64)
    counts[: extra - int((counts - 2).sum())] += 1
    return np.concatenate([counts, np.ones(singles, np.int64)])


def synthetic_faces(identities: int, seed: int = 0, draw: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(faces, identity index per face) with LFW-like counts.

    `seed` fixes the identities; each `draw` is a fresh set of faces of the same people.
    """
    centres = np.random.default_rng(seed).standard_normal((identities, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    targets = np.repeat(np.arange(identities), lfw_like_counts(identities))
    noise = np.random.default_rng([seed, draw]).standard_normal((len(targets), DIM))
    faces = centres[targets] + 0.06 * noise
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    return faces.astype(np.float32), targets


def measure(identities: int, with_linearsvc: bool) -> dict:
    faces, targets = synthetic_faces(identities)
    labels = [f"p{t:05d}" for t in targets]
    # one timed run each; CPU seconds: all threads of this process, load-independent
    _, train = fastest_run(1, lambda: train_linear_classifier(faces, labels, threads=THREADS))
    solution, fit = fastest_run(
        1, lambda: fit_ovr_l2svm(faces, targets, identities, threads=THREADS)
    )
    row = {
        "identities": identities,
        "faces": len(targets),
        "train_wall_s": round(train.wall_s, 2),
        "train_cpu_s": round(train.cpu_s, 2),
        "fit_wall_s": round(fit.wall_s, 2),
        "fit_cpu_s": round(fit.cpu_s, 2),
        "working_set_rounds": solution.rounds,
        "working_rows_per_class": round(solution.working_rows / identities, 1),
        "linearsvc_wall_s": None,
        "linearsvc_cpu_s": None,
        "max_coef_difference": None,
    }
    if with_linearsvc:
        model, svc = fastest_run(1, lambda: LinearSVC(C=1.0, dual=True).fit(faces, targets))
        row.update(linearsvc_wall_s=round(svc.wall_s, 2), linearsvc_cpu_s=round(svc.cpu_s, 2))
        row["max_coef_difference"] = float(np.abs(model.coef_ - solution.coef).max())
    return row


def plot(rows: list[dict]) -> None:
    with chart(RESULTS / f"{NAME}.png", figsize=(6, 4), dpi=120) as axis:
        sizes = [r["identities"] for r in rows]
        axis.plot(sizes, [r["train_wall_s"] for r in rows], "o-", label="job: fit + calibration")
        axis.plot(sizes, [r["fit_wall_s"] for r in rows], "^-", label="working-set SVM fit")
        reference = [r for r in rows if r["linearsvc_wall_s"] is not None]
        axis.plot(
            [r["identities"] for r in reference],
            [r["linearsvc_wall_s"] for r in reference],
            "s--",
            label="LinearSVC OvR (fit only)",
        )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("identities (LFW-shaped, 2.3 faces each)")
        axis.set_ylabel("wall seconds (2 cores)")
        axis.set_title("Training time vs identities")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 identities only")
    parser.add_argument("--linearsvc-max", type=int, default=1000)
    args = parser.parse_args()
    sizes = [100, 1000] if args.quick else [100, 1000, LFW_IDENTITIES]
    rows = [measure(size, size <= args.linearsvc_max) for size in sizes]
    write_result(NAME, {"threads": THREADS, "dim": DIM, "rows": rows})
    plot(rows)
    headers = ["identities", "faces", "job: fit+calibration wall s (CPU s)", "fit wall s (CPU s)"]
    headers += ["rounds", "LinearSVC fit wall s (CPU s)", "max |coef diff|"]
    print(
        markdown_table(
            headers,
            [
                [
                    r["identities"],
                    r["faces"],
                    f"{r['train_wall_s']} ({r['train_cpu_s']})",
                    f"{r['fit_wall_s']} ({r['fit_cpu_s']})",
                    r["working_set_rounds"],
                    f"{r['linearsvc_wall_s']} ({r['linearsvc_cpu_s']})"
                    if r["linearsvc_wall_s"] is not None
                    else "not run",
                    f"{r['max_coef_difference']:.1e}" if r["max_coef_difference"] else "-",
                ]
                for r in rows
            ],
        )
    )


if __name__ == "__main__":
    main()
