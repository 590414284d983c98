"""B-cubed precision, recall and F1 of a clustering (Bagga and Baldwin 1998).

For each item: precision is the share of its cluster that is its own class, recall the
share of its class that is in its cluster; both averaged over items. Unlike pair counts,
one big wrong merge and many small splits are both visible, item by item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence


def bcubed(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> tuple[float, float, float]:
    """(precision, recall, F1) of `predicted` cluster labels against `truth` classes."""
    if len(truth) != len(predicted) or not truth:
        raise ValueError("truth and predicted must be non-empty and of the same length")
    pairs = Counter(zip(truth, predicted, strict=True))
    clusters = Counter(predicted)
    classes = Counter(truth)
    precision = sum(n * n / clusters[p] for (_, p), n in pairs.items()) / len(truth)
    recall = sum(n * n / classes[t] for (t, _), n in pairs.items()) / len(truth)
    return precision, recall, 2 * precision * recall / (precision + recall)
