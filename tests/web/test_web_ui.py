"""The web UI over real HTTP against `bouclier serve` on loopback: accounts, sessions, CSRF, roles,
lockout, the reviewer's blurred view and the logged reveal, languages. The browser flow is in
test_web_flow.py."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
from argon2 import PasswordHasher
from PIL import Image

from service_helpers import encode, make_bundle, texture
from web_helpers import PASSWORD, UIClient, csrf_of, db_rows, start_ui_server, users_cli

TEMPLATES = Path(__file__).resolve().parents[2] / "bouclier" / "web" / "templates"


def add_item(c: UIClient, case_id: str, image: bytes, url: str = "https://social.example/p/1") -> str:
    token = c.csrf(f"/ui/cases/{case_id}/items/new")
    r = c.post(f"/ui/cases/{case_id}/items/new", {"csrf": token, "url": url},
               files={"file": ("suspect.png", image, "image/png")})
    assert r.status_code == 200, r.text[:800]
    return re.search(r"#(\d+)</dd>", r.text).group(1)


def test_password_stored_as_argon2_hash_only(ui_server):
    (h,) = db_rows(ui_server, "SELECT password_hash FROM users WHERE username = 'alice'")[0]
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert PasswordHasher().verify(h, PASSWORD)
    dump = "\n".join(str(r) for r in db_rows(ui_server, "SELECT * FROM users"))
    assert PASSWORD not in dump


def test_login_cookie_and_headers(ui_server):
    c = UIClient(ui_server)
    r = c.get("/ui/cases")
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")
    r = c.login("alice", "not the password")
    assert r.status_code == 401 and "Wrong username or password" in r.text
    r = c.login("alice")
    assert r.status_code == 303
    cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("bouclier_ui=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    r = c.get("/ui/cases")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert '<html lang="en">' in r.text
    audit = db_rows(ui_server, "SELECT actor, action FROM audit_log WHERE action LIKE 'ui.login%'")
    assert ("user:alice", "ui.login") in audit and ("ui:anonymous", "ui.login_failed") in audit
    # a forged or altered cookie is no session
    c.http.cookies.set("bouclier_ui", c.http.cookies.get("bouclier_ui")[:-2] + "xx", path="/ui")
    assert c.get("/ui/cases").status_code == 303


def test_csrf_is_checked_on_every_post(ui_server):
    c = UIClient(ui_server).logged_in("alice")
    before = db_rows(ui_server, "SELECT count(*) FROM cases")[0][0]
    form = {"pseudonym": "Dana", "kind": "manipulated-synthetic", "jurisdictions": ["FR"]}
    assert c.post("/ui/cases/new", form).status_code == 403
    r = c.post("/ui/cases/new", {**form, "csrf": "forged-token"})
    assert r.status_code == 403 and "did not come from this site" in r.text
    assert db_rows(ui_server, "SELECT count(*) FROM cases")[0][0] == before
    # another session's token is refused too
    other = UIClient(ui_server).logged_in("alice")
    assert c.post("/ui/cases/new", {**form, "csrf": other.csrf("/ui/cases")}).status_code == 403
    case_id = c.new_case("Dana")  # the right token works
    assert db_rows(ui_server, "SELECT count(*) FROM cases")[0][0] == before + 1
    for path in ("/ui/logout", "/ui/lang", f"/ui/cases/{case_id}/notices", f"/ui/cases/{case_id}/export",
                 f"/ui/cases/{case_id}/protections"):
        assert c.post(path, {"csrf": "x", "lang": "fr"}).status_code == 403, path
    # the login form has its own token (signed cookie + form value)
    fresh = UIClient(ui_server)
    r = fresh.post("/ui/login", {"username": "alice", "password": PASSWORD, "csrf": "made-up"})
    assert r.status_code == 403 and "bouclier_ui=" not in r.headers.get("set-cookie", "")


def test_roles_are_enforced(ui_server):
    cw, rv, ad = (UIClient(ui_server).logged_in(u) for u in ("alice", "rob", "ada"))
    case_id = cw.new_case("Eli")
    for path in ("/ui/review", f"/ui/review/{case_id}/items/1", f"/ui/review/{case_id}/items/1/blurred.png"):
        r = cw.get(path)
        assert r.status_code == 403 and "Your role does not give access" in r.text, path
    assert cw.post(f"/ui/review/{case_id}/items/1/reveal", {"csrf": cw.csrf("/ui/cases")}).status_code == 403
    for path in ("/ui/cases", "/ui/cases/new", f"/ui/cases/{case_id}", "/ui/deadlines"):
        assert rv.get(path).status_code == 403, path
    r = rv.post("/ui/cases/new", {"csrf": rv.csrf("/ui/review"), "pseudonym": "X", "kind": "manipulated-synthetic",
                                  "jurisdictions": ["FR"]})
    assert r.status_code == 403
    assert rv.get("/ui/review").status_code == 200
    for path in ("/ui/cases", f"/ui/cases/{case_id}", "/ui/review", "/ui/deadlines"):
        assert ad.get(path).status_code == 200, path


def test_lockout_after_repeated_failures(ui_server):
    users_cli(ui_server, "create", "--username", "locky", "--role", "caseworker", "--password-stdin",
              input=PASSWORD + "\n")
    c = UIClient(ui_server)
    for _ in range(4):
        assert c.login("locky", "guess-guess-guess").status_code == 401
    r = c.login("locky", "guess-guess-guess")
    assert r.status_code == 429 and "locked" in r.text
    r = c.login("locky", PASSWORD)  # the right password does not open a locked account
    assert r.status_code == 429 and "bouclier_ui=" not in r.headers.get("set-cookie", "")
    assert db_rows(ui_server, "SELECT count(*) FROM audit_log WHERE action = 'ui.locked' AND subject = 'user:locky'")[0][0] == 1
    # unknown usernames lock the same way (no way to tell which accounts exist)
    for _ in range(4):
        assert c.login("nobody-here", "guess-guess-guess").status_code == 401
    assert c.login("nobody-here", "guess-guess-guess").status_code == 429
    users_cli(ui_server, "enable", "locky")  # an admin clears the lockout
    assert c.login("locky", PASSWORD).status_code == 303


def test_disabled_account_and_logout(ui_server):
    users_cli(ui_server, "create", "--username", "temp", "--role", "reviewer", "--password-stdin", input=PASSWORD + "\n")
    c = UIClient(ui_server).logged_in("temp")
    assert c.get("/ui/review").status_code == 200
    out = users_cli(ui_server, "disable", "temp").stdout
    assert "disabled 'temp'" in out
    assert c.get("/ui/review").status_code == 303  # its session ended at once
    assert c.login("temp").status_code == 401
    d = UIClient(ui_server).logged_in("rob")
    r = d.post("/ui/logout", {"csrf": d.csrf("/ui/review")})
    assert r.status_code == 303
    assert d.get("/ui/review").status_code == 303
    listing = users_cli(ui_server, "list").stdout
    assert re.search(r"\ttemp\treviewer\ten\tdisabled", listing) and "$argon2" not in listing
    bad = users_cli(ui_server, "create", "--username", "x2", "--role", "boss", "--password-stdin", input="whatever12345\n",
                    check=False)
    assert bad.returncode == 2 and "role must be one of" in bad.stderr and "Traceback" not in bad.stderr


def test_blurred_by_default_and_reveal_is_logged(ui_server):
    cw, rv = UIClient(ui_server).logged_in("alice"), UIClient(ui_server).logged_in("rob")
    case_id = cw.new_case("Fatou")
    suspect = encode(texture(11, (300, 400)))
    item = add_item(cw, case_id, suspect)
    page = rv.get(f"/ui/review/{case_id}/items/{item}")
    assert page.status_code == 200 and "suspect-blurred" in page.text and "data:image" not in page.text
    r = rv.get(f"/ui/review/{case_id}/items/{item}/blurred.png")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    im = Image.open(io.BytesIO(r.content))
    assert im.mode == "L" and max(im.size) <= 360
    # blurred: far less detail than the original at the same size
    orig = np.asarray(Image.open(io.BytesIO(suspect)).convert("L").resize(im.size), float)
    blur = np.asarray(im, float)
    assert np.abs(np.diff(blur, axis=1)).mean() < 0.25 * np.abs(np.diff(orig, axis=1)).mean()
    def revealed() -> int:
        return db_rows(ui_server, "SELECT count(*) FROM audit_log WHERE action = 'custody.revealed' "
                                  "AND actor = 'user:rob' AND subject = :s", s=f"case:{case_id}")[0][0]
    assert revealed() == 0
    assert rv.post(f"/ui/review/{case_id}/items/{item}/reveal", {"csrf": "nope"}).status_code == 403
    assert revealed() == 0
    r = rv.post(f"/ui/review/{case_id}/items/{item}/reveal", {"csrf": csrf_of(page.text)})
    assert r.status_code == 200 and 'id="suspect-clear" src="data:image/jpeg;base64,' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert revealed() == 1
    timeline = cw.get(f"/ui/cases/{case_id}").text
    assert "revealed" in timeline and "user:rob" in timeline
    details = db_rows(ui_server, "SELECT details FROM audit_log WHERE action = 'custody.revealed' AND subject = :s",
                      s=f"case:{case_id}")[0][0]
    assert json.loads(details)["artefact"] == f"item:{item}:media"


def test_decision_needs_a_reason(ui_server):
    cw, rv = UIClient(ui_server).logged_in("alice"), UIClient(ui_server).logged_in("rob")
    case_id = cw.new_case("Gil")
    item = add_item(cw, case_id, encode(texture(12)))
    token = rv.csrf(f"/ui/review/{case_id}/items/{item}")
    r = rv.post(f"/ui/review/{case_id}/items/{item}/decide", {"csrf": token, "decision": "confirmed", "reason": " "})
    assert r.status_code == 400 and "give a reason" in r.text


def test_french_interface_and_catalogues():
    from bouclier.web.i18n import EN, FR

    used = set()
    for f in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"t\('([a-z0-9_.\-]+)'[,)]", f.read_text()))
    dynamic = {"kind": ("manipulated-synthetic", "non-consensual-authentic"), "status": ("open", "closed"),
               "verdict": ("identical", "near-duplicate", "manipulated-derivative", "no-match"),
               "decision": ("confirmed", "rejected"), "badge": ("overdue", "warning", "pending", "none"),
               "role": ("caseworker", "reviewer", "admin"), "lang": ("en", "fr"),
               "nk": ("take-it-down", "dsa-art16", "pharos", "police-annex", "uk-report", "gdpr-erasure"),
               "dk": ("take-it-down", "dsa-ack", "dsa-decision", "gdpr-erasure")}
    used |= {f"{k}.{v}" for k, vs in dynamic.items() for v in vs}
    for key in ("login.bad", "login.locked", "login.rate", "login.csrf", "new.need", "add.need", "notice.need",
                "review.need", "error.403", "error.404", "error.csrf"):
        used.add(key)
    assert used - set(EN) == set() and used - set(FR) == set()
    assert set(EN) == set(FR)


def test_language_switch(ui_server):
    c = UIClient(ui_server).logged_in("alice")
    r = c.post("/ui/lang", {"csrf": c.csrf("/ui/cases"), "lang": "fr", "next": "/ui/cases"})
    assert r.status_code == 303
    page = c.get("/ui/cases").text
    assert '<html lang="fr">' in page and "Dossiers" in page and "Se déconnecter" in page
    c.post("/ui/lang", {"csrf": c.csrf("/ui/cases"), "lang": "en", "next": "/ui/cases"})
    assert '<html lang="en">' in c.get("/ui/cases").text
    login = UIClient(ui_server).get("/ui/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).text
    assert '<html lang="fr">' in login and "Mot de passe" in login


def test_under_18_case_is_routed(ui_server):
    c = UIClient(ui_server).logged_in("alice")
    case_id = c.new_case("Hana", under_18="1", jurisdictions=["FR"])
    page = c.get(f"/ui/cases/{case_id}").text
    assert "Under-18 case" in page and "child protection" in page and "NCMEC" not in page
    assert "FR: 119 (Allô Enfance en Danger) and PHAROS" in page
    token = csrf_of(page)
    r = c.post(f"/ui/cases/{case_id}/notices", {"csrf": token, "kind": "dsa-art16", "lang": "en",
                                                "platform": "Example"})
    assert r.status_code == 403 and "under 18" in r.text and "FR: 119" in r.text


def test_postgresql_backend(tmp_path, pg_url):
    s = start_ui_server(tmp_path / "pg", pg_url)
    try:
        c = UIClient(s).logged_in("alice")
        case_id = c.new_case("Iris")
        assert "Iris" in c.get(f"/ui/cases/{case_id}").text
        (h,) = db_rows(s, "SELECT password_hash FROM users WHERE username = 'alice'")[0]
        assert h.startswith("$argon2id$")
        assert db_rows(s, "SELECT version_num FROM alembic_version")[0][0] >= "0003"
        # the database goes away under the running server: an HTML 503 page under /ui, JSON 503 on the API
        import sqlalchemy as sa
        url = sa.engine.make_url(pg_url)
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
        admin.dispose()
        r = c.get(f"/ui/cases/{case_id}", headers={"accept-language": "fr"})
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/html"), (r.status_code, r.text[:300])
        assert r.headers["retry-after"] == "1" and "La base de données n&#39;est pas disponible" in r.text
        api = c.get("/v1/cases", headers={"authorization": "Bearer x"})
        assert api.status_code == 503 and api.json()["error"]["code"] == "unavailable"
    finally:
        s.stop()


def test_admin_manages_accounts(ui_server):
    ad, cw = UIClient(ui_server).logged_in("ada"), UIClient(ui_server).logged_in("alice")
    assert cw.get("/ui/admin/users").status_code == 403
    assert cw.post("/ui/admin/users", {"csrf": cw.csrf("/ui/cases"), "username": "mallory", "role": "admin",
                                       "password": PASSWORD}).status_code == 403
    page = ad.get("/ui/admin/users")
    assert page.status_code == 200 and "alice" in page.text and "$argon2" not in page.text
    token = csrf_of(page.text)
    r = ad.post("/ui/admin/users", {"csrf": token, "username": "nadia", "role": "reviewer", "lang": "fr",
                                    "password": "short"})
    assert r.status_code == 400 and "at least 10 characters" in r.text
    assert ad.post("/ui/admin/users", {"csrf": token, "username": "nadia", "role": "reviewer", "lang": "fr",
                                       "password": PASSWORD}).status_code == 303
    n = UIClient(ui_server).logged_in("nadia")
    assert '<html lang="fr">' in n.get("/ui/review").text
    assert ad.post("/ui/admin/users/nadia/disable", {"csrf": token}).status_code == 303
    assert n.get("/ui/review").status_code == 303
    assert ad.post("/ui/admin/users/ada/disable", {"csrf": token}).status_code == 400  # not oneself
    actions = db_rows(ui_server, "SELECT actor, action FROM audit_log WHERE subject = 'user:nadia'")
    assert ("user:ada", "user.create") in actions and ("user:ada", "user.disable") in actions


def test_match_report_and_queue(ui_server):
    """A protected photo's copy: it matches, the check report is sandboxed and its viewing logged, and
    the item waits in the reviewer's queue."""
    photo = texture(21, (320, 400))
    with ui_server.client(ui_server.key("helpline", "submit")) as api:
        r = api.post("/v1/protections", files={"bundle": ("b.bcl", make_bundle([encode(photo)]))})
    assert r.status_code == 201
    c = UIClient(ui_server).logged_in("alice")
    case_id = c.new_case("Jo")
    item = add_item(c, case_id, encode(photo[10:-10, 10:-10], "JPEG", quality=80))
    page = c.get(f"/ui/cases/{case_id}").text
    assert f"/items/{item}/report" in page and r.json()["case_id"] in page
    r = c.get(f"/ui/cases/{case_id}/items/{item}/report")
    assert r.status_code == 200 and "<html" in r.text.lower()
    csp = r.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src" not in csp and r.headers["cache-control"] == "no-store"
    assert db_rows(ui_server, "SELECT count(*) FROM case_events WHERE action = 'viewed' AND artefact = :a",
                   a=f"item:{item}:report")[0][0] == 1
    queue = UIClient(ui_server).logged_in("rob").get("/ui/review").text
    assert f"/ui/review/{case_id}/items/{item}" in queue


