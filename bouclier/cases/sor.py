"""DSA art. 17 statements of reasons for confirmed items, in the DSA Transparency Database API format.

Checked against the database's own API documentation, v2 (the schema in force since 1 July 2025, which
brought the category taxonomy used here): github.com/digital-services-act/transparency-database,
resources/markdown/api-documentation-two.md (served at transparency.dsa.ec.europa.eu/page/api-documentation):
POST /api/v2/statement, or /api/v2/statements with {"statements": [...]} (at most 100 per call);
content_date and application_date as YYYY-MM-DD (content_date >= 2000-01-01, application_date >=
2020-01-01); puid at most 500 characters of [A-Za-z0-9_-]; illegal_content_legal_ground <= 500 characters,
illegal_content_explanation <= 2000, decision_facts <= 5000; automated_detection "Yes"/"No";
STATEMENT_CATEGORY_CYBER_VIOLENCE with KEYWORD_NON_CONSENSUAL_IMAGE_SHARING / KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE
(the v1 name was KEYWORD_NON_CONSENSUAL_ITEMS_DEEPFAKE).
Statements never contain the person's pseudonym or contact, nor who sent the notice (no source_identity),
nor the content URL (the `puid` lets the platform find it).
"""

from __future__ import annotations

import json
import re

from . import law

SCHEMA = "DSA Transparency Database API v2 (POST /api/v2/statements), statement categories v2"
BATCH_MAX = 100  # statements per POST /api/v2/statements
PUID = re.compile(r"^[A-Za-z0-9_-]{1,500}$")
EU27 = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU",
        "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]


def _scope(jurisdictions: list[str]) -> list[str]:
    if "EU" in jurisdictions or "FR" not in jurisdictions:
        return list(EU27)
    return ["FR"]


def _ground(case: dict) -> str:
    refs = [b["ref"] for b in law.bases(case["kind"], case["jurisdictions"]) if b["jurisdiction"] == "FR"]
    return "; ".join(refs) if refs else \
        "National law of the Member State on sharing intimate images without consent"


def _day(iso: str | None, floor: str) -> str:
    """YYYY-MM-DD (UTC) of an ISO 8601 time, never before the database's lower bound `floor`."""
    from datetime import datetime, timezone

    d = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    d = (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%d")
    return max(d, floor)


def _scrub(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s and len(s) >= 2:
            text = re.sub(re.escape(s), "[redacted]", text, flags=re.IGNORECASE)
    return text


def statements(case: dict) -> list[dict]:
    manipulated = case["kind"] == law.MANIPULATED
    secrets = [case.get("pseudonym") or "", case.get("contact") or ""]
    out = []
    for i in case["items"]:
        if i["decision"] != "confirmed":
            continue
        edited = "" if i["edited_fraction"] is None else f", about {i['edited_fraction']:.0%} of the picture altered"
        facts = (f"An image was identified by automated fingerprint matching as {i['verdict']} of a photo that the "
                 f"depicted person had registered for protection{edited}; a human reviewer confirmed the match. "
                 f"The person did not consent to its publication.")
        explanation = ("The image is a manipulated or synthetic intimate image of a real, identifiable person, "
                       "published without consent." if manipulated else
                       "The image is an intimate image of a real, identifiable person, published without consent.")
        applied = _day(i["decided_at"] or i["created_at"], "2020-01-01")
        # content_date is the posting date, which only the platform knows; our best bound is when it was seen
        content = min(_day(i["captured_at"] or i["created_at"], "2000-01-01"), applied)
        st = {
            "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
            "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
            "illegal_content_legal_ground": _ground(case)[:500],
            "illegal_content_explanation": explanation,
            "category": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
            "category_specification": ["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE" if manipulated
                                       else "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"],
            "content_type": ["CONTENT_TYPE_IMAGE"] + (["CONTENT_TYPE_SYNTHETIC_MEDIA"] if manipulated else []),
            "content_date": content,
            "application_date": applied,
            "decision_facts": facts,
            "source_type": "SOURCE_ARTICLE_16",
            "automated_detection": "Yes",
            "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
            "territorial_scope": _scope(case["jurisdictions"]),
            "puid": f"bouclier-{case['id']}-{i['id']}",
        }
        for k, limit in (("illegal_content_legal_ground", 500), ("illegal_content_explanation", 2000),
                         ("decision_facts", 5000)):
            st[k] = _scrub(st[k], secrets)[:limit]
        assert PUID.match(st["puid"]), st["puid"]
        out.append(st)
    return out


def export_json(stmts: list[dict]) -> str:
    """The body of POST /api/v2/statements (several statements at once; split beyond BATCH_MAX)."""
    return json.dumps({"statements": stmts}, indent=2, ensure_ascii=False)
