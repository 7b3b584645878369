"""The cases domain on a real registry (SQLite and PostgreSQL): matching items, review, custody,
media encryption, notices, deadlines, under-18 routing and DSA statements of reasons."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from bouclier.cases import law
from bouclier.service import audit
from bouclier.service.errors import ApiError
from bouclier.service.models import AuditEntry

URL1, URL2 = "https://host.example/p/81731", "https://mirror.example/x/99?id=5"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def new_case(w, **kw):
    args = {"pseudonym": "Sunflower-42", "kind": law.MANIPULATED, "jurisdictions": ["FR", "EU", "US", "UK"],
            "contact": "sunflower42@mail.example"}
    args.update(kw)
    return w.cases.create_case("cw:alice", **args)


def audit_actions(w) -> list[str]:
    with w.reg.db.read() as s:
        return [e.action for e in s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()]


def test_derivative_matches_the_right_protection(world):
    w = world
    c = new_case(w)
    w.cases.link_protection("cw:alice", c["id"], w.protections["astronaut"])
    it = w.cases.add_item("cw:alice", c["id"], url=URL1, image=w.suspects["astronaut-derivative.jpg"],
                          filename="astronaut-derivative.jpg", captured_at="2026-02-28T21:15:00Z")
    assert it["verdict"] == "manipulated-derivative"
    assert it["protected"]["case_id"] == w.protections["astronaut"] != w.protections["coffee"]
    assert it["protected"]["linked"] is True
    assert 0.15 < it["edited_fraction"] < 0.8
    assert it["scores"]["score"] >= it["thresholds"]["min_score"]
    assert it["algorithm"] == "bouclier-orb-grid" and it["has_media"] is False
    assert it["captured_at"].startswith("2026-02-28T21:15:00")
    # the edit map is a mask with an edited region, not a picture
    png = w.cases.item_edit_map(it["id"])
    mask = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert mask.ndim == 2 and set(np.unique(mask)) <= {0, 255} and 0.05 < (mask > 0).mean() < 0.9
    # the report: the verdict, blurred suspect only (no hidden "reveal" copy), no protected pixels
    html = w.cases.item_report(it["id"])
    assert "manipulated-derivative" in html and 'class="clear"' not in html and "<script" not in html
    assert "Reveal" not in html and "blurred pictures only" in html
    assert [q["id"] for q in w.cases.review_queue()].count(it["id"]) == 1
    # an unrelated photo: no match, not queued
    other = w.cases.add_item("cw:alice", c["id"], url=URL2, image=w.suspects["unrelated.jpg"])
    assert other["verdict"] == "no-match" and other["protected"] is None
    assert other["id"] not in [q["id"] for q in w.cases.review_queue()]
    got = w.cases.get_case(c["id"])
    assert [i["id"] for i in got["items"]] == [it["id"], other["id"]]
    assert [e["action"] for e in got["events"]] == ["create", "link_protection", "add_item", "add_item"]
    assert "case.add_item" in audit_actions(w)
    with w.reg.db.read() as s:  # the audit log (never erased) holds no pseudonym, contact or URL in clear
        text = " ".join(e.details + e.subject for e in s.execute(select(AuditEntry)).scalars())
    assert "Sunflower" not in text and "sunflower42" not in text and URL1 not in text and "url_sha256" in text


def test_bad_inputs_are_clear_errors(world):
    w = world
    c = new_case(w)
    cases = [
        (lambda: new_case(w, kind="fake"), 400, "bad_kind"),
        (lambda: new_case(w, jurisdictions=["DE"]), 400, "bad_jurisdictions"),
        (lambda: new_case(w, pseudonym="  "), 400, "missing_pseudonym"),
        (lambda: w.cases.add_item("a", c["id"]), 400, "need_url_or_image"),
        (lambda: w.cases.add_item("a", c["id"], url="javascript:alert(1)"), 400, "bad_url"),
        (lambda: w.cases.add_item("a", c["id"], image=b"not an image at all"), 422, "invalid_image"),
        (lambda: w.cases.add_item("a", "C-NOPE0000", url=URL1), 404, "no_such_case"),
        (lambda: w.cases.link_protection("a", c["id"], "case_" + "0" * 32), 404, "no_such_protection"),
        (lambda: w.cases.decide("a", 10**9, "confirmed", "x"), 404, "no_such_item"),
    ]
    for fn, status, code in cases:
        with pytest.raises(ApiError) as e:
            fn()
        assert (e.value.status, e.value.code) == (status, code), e.value.message
    assert w.cases.get_case(c["id"])["items"] == []  # nothing half-stored


def test_review_decision_is_recorded_once(world):
    w = world
    c = new_case(w)
    it = w.cases.add_item("cw:alice", c["id"], url=URL1, image=w.suspects["astronaut-derivative.jpg"])
    with pytest.raises(ApiError) as e:
        w.cases.decide("rev:bob", it["id"], "maybe", "unsure")
    assert e.value.code == "bad_decision"
    with pytest.raises(ApiError) as e:
        w.cases.decide("rev:bob", it["id"], "confirmed", "")
    assert e.value.code == "missing_reason"
    d = w.cases.decide("rev:bob", it["id"], "confirmed", "same scene, edited lower half")
    assert (d["decision"], d["decided_by"]) == ("confirmed", "rev:bob")
    assert it["id"] not in [q["id"] for q in w.cases.review_queue()]
    with pytest.raises(ApiError) as e:
        w.cases.decide("rev:carol", it["id"], "rejected", "no")
    assert e.value.status == 409
    with w.reg.db.read() as s:
        last = s.execute(select(AuditEntry).where(AuditEntry.action == "case.decide")
                         .order_by(AuditEntry.seq.desc())).scalars().first()
        assert last.actor == "rev:bob" and json.loads(last.details)["decision"] == "confirmed"
        assert audit.verify(s).ok


def test_media_is_encrypted_on_disk_and_reveals_are_logged(world):
    w = world
    jpeg = w.suspects["astronaut-derivative.jpg"]
    c = new_case(w)
    it = w.cases.add_item("cw:alice", c["id"], url=URL1, image=jpeg, keep_media=True)
    assert it["has_media"]
    files = [p for p in (w.data_dir / "media").iterdir() if not p.name.startswith(".")]
    assert files
    blobs = b"".join(p.read_bytes() for p in files)
    for off in range(0, len(jpeg) - 64, 997):  # no 64-byte run of the JPEG anywhere on disk
        assert jpeg[off:off + 64] not in blobs
    assert all(not p.read_bytes().startswith(b"\xff\xd8") for p in files)
    assert w.cases.item_media("rev:bob", it["id"], "reveal") == jpeg
    w.cases.record_custody("cw:alice", c["id"], "exported", "package:pkg.zip", {"sha256": "ab" * 32})
    log = w.cases.custody_log(c["id"])
    assert [(e["actor"], e["action"], e["artefact"]) for e in log] == [
        ("rev:bob", "revealed", f"item:{it['id']}:media"), ("cw:alice", "exported", "package:pkg.zip")]
    assert log[0]["details"]["purpose"] == "reveal" and log[0]["details"]["sha256"] == it["sha256"]
    acts = audit_actions(w)
    assert "custody.revealed" in acts and "custody.exported" in acts
    # deleting the item deletes its media
    before = {p.name for p in (w.data_dir / "media").iterdir()}
    w.cases.delete_item("cw:alice", it["id"], "duplicate upload")
    after = {p.name for p in (w.data_dir / "media").iterdir()}
    assert len(before - after) == 1
    with pytest.raises(ApiError) as e:
        w.cases.item_media("rev:bob", it["id"], "reveal")
    assert e.value.status == 404


def test_tampered_media_is_refused(world):
    w = world
    c = new_case(w)
    it = w.cases.add_item("cw:alice", c["id"], image=w.suspects["unrelated.jpg"], keep_media=True)
    with w.reg.db.read() as s:
        from bouclier.cases.models import CaseItem

        name = s.get(CaseItem, it["id"]).media
    p = w.cases.media.dir / name
    b = bytearray(p.read_bytes())
    b[40] ^= 1
    p.write_bytes(bytes(b))
    n_custody = len(w.cases.custody_log(c["id"]))
    with pytest.raises(ApiError) as e:
        w.cases.item_media("rev:bob", it["id"], "reveal")
    assert e.value.code == "media_unreadable" and "altered" in e.value.message
    assert len(w.cases.custody_log(c["id"])) == n_custody


def _items(w, c):
    a = w.cases.add_item("cw:alice", c["id"], url=URL1, image=w.suspects["astronaut-derivative.jpg"])
    b = w.cases.add_item("cw:alice", c["id"], url=URL2)
    return a, b


REQUIRED = {  # per kind and language: phrases each notice must contain
    ("take-it-down", "en"): ["good faith belief", "not consensual", "Signature: Dana Ruiz", "Contact: dana@mail.example"],
    ("take-it-down", "fr"): ["bonne foi", "sans le consentement", "Signature : Dana Ruiz", "Contact : dana@mail.example"],
    ("dsa-art16", "en"): ["(a) Why this content is illegal", "226-8-1", "(b) Exact location", "2 items",
                          "(c) Notifier: Dana Ruiz, dana@mail.example", "(d) I confirm my bona fide belief"],
    ("dsa-art16", "fr"): ["a) Pourquoi ce contenu est illicite", "226-8-1", "b) Emplacement exact", "2 éléments",
                          "c) Auteur de la notification : Dana Ruiz, dana@mail.example", "d) Je déclare de bonne foi"],
    ("pharos", "en"): ["PHAROS", "226-8-1"],
    ("pharos", "fr"): ["PHAROS", "226-8-1", "constaté le 2026-02-28 21:15"],
    ("police-annex", "en"): ["SHA-256 of the file", "inliers=", "226-8-1", "66B", "223(h)"],
    ("police-annex", "fr"): ["SHA-256 du fichier", "inliers=", "226-8-1", "Vérification humaine : correspondance confirmée"],
    ("uk-report", "en"): ["Sexual Offences Act 2003, s.66B", "appears to show"],
    ("uk-report", "fr"): ["Sexual Offences Act 2003, s.66B", "semble montrer"],
    ("gdpr-erasure", "en"): ["art. 17", "one month", "Name: Dana Ruiz"],
    ("gdpr-erasure", "fr"): ["art. 17", "un mois", "Nom : Dana Ruiz"],
}


def test_notices_fr_en_contain_urls_and_required_elements(world):
    w = world
    c = new_case(w)
    a = w.cases.add_item("cw:alice", c["id"], url=URL1, image=w.suspects["astronaut-derivative.jpg"],
                         captured_at="2026-02-28T21:15:00+00:00")
    w.cases.add_item("cw:alice", c["id"], url=URL2)
    w.cases.decide("rev:bob", a["id"], "confirmed", "clear match")
    for (kind, lang), phrases in REQUIRED.items():
        n = w.cases.generate_notice("cw:alice", c["id"], kind=kind, lang=lang, platform="PhotoHost Ltd",
                                    signer="Dana Ruiz", contact="dana@mail.example", now=T0)
        t = n["text"]
        assert URL1 in t and URL2 in t, (kind, lang)
        for ph in phrases:
            assert ph in t, (kind, lang, ph)
        assert "Sunflower" not in t and "sunflower42" not in t  # never the pseudonym nor the case contact
        assert n["kind"] == kind and n["lang"] == lang and len(n["sha256"]) == 64
    # percentages: "42 %" (no-break space) in French, "42%" in English
    assert a["edited_fraction"] is not None
    pct = f"{100 * a['edited_fraction']:.0f}"
    notices = {(n["kind"], n["lang"]): n["text"] for n in w.cases.get_case(c["id"])["notices"]}
    assert f"environ {pct}\u00a0%" in notices[("dsa-art16", "fr")]
    assert f"Part modifiée : {pct}\u00a0%" in notices[("police-annex", "fr")]
    assert f"about {pct}% of the picture" in notices[("dsa-art16", "en")]
    # a TAKE IT DOWN request says only what the law asks: no scores, hashes or legal essays
    t = w.cases.get_case(c["id"])["notices"][0]["text"]
    assert "inliers" not in t and a["sha256"] not in t and "226-8-1" not in t
    # several items per DSA notice, or a chosen subset
    n = w.cases.generate_notice("cw:alice", c["id"], kind="dsa-art16", lang="en", platform="P", item_ids=[a["id"]],
                                signer="Dana Ruiz", contact="dana@mail.example", now=T0)
    assert URL1 in n["text"] and URL2 not in n["text"] and "(1 item)" in n["text"]
    # a DSA notice cites the DSA even for a case without an EU jurisdiction, and never US law
    c3 = new_case(w, jurisdictions=["US"])
    w.cases.add_item("cw:alice", c3["id"], url=URL1)
    t = w.cases.generate_notice("cw:alice", c3["id"], kind="dsa-art16", lang="fr", platform="P", signer="Dana Ruiz",
                                contact="dana@mail.example")["text"]
    assert "2022/2065" in t and "223" not in t and "2016/679" not in t


def test_notices_refuse_missing_inputs(world):
    w = world
    c = new_case(w)
    w.cases.add_item("cw:alice", c["id"], image=w.suspects["astronaut-derivative.jpg"])  # no URL
    w.cases.add_item("cw:alice", c["id"], url=URL1)
    refusals = [
        (dict(kind="take-it-down", contact="d@x.example"), ["signature"]),
        (dict(kind="take-it-down", signer="Dana"), ["contact"]),
        (dict(kind="dsa-art16", signer="Dana", contact="+33 1 23 45 67 89"), ["email"]),
        (dict(kind="gdpr-erasure"), ["signature", "contact"]),
        (dict(kind="dsa-art16", signer="Dana", contact="d@x.example", item_ids=[999999]), ["not items"]),
        (dict(kind="telegram", signer="Dana"), ["kind must be"]),
    ]
    for kw, words in refusals:
        with pytest.raises(ApiError) as e:
            w.cases.generate_notice("cw:alice", c["id"], lang="en", platform="P", **kw)
        assert e.value.status == 400
        for word in words:
            assert word in e.value.message, (kw, e.value.message)
    with pytest.raises(ApiError) as e:
        w.cases.generate_notice("cw:alice", c["id"], kind="pharos", lang="de", platform="P")
    assert e.value.code == "bad_lang"
    # a case whose only item has no URL cannot get a TAKE IT DOWN request
    c2 = new_case(w)
    w.cases.add_item("cw:alice", c2["id"], image=w.suspects["unrelated.jpg"])
    with pytest.raises(ApiError) as e:
        w.cases.generate_notice("cw:alice", c2["id"], kind="take-it-down", lang="fr", platform="P", signer="Dana",
                                contact="d@x.example")
    assert "URL" in e.value.message and e.value.code == "missing_notice_inputs"
    assert w.cases.get_case(c2["id"])["notices"] == [] and w.cases.get_case(c2["id"])["deadlines"] == []


def test_deadlines_warning_and_overdue_at_the_right_times(world):
    w = world
    c = new_case(w)
    w.cases.add_item("cw:alice", c["id"], url=URL1)
    kw = dict(lang="en", platform="P", signer="Dana", contact="d@x.example")
    w.cases.generate_notice("cw:alice", c["id"], kind="take-it-down", now=T0, **kw)
    w.cases.generate_notice("cw:alice", c["id"], kind="dsa-art16", now=T0 + timedelta(hours=1), **kw)
    w.cases.generate_notice("cw:alice", c["id"], kind="gdpr-erasure", now=datetime(2026, 1, 31, 12, tzinfo=timezone.utc),
                            **kw)

    def status(now, kind):
        return {d["kind"]: d["status"] for d in w.cases.due(now) if d["case_id"] == c["id"]}.get(kind)

    h = timedelta(hours=1)
    assert status(T0 + 35 * h, "take-it-down") == "pending"
    assert status(T0 + 36 * h, "take-it-down") == "warning"
    assert status(T0 + 47.9 * h, "take-it-down") == "warning"
    assert status(T0 + 48 * h, "take-it-down") == "overdue"
    assert status(T0 + 18.9 * h, "dsa-ack") == "pending" and status(T0 + 19 * h, "dsa-ack") == "warning"
    assert status(T0 + 25 * h, "dsa-ack") == "overdue" and status(T0 + 25 * h, "dsa-decision") == "pending"
    assert status(T0 + 8 * 24 * h, "dsa-decision") == "overdue"
    gdpr = next(d for d in w.cases.due(T0) if d["case_id"] == c["id"] and d["kind"] == "gdpr-erasure")
    assert gdpr["due_at"].startswith("2026-02-28T12:00")  # one month from 31 January
    # dashboard order: overdue first, then warning, then pending
    rows = [d for d in w.cases.due(T0 + 40 * h) if d["case_id"] == c["id"]]
    order = [d["status"] for d in rows]
    assert order == sorted(order, key=["overdue", "warning", "pending"].index)
    assert rows[0]["kind"] == "gdpr-erasure" and rows[1]["kind"] == "dsa-ack"  # both overdue, earliest due first
    # marking one done takes it off the dashboard
    tid = next(d["id"] for d in rows if d["kind"] == "take-it-down")
    done = w.cases.close_deadline("cw:alice", tid, "removed by the platform")
    assert done["status"] == "done" and done["closed_by"] == "cw:alice"
    assert tid not in [d["id"] for d in w.cases.due(T0 + 50 * h)]
    assert next(d for d in w.cases.due(T0 + 50 * h, include_done=True) if d["id"] == tid)["status"] == "done"
    assert "case.close_deadline" in audit_actions(w)


def test_under_18_is_routed_to_child_protection(world):
    w = world
    c = new_case(w, under_18=True, jurisdictions=["US", "FR"])
    assert c["under_18"] and c["route"] == "child-protection"
    assert "NCMEC" in c["child_protection"] and "119" in c["child_protection"]
    got = w.cases.get_case(c["id"])
    assert got["route"] == "child-protection" and [e["action"] for e in got["events"]] == ["create", "routed"]
    with pytest.raises(ApiError) as e:
        w.cases.add_item("cw:alice", c["id"], url=URL1, image=w.suspects["astronaut-derivative.jpg"], keep_media=True)
    assert e.value.code == "child_protection_route" and "NCMEC" in e.value.message
    it = w.cases.add_item("cw:alice", c["id"], url=URL1, image=w.suspects["astronaut-derivative.jpg"])
    assert it["verdict"] == "manipulated-derivative" and not it["has_media"]
    assert it["id"] not in [q["id"] for q in w.cases.review_queue()]  # no adult review of a minor's images
    html = w.cases.item_report(it["id"])  # the verdict, but no picture of the suspect at all
    assert "manipulated-derivative" in html and "data:image" not in html
    for kind in ("take-it-down", "dsa-art16", "gdpr-erasure"):
        with pytest.raises(ApiError) as e:
            w.cases.generate_notice("cw:alice", c["id"], kind=kind, lang="en", platform="P", signer="D",
                                    contact="d@x.example")
        assert e.value.status == 403 and "NCMEC" in e.value.message and "under 18" in e.value.message
    assert w.cases.get_case(c["id"])["notices"] == []


def test_statements_of_reasons_never_name_the_person_or_notifier(world):
    w = world
    c = new_case(w, pseudonym="Marigold Vance", contact="marigold.vance@mail.example")
    a, b = _items(w, c)
    rej = w.cases.add_item("cw:alice", c["id"], url="https://host.example/other", image=w.suspects["astronaut-derivative.jpg"])
    w.cases.decide("rev:bob", a["id"], "confirmed", "Marigold Vance confirmed it is her photo")
    w.cases.decide("rev:bob", rej["id"], "rejected", "not her")
    w.cases.generate_notice("cw:alice", c["id"], kind="dsa-art16", lang="en", platform="P", signer="Noah Notifier",
                            contact="noah@notifier.example")
    sors = w.cases.statements_of_reasons(c["id"])
    assert [s["puid"] for s in sors] == [f"bouclier-{c['id']}-{a['id']}"]
    s = sors[0]
    assert s["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert s["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert s["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert s["category_specification"] == ["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"]
    assert "CONTENT_TYPE_SYNTHETIC_MEDIA" in s["content_type"] and s["automated_detection"] == "Yes"
    assert s["source_type"] == "SOURCE_ARTICLE_16" and "226-8-1" in s["illegal_content_legal_ground"]
    assert len(s["application_date"]) == 10 and "FR" in s["territorial_scope"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", s["content_date"]) and s["content_date"] <= s["application_date"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,500}", s["puid"]) and len(s["decision_facts"]) <= 5000
    from bouclier.cases.sor import export_json

    text = export_json(sors).lower()
    for secret in ("marigold", "vance", "mail.example", "noah", "notifier.example", "rev:bob", "cw:alice", URL1):
        assert secret.lower() not in text, secret
    assert json.loads(text)["statements"][0]["puid"] == s["puid"].lower()
    # an authentic-image case uses the image-sharing keyword
    c2 = new_case(w, kind=law.AUTHENTIC)
    x = w.cases.add_item("cw:alice", c2["id"], url=URL1, image=w.suspects["astronaut-derivative.jpg"])
    w.cases.decide("rev:bob", x["id"], "confirmed", "ok")
    s2 = w.cases.statements_of_reasons(c2["id"])[0]
    assert s2["category_specification"] == ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"]
    assert "226-2-1" in s2["illegal_content_legal_ground"] and s2["content_type"] == ["CONTENT_TYPE_IMAGE"]


def test_snapshot_for_the_evidence_package(world):
    w = world
    c = new_case(w)
    a, b = _items(w, c)
    w.cases.decide("rev:bob", a["id"], "confirmed", "ok")
    w.cases.generate_notice("cw:alice", c["id"], kind="pharos", lang="fr", platform="PHAROS")
    w.cases.record_custody("cw:alice", c["id"], "viewed", f"item:{a['id']}:report")
    snap = w.cases.snapshot(c["id"])
    assert snap["case"]["id"] == c["id"] and snap["tool"]["name"] == "bouclier"
    i0, i1 = snap["items"]
    assert (i0["verdict"], i0["protected"]["case_id"]) == ("manipulated-derivative", w.protections["astronaut"])
    assert i0["edit_map_png"][:8] == b"\x89PNG\r\n\x1a\n" and "<html" in i0["report_html"].lower()
    assert i1["verdict"] is None and i1["report_html"] == "" and i1["edit_map_png"] is None
    assert {"id", "url", "captured_at", "sha256", "filename", "verdict", "protected", "bank", "edited_fraction",
            "scores", "thresholds", "algorithm", "version", "report_html", "edit_map_png", "has_media"} <= set(i0)
    assert snap["notices"][0]["kind"] == "pharos" and snap["custody"][0]["action"] == "viewed"
    assert [e["action"] for e in snap["timeline"]][:3] == ["create", "add_item", "add_item"]
    json.dumps({**snap, "items": [{**i, "edit_map_png": None} for i in snap["items"]]})  # JSON-serialisable
    with w.reg.db.read() as s:
        assert audit.verify(s).ok


def test_deadline_defaults_are_configurable():
    from bouclier.cases import deadlines as dl

    t = datetime(2026, 5, 1, tzinfo=timezone.utc)
    r = dl.rules(env={})
    assert dl.window(r["take-it-down"], t) == (t + timedelta(hours=48), t + timedelta(hours=36))
    r = dl.rules(env={"BOUCLIER_CASES_TAKE_IT_DOWN_WARN_HOURS": "40"}, extra={"cases_dsa_decision_hours": 72})
    assert dl.window(r["take-it-down"], t)[1] == t + timedelta(hours=40)
    assert dl.window(r["dsa-decision"], t)[0] == t + timedelta(hours=72)
    assert dl.window(r["gdpr-erasure"], datetime(2026, 12, 15, tzinfo=timezone.utc))[0] == \
        datetime(2027, 1, 15, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        dl.rules(env={"BOUCLIER_CASES_DSA_ACK_HOURS": "soon"})


def test_erasing_the_person_keeps_the_facts(world):
    w = world
    c = new_case(w)
    it = w.cases.add_item("cw:alice", c["id"], url=URL1, image=w.suspects["unrelated.jpg"], keep_media=True)
    before = set((w.data_dir / "media").iterdir())
    out = w.cases.erase_person("cw:alice", c["id"])
    assert out["pseudonym"] == "(erased)" and out["contact"] is None
    assert len(before - set((w.data_dir / "media").iterdir())) == 1
    got = w.cases.get_case(c["id"])
    assert got["items"][0]["sha256"] == it["sha256"] and not got["items"][0]["has_media"]
    assert got["events"][-1]["action"] == "erase_person"
