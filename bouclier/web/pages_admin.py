"""Admin pages: accounts (list, create, disable / enable). The CLI does the same (`bouclier users`)."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from .accounts import AccountError, create_user, list_users, set_disabled
from .models import LANGS, ROLES
from .ui import NO_STORE, get_ui

router = APIRouter()


def _page(request: Request, sess, status: int = 200, **kw):
    ui = get_ui(request)
    return ui.render(request, sess, "users.html", status, users=list_users(ui.registry.db), roles=ROLES,
                     langs=LANGS, **kw)


@router.get("/admin/users")
def users(request: Request):
    ui = get_ui(request)
    return _page(request, ui.require(request))  # no role listed: admins only


@router.post("/admin/users")
def user_create(request: Request, csrf: str = Form(""), username: str = Form(""), role: str = Form(""),
                lang: str = Form("en"), password: str = Form("")):
    ui = get_ui(request)
    sess = ui.require(request)
    ui.check_csrf(request, sess, csrf)
    try:
        create_user(ui.registry.db, username, role, password, lang, actor=sess.user.actor)
    except AccountError as e:
        return _page(request, sess, 400, error=str(e), form={"username": username, "role": role, "lang": lang})
    return RedirectResponse("/ui/admin/users", 303, headers=dict(NO_STORE))


@router.post("/admin/users/{username}/{action}")
def user_toggle(request: Request, username: str, action: str, csrf: str = Form("")):
    ui = get_ui(request)
    sess = ui.require(request)
    ui.check_csrf(request, sess, csrf)
    if action not in ("disable", "enable") or (action == "disable" and username == sess.user.username):
        return _page(request, sess, 400, error_key="users.bad_action")
    try:
        set_disabled(ui.registry.db, username, action == "disable", actor=sess.user.actor)
    except AccountError as e:
        return _page(request, sess, 404, error=str(e))
    return RedirectResponse("/ui/admin/users", 303, headers=dict(NO_STORE))
