"""Reviewer pages: the queue of matches, an item with the suspect blurred (revealed only by a logged
POST) beside its edit map, and the decision (confirm / reject with a reason)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ..errors import ImageError
from .imaging import blurred_preview, clear_data_uri
from .pages_cases import domain_errors, load_case, message
from .ui import NO_STORE, UIExit, get_ui

router = APIRouter()
REVIEW = ("reviewer",)


@router.get("/review")
def queue(request: Request):
    ui = get_ui(request)
    sess = ui.require(request, *REVIEW)
    return ui.render(request, sess, "queue.html", items=ui.cases.review_queue())


def _load(request: Request, sess, case_id: str, item_id: int) -> tuple[dict, dict]:
    ui = get_ui(request)
    case = load_case(request, sess, case_id)
    item = next((i for i in case.get("items", []) if int(i.get("id", -1)) == item_id), None)
    if item is None:
        raise UIExit(ui.error(request, sess, 404, "error.404"))
    return case, item


def _page(request: Request, sess, case: dict, item: dict, status: int = 200, **kw):
    return get_ui(request).render(request, sess, "review_item.html", status, case=case, item=item, **kw)


@router.get("/review/{case_id}/items/{item_id}")
def item_page(request: Request, case_id: str, item_id: int):
    ui = get_ui(request)
    sess = ui.require(request, *REVIEW)
    case, item = _load(request, sess, case_id, item_id)
    done = request.query_params.get("done")
    return _page(request, sess, case, item, request_done=done if done in ("confirmed", "rejected") else None)


@router.get("/review/{case_id}/items/{item_id}/blurred.png")
def blurred(request: Request, case_id: str, item_id: int):
    ui = get_ui(request)
    sess = ui.require(request, *REVIEW)
    _load(request, sess, case_id, item_id)
    try:
        data = ui.cases.item_media(sess.user.actor, item_id, "view")
        png = blurred_preview(data)
    except ImageError:  # undecodable image (before domain_errors, which holds every BouclierError)
        return ui.error(request, sess, 422, "review.no_media")
    except domain_errors():
        return ui.error(request, sess, 404, "error.404")
    return Response(png, media_type="image/png", headers=dict(NO_STORE))


@router.post("/review/{case_id}/items/{item_id}/reveal")
def reveal(request: Request, case_id: str, item_id: int, csrf: str = Form("")):
    """Logs the reveal in the case's chain of custody, then answers the page with the clear image inline
    (a data: URI: there is no URL of the clear image that could be fetched again, cached or shared)."""
    ui = get_ui(request)
    sess = ui.require(request, *REVIEW)
    ui.check_csrf(request, sess, csrf)
    case, item = _load(request, sess, case_id, item_id)
    try:
        # item_media records the "revealed" custody event (timeline + audit log) before it returns any byte
        clear = clear_data_uri(ui.cases.item_media(sess.user.actor, item_id, "reveal"))
    except ImageError:
        return _page(request, sess, case, item, 422, error_key="review.no_media")
    except domain_errors() as e:
        status, msg = message(e, sess.user.lang)
        return _page(request, sess, case, item, status, error=msg)
    return _page(request, sess, case, item, revealed=clear)


@router.post("/review/{case_id}/items/{item_id}/decide")
def decide(request: Request, case_id: str, item_id: int, csrf: str = Form(""), decision: str = Form(""),
           reason: str = Form("")):
    ui = get_ui(request)
    sess = ui.require(request, *REVIEW)
    ui.check_csrf(request, sess, csrf)
    case, item = _load(request, sess, case_id, item_id)
    if decision not in ("confirmed", "rejected") or not reason.strip():
        return _page(request, sess, case, item, 400, error_key="review.need", reason=reason, decision=decision)
    try:
        ui.cases.decide(sess.user.actor, item_id, decision, reason.strip())
    except domain_errors() as e:
        status, msg = message(e, sess.user.lang)
        return _page(request, sess, case, item, status, error=msg, reason=reason, decision=decision)
    return RedirectResponse(f"/ui/review/{case_id}/items/{item_id}?done={decision}", 303, headers=dict(NO_STORE))
