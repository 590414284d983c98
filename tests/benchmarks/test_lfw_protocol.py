"""The LFW protocol code on tiny pairs files and hand-checkable distances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.lfw import (
    Pair,
    all_pairs,
    best_threshold,
    kfold_accuracies,
    pair_distances,
    read_pairs,
    roc_curve,
    split_folds,
    tar_at_far,
)

VIEW1 = """2
Ann_A\t1\t2
Bob_B\t3\t14
Ann_A\t1\tBob_B\t2
Cy_C\t10\tDee_D\t1
"""

# View 2 layout: a "folds per-class" header, then per fold the same pairs, then the others
VIEW2 = """2 1
Ann_A\t1\t2
Ann_A\t1\tBob_B\t1
Bob_B\t1\t2
Cy_C\t1\tDee_D\t2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_view1_pairs_are_parsed_in_one_fold(tmp_path: Path) -> None:
    pairs = read_pairs(write(tmp_path, VIEW1))
    assert pairs == [
        Pair("Ann_A/Ann_A_0001.jpg", "Ann_A/Ann_A_0002.jpg", True, 0),
        Pair("Bob_B/Bob_B_0003.jpg", "Bob_B/Bob_B_0014.jpg", True, 0),
        Pair("Ann_A/Ann_A_0001.jpg", "Bob_B/Bob_B_0002.jpg", False, 0),
        Pair("Cy_C/Cy_C_0010.jpg", "Dee_D/Dee_D_0001.jpg", False, 0),
    ]


def test_view2_pairs_carry_their_fold(tmp_path: Path) -> None:
    pairs = read_pairs(write(tmp_path, VIEW2))
    assert [(p.same, p.fold) for p in pairs] == [(True, 0), (False, 0), (True, 1), (False, 1)]
    assert pairs[3] == Pair("Cy_C/Cy_C_0001.jpg", "Dee_D/Dee_D_0002.jpg", False, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3\n" + VIEW1.split("\n", 1)[1], "promises"),  # header disagrees with the lines
        ("1 2 3\n", "header"),
        ("2\nAnn_A\t1\tBob_B\t2\n" + VIEW1.split("\n", 1)[1].split("\n", 1)[1], "same-person"),
    ],
)
def test_malformed_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_pairs(write(tmp_path, text))


def test_view1_is_dealt_into_balanced_folds() -> None:
    pairs = [Pair(f"s{i}", f"t{i}", True) for i in range(20)]
    pairs += [Pair(f"u{i}", f"v{i}", False) for i in range(20)]
    dealt = split_folds(pairs, 10)
    for fold in range(10):
        members = [p for p in dealt if p.fold == fold]
        assert sum(p.same for p in members) == 2 and sum(not p.same for p in members) == 2
    # files that have folds keep them
    assert split_folds([Pair("a", "b", True, 0), Pair("c", "d", False, 1)]) == [
        Pair("a", "b", True, 0),
        Pair("c", "d", False, 1),
    ]


