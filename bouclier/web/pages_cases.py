"""Caseworker pages: cases list, new case, case detail, add item, notices, evidence export, deadlines."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import datetime, timezone

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from ..cases.i18n import with_params
from ..errors import BouclierError
from ..service.errors import ApiError
from .ui import NO_STORE, UIExit, get_ui

router = APIRouter()
CASEWORK = ("caseworker",)
KINDS = ("manipulated-synthetic", "non-consensual-authentic")
JURISDICTIONS = ("FR", "UK", "US", "EU")
NOTICE_KINDS = ("take-it-down", "dsa-art16", "pharos", "police-annex", "uk-report", "gdpr-erasure")
EXPORT_TTL_S = 3600


def domain_errors() -> tuple[type[Exception], ...]:
    """What A's and B's code raise for bad input (shown as a message, never a traceback)."""
    return (ApiError, BouclierError, ValueError, LookupError)


def message(e: Exception, lang: str = "en") -> tuple[int, str]:
    """(status, message in the user's language) for a domain error; the API keeps its English."""
    from ..cases.i18n import message as translated

    if isinstance(e, ApiError):
        return e.status, translated(e, lang)
    return getattr(e, "status", 400), str(e) or type(e).__name__


def load_case(request: Request, sess, case_id: str) -> dict:
    ui = get_ui(request)
    try:
        return ui.cases.get_case(case_id)
    except domain_errors():
        raise UIExit(ui.error(request, sess, 404, "error.404")) from None


def _case_page(request: Request, sess, case: dict, status: int = 200, **kw):
    """The case page, maybe with an error message or the values of a refused form."""
    return get_ui(request).render(request, sess, "case.html", status, case=case, notice_kinds=NOTICE_KINDS, **kw)


def _case_refused(request: Request, sess, case: dict, e: Exception, **kw):
    """The case page again, with the domain error that refused a form, in the user's language."""
    status, msg = message(e, sess.user.lang)
    return _case_page(request, sess, case, status, error=msg, **kw)


def badges(due: list[dict]) -> dict[str, str]:
    """Worst open deadline state per case id: overdue > warning > pending."""
    rank = {"overdue": 3, "warning": 2, "pending": 1}
    out: dict[str, str] = {}
    for d in due:
        cid, st = d.get("case_id"), d.get("status") or d.get("state")
        if cid and st in rank and rank[st] > rank.get(out.get(cid, ""), 0):
            out[cid] = st
    return out


@router.get("/cases")
def cases_list(request: Request):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    return ui.render(request, sess, "cases.html", cases=ui.cases.list_cases(), badges=badges(ui.cases.due()))


@router.get("/cases/new")
def case_new_form(request: Request):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    return ui.render(request, sess, "case_new.html", kinds=KINDS, jurisdictions=JURISDICTIONS, form={})


@router.post("/cases/new")
def case_new(request: Request, csrf: str = Form(""), pseudonym: str = Form(""), kind: str = Form(""),
             jurisdictions: list[str] = Form([]), under_18: str = Form(""), contact: str = Form(""),
             note: str = Form("")):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    ui.check_csrf(request, sess, csrf)
    form = {"pseudonym": pseudonym, "kind": kind, "jurisdictions": jurisdictions, "under_18": bool(under_18),
            "contact": contact, "note": note}
    err, status = None, 400
    if not pseudonym.strip() or kind not in KINDS or not jurisdictions:
        err = "new.need"
    else:
        try:
            case = ui.cases.create_case(sess.user.actor, pseudonym=pseudonym.strip(), kind=kind,
                                        jurisdictions=jurisdictions, contact=contact.strip() or None,
                                        under_18=bool(under_18), note=note.strip())
            return RedirectResponse(f"/ui/cases/{case['id']}", 303, headers=dict(NO_STORE))
        except domain_errors() as e:
            status, err = message(e, sess.user.lang)
    return ui.render(request, sess, "case_new.html", status, kinds=KINDS, jurisdictions=JURISDICTIONS,
                     form=form, error=err)


@router.get("/cases/{case_id}")
def case_detail(request: Request, case_id: str):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    case = load_case(request, sess, case_id)
    return _case_page(request, sess, case)


@router.post("/cases/{case_id}/protections")
def link_protection(request: Request, case_id: str, csrf: str = Form(""), protection: str = Form("")):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    ui.check_csrf(request, sess, csrf)
    case = load_case(request, sess, case_id)
    try:
        ui.cases.link_protection(sess.user.actor, case_id, protection.strip())
    except domain_errors() as e:
        return _case_refused(request, sess, case, e)
    return RedirectResponse(f"/ui/cases/{case_id}#protections", 303, headers=dict(NO_STORE))


@router.post("/cases/{case_id}/deadlines/{deadline_id}/close")
def deadline_close(request: Request, case_id: str, deadline_id: int, csrf: str = Form(""), note: str = Form("")):
    """Mark a deadline as met (e.g. the platform removed the content)."""
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    ui.check_csrf(request, sess, csrf)
    case = load_case(request, sess, case_id)
    if not any(d["id"] == deadline_id for d in case.get("deadlines", [])):
        return ui.error(request, sess, 404, "error.404")
    try:
        ui.cases.close_deadline(sess.user.actor, deadline_id, note.strip())
    except domain_errors() as e:
        return _case_refused(request, sess, case, e)
    return RedirectResponse(f"/ui/cases/{case_id}", 303, headers=dict(NO_STORE))


@router.post("/cases/{case_id}/status")
def case_status(request: Request, case_id: str, csrf: str = Form(""), status: str = Form("")):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    ui.check_csrf(request, sess, csrf)
    case = load_case(request, sess, case_id)
    try:
        ui.cases.set_status(sess.user.actor, case_id, status)
    except domain_errors() as e:
        return _case_refused(request, sess, case, e)
    return RedirectResponse(f"/ui/cases/{case_id}", 303, headers=dict(NO_STORE))


@router.get("/cases/{case_id}/items/new")
def item_form(request: Request, case_id: str):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    return ui.render(request, sess, "item_new.html", case=load_case(request, sess, case_id), form={})


@router.post("/cases/{case_id}/items/new")
def item_add(request: Request, case_id: str, csrf: str = Form(""), url: str = Form(""),
             captured_at: str = Form(""), file: UploadFile | None = File(None)):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    ui.check_csrf(request, sess, csrf)
    case = load_case(request, sess, case_id)
    cap = ui.registry.settings.max_image_bytes
    data = file.file.read(cap + 1) if file is not None and file.filename else b""
    form = {"url": url, "captured_at": captured_at}
    err, status = None, 400
    if len(data) > cap:
        status, err = message(with_params(ApiError(413, "file_too_large", f"the file exceeds {cap} bytes"),
                                          max_bytes=cap), sess.user.lang)
    elif not data and not url.strip():
        err = "add.need"
    else:
        try:
            item = ui.cases.add_item(sess.user.actor, case_id, url=url.strip() or None, image=data or None,
                                     filename=(file.filename if data else None),
                                     captured_at=captured_at.strip() or None,
                                     keep_media=bool(data) and not case.get("under_18"))
            return ui.render(request, sess, "item_result.html", case=case, item=item)
        except domain_errors() as e:
            status, err = message(e, sess.user.lang)
    return ui.render(request, sess, "item_new.html", status, case=case, form=form, error=err)


def _item(case: dict, item_id: int) -> dict | None:
    return next((i for i in case.get("items", []) if int(i.get("id", -1)) == item_id), None)


@router.get("/cases/{case_id}/items/{item_id}/editmap.png")
def edit_map(request: Request, case_id: str, item_id: int):
    ui = get_ui(request)
    sess = ui.require(request, "caseworker", "reviewer")
    try:
        item = ui.cases.get_item(item_id)
        png = ui.cases.item_edit_map(item_id) if item["case_id"] == case_id else None
    except domain_errors():
        png = None
    if not png:
        return ui.error(request, sess, 404, "error.404")
    return Response(png, media_type="image/png", headers=dict(NO_STORE))


@router.get("/cases/{case_id}/items/{item_id}/report")
def item_report(request: Request, case_id: str, item_id: int):
    """The item's `check` report (suspect blurred only), sandboxed: its own inline styles, no script."""
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    try:
        html = ui.cases.item_report(item_id) if ui.cases.get_item(item_id)["case_id"] == case_id else None
    except domain_errors():
        html = None
    if not html:
        return ui.error(request, sess, 404, "error.404")
    ui.cases.record_custody(sess.user.actor, case_id, "viewed", f"item:{item_id}:report", {})
    return HTMLResponse(html, headers={**NO_STORE, "Content-Security-Policy":
                                       "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"})


@router.post("/cases/{case_id}/notices")
def notice_new(request: Request, case_id: str, csrf: str = Form(""), kind: str = Form(""),
               lang: str = Form(""), platform: str = Form(""), items: list[int] = Form([]),
               signer: str = Form(""), contact: str = Form("")):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    ui.check_csrf(request, sess, csrf)
    case = load_case(request, sess, case_id)
    nform = {"kind": kind, "platform": platform, "signer": signer, "contact": contact}
    if kind not in NOTICE_KINDS or lang not in ("en", "fr") or not platform.strip():
        return _case_page(request, sess, case, 400, error_key="notice.need", nform=nform)
    try:
        notice = ui.cases.generate_notice(sess.user.actor, case_id, kind=kind, lang=lang, platform=platform.strip(),
                                          item_ids=items or None, signer=signer.strip() or None,
                                          contact=contact.strip() or None)
    except domain_errors() as e:
        return _case_refused(request, sess, case, e, nform=nform)
    return ui.render(request, sess, "notice.html", case=case, notice=notice)


@router.get("/cases/{case_id}/notices/{notice_id}.txt")
def notice_download(request: Request, case_id: str, notice_id: int):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    case = load_case(request, sess, case_id)
    n = next((n for n in case.get("notices", []) if int(n["id"]) == notice_id), None)
    if n is None:
        return ui.error(request, sess, 404, "error.404")
    ui.cases.record_custody(sess.user.actor, case_id, "downloaded", f"notice:{notice_id}", {"sha256": n.get("sha256")})
    return Response(n["text"].encode(), media_type="text/plain; charset=utf-8", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="{case_id}-notice-{notice_id}-{n["kind"]}.txt"'})


@router.post("/cases/{case_id}/export")
def export(request: Request, case_id: str, csrf: str = Form(""), include_media: str = Form(""),
           recipient: str = Form("")):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    ui.check_csrf(request, sess, csrf)
    case = load_case(request, sess, case_id)
    from ..evidence.package import configured_tsa, export_case
    from ..evidence.verify import verify

    out_dir = ui.export_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*/*.zip"):  # packages are only kept long enough to be downloaded
        if time.time() - old.stat().st_mtime > EXPORT_TTL_S:
            old.unlink(missing_ok=True)
            old.parent.rmdir()
    token = secrets.token_urlsafe(18)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / token / f"{case_id}-evidence-{stamp}.zip"
    path.parent.mkdir()
    tsa_url, tsa_ca = configured_tsa(ui.registry.settings)  # $BOUCLIER_TSA_URL or the TOML's tsa_url
    opts: dict = {"tsa_url": tsa_url, "tsa_ca": tsa_ca}
    if include_media:
        opts.update(include_media=True, recipient=recipient.strip() or None)
    try:
        made = export_case(ui.registry, sess.user.actor, case_id, path, **opts)
        result = verify(path, tsa_ca=tsa_ca)
    except domain_errors() as e:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
        return _case_refused(request, sess, case, e)
    ui.exports[token] = {"path": path, "case_id": case_id, "user": sess.user.id, "t": time.time()}
    return ui.render(request, sess, "export.html", case=case, token=token, result=_verify_view(result),
                     made=made, size=path.stat().st_size)


def _verify_view(rep) -> dict:
    return {"ok": rep.ok, "problems": [str(p) for p in rep.problems], "verified": list(rep.verified),
            "timestamp": rep.timestamp}


@router.get("/exports/{token}")
def export_download(request: Request, token: str):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    e = ui.exports.get(token)
    if not e or e["user"] != sess.user.id or not e["path"].exists() or time.time() - e["t"] > EXPORT_TTL_S:
        return ui.error(request, sess, 404, "error.404")
    ui.cases.record_custody(sess.user.actor, e["case_id"], "downloaded", f"evidence package {e['path'].name}", {})
    return FileResponse(e["path"], media_type="application/zip", filename=e["path"].name, headers=dict(NO_STORE))


def _statements(request: Request, sess, case_id: str) -> tuple[dict, list[dict]]:
    """The case (caseworker's view) and its DSA art. 17 statements; none for an under-18 case."""
    ui = get_ui(request)
    case = load_case(request, sess, case_id)
    return case, ([] if case.get("under_18") else ui.cases.statements_of_reasons(case_id))


@router.get("/cases/{case_id}/statements")
def statements_page(request: Request, case_id: str):
    """DSA art. 17 statements of reasons for the confirmed items, as the Transparency Database takes them."""
    from ..cases.sor import SCHEMA, export_json

    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    case, stmts = _statements(request, sess, case_id)
    return ui.render(request, sess, "sor.html", case=case, statements=stmts, schema=SCHEMA,
                     body=export_json(stmts))


@router.get("/cases/{case_id}/statements.json")
def statements_download(request: Request, case_id: str):
    from ..cases.sor import export_json

    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    case, stmts = _statements(request, sess, case_id)
    body = export_json(stmts).encode()
    ui.cases.record_custody(sess.user.actor, case_id, "downloaded", "statements-of-reasons.json",
                            {"statements": len(stmts), "sha256": hashlib.sha256(body).hexdigest()})
    return Response(body, media_type="application/json", headers={
        **NO_STORE, "Content-Disposition": f'attachment; filename="{case_id}-statements-of-reasons.json"'})


@router.get("/deadlines")
def deadlines(request: Request):
    ui = get_ui(request)
    sess = ui.require(request, *CASEWORK)
    return ui.render(request, sess, "deadlines.html", due=ui.cases.due())
