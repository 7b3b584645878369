"""The service's only contact points with the core engine (fingerprints, bundles, matching)."""

from __future__ import annotations

import dataclasses

from ..bundle import loads as bundle_loads
from ..decide import VERDICTS, Thresholds, too_plain
from ..errors import FormatError, ImageError
from ..fingerprint import Fingerprint, Query
from ..load import Image, Limits, load
from ..match import Matcher, MatchResult, distinct, instance, rank_key
from ..signals.base import WORK_SIDE
from ..signals.pdq import PDQ

__all__ = ["Fingerprint", "Query", "Matcher", "MatchResult", "Image", "Limits", "load", "FormatError", "ImageError",
           "VERDICTS", "parse_bundle", "store_form", "pdq_fingerprint", "new_matcher", "bank_thresholds",
           "normalise_pdq", "rank_key", "too_plain", "distinct", "instance"]


def parse_bundle(data: bytes) -> list[Fingerprint]:
    """The fingerprints of a bundle file made by `bouclier protect`. FormatError when malformed."""
    try:
        return list(bundle_loads(data).fingerprints)
    except FormatError:
        raise
    except Exception as e:  # hostile bytes must never become a 500
        raise FormatError(f"not a bouclier bundle ({type(e).__name__})") from None


def store_form(fp: Fingerprint, position: int) -> Fingerprint:
    """What the registry keeps: the submitter's label (often a file name) is replaced by the position."""
    return dataclasses.replace(fp, label=str(position))


def normalise_pdq(hex_str: str) -> str:
    """Lower-case 64-hex PDQ, or FormatError."""
    return PDQ.from_hex(hex_str).hash.hex()


def pdq_fingerprint(hex_str: str, quality: int = 100) -> Fingerprint:
    """A PDQ-only fingerprint for an imported hash."""
    return Fingerprint.pdq_only_hash(hex_str, quality)


def bank_thresholds(thresholds: dict | None) -> Thresholds:
    """A bank's thresholds: the shipped ones, overridden by the bank's own."""
    base = Thresholds.default().to_dict()
    base.update(thresholds or {})
    return Thresholds.from_dict(base)


def new_matcher(thresholds: dict | None) -> Matcher:
    return Matcher(bank_thresholds(thresholds))


def thresholds_keys() -> set[str]:
    return {f.name for f in dataclasses.fields(Thresholds)} - {"calibrated_by"}


def compute_query(data: bytes, name: str, limits: Limits) -> Query:
    """Fingerprint an uploaded image in memory (ImageError on bad input). The pixels are dropped here.
    Decoded at the engine's working size (as `bouclier check` does), which is also the fast path."""
    return Query.compute(load(data, name=name, limits=limits, max_side=WORK_SIDE))


def warm_up_query() -> Query:
    """A query of a plain synthetic image: matching it once makes the engine build its indexes now."""
    import numpy as np

    from ..load import load_array

    rng = np.random.default_rng(0)
    return Query.compute(load_array(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), name="warm-up"))


def parse_query(data: bytes) -> Query:
    try:
        return Query.from_bytes(data)
    except FormatError:
        raise
    except Exception as e:
        raise FormatError(f"not a bouclier query fingerprint ({type(e).__name__})") from None
