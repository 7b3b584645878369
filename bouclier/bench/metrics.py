"""Benchmark metrics: recall at a false-alarm rate, with thresholds set on a calibration split.

Every method returns, per query, its best protected photo and a score (higher = more confident).
A query counts as a false alarm at threshold t when it scores >= t and either is a distractor
(never protected) or names the wrong protected photo. Recall: protected-derivative queries that
score >= t and name the right photo.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta

FAR_LEVELS = ("0.01", "0.001", "0.0001")


# Calibrated thresholds keep their false-alarm rate with this confidence (one-sided Clopper-Pearson).
CONFIDENCE = 0.95


def allowed_false_alarms(n: int, far: float, confidence: float | None = None) -> tuple[int, bool]:
    """How many of n calibration negatives a threshold may let through at rate `far`, and whether
    that count certifies the rate. Without `confidence`: floor(far * n), the point estimate. With it:
    the most k whose upper confidence bound on the rate, k false alarms seen in n, is <= far; a split
    too small for even k = 0 gets 0 (the strictest threshold it can set), not certified."""
    if confidence is None:
        return int(np.floor(far * n)), True
    k = -1
    while k + 1 < n and beta.ppf(confidence, k + 2, n - k - 1) <= far:
        k += 1
    return max(k, 0), k >= 0


def threshold_at_far(scores_neg: np.ndarray, far: float, confidence: float | None = None) -> float:
    """Smallest threshold whose false-alarm rate on these negatives is <= far (with `confidence`:
    is <= far with that confidence, see allowed_false_alarms).

    Scores are compared with >=; returns +inf when even the strictest useful threshold is too loose.
    """
    neg = np.sort(np.asarray(scores_neg, float))[::-1]
    n = len(neg)
    if n == 0:
        return -np.inf
    allowed = allowed_false_alarms(n, far, confidence)[0]  # number of false alarms we may keep
    if allowed >= n:
        return -np.inf
    # threshold strictly above the (allowed+1)-th highest negative score
    return float(np.nextafter(neg[allowed], np.inf))


def false_alarm_scores(records: list[dict], method: str, left_out: bool = False) -> np.ndarray:
    """Per query, the score at which it would become a false alarm (-inf if it never would).

    With `left_out`, a protected query that found its own photo and was matched again with that
    photo left out (its "other" score: calibration) counts once more, as a query whose source is
    not protected. (One that found another photo is that negative already.)
    """
    out = []
    for r in records:
        m = r["methods"][method]
        if left_out and "other" in m and m["photo"] == r["photo"]:
            out.append(-np.inf if m["other"] is None else m["other"])
        if r["kind"] == "distractor":
            out.append(m["score"] if m["photo"] is not None else -np.inf)
        elif m["photo"] is not None and m["photo"] != r["photo"]:
            out.append(m["score"])
        else:
            out.append(-np.inf)
    return np.array(out, float)


def hits(records: list[dict], method: str, t: float) -> np.ndarray:
    return np.array([r["kind"] == "protected" and r["methods"][method]["photo"] == r["photo"]
                     and r["methods"][method]["score"] >= t for r in records], bool)


def operating_point(cal: list[dict], test: list[dict], method: str, far: float,
                    confidence: float | None = CONFIDENCE) -> dict:
    """Threshold from the calibration split (its rate certified with `confidence`), measured on the test split."""
    neg = false_alarm_scores(cal, method, left_out=True)
    t = threshold_at_far(neg, far, confidence)
    fa = false_alarm_scores(test, method) >= t
    pos = np.array([r["kind"] == "protected" for r in test])
    return {"threshold": None if not np.isfinite(t) else t,
            "recall": float(hits(test, method, t)[pos].mean()) if pos.any() else None,
            "false_alarm_rate": float(fa.mean()) if len(fa) else None,
            "false_alarms": int(fa.sum()), "queries": len(test),
            "calibration_negatives": len(neg), "certified": allowed_false_alarms(len(neg), far, confidence)[1]}


def recall_curve(records: list[dict], method: str, fars: np.ndarray) -> np.ndarray:
    """Recall at each false-alarm rate, thresholds set on the same records (for plots)."""
    neg = false_alarm_scores(records, method)
    pos = np.array([r["kind"] == "protected" for r in records])
    return np.array([hits(records, method, threshold_at_far(neg, f))[pos].mean() for f in fars])


def recall_at_far_on(records: list[dict], method: str) -> dict:
    """Recall at each FAR_LEVELS rate with the threshold set on these same records (the curve of the
    plot): what the method can reach when its threshold is tuned on the very queries it is scored on."""
    return {f: float(v) for f, v in zip(FAR_LEVELS, recall_curve(records, method, np.array([float(x) for x in FAR_LEVELS])))}


def breakdown(records: list[dict], method: str, t: float, key) -> dict:
    """Recall per group of protected queries, e.g. by edited area or transform."""
    groups: dict = {}
    for r, h in zip(records, hits(records, method, t)):
        if r["kind"] != "protected":
            continue
        for g in key(r):
            groups.setdefault(g, []).append(h)
    return {str(g): {"recall": float(np.mean(v)), "n": len(v)} for g, v in sorted(groups.items(), key=lambda x: str(x[0]))}


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    union = np.logical_or(pred, truth).sum()
    return float(np.logical_and(pred, truth).sum() / union) if union else 1.0
