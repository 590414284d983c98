"""The working-set solver finds LinearSVC's own solution, and the classifier is calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from api.recognition.fitting import train_linear_classifier
from api.recognition.linear_svm import fit_ovr_l2svm
from benchmarks.training_benchmark import synthetic_faces


@pytest.mark.parametrize("identities", [2, 3, 150])
def test_working_set_solution_equals_linearsvc_one_vs_rest(identities: int) -> None:
    faces, targets = synthetic_faces(identities, seed=identities)
    if identities <= 3:  # LFW's shape needs more identities; give each a few faces
        rng = np.random.default_rng(0)
        targets = np.repeat(np.arange(identities), 4)
        faces = rng.standard_normal((len(targets), 128)).astype(np.float32)
        faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    ours = fit_ovr_l2svm(faces, targets, identities, threads=2)
    reference = LinearSVC(C=1.0, dual=True, tol=1e-6, max_iter=100_000).fit(faces, targets)
    coef, intercept = reference.coef_, reference.intercept_
    if identities == 2:  # liblinear keeps one row for two classes: the other is its negative
        coef, intercept = np.vstack([-coef[0], coef[0]]), np.array([-intercept[0], intercept[0]])
    assert ours.coef.shape == coef.shape
    # liblinear stops at a tolerance of 1e-4 on each working set: same optimum, 1e-3 apart
    assert np.abs(ours.coef - coef).max() < 1e-3 * np.abs(coef).max()
    assert np.abs(ours.intercept - intercept).max() < 1e-3
    if identities == 150:
        # Working sets stay a small part of the faces: the point of the method.
        assert ours.working_rows < 0.5 * identities * len(targets)
        decisions = faces @ ours.coef.T + ours.intercept
        np.testing.assert_array_equal(decisions.argmax(axis=1), reference.predict(faces))


def test_classifier_probabilities_are_calibrated_on_held_out_faces() -> None:
    faces, targets = synthetic_faces(300, seed=7)
    labels = [f"person-{t}" for t in targets]
    classifier = train_linear_classifier(faces, labels, threads=2)
    assert classifier.labels == tuple(sorted(set(labels)))
    probes, truth = synthetic_faces(300, seed=7, draw=1)  # new faces of the same people
    probs = classifier.predict_proba(probes)
    predicted = np.array([classifier.labels.index(f"person-{t}") for t in truth])
    accuracy = (probs.argmax(axis=1) == predicted).mean()
    confidence = probs.max(axis=1).mean()
    assert accuracy > 0.95
    # Calibrated: the mean top probability tracks the accuracy, not a flat 1/n or ~1.0.
    assert abs(confidence - accuracy) < 0.1
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_single_identity_needs_no_solver() -> None:
    faces = np.eye(3, 128, dtype=np.float32)
    classifier = train_linear_classifier(faces, ["only"] * 3)
    assert classifier.labels == ("only",)
    np.testing.assert_allclose(classifier.predict_proba(faces), 1.0)
