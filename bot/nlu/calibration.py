"""Confidences the FallbackClassifier threshold can rely on, and how we check that they do.

A network trained to near-zero training loss is over-confident on new text. Temperature
scaling (Guo et al., 2017) divides the logits by one scalar T fitted on held-out examples: it
keeps the ranking (so accuracy) unchanged and makes "confidence 0.7" mean "right ~70% of the
time". `expected_calibration_error` and `threshold_table` are what the benchmark reports.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np
from scipy.optimize import minimize_scalar

MIN_TEMPERATURE, MAX_TEMPERATURE = 0.1, 10.0


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, in float64 so rows sum to 1 tightly."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, prior_sigma: float = 0.5) -> float:
    """The T that best explains held-out labels, with a Gaussian prior on log T around 0.

    The prior matters for small hold-outs only: with 90 held-out examples and no errors, the
    plain likelihood would push T to its lower bound, making every later prediction, even of
    text unlike any training example, near-certain, and the fallback would never fire.
    """
    logits = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(labels))

    def loss(log_t: float) -> float:
        probs = softmax(logits, float(np.exp(log_t)))
        nll = -np.sum(np.log(probs[rows, labels] + 1e-12))
        return float(nll + log_t ** 2 / (2 * prior_sigma ** 2))

    result = minimize_scalar(loss, bounds=(np.log(MIN_TEMPERATURE), np.log(MAX_TEMPERATURE)),
                             method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> Tuple[np.ndarray,
                                                                                np.ndarray]:
    """(train, holdout) indices: `fraction` of each class held out, never a class's last example.

    Works for any class sizes (a class with one example stays wholly in training), which
    sklearn's train_test_split(stratify=...) does not.
    """
    rng = np.random.RandomState(seed)
    train: List[np.ndarray] = []
    holdout: List[np.ndarray] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        take = min(int(round(fraction * len(members))), len(members) - 1)
        holdout.append(members[:take])
        train.append(members[take:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(holdout))


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool],
                               n_bins: int = 15) -> float:
    """ECE: mean |accuracy - confidence| over equal-width confidence bins, weighted by size."""
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return 0.0
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            error += in_bin.mean() * abs(hits[in_bin].mean() - conf[in_bin].mean())
    return float(error)


def threshold_table(confidences: Sequence[float], correct: Sequence[bool],
                    thresholds: Sequence[float] = (0.3, 0.45, 0.5, 0.7, 0.9)
                    ) -> List[Dict[str, float]]:
    """For each threshold: how many predictions pass it, and how often those (and the rest) are right."""
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=bool)
    table = []
    for threshold in thresholds:
        accepted = conf >= threshold
        table.append({
            "threshold": float(threshold),
            "coverage": float(accepted.mean()) if conf.size else 0.0,
            "accuracy_accepted": float(hits[accepted].mean()) if accepted.any() else None,
            "accuracy_rejected": float(hits[~accepted].mean()) if (~accepted).any() else None,
        })
    return table