def brute_force_best(distances: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The definition: try below the smallest and every midpoint, keep the first best."""
    finite = np.sort(distances[np.isfinite(distances)])
    candidates = np.concatenate([[finite[0] - 1e-6], (finite[1:] + finite[:-1]) / 2])
    accuracies = [float(np.mean((distances < t) == same)) for t in candidates]
    best = int(np.argmax(accuracies))
    return float(candidates[best]), accuracies[best]


def test_all_pairs_are_every_same_person_pair_and_as_many_random_others() -> None:
    sizes = {"Ann_A": 4, "Bob_B": 3, "Cy_C": 1, "Dee_D": 2}  # 6 + 3 + 0 + 1 same pairs
    names = [f"set/{p}/{p}_{i:04d}.jpg" for p, n in sizes.items() for i in range(1, n + 1)]
    pairs = all_pairs(names)
    same = [p for p in pairs if p.same]
    different = [p for p in pairs if not p.same]
    assert len(same) == len({(p.first, p.second) for p in same}) == 10
    assert all(Path(p.first).parent == Path(p.second).parent for p in same)
    assert len(different) == 10
    assert all(Path(p.first).parent != Path(p.second).parent for p in different)
    assert pairs == all_pairs(names)  # the same draw every run
    assert sorted({p.fold for p in pairs}) == list(range(10))


@pytest.mark.parametrize("seed", range(5))
def test_best_threshold_matches_the_definition_with_ties_and_misses(seed: int) -> None:
    rng = np.random.default_rng(seed)
    same = rng.random(200) < 0.5
    distances = np.where(same, rng.normal(0.8, 0.2, 200), rng.normal(1.3, 0.2, 200))
    distances = np.round(distances, 1)  # many ties
    distances[rng.choice(200, 7, replace=False)] = np.nan  # images without a face
    threshold, accuracy = best_threshold(distances, same)
    want_threshold, want_accuracy = brute_force_best(distances, same)
    assert accuracy == pytest.approx(want_accuracy)
    assert threshold == pytest.approx(want_threshold)


def test_separable_pairs_are_all_right_and_misses_count_against_same() -> None:
    distances = np.array([0.2, 0.3, np.nan, 1.2, 1.4, np.nan])
    same = np.array([True, True, True, False, False, False])
    threshold, accuracy = best_threshold(distances, same)
    assert 0.3 < threshold < 1.2
    assert accuracy == pytest.approx(5 / 6)  # the same pair without a face is lost


def test_kfold_fits_each_threshold_on_the_other_folds() -> None:
    # fold 1 alone would put the threshold at ~1.0; folds 0 and 2 put it below 0.6
    distances = np.array([0.1, 0.9, 0.2, 1.1, 0.3, 0.6])
    same = np.array([True, False, True, False, True, False])
    folds = np.array([0, 0, 1, 1, 2, 2])
    results = kfold_accuracies(distances, same, folds)
    assert len(results) == 3
    assert [accuracy for _, accuracy in results] == [1.0, 1.0, 1.0]
    held_out_1 = best_threshold(distances[folds != 1], same[folds != 1])[0]
    assert results[1][0] == pytest.approx(held_out_1)


def test_tar_at_far_allows_floor_far_times_impostors_false_accepts() -> None:
    impostors = np.linspace(1.0, 2.0, 500)
    genuine = np.linspace(0.5, 1.5, 100)
    distances = np.concatenate([genuine, impostors])
    same = np.concatenate([np.ones(100, bool), np.zeros(500, bool)])
    strict = tar_at_far(distances, same, 1e-3)  # 0.5 impostor pair: none allowed
    assert strict.false_accepts_allowed == 0 and strict.impostor_pairs == 500
    assert strict.threshold == pytest.approx(1.0) and strict.far_achieved == 0.0
    assert strict.tar == pytest.approx(np.mean(genuine < 1.0))
    loose = tar_at_far(distances, same, 1e-2)  # 5 allowed
    assert loose.false_accepts_allowed == 5 and loose.far_achieved == pytest.approx(5 / 500)
    assert loose.tar > strict.tar


def test_roc_runs_from_nothing_to_everything_accepted() -> None:
    distances = np.array([0.2, 0.5, 0.7, 0.4, 0.9, 1.0])
    same = np.array([True, True, True, False, False, False])
    far, tar = roc_curve(distances, same)
    assert (far[0], tar[0]) == (0.0, 0.0) and (far[-1], tar[-1]) == (1.0, 1.0)
    assert np.all(np.diff(far) >= 0) and np.all(np.diff(tar) >= 0)
    # at the cut 0.5: genuine 0.2 and 0.5 accepted, impostor 0.4 accepted
    assert (far[3], tar[3]) == pytest.approx((1 / 3, 2 / 3))


def test_pair_distances_mark_missing_images_nan() -> None:
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    pairs = [Pair("a", "b", False), Pair("a", "lost", True)]
    distances, same = pair_distances(pairs, vectors)
    assert distances[0] == pytest.approx(np.sqrt(2)) and np.isnan(distances[1])
    assert same.tolist() == [False, True]