def test_secure_cookie_setting_and_address_limit(tmp_path):
    s = start_ui_server(tmp_path / "tls", env={"BOUCLIER_UI_SECURE_COOKIE": "1", "BOUCLIER_UI_IP_FAILURES": "3"})
    try:
        c = UIClient(s)
        page = c.get("/ui/login")
        pre = page.headers["set-cookie"]
        assert pre.startswith("bouclier_ui_login=") and "Secure" in pre
        # a client on plain HTTP does not send Secure cookies back: the login form's check fails safe
        form = {"username": "alice", "password": PASSWORD, "csrf": csrf_of(page.text)}
        assert c.post("/ui/login", form).status_code == 403
        r = c.post("/ui/login", form, headers={"Cookie": pre.split(";")[0]})  # as a browser over TLS would
        cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("bouclier_ui=")][0]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        # failures from one address, spread over several usernames, hit the per-address limit
        for name in ("alice", "rob", "ada"):
            page = c.get("/ui/login")
            form = {"username": name, "password": "not-it-at-all", "csrf": csrf_of(page.text)}
            assert c.post("/ui/login", form, headers={"Cookie": page.headers["set-cookie"].split(";")[0]}).status_code == 401
        page = c.get("/ui/login")
        form = {"username": "rob", "password": PASSWORD, "csrf": csrf_of(page.text)}
        r = c.post("/ui/login", form, headers={"Cookie": page.headers["set-cookie"].split(";")[0]})
        assert r.status_code == 429 and "from this address" in r.text
    finally:
        s.stop()


