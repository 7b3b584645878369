"""The caseworker's pages over real HTTP (`bouclier serve` on loopback): DSA art. 17 statements of reasons,
French for what the cases domain says, French percentages, HTML error pages for malformed values, and the
under-18 routing."""

from __future__ import annotations

import json
import re

from service_helpers import encode, make_bundle, texture
from web_helpers import UIClient, csrf_of, db_rows

NBSP = "\u00a0"


def in_lang(c: UIClient, lang: str) -> UIClient:
    """Set the account's language (stored with the account, so every test sets the one it needs)."""
    r = c.post("/ui/lang", {"csrf": c.csrf("/ui/cases"), "lang": lang, "next": "/ui/cases"})
    assert r.status_code == 303
    return c


def french(c: UIClient) -> UIClient:
    return in_lang(c, "fr")


def protect(server, photo) -> str:
    with server.client(server.key("helpline", "submit")) as api:
        r = api.post("/v1/protections", files={"bundle": ("b.bcl", make_bundle([encode(photo)]))})
    assert r.status_code == 201, r.text
    return r.json()["case_id"]


def derivative(photo):
    """A benign manipulated derivative: a flat grey patch over part of the picture."""
    out = photo.copy()
    h, w = out.shape[:2]
    out[h // 4: h // 2, w // 3: 2 * w // 3] = 128
    return encode(out, "JPEG", quality=85)


def add_item(c: UIClient, case_id: str, image: bytes, url: str) -> str:
    token = c.csrf(f"/ui/cases/{case_id}/items/new")
    r = c.post(f"/ui/cases/{case_id}/items/new", {"csrf": token, "url": url},
               files={"file": ("suspect.jpg", image, "image/jpeg")})
    assert r.status_code == 200, r.text[:800]
    return re.search(r"#(\d+)</dd>", r.text).group(1)


def test_statements_of_reasons_page_and_json_download(ui_server):
    photo = texture(31, (320, 400))
    protect(ui_server, photo)
    cw, rv = in_lang(UIClient(ui_server).logged_in("alice"), "en"), UIClient(ui_server).logged_in("rob")
    case_id = cw.new_case("Ottilie Brandt", contact="ottilie@mail.example")
    empty = cw.get(f"/ui/cases/{case_id}/statements")
    assert empty.status_code == 200 and "No confirmed item yet" in empty.text
    item = add_item(cw, case_id, derivative(photo), "https://host.example/p/77")
    page = rv.get(f"/ui/review/{case_id}/items/{item}")
    r = rv.post(f"/ui/review/{case_id}/items/{item}/decide",
                {"csrf": csrf_of(page.text), "decision": "confirmed", "reason": "Ottilie Brandt's photo, edited"})
    assert r.status_code in (200, 303), r.text[:500]

    assert f"/ui/cases/{case_id}/statements" in cw.get(f"/ui/cases/{case_id}").text
    page = cw.get(f"/ui/cases/{case_id}/statements")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    puid = f"bouclier-{case_id}-{item}"
    assert puid in page.text and "STATEMENT_CATEGORY_CYBER_VIOLENCE" in page.text and "/api/v2/statements" in page.text
    dl = cw.get(f"/ui/cases/{case_id}/statements.json")
    assert dl.status_code == 200 and dl.headers["content-type"].startswith("application/json")
    assert f'filename="{case_id}-statements-of-reasons.json"' in dl.headers["content-disposition"]
    body = json.loads(dl.content)
    (st,) = body["statements"]
    assert st["puid"] == puid and re.fullmatch(r"[A-Za-z0-9_-]{1,500}", st["puid"])
    for k in ("content_date", "application_date"):  # YYYY-MM-DD, as the Transparency Database requires
        assert re.fullmatch(r"20\d\d-\d\d-\d\d", st[k]), st[k]
    assert st["content_date"] <= st["application_date"]
    assert st["category_specification"] == ["KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"]
    text = dl.text.lower()
    for secret in ("ottilie", "brandt", "mail.example", "host.example", "user:alice", "user:rob"):
        assert secret not in text, secret
    # the download is a custody event; a reviewer has no access; the page is in French too
    assert db_rows(ui_server, "SELECT count(*) FROM case_events WHERE action = 'downloaded' "
                              "AND artefact = 'statements-of-reasons.json'")[0][0] == 1
    assert rv.get(f"/ui/cases/{case_id}/statements").status_code == 403
    assert rv.get(f"/ui/cases/{case_id}/statements.json").status_code == 403
    fr = french(UIClient(ui_server).logged_in("alice")).get(f"/ui/cases/{case_id}/statements")
    assert fr.status_code == 200 and "Exposés des motifs (DSA art. 17)" in fr.text and puid in fr.text


def test_percentages_and_legal_bases_follow_the_language(ui_server):
    photo = texture(32, (320, 400))
    protect(ui_server, photo)
    c = in_lang(UIClient(ui_server).logged_in("alice"), "en")
    case_id = c.new_case("Pia")
    add_item(c, case_id, derivative(photo), "https://host.example/p/78")
    en = c.get(f"/ui/cases/{case_id}").text
    assert re.search(r"<td>\d+%</td>", en) and "Legal bases that may apply" in en
    assert "Code pénal, art. 226-8-1" in en and "Regulation (EU) 2022/2065" in en
    fr = french(c).get(f"/ui/cases/{case_id}").text
    assert re.search(rf"<td>\d+{NBSP}%</td>", fr) and "Textes susceptibles de s&#39;appliquer" in fr
    assert "Règlement (UE) 2022/2065" in fr and "peut constituer ce délit" in fr
    # a French notice writes its percentages the French way
    token = csrf_of(fr)
    r = c.post(f"/ui/cases/{case_id}/notices", {"csrf": token, "kind": "dsa-art16", "lang": "fr",
                                                "platform": "HostCo", "signer": "Pia Conseil",
                                                "contact": "aide@helpline.example"})
    assert r.status_code == 200 and re.search(rf"environ \d+{NBSP}%", r.text), r.text[-1500:]


def test_malformed_values_get_an_html_page_in_the_users_language(ui_server):
    c = french(UIClient(ui_server).logged_in("alice"))
    case_id = c.new_case("Quentin")
    token = c.csrf(f"/ui/cases/{case_id}")

    def html_error(r, status: int, *phrases: str):
        assert r.status_code == status, (r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
        assert '<html lang="fr">' in r.text and '"error"' not in r.text
        for ph in phrases:
            assert ph in r.text, (ph, r.text[-1200:])

    # a non-numeric item id in the address, and in a form
    html_error(c.get(f"/ui/cases/{case_id}/items/abc/report"), 400, "La demande n&#39;est pas valide", "item_id")
    html_error(c.get(f"/ui/review/{case_id}/items/1x/blurred.png"), 400, "La demande n&#39;est pas valide")
    html_error(c.post(f"/ui/cases/{case_id}/notices", {"csrf": token, "kind": "pharos", "lang": "fr",
                                                      "platform": "P", "items": ["douze"]}), 400, "items")
    html_error(c.post(f"/ui/cases/{case_id}/deadlines/x/close", {"csrf": token}), 400, "deadline_id")
    # an over-long field, a bad date: the form again, with the cases domain's message in French
    r = c.post("/ui/cases/new", {"csrf": token, "pseudonym": "x" * 121, "kind": "manipulated-synthetic",
                                 "jurisdictions": ["FR"]})
    html_error(r, 400, "Le pseudonyme doit être un texte imprimable de 120 caractères au plus.")
    r = c.post(f"/ui/cases/{case_id}/items/new", {"csrf": token, "url": "https://host.example/p/1",
                                                   "captured_at": "hier soir"}, files={"file": ("", b"", "")})
    html_error(r, 400, "La date « vu le » doit être une date et une heure ISO 8601")
    r = c.post(f"/ui/cases/{case_id}/items/new", {"csrf": token, "url": "ftp://x y"}, files={"file": ("", b"", "")})
    html_error(r, 400, "L&#39;URL doit être une adresse http(s)")
    r = c.post(f"/ui/cases/{case_id}/notices", {"csrf": token, "kind": "take-it-down", "lang": "en",
                                               "platform": "P"})
    html_error(r, 400, "Impossible de rédiger « demande de retrait TAKE IT DOWN Act » sans",
               "au moins une URL du contenu")
    # unknown pages and methods under /ui are HTML too; the API keeps its JSON
    html_error(c.get("/ui/nowhere"), 404, "Introuvable")
    html_error(c.http.put(f"/ui/cases/{case_id}"), 405, "Non autorisé")
    api = c.get("/v1/nowhere")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    # English for an English account; not signed in: the login page, not an error
    en = in_lang(UIClient(ui_server).logged_in("alice"), "en")
    r = en.get(f"/ui/cases/{case_id}/items/abc/report")
    assert r.status_code == 400 and '<html lang="en">' in r.text and "The request is not valid" in r.text
    r = UIClient(ui_server).get(f"/ui/cases/{case_id}/items/abc/report")
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


def test_under_18_routing_banner_and_refused_notices_in_french(ui_server):
    c = french(UIClient(ui_server).logged_in("alice"))
    case_id = c.new_case("Rosa", under_18="1", jurisdictions=["FR", "UK"])
    page = c.get(f"/ui/cases/{case_id}").text
    assert "Dossier d&#39;une personne mineure" in page and "protection de l&#39;enfance" in page
    assert "le 119 (Allô Enfance en Danger) et PHAROS" in page and "IWF / Childline Report Remove" in page
    assert f"/ui/cases/{case_id}/statements" not in page  # no platform statements for a minor's case
    for kind in ("take-it-down", "dsa-art16", "gdpr-erasure"):
        r = c.post(f"/ui/cases/{case_id}/notices", {"csrf": csrf_of(page), "kind": kind, "lang": "fr",
                                                    "platform": "HostCo", "signer": "Aide", "contact": "a@b.example"})
        assert r.status_code == 403 and '<html lang="fr">' in r.text
        assert "moins de 18 ans" in r.text and "le 119" in r.text and "Report Remove" in r.text, r.text[-1500:]
    assert db_rows(ui_server, "SELECT count(*) FROM case_notices n JOIN cases c ON c.id = n.case_id "
                              "WHERE c.public_id = :c", c=case_id)[0][0] == 0
