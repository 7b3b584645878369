"""Deadlines opened by notices, and the dashboard of what is due.

Defaults (hours overridable by BOUCLIER_CASES_<KIND>_HOURS / _WARN_HOURS in the environment, or
cases_<kind>_hours / cases_<kind>_warn_hours in bouclier.toml; <kind> e.g. take_it_down):
* take-it-down: 48 h from a valid request (47 U.S.C. § 223a(a)(3)), warning at 36 h.
* dsa-ack: DSA art. 16(4) says "without undue delay"; 24 h is this tool's follow-up default, not law.
* dsa-decision: art. 16(6) gives no fixed time ("timely"); 7 days is this tool's follow-up default.
* gdpr-erasure: GDPR art. 12(3): one month from receipt of the request (extendable by two months).
"""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass(frozen=True)
class Rule:
    kind: str
    label: str
    hours: float | None  # None: one calendar month
    warn_hours: float | None


DEFAULT_RULES = {
    "take-it-down": Rule("take-it-down", "TAKE IT DOWN Act: removal due 48 h after the valid request", 48, 36),
    "dsa-ack": Rule("dsa-ack", "DSA art. 16: acknowledgement expected (tool default 24 h)", 24, 18),
    "dsa-decision": Rule("dsa-decision", "DSA art. 16: follow up on the platform's decision (tool default 7 days)",
                         7 * 24, 5 * 24),
    "gdpr-erasure": Rule("gdpr-erasure", "GDPR art. 12(3): answer to the erasure request due within one month",
                         None, 24 * 24),
}
# Which deadlines a notice opens when generated (sent).
OPENS = {"take-it-down": ["take-it-down"], "dsa-art16": ["dsa-ack", "dsa-decision"],
         "gdpr-erasure": ["gdpr-erasure"]}


def rules(env: dict | None = None, extra: dict | None = None) -> dict[str, Rule]:
    """The rules with their overrides (environment first, then the TOML file's extra keys)."""
    env = os.environ if env is None else env
    extra = extra or {}
    out = {}
    for k, r in DEFAULT_RULES.items():
        name = k.replace("-", "_")
        vals = {}
        for suffix, default in (("hours", r.hours), ("warn_hours", r.warn_hours)):
            raw = env.get(f"BOUCLIER_CASES_{name.upper()}_{suffix.upper()}") or extra.get(f"cases_{name}_{suffix}")
            try:
                vals[suffix] = default if raw in (None, "") else float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"cases_{name}_{suffix} must be a number of hours") from None
            if vals[suffix] is not None and not 0 < vals[suffix] < 24 * 366:
                raise ValueError(f"cases_{name}_{suffix} must be between 0 and one year")
        out[k] = Rule(k, r.label, vals["hours"], vals["warn_hours"])
    return out


def add_month(t: datetime) -> datetime:
    """Same day next month (clamped to the month's last day), as GDPR art. 12(3) counts."""
    y, m = (t.year + 1, 1) if t.month == 12 else (t.year, t.month + 1)
    return t.replace(year=y, month=m, day=min(t.day, calendar.monthrange(y, m)[1]))


def window(rule: Rule, start: datetime) -> tuple[datetime, datetime | None]:
    """(due, warn) for a deadline starting at `start`."""
    due = add_month(start) if rule.hours is None else start + timedelta(hours=rule.hours)
    warn = None if rule.warn_hours is None else start + timedelta(hours=rule.warn_hours)
    if warn is not None and warn >= due:
        warn = None
    return due, warn


def parse(ts: str) -> datetime:
    t = datetime.fromisoformat(ts)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def status(due: str, warn: str | None, closed: str | None, now: datetime) -> str:
    """done | overdue | warning | pending."""
    if closed:
        return "done"
    if now >= parse(due):
        return "overdue"
    if warn and now >= parse(warn):
        return "warning"
    return "pending"


URGENCY = {"overdue": 0, "warning": 1, "pending": 2, "done": 3}


def most_urgent_first(deadlines: list[dict]) -> list[dict]:
    """Overdue, then warning, pending and done; earliest due first within each."""
    return sorted(deadlines, key=lambda d: (URGENCY[d["status"]], d["due_at"]))
