"""Sign in and out, language switch, the stylesheet, the start page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from .accounts import LOCK_MINUTES, AccountError, set_lang
from .sessions import COOKIE, PRE_COOKIE, SESSION_HOURS
from .ui import HERE, NO_STORE, client_ip, get_ui

router = APIRouter()


def _safe_next(nxt: str | None) -> str:
    return nxt if nxt and nxt.startswith("/ui/") and not nxt.startswith("//") and "\\" not in nxt else "/ui/"


@router.get("/static/ui.css")
def stylesheet() -> Response:
    return Response((HERE / "static" / "ui.css").read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("/")
def home(request: Request):
    ui = get_ui(request)
    sess = ui.session(request)
    return RedirectResponse("/ui/review" if sess.user.role == "reviewer" else "/ui/cases", 303)


def _login_page(request: Request, status: int = 200, error: str | None = None, username: str = ""):
    ui = get_ui(request)
    cookie, token = ui.sessions.login_token()
    resp = ui.render(request, None, "login.html", status, login_token=token, error=error, username=username,
                     next=_safe_next(request.query_params.get("next")), minutes=LOCK_MINUTES)
    resp.set_cookie(PRE_COOKIE, cookie, **ui.sessions.cookie_kwargs(3600))
    return resp


@router.get("/login")
def login_form(request: Request):
    return _login_page(request)


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), csrf: str = Form(""),
          next: str = Form("/ui/")):
    ui = get_ui(request)
    if not ui.sessions.check_login_token(request.cookies.get(PRE_COOKIE), csrf):
        return _login_page(request, 403, "login.csrf", username)
    r = ui.auth.login(username, password, client_ip(request))
    if r.account is None:
        status = 401 if r.error == "bad" else 429
        return _login_page(request, status, f"login.{r.error}", username)
    cookie, _ = ui.sessions.create(r.account)
    resp = RedirectResponse(_safe_next(next), 303, headers=dict(NO_STORE))
    resp.set_cookie(COOKIE, cookie, **ui.sessions.cookie_kwargs(SESSION_HOURS * 3600))
    resp.delete_cookie(PRE_COOKIE, path="/ui", httponly=True, samesite="strict")
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")):
    ui = get_ui(request)
    sess = ui.session(request)
    ui.check_csrf(request, sess, csrf)
    ui.sessions.end(sess)
    resp = RedirectResponse("/ui/login", 303, headers=dict(NO_STORE))
    resp.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return resp


@router.post("/lang")
def switch_lang(request: Request, lang: str = Form(""), csrf: str = Form(""), next: str = Form("/ui/")):
    ui = get_ui(request)
    sess = ui.session(request)
    ui.check_csrf(request, sess, csrf)
    try:
        set_lang(ui.registry.db, sess.user.id, lang)
    except AccountError:
        return ui.error(request, sess, 400, "error.404")
    return RedirectResponse(_safe_next(next), 303, headers=dict(NO_STORE))
