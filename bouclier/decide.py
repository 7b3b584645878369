"""Verdicts from scores, with thresholds that the benchmark calibrates (bouclier/thresholds.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from importlib import resources

IDENTICAL = "identical"
NEAR_DUPLICATE = "near-duplicate"
DERIVATIVE = "manipulated-derivative"
NO_MATCH = "no-match"
VERDICTS = (IDENTICAL, NEAR_DUPLICATE, DERIVATIVE, NO_MATCH)
RANK = {IDENTICAL: 3, NEAR_DUPLICATE: 2, DERIVATIVE: 2, NO_MATCH: 0}
EDIT_DISCOUNT = 1.5  # score = support * (EDIT_DISCOUNT - edited fraction) / EDIT_DISCOUNT


def match_score(support: float, edited_fraction: float | None) -> float:
    """Evidence that a verified alignment is a copy: the geometric support (inliers weighted by fit),
    discounted by up to two thirds as the edit grid finds more of the visible photo changed.

    A copy keeps the unedited part pixel for pixel; another shot of the same scene (moved people,
    other light) disagrees almost everywhere, so it needs more support to count. Without a grid the
    support is the score.
    """
    if edited_fraction is None:
        return support
    return support * (EDIT_DISCOUNT - edited_fraction) / EDIT_DISCOUNT


@dataclass(frozen=True)
class Thresholds:
    pdq_distance: int = 31  # HMA / StopNCII default
    pdq_min_quality: int = 50  # PDQ's README: discard hashes of quality <= 49 (flat, featureless images)
    min_score: float = 1.5  # match_score of a verified alignment; calibrated by `bouclier bench`
    min_edited_fraction: float = 0.05  # below this a verified copy is a near-duplicate
    candidates: int = 48  # protected photos verified per suspect
    calibrated_by: str = "default"

    @classmethod
    def default(cls) -> "Thresholds":
        """The shipped, benchmark-calibrated thresholds."""
        try:
            data = json.loads(resources.files("bouclier").joinpath("thresholds.json").read_text())
        except FileNotFoundError:
            return cls()
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict) -> "Thresholds":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)


def pdq_counts(pdq_distance: int | None, pdq_quality: int | None, th: Thresholds) -> bool:
    """Whether a PDQ distance may decide a match: within the distance, and both hashes of usable
    quality (`pdq_quality` is the lower of the two; None when unknown). A black photo and a white one
    are 21 bits apart, both of quality 0."""
    return (pdq_distance is not None and pdq_distance <= th.pdq_distance
            and (pdq_quality is None or pdq_quality >= th.pdq_min_quality))


PLAIN_KEYPOINTS = 8  # with fewer, an alignment can hardly be verified


def too_plain(fp, th: Thresholds) -> bool:
    """Whether only the photo's same bytes can match its fingerprint: its PDQ hash is of too low a
    quality to decide (a flat, featureless photo) and it has (almost) no keypoints."""
    kp = fp.signals.get("orb")
    return fp.pdq.quality < th.pdq_min_quality and (kp is None or len(kp.xy) < PLAIN_KEYPOINTS)


def decide(*, same_bytes: bool, pdq_distance: int | None, pdq_variant: int | None, score: float,
           edited_fraction: float | None, th: Thresholds, pdq_quality: int | None = None) -> str:
    """One protected photo against one suspect."""
    pdq = pdq_counts(pdq_distance, pdq_quality, th)
    if same_bytes or (pdq and pdq_distance == 0 and pdq_variant == 0):
        return IDENTICAL
    if score >= th.min_score:
        if edited_fraction is not None and edited_fraction >= th.min_edited_fraction:
            return DERIVATIVE
        return NEAR_DUPLICATE
    if pdq:
        return NEAR_DUPLICATE
    return NO_MATCH
