"""The web UI's shared state and helpers: sessions, role guards, CSRF, rendering with security headers."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from .. import __version__
from ..cases import i18n as cases_i18n
from ..cases import law
from ..service.store import Registry, load_secret_key
from .accounts import IP_FAILURES, Authenticator
from .i18n import pick_lang, t, tx
from .sessions import COOKIE, Sess, SessionStore

HERE = Path(__file__).parent
NO_STORE = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


class UIExit(Exception):
    """Stop handling a UI request and answer with `response` (login redirect, 403 page...)."""

    def __init__(self, response: Response):
        self.response = response


def _truthy(v) -> bool:
    return str(v).lower() in ("1", "true", "yes", "on")


class UI:
    def __init__(self, registry: Registry):
        self.registry = registry
        s = registry.settings
        secure = _truthy(os.environ.get("BOUCLIER_UI_SECURE_COOKIE", s.extra.get("ui_secure_cookie", False)))
        self.sessions = SessionStore(registry.db, load_secret_key(s), secure=secure)
        ip_failures = os.environ.get("BOUCLIER_UI_IP_FAILURES") or s.extra.get("ui_ip_failures") or IP_FAILURES
        self.auth = Authenticator(registry.db, int(ip_failures))
        self.env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(),
                               trim_blocks=True, lstrip_blocks=True)
        # 42 % in French, 42% in English (the page's language)
        self.env.filters["pct"] = pass_context(lambda ctx, x: cases_i18n.pct(x, ctx.get("lang", "en")))
        self.env.filters["when"] = lambda s: (s or "")[:16].replace("T", " ")
        self.exports: dict[str, dict] = {}  # download token -> {path, case_id, user}
        self._cases = None

    @property
    def cases(self):
        """Engineer A's case store on the app's registry (made on first use)."""
        if self._cases is None:
            from ..cases.store import Cases

            self._cases = Cases(self.registry)
        return self._cases

    @property
    def export_dir(self) -> Path:
        return Path(self.registry.settings.data_dir) / "ui-exports"

    # -- rendering --

    def render(self, request: Request, sess: Sess | None, template: str, status: int = 200, **ctx) -> HTMLResponse:
        lang = sess.user.lang if sess else (request.query_params.get("lang") or
                                            pick_lang(request.headers.get("accept-language")))
        lang = lang if lang in ("en", "fr") else "en"
        html = self.env.get_template(template).render(
            t=partial(t, lang), tx=partial(tx, lang), lang=lang, sess=sess, user=sess.user if sess else None,
            csrf=sess.csrf if sess else "", path=request.url.path, version=__version__,
            channels=lambda js: cases_i18n.channels(list(js or []), lang),
            legal_bases=lambda c: law.bases(c["kind"], c["jurisdictions"], lang),
            disclaimer=law.DISCLAIMER[lang], **ctx)
        return HTMLResponse(html, status, headers=dict(NO_STORE))

    def error(self, request: Request, sess: Sess | None, status: int, key: str, detail: str = "") -> HTMLResponse:
        return self.render(request, sess, "error.html", status, message_key=key, detail=detail, code=status)

    # -- guards --

    def session(self, request: Request) -> Sess:
        sess = self.sessions.load(request.cookies.get(COOKIE))
        if sess is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            nxt = quote(target if request.method == "GET" else "/ui/", safe="/")
            raise UIExit(RedirectResponse(f"/ui/login?next={nxt}", 303, headers=dict(NO_STORE)))
        return sess

    def require(self, request: Request, *roles: str) -> Sess:
        """The signed-in user, who must have one of `roles` (admin has every role)."""
        sess = self.session(request)
        if sess.user.role != "admin" and sess.user.role not in roles:
            raise UIExit(self.error(request, sess, 403, "error.403"))
        return sess

    def check_csrf(self, request: Request, sess: Sess, token: str | None) -> None:
        if not self.sessions.csrf_ok(sess, token):
            raise UIExit(self.error(request, sess, 403, "error.csrf"))


def get_ui(request: Request) -> UI:
    return request.app.state.ui


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def mount_ui(app: FastAPI) -> None:
    """Add the UI under /ui to the service app (uses app.state.registry), and / -> /ui/."""
    from .pages_admin import router as admin_router
    from .pages_auth import router as auth_router
    from .pages_cases import router as cases_router
    from .pages_review import router as review_router

    app.state.ui = UI(app.state.registry)

    async def _exit(_req, e: UIExit):
        return e.response

    app.add_exception_handler(UIExit, _exit)
    _html_errors_under_ui(app)
    for r in (auth_router, cases_router, review_router, admin_router):
        app.include_router(r, prefix="/ui", include_in_schema=False)

    @app.get("/", include_in_schema=False)
    def _root():
        return RedirectResponse("/ui/", 303)


def _html_errors_under_ui(app: FastAPI) -> None:
    """Under /ui, malformed values (a non-numeric id, a bad form field), unknown paths and unexpected
    errors get an HTML page in the user's language; elsewhere the API's JSON handlers answer as before."""
    from fastapi.exceptions import RequestValidationError
    from sqlalchemy.exc import OperationalError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    def wrap(exc_class, page):
        api_handler = app.exception_handlers.get(exc_class)

        async def handler(request: Request, e):
            if request.url.path.startswith("/ui") and request.url.path != "/ui/static/ui.css":
                return page(request, e)
            return await api_handler(request, e)

        if api_handler is not None:
            app.add_exception_handler(exc_class, handler)

    def session_or_none(request: Request) -> Sess | None:
        ui = get_ui(request)
        try:
            return ui.sessions.load(request.cookies.get(COOKIE))
        except Exception:  # noqa: BLE001 - a broken cookie is simply no session
            return None

    def invalid(request: Request, e: RequestValidationError):
        sess = session_or_none(request)
        if sess is None:
            try:
                get_ui(request).session(request)  # raises: the login redirect
            except UIExit as x:
                return x.response
        fields = sorted({next((str(x) for x in err.get("loc", ())[1:] if isinstance(x, str)), "?")
                         for err in e.errors()})  # ("body", "items", 0) -> items
        return get_ui(request).error(request, sess, 400, "error.invalid", detail=", ".join(fields))

    def http_error(request: Request, e: StarletteHTTPException):
        code = e.status_code if 400 <= e.status_code < 600 else 400
        key = {404: "error.404", 405: "error.405"}.get(code, "error.title")
        return get_ui(request).error(request, session_or_none(request), code, key)

    def unexpected(request: Request, e: Exception):
        import logging

        logging.getLogger("bouclier.web").exception("unexpected error under /ui")
        return get_ui(request).error(request, session_or_none(request), 500, "error.500")

    def unavailable(request: Request, _e: OperationalError):
        r = get_ui(request).error(request, None, 503, "error.503")
        r.headers["Retry-After"] = "1"
        return r

    wrap(RequestValidationError, invalid)
    wrap(StarletteHTTPException, http_error)
    wrap(OperationalError, unavailable)
    wrap(Exception, unexpected)