def test_export_errors_are_messages(ui_server):
    c = UIClient(ui_server).logged_in("alice")
    case_id = c.new_case("Kim")
    token = c.csrf(f"/ui/cases/{case_id}")
    r = c.post(f"/ui/cases/{case_id}/export", {"csrf": token, "include_media": "1"})
    assert r.status_code == 400 and "recipient" in r.text and 'role="alert"' in r.text
    r = c.post(f"/ui/cases/{case_id}/export", {"csrf": token})
    assert r.status_code == 200 and "Package verified" in r.text
    link = re.search(r'href="(/ui/exports/[^"]+)"', r.text).group(1)
    other = UIClient(ui_server).logged_in("ada")
    assert other.get(link).status_code == 404  # only who exported may download
    d = c.get(link)
    assert d.status_code == 200 and d.content[:2] == b"PK" and d.headers["cache-control"] == "no-store"


def test_notice_opens_deadline_which_can_be_met(ui_server):
    c = UIClient(ui_server).logged_in("alice")
    case_id = c.new_case("Lou", jurisdictions=["US"])
    token = c.csrf(f"/ui/cases/{case_id}")
    r = c.post(f"/ui/cases/{case_id}/items/new", {"csrf": token, "url": "https://video.example/v/9"})
    assert r.status_code == 200 and "The URL was added to the case" in r.text and "video.example/v/9" in r.text
    assert c.post(f"/ui/cases/{case_id}/items/new", {"csrf": token}).status_code == 400  # neither file nor URL
    r = c.post(f"/ui/cases/{case_id}/notices", {"csrf": token, "kind": "take-it-down", "lang": "en",
                                                "platform": "ExampleVideo", "signer": "Lou",
                                                "contact": "lou@example.org"})
    assert r.status_code == 200 and 'id="notice-text"' in r.text, re.findall(r'role="alert">([^<]*)', r.text)
    notice_id = re.search(r"/notices/(\d+)\.txt", r.text).group(1)
    txt = c.get(f"/ui/cases/{case_id}/notices/{notice_id}.txt")
    assert txt.status_code == 200 and "attachment" in txt.headers["content-disposition"] and "Lou" in txt.text
    due = c.get("/ui/deadlines").text
    assert case_id in due and "TAKE IT DOWN Act: removal due 48 h" in due and "badge-pending" in due
    (did,) = db_rows(ui_server, "SELECT d.id FROM case_deadlines d JOIN cases c ON c.id = d.case_id "
                                "WHERE c.public_id = :c", c=case_id)[0]
    assert c.post(f"/ui/cases/{case_id}/deadlines/{did}/close", {"csrf": "x"}).status_code == 403
    assert c.post(f"/ui/cases/{case_id}/deadlines/{did}/close", {"csrf": token}).status_code == 303
    assert case_id not in c.get("/ui/deadlines").text
    page = c.get(f"/ui/cases/{case_id}").text
    assert "deadline met" in page and "downloaded" in page
    assert c.post(f"/ui/cases/{case_id}/status", {"csrf": token, "status": "closed"}).status_code == 303
    assert "Reopen" in c.get(f"/ui/cases/{case_id}").text
