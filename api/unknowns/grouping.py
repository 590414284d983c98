"""Grouping unknown faces: agglomerative clustering on cosine distance, and group ids that
stay the same where a group's members do.

Average linkage (the mean similarity between two groups' faces) was chosen by
measurement on held-out LFW people (benchmarks/unknown_people.py): single linkage chains
different strangers together through one look-alike pair, complete linkage splits one
stranger's photos across lighting and pose; average linkage at GROUP_SIMILARITY gives the
best B-cubed F1 of the three.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

import numpy as np

# Cosine similarity at which two faces (arrival: a face and its nearest grouped sighting;
# re-grouping: the mean over two groups' faces) are taken for one stranger. Measured on
# held-out LFW people with facenet128 (benchmarks/unknown_people.py).
GROUP_SIMILARITY = 0.55


def new_unknown_id() -> str:
    """A fresh group id: random, so two workers never hand out the same one."""
    return f"u-{uuid.uuid4().hex[:16]}"


def cluster(vectors: np.ndarray, similarity: float = GROUP_SIMILARITY) -> np.ndarray:
    """Cluster labels (0..k-1) of unit `vectors`: average linkage, cut at `similarity`.

    scikit-learn is imported on the first regrouping, not with the app: with SciPy about
    100 MiB of resident memory that a worker which never regroups does not hold."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=np.int64)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(
        n_clusters=None,
        metric="cosine",
        linkage="average",
        distance_threshold=1.0 - similarity,
    )
    return model.fit_predict(vectors).astype(np.int64)


def stable_ids(previous: Sequence[str | None], labels: np.ndarray) -> list[str]:
    """An id per member: each new cluster keeps the previous id most of its members had,
    each previous id going to at most one cluster (the one holding most of its members;
    ties to the smaller id, so every worker would decide the same); the rest get new ids.

    So a group whose members did not change keeps its id, two groups of one stranger
    end as one under the larger group's id, and a split keeps the id on its larger part.
    """
    overlaps: Counter[tuple[int, str]] = Counter(
        (int(label), old) for label, old in zip(labels, previous, strict=True) if old is not None
    )
    chosen: dict[int, str] = {}
    taken: set[str] = set()
    for (label, old), _count in sorted(overlaps.items(), key=lambda item: (-item[1], item[0][1])):
        if label not in chosen and old not in taken:
            chosen[label] = old
            taken.add(old)
    for label in sorted({int(label) for label in labels} - set(chosen)):
        chosen[label] = new_unknown_id()
    return [chosen[int(label)] for label in labels]
