"""A whole case in a real browser (Debian's Chromium, headless, driven by Playwright) against a real
`bouclier serve`: protect a photo through the API, then caseworker logs in -> creates a case -> uploads
a benign manipulated derivative -> it matches -> reviewer sees it blurred, reveals (logged), confirms
with a reason -> caseworker generates a notice -> exports the evidence package -> verified.

Screenshots of every step go to the test's tmp dir; with BOUCLIER_UPDATE_SCREENSHOTS=1 a few are
copied to docs/web/ for the README and docs/web.md."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from service_helpers import encode, make_bundle
from web_helpers import PASSWORD, db_rows, start_ui_server

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "web"
FOR_DOCS = ("03-item-matched.png", "05-review-blurred.png", "08-notice.png", "09-export-verified.png")


@pytest.fixture
def flow_server(tmp_path):
    s = start_ui_server(tmp_path / "srv")
    yield s
    s.stop()


def protect_astronaut(server, out: Path) -> tuple[str, Path]:
    """The person's side: the photo is fingerprinted and the bundle sent through the API. Returns the
    protection's case id and a benign derivative made like `bouclier demo` (blur-inpainted region,
    crop, "FAKE" stamp, JPEG)."""
    from skimage import data

    from bouclier.demo import make_suspects

    photos = {"astronaut": np.ascontiguousarray(data.astronaut()), "coffee": np.ascontiguousarray(data.coffee())}
    key = server.key("helpline", "submit")
    with server.client(key) as c:
        r = c.post("/v1/protections", files={"bundle": ("p.bcl", make_bundle([encode(photos["astronaut"])]))})
    assert r.status_code == 201, r.text
    return r.json()["case_id"], make_suspects(photos, out)["astronaut-derivative.jpg"]


def test_whole_case_in_chromium(flow_server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from bouclier.evidence.verify import verify

    protection_id, derivative = protect_astronaut(flow_server, tmp_path / "suspects")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    base = flow_server.url

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            cw = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True).new_page()
            cw.set_default_timeout(90_000)

            def shot(page, name: str) -> None:
                page.screenshot(path=str(shots / name), full_page=True)

            def login(page, user: str) -> None:
                page.goto(base + "/ui/")
                expect(page).to_have_url(base + "/ui/login?next=/ui/")
                page.fill("#username", user)
                page.fill("#password", PASSWORD)
                page.get_by_role("button", name="Sign in").click()

            # 1. caseworker signs in (the login page first)
            cw.goto(base + "/ui/login")
            shot(cw, "01-login.png")
            login(cw, "alice")
            expect(cw.get_by_role("heading", name="Cases")).to_be_visible()
            # keyboard: the first Tab reaches the skip link, which moves focus to the content
            cw.keyboard.press("Tab")
            assert cw.evaluate("document.activeElement.className") == "skip"
            cw.keyboard.press("Enter")
            assert cw.evaluate("document.activeElement.id") == "main"

            # 2. new case
            cw.get_by_role("link", name="New case").first.click()
            cw.fill("#pseudonym", "Camille")
            cw.get_by_label("Manipulated or synthetic image").check()
            cw.get_by_label("FR", exact=True).check()
            cw.get_by_label("EU", exact=True).check()
            shot(cw, "02-new-case.png")
            cw.get_by_role("button", name="Open the case").click()
            expect(cw.locator("h1")).to_contain_text("Case C-")
            case_id = cw.locator("h1").inner_text().split()[1]
            cw.fill("#protection", protection_id)
            cw.get_by_role("button", name="Link", exact=True).click()
            expect(cw.locator("#protections")).to_contain_text(protection_id)

            # 3. upload the derivative: it matches as a manipulated derivative
            cw.get_by_role("link", name="Add an item").first.click()
            cw.set_input_files("#file", str(derivative))
            cw.fill("#url", "https://social.example/post/4711")
            cw.get_by_role("button", name="Add and match").click()
            expect(cw.locator("[data-verdict]")).to_have_attribute("data-verdict", "manipulated-derivative")
            expect(cw.locator("#result")).to_contain_text(protection_id)
            expect(cw.locator("#result img")).to_be_visible()  # the edit map
            shot(cw, "03-item-matched.png")
            cw.get_by_role("link", name="Back to the case").last.click()
            expect(cw.locator("#items")).to_contain_text("Manipulated derivative")
            shot(cw, "04-case.png")

            # 4. reviewer: queue -> item blurred -> reveal (logged) -> confirm with a reason
            rv = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            rv.set_default_timeout(90_000)
            login(rv, "rob")
            expect(rv.get_by_role("heading", name="Review queue")).to_be_visible()
            rv.locator("main table a.button").first.click()
            blurred = rv.locator("#suspect-blurred")
            expect(blurred).to_be_visible()
            assert blurred.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0  # it loads
            assert rv.locator("#suspect-clear").count() == 0
            shot(rv, "05-review-blurred.png")
            before = db_rows(flow_server, "SELECT count(*) FROM audit_log WHERE action = 'custody.revealed' "
                                          "AND actor = 'user:rob'")[0][0]
            rv.get_by_role("button", name="Reveal the image").click()
            expect(rv.locator("#suspect-clear")).to_be_visible()
            assert rv.locator("#suspect-clear").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
            assert db_rows(flow_server, "SELECT count(*) FROM audit_log WHERE action = 'custody.revealed' "
                                        "AND actor = 'user:rob'")[0][0] == before + 1
            shot(rv, "06-review-revealed.png")
            rv.get_by_label("Confirm the match").check()
            rv.fill("#reason", "Same scene and framing as the protected photo; the lower body region is "
                               "blur-filled and a FAKE stamp was added.")
            rv.get_by_role("button", name="Record the decision").click()
            expect(rv.locator("[role=status]")).to_contain_text("Decision recorded: Confirmed")
            shot(rv, "07-review-decided.png")
            decided = db_rows(flow_server, "SELECT actor, details FROM audit_log WHERE action = 'case.decide'")
            assert decided and decided[-1][0] == "user:rob" and "confirmed" in decided[-1][1]

            # 5. caseworker: notice (DSA art. 16) -> text shown and downloadable
            cw.goto(f"{base}/ui/cases/{case_id}")
            expect(cw.locator("#items")).to_contain_text("Confirmed")
            cw.select_option("#n-kind", "dsa-art16")
            cw.fill("#n-platform", "ExampleSocial")
            cw.fill("#n-signer", "Camille's helpline caseworker")
            cw.fill("#n-contact", "casework@helpline.example")
            cw.get_by_role("button", name="Generate").click()
            expect(cw.locator("#notice-text")).to_contain_text("https://social.example/post/4711")
            shot(cw, "08-notice.png")
            with cw.expect_download() as dl:
                cw.get_by_role("link", name="Download as text").click()
            notice_txt = tmp_path / "notice.txt"
            dl.value.save_as(notice_txt)
            assert "https://social.example/post/4711" in notice_txt.read_text()

            # 6. evidence package: exported, verified on the server, downloaded, verified again here
            cw.goto(f"{base}/ui/cases/{case_id}")
            cw.get_by_role("button", name="Export and verify").click()
            expect(cw.locator("#verify-result")).to_contain_text("Package verified")
            shot(cw, "09-export-verified.png")
            with cw.expect_download() as dl:
                cw.get_by_role("link", name="Download the package").click()
            pkg = tmp_path / "package.zip"
            dl.value.save_as(pkg)
            rep = verify(pkg)
            assert rep.ok, rep.to_dict()

            cw.goto(f"{base}/ui/cases/{case_id}")
            timeline = cw.locator("#timeline").inner_text()
            for action in ("revealed", "review decision", "notice generated", "exported", "downloaded"):
                assert action in timeline, action
            shot(cw, "10-case-after.png")

            # 7. the notice opened its deadlines: the dashboard and the cases list show them
            cw.get_by_role("link", name="Deadlines").click()
            expect(cw.locator("main table")).to_contain_text(case_id)
            expect(cw.locator("main table")).to_contain_text("DSA art. 16")
            shot(cw, "11-deadlines.png")
            cw.get_by_role("link", name="Cases", exact=True).click()
            expect(cw.locator(f"tr:has(a[href='/ui/cases/{case_id}']) .badge-pending")).to_be_visible()
            shot(cw, "12-cases.png")

            # 8. switch to French (a form button in the header): same page, French words, lang="fr"
            cw.goto(f"{base}/ui/cases/{case_id}")
            cw.get_by_role("button", name="Français").click()
            expect(cw.locator("html")).to_have_attribute("lang", "fr")
            expect(cw.locator("h1")).to_contain_text(f"Dossier {case_id}")
            expect(cw.locator("#items")).to_contain_text("Dérivé manipulé")
            shot(cw, "13-case-fr.png")

            # 9. the platform's side: DSA art. 17 statements of reasons, shown and downloaded as JSON
            cw.get_by_role("link", name="Exposés des motifs (DSA art. 17)").click()
            expect(cw.locator("main table")).to_contain_text(f"bouclier-{case_id}-")
            expect(cw.locator("#sor-json")).to_contain_text("KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE")
            shot(cw, "14-statements-fr.png")
            with cw.expect_download() as dl:
                cw.get_by_role("link", name="Télécharger en JSON").click()
            sor = json.loads(Path(dl.value.path()).read_text())
            assert sor["statements"][0]["puid"].startswith(f"bouclier-{case_id}-")
            assert "Camille" not in json.dumps(sor) and "social.example" not in json.dumps(sor)
        finally:
            browser.close()

    assert len(list(shots.glob("*.png"))) == 14
    if os.environ.get("BOUCLIER_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        for name in FOR_DOCS:
            shutil.copy(shots / name, DOCS / name)
