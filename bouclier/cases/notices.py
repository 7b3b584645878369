"""Notices in plain French and English, rendered from `templates/notices/<kind>.<lang>.txt.j2`.

Each kind checks its required inputs first and refuses, naming what is missing. Notices never carry the
case's pseudonym: the platform or authority sees the case id, the locations, and who signs.
"""

from __future__ import annotations

from datetime import datetime, timezone
from importlib import resources

import jinja2

from ..service.errors import bad_request
from . import law
from .i18n import pct, with_params

KINDS = ("take-it-down", "dsa-art16", "pharos", "police-annex", "uk-report", "gdpr-erasure")
LANGS = ("fr", "en")
# Every kind is an adult procedure: under-18 cases go to child-protection channels instead (store.py).
ADULT_KINDS = KINDS
# Legal bases a notice cites: fixed jurisdictions (None: the case's), and the roles kept.
CITES = {"take-it-down": (("US",), ("offence", "procedure")), "dsa-art16": (None, ("offence", "procedure")),
         "pharos": (("FR",), ("offence",)), "police-annex": (None, ("offence",)),
         "uk-report": (("UK",), ("offence",)), "gdpr-erasure": (("EU",), ("rights",))}
# What each kind needs: urls (at least one item with a URL), signer, contact (an email for DSA).
NEEDS = {"take-it-down": ("urls", "signer", "contact"), "dsa-art16": ("urls", "signer", "email"),
         "pharos": ("urls",), "police-annex": ("items",), "uk-report": ("urls",),
         "gdpr-erasure": ("urls", "signer", "contact")}
NAMES = {"take-it-down": "TAKE IT DOWN Act removal request", "dsa-art16": "DSA art. 16 notice",
         "pharos": "PHAROS report summary", "police-annex": "complaint annex", "uk-report": "UK report",
         "gdpr-erasure": "GDPR erasure request"}
WHAT = {"urls": "at least one URL of the content (add an item with a url)",
        "items": "at least one item (a URL or an uploaded suspect)",
        "signer": "a signature: the name of the person or of who acts for them (signer)",
        "contact": "contact details (contact)", "email": "the notifier's email address (contact)"}
VERDICT_WORDS = {
    "en": {"manipulated-derivative": "a manipulated version of a photo of the person (part of the picture was "
                                     "replaced or altered)",
           "near-duplicate": "a copy of a photo of the person", "identical": "an exact copy of a photo of the person",
           "no-match": "no match with the person's protected photos"},
    "fr": {"manipulated-derivative": "une version manipulée d'une photo de la personne (une partie de l'image a "
                                     "été remplacée ou modifiée)",
           "near-duplicate": "une copie d'une photo de la personne",
           "identical": "une copie exacte d'une photo de la personne",
           "no-match": "aucune correspondance avec les photos protégées de la personne"},
}
KIND_WORDS = {"en": {law.AUTHENTIC: "a real intimate image shared without consent",
                     law.MANIPULATED: "a manipulated or synthetic intimate image (a \"deepfake\") made without consent"},
              "fr": {law.AUTHENTIC: "une image intime réelle diffusée sans consentement",
                     law.MANIPULATED: "une image intime manipulée ou synthétique (« deepfake ») réalisée sans "
                                      "consentement"}}


def select_items(case: dict, item_ids: list[int] | None) -> list[dict]:
    """The items a notice covers: the given ids (all must belong to the case), else every item not rejected."""
    items = case["items"]
    if item_ids is None:
        return [i for i in items if i["decision"] != "rejected"]
    by_id = {i["id"]: i for i in items}
    bad = [x for x in item_ids if x not in by_id]
    if bad:
        raise with_params(bad_request(f"items {bad} are not items of case {case['id']}", "bad_item_ids"),
                          bad=", ".join(map(str, bad)))
    return [by_id[x] for x in dict.fromkeys(item_ids)]


def _env() -> jinja2.Environment:
    return jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True)


def render(case: dict, *, kind: str, lang: str, platform: str, item_ids: list[int] | None = None,
           signer: str | None = None, contact: str | None = None, now: datetime | None = None) -> str:
    if kind not in KINDS:
        raise bad_request(f"kind must be one of: {', '.join(KINDS)}", "bad_notice_kind")
    if lang not in LANGS:
        raise bad_request("lang must be fr or en", "bad_lang")
    platform = (platform or "").strip()
    if not platform or len(platform) > 120 or not platform.isprintable():
        raise bad_request("platform (who receives the notice) is required: 1-120 printable characters",
                          "missing_platform")
    signer = (signer or "").strip() or None
    contact = (contact or "").strip() or None  # never the case's contact unless given for this notice
    items = select_items(case, item_ids)
    urls = [i["url"] for i in items if i["url"]]
    have = {"urls": bool(urls), "items": bool(items), "signer": bool(signer), "contact": bool(contact),
            "email": bool(contact and "@" in contact and " " not in contact.strip())}
    missing = [WHAT[n] for n in NEEDS[kind] if not have[n]]
    if missing:
        raise with_params(bad_request(f"a {NAMES[kind]} cannot be generated without: {'; '.join(missing)}",
                                      "missing_notice_inputs"),
                          kind=kind, needs=[n for n in NEEDS[kind] if not have[n]])
    for v in (signer, contact):
        if v is not None and (len(v) > 300 or not v.isprintable()):
            raise bad_request("signer and contact must be printable text of at most 300 characters", "bad_signer")
    t = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    where, roles = CITES[kind]
    where = list(where or case["jurisdictions"])
    if kind == "dsa-art16":  # an EU procedure: national offences of the case (not US), then the DSA itself
        where = [j for j in where if j not in ("US", "EU")] + ["EU"]
    cited = [b for b in law.bases(case["kind"], where, lang) if b["role"] in roles]
    words = VERDICT_WORDS[lang]
    rows = [{**i, "what": words.get(i["verdict"] or "", ""),
             "edited_pct": None if i["edited_fraction"] is None else pct(i["edited_fraction"], lang)} for i in items]
    text = resources.files("bouclier.cases").joinpath(f"templates/notices/{kind}.{lang}.txt.j2").read_text("utf-8")
    return _env().from_string(text).render(
        case_id=case["id"], kind_words=KIND_WORDS[lang][case["kind"]], manipulated=case["kind"] == law.MANIPULATED,
        platform=platform, signer=signer, contact=contact, items=rows, urls=urls, bases=cited,
        date=t.strftime("%Y-%m-%d %H:%M UTC"), disclaimer=law.DISCLAIMER[lang])
