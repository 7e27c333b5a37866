"""bot.nlu.calibration: temperature scaling keeps the ranking and makes confidences honest."""

from __future__ import annotations

import numpy as np
import pytest

from bot.nlu.calibration import (
    MAX_TEMPERATURE, MIN_TEMPERATURE, expected_calibration_error, fit_temperature, softmax,
    stratified_holdout, threshold_table,
)


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    probs = softmax(logits, temperature)
    return float(-np.log(probs[np.arange(len(labels)), labels]).sum())


def _overconfident(n: int = 300, n_classes: int = 4, wrong: float = 0.3,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits that back their top class hard, which is right only (1 - wrong) of the time."""
    rng = np.random.RandomState(seed)
    predicted = rng.randint(n_classes, size=n)
    logits = rng.normal(0.0, 0.5, (n, n_classes))
    logits[np.arange(n), predicted] += 12.0
    labels = predicted.copy()
    flip = rng.random_sample(n) < wrong
    labels[flip] = (predicted[flip] + 1 + rng.randint(n_classes - 1, size=flip.sum())) % n_classes
    return logits, labels


def test_softmax_rows_sum_to_one_even_for_huge_logits() -> None:
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0], [0.0, 0.0, 0.0]],
                      dtype=np.float32)
    probs = softmax(logits)
    assert probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(probs[1], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(probs[2], [1 / 3, 1 / 3, 1 / 3])


def test_a_higher_temperature_flattens_but_keeps_the_ranking() -> None:
    logits = np.array([[2.0, 0.5, -1.0, 1.0]])
    sharp, flat = softmax(logits, 0.5), softmax(logits, 4.0)
    assert list(np.argsort(sharp[0])) == list(np.argsort(flat[0])) == list(np.argsort(logits[0]))
    assert sharp.max() > softmax(logits).max() > flat.max()


def test_fitting_a_temperature_lowers_the_nll_of_overconfident_logits() -> None:
    logits, labels = _overconfident()
    temperature = fit_temperature(logits, labels)
    assert 1.0 < temperature <= MAX_TEMPERATURE
    assert _nll(logits, labels, temperature) < _nll(logits, labels, 1.0)


def test_the_fitted_temperature_makes_confidence_track_accuracy() -> None:
    logits, labels = _overconfident(n=2000, seed=1)
    correct = softmax(logits).argmax(axis=1) == labels
    before = expected_calibration_error(softmax(logits).max(axis=1), correct)
    calibrated = softmax(logits, fit_temperature(logits, labels))
    assert (calibrated.argmax(axis=1) == labels).tolist() == correct.tolist()  # same accuracy
    assert expected_calibration_error(calibrated.max(axis=1), correct) < before


def test_the_prior_keeps_an_error_free_holdout_off_the_lower_bound() -> None:
    rng = np.random.RandomState(2)
    labels = rng.randint(3, size=90)
    logits = rng.normal(0.0, 0.5, (90, 3))
    logits[np.arange(90), labels] += 3.0  # right every time
    assert MIN_TEMPERATURE * 1.5 < fit_temperature(logits, labels) < 1.0
    # without the prior the plain likelihood runs to the lower bound
    assert fit_temperature(logits, labels, prior_sigma=100.0) < MIN_TEMPERATURE * 1.5


def test_the_holdout_keeps_every_class_in_training() -> None:
    labels = np.array([0] * 10 + [1] * 3 + [2] * 1 + [3] * 2)
    train, holdout = stratified_holdout(labels, fraction=0.5, seed=0)
    assert sorted(np.concatenate([train, holdout]).tolist()) == list(range(len(labels)))
    assert set(train.tolist()).isdisjoint(holdout.tolist())
    assert set(labels[train].tolist()) == {0, 1, 2, 3}
    held = labels[holdout].tolist()
    assert (held.count(0), held.count(1), held.count(2), held.count(3)) == (5, 2, 0, 1)
    assert list(train) == sorted(train) and list(holdout) == sorted(holdout)


def test_the_holdout_is_the_same_for_the_same_seed() -> None:
    labels = np.repeat(np.arange(5), 8)
    first = stratified_holdout(labels, 0.25, seed=7)
    again = stratified_holdout(labels, 0.25, seed=7)
    other = stratified_holdout(labels, 0.25, seed=8)
    assert all((a == b).all() for a, b in zip(first, again))
    assert not (first[1] == other[1]).all()
    assert len(first[1]) == 10  # two of each class's eight


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    assert expected_calibration_error([], []) == 0.0
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0
    assert expected_calibration_error([0.5] * 4, [True, False, True, False]) == 0.0


def test_ece_weighs_each_bins_gap_by_its_size() -> None:
    # bin of 0.9 (3 predictions, all wrong) and bin of 0.2 (1 prediction, right)
    ece = expected_calibration_error([0.9, 0.9, 0.9, 0.2], [False, False, False, True])
    assert ece == pytest.approx(0.75 * 0.9 + 0.25 * 0.8)


def test_threshold_table_reports_coverage_and_accuracy_each_side() -> None:
    table = threshold_table([0.2, 0.6, 0.8, 0.95], [False, True, False, True],
                            thresholds=(0.1, 0.5, 0.9, 0.99))
    assert table == [
        {"threshold": 0.1, "coverage": 1.0, "accuracy_accepted": 0.5, "accuracy_rejected": None},
        {"threshold": 0.5, "coverage": 0.75, "accuracy_accepted": pytest.approx(2 / 3),
         "accuracy_rejected": 0.0},
        {"threshold": 0.9, "coverage": 0.25, "accuracy_accepted": 1.0,
         "accuracy_rejected": pytest.approx(1 / 3)},
        {"threshold": 0.99, "coverage": 0.0, "accuracy_accepted": None,
         "accuracy_rejected": 0.5},
    ]


def test_threshold_table_of_nothing() -> None:
    assert threshold_table([], [], thresholds=(0.5,)) == [
        {"threshold": 0.5, "coverage": 0.0, "accuracy_accepted": None,
         "accuracy_rejected": None}]
