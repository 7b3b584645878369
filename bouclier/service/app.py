"""The FastAPI application of `bouclier serve`: routes, auth, limits, errors. See docs/api.md."""


import json
import math
import logging
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, File, Header, Path, Query, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from . import audit, engine, exchange
from .auth import ClientInfo, authenticate
from .errors import ApiError, bad_request, too_large
from .metrics import Metrics
from .ratelimit import RateLimiter
from .settings import Settings
from .store import Registry

log = logging.getLogger("bouclier.service")
ERROR_RESPONSES = {s: {"description": d, "content": {"application/json": {"example": {
    "error": {"code": c, "message": "...", "status": s}}}}} for s, c, d in (
    (400, "bad_request", "Malformed input"), (401, "unauthorized", "Missing or invalid API key"),
    (403, "forbidden", "The key lacks the scope"), (413, "too_large", "Request or image too large"),
    (422, "invalid_request", "Invalid parameters or undecodable image"), (429, "rate_limited", "Slow down"))}


class SubmitOut(BaseModel):
    case_id: str
    secret: str = Field(description="Keep it: needed, with the case id, to withdraw.")
    bank: str
    fingerprints: int
    status: str
    replayed: bool
    too_plain: list[int] = Field(description="Bundle positions of photos too plain to match (PDQ quality under "
                                 "the bank's pdq_min_quality, almost no keypoints): only their exact bytes can be found.")


class WithdrawOut(BaseModel):
    case_id: str
    status: str
    removed: int


class BankIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    enabled: bool = True
    thresholds: dict[str, float] | None = None


class BankPatch(BaseModel):
    enabled: bool | None = None
    thresholds: dict[str, float] | None = None
    reset_thresholds: bool = False


# -- raw ASGI middlewares -------------------------------------------------------------------------

async def _send_json(send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close"), *(headers or [])]})
    await send({"type": "http.response.body", "body": data})


class BodyLimit:
    """Buffers the request body up to `max_bytes`; more gets a 413 JSON error before any parsing."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        err = ApiError(413, "request_too_large", f"the request body exceeds {self.max_bytes} bytes")
        length = dict(scope.get("headers") or []).get(b"content-length")
        declared = int(length) if length and length.isdigit() else None
        chunks, size, over = [], 0, declared is not None and declared > self.max_bytes
        while True:  # read everything (discarding past the limit) so the client can read our answer
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body = msg.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                over, chunks = True, []
            elif not over:
                chunks.append(body)
            if not msg.get("more_body"):
                break
            if size > 4 * self.max_bytes + (1 << 20):  # stop draining absurd bodies
                break
        if over:
            return await _send_json(send, 413, err.body())
        body, done = b"".join(chunks), False

        async def replay():
            nonlocal done
            if not done:
                done = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class CountRequests:
    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        status = [500]

        async def send_wrapper(msg):
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.request(scope.get("method", ""), route, status[0])


# -- the application ------------------------------------------------------------------------------

def create_app(settings: Settings, registry: Registry | None = None) -> FastAPI:
    reg = registry or Registry(settings)
    metrics = Metrics()
    limiter = RateLimiter(settings.rate_per_minute, settings.rate_burst)
    limits = engine.Limits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
    stop = threading.Event()

    def purge_loop() -> None:
        while not stop.wait(3600):
            try:
                reg.purge_tombstones()
            except Exception:  # keep serving; the next hour retries
                log.exception("tombstone purge failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        reg.start()  # migrations, default bank, index rebuilt from the store
        t = threading.Thread(target=purge_loop, name="bouclier-purge", daemon=True)
        t.start()
        yield
        stop.set()
        reg.db.dispose()

    app = FastAPI(title="bouclier registry", version=__version__, lifespan=lifespan,
                  description="Protect photos, match uploads, withdraw at any time. See docs/api.md.",
                  responses={k: v for k, v in ERROR_RESPONSES.items() if k in (401, 403, 429)})
    app.state.registry, app.state.metrics, app.state.settings = reg, metrics, settings
    bearer = HTTPBearer(auto_error=False, description="An API key from `bouclier keys create`.")

    # -- errors: always JSON {"error": {code, message, status}} --

    @app.exception_handler(ApiError)
    async def _api_error(_req, e: ApiError):
        return JSONResponse(e.body(), e.status, headers=e.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_req, e: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return JSONResponse(ApiError(e.status_code, code, str(e.detail)).body(), e.status_code,
                            headers=getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req, e: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(x) for x in err.get('loc', ()))}: {err.get('msg')}" for err in e.errors())
        return JSONResponse(ApiError(422, "invalid_request", problems or "invalid request").body(), 422)

    @app.exception_handler(OperationalError)
    async def _db_unavailable(_req, e: OperationalError):
        log.warning("database unavailable: %s", e)
        return JSONResponse(ApiError(503, "unavailable", "the registry database is busy or unreachable; retry").body(),
                            503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(_req, e: Exception):
        log.exception("unexpected error")
        return JSONResponse(ApiError(500, "internal_error", "internal error; see the server log").body(), 500)

    # -- auth: Bearer key, scope, per-key rate limit --

    def require(scope: str):
        def dep(cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> ClientInfo:
            client = authenticate(reg.db, cred.credentials) if cred else None
            if client is None:
                raise ApiError(401, "unauthorized", "a valid API key is required (Authorization: Bearer KEY)",
                               {"WWW-Authenticate": "Bearer"})
            if scope not in client.scopes:
                raise ApiError(403, "forbidden", f"this key lacks the {scope!r} scope")
            wait = limiter.check(client.id, client.rate_per_minute)
            if wait > 0:
                metrics.limited()
                retry = max(1, math.ceil(wait))
                raise ApiError(429, "rate_limited", f"rate limit exceeded for this key; retry in {retry} s",
                               {"Retry-After": str(retry)})
            return client
        return dep

    def read_upload(f: UploadFile, cap: int, what: str) -> bytes:
        data = f.file.read(cap + 1)
        if len(data) > cap:
            raise too_large(f"{what} {f.filename or ''} exceeds {cap} bytes".replace("  ", " "), "file_too_large")
        return data

    def match_one(client: ClientInfo, file: UploadFile | None, query: UploadFile | None, bank: str | None) -> dict:
        t0 = time.perf_counter()
        if (file is None) == (query is None):
            raise bad_request("send exactly one of: `file` (an image) or `query` (a query fingerprint)", "need_one_input")
        try:
            if file is not None:
                q = engine.compute_query(read_upload(file, settings.max_image_bytes, "image"),
                                         file.filename or "upload", limits)
            else:
                q = engine.parse_query(read_upload(query, settings.max_image_bytes, "query"))
        except engine.FormatError as e:
            raise bad_request(f"invalid query fingerprint: {e}", "invalid_query") from None
        except engine.ImageError as e:
            raise ApiError(422, "invalid_image", str(e)) from None
        out = reg.match(client, q, bank)
        metrics.match(out["verdict"], time.perf_counter() - t0)
        return out

    Bank = Annotated[str | None, Query(description="Restrict to one bank (default: every enabled bank).",
                                       max_length=64)]

    # -- routes --

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict:
        """Liveness without a key. Says nothing about who or what is protected."""
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse, responses=ERROR_RESPONSES)
    def get_metrics(_: Annotated[ClientInfo, Depends(require("admin"))]):
        return PlainTextResponse(metrics.render(reg.index.sizes(), reg.counts()),
                                 media_type="text/plain; version=0.0.4")

    @app.post("/v1/protections", tags=["protections"], response_model=SubmitOut, status_code=201,
              responses={200: {"description": "Idempotent replay of an earlier submission", "model": SubmitOut},
                         **ERROR_RESPONSES, 409: {"description": "Idempotency-Key reused for another request"}})
    def submit(client: Annotated[ClientInfo, Depends(require("submit"))],
               bundle: Annotated[UploadFile, File(description="A bundle file made by `bouclier protect`.")],
               bank: Annotated[str | None, Query(max_length=64)] = None,
               idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None):
        """Protect the photos of a bundle. Returns the case id and secret needed to withdraw."""
        data = read_upload(bundle, settings.max_request_bytes, "bundle")
        r = reg.submit(client, bank or settings.default_bank, data, idempotency_key)
        return JSONResponse(SubmitOut(**r.__dict__).model_dump(), 200 if r.replayed else 201,
                            headers={"Idempotent-Replayed": "true"} if r.replayed else None)

    @app.delete("/v1/protections/{case_id}", tags=["protections"], response_model=WithdrawOut,
                responses={**ERROR_RESPONSES, 404: {"description": "No such case, or wrong secret"}})
    def withdraw(client: Annotated[ClientInfo, Depends(require("submit"))],
                 case_id: Annotated[str, Path(max_length=64)],
                 x_case_secret: Annotated[str, Header(alias="X-Case-Secret", max_length=200)]):
        """Withdraw a protection: its fingerprints leave the index and the store before this answers."""
        n = reg.withdraw(client, case_id, x_case_secret)
        return WithdrawOut(case_id=case_id, status="withdrawn", removed=n)

    @app.post("/v1/match", tags=["match"], responses=ERROR_RESPONSES)
    def match(client: Annotated[ClientInfo, Depends(require("match"))],
              file: Annotated[UploadFile | None, File(description="An image; fingerprinted in memory, never stored.")] = None,
              query: Annotated[UploadFile | None, File(description="A query fingerprint (bouclier Query bytes).")] = None,
              bank: Bank = None) -> dict:
        """Is this image (or query fingerprint) a copy or a manipulated derivative of a protected photo?"""
        return match_one(client, file, query, bank)

    @app.post("/v1/match/batch", tags=["match"], responses=ERROR_RESPONSES)
    def match_batch(client: Annotated[ClientInfo, Depends(require("match"))],
                    files: Annotated[list[UploadFile] | None, File()] = None,
                    queries: Annotated[list[UploadFile] | None, File()] = None,
                    bank: Bank = None) -> dict:
        """Many images and/or query fingerprints; a bad item gets its own error and the batch goes on."""
        items = [("file", f) for f in files or []] + [("query", q) for q in queries or []]
        if not items:
            raise bad_request("send one or more `files` and/or `queries` parts", "empty_batch")
        if len(items) > settings.max_batch:
            raise too_large(f"at most {settings.max_batch} items per batch", "batch_too_large")
        results = []
        for i, (kind, up) in enumerate(items):
            try:
                r = match_one(client, up if kind == "file" else None, up if kind == "query" else None, bank)
            except ApiError as e:
                if e.status == 404:  # unknown bank: the whole batch is wrong
                    raise
                r = e.body()
            results.append({"index": i, "kind": kind, "file": up.filename, **r})
        return {"results": results}

    @app.get("/v1/banks", tags=["banks"], responses=ERROR_RESPONSES)
    def list_banks(_: Annotated[ClientInfo, Depends(require("admin"))]) -> list[dict]:
        return reg.list_banks()

    @app.post("/v1/banks", tags=["banks"], status_code=201, responses={**ERROR_RESPONSES, 409: {"description": "Exists"}})
    def create_bank(client: Annotated[ClientInfo, Depends(require("admin"))], body: BankIn) -> dict:
        return reg.create_bank(body.name, body.enabled, body.thresholds, client.actor)

    @app.patch("/v1/banks/{name}", tags=["banks"], responses={**ERROR_RESPONSES, 404: {"description": "No such bank"}})
    def update_bank(client: Annotated[ClientInfo, Depends(require("admin"))],
                    name: Annotated[str, Path(max_length=64)], body: BankPatch) -> dict:
        return reg.update_bank(name, body.enabled, body.thresholds, body.reset_thresholds, client.actor)

    @app.get("/v1/exchange/banks", tags=["exchange"], responses=ERROR_RESPONSES)
    def exchange_banks(_: Annotated[ClientInfo, Depends(require("export"))]) -> list[str]:
        return [b["name"] for b in reg.list_banks()]

    @app.get("/v1/exchange/banks/{bank}/pdq", tags=["exchange"],
             responses={**ERROR_RESPONSES, 404: {"description": "No such bank"}, 410: {"description": "Cursor expired"}})
    def export_pdq(_: Annotated[ClientInfo, Depends(require("export"))],
                   bank: Annotated[str, Path(max_length=64)],
                   since: Annotated[int, Query(ge=0, le=2**62, description="Cursor from the previous page; 0 = snapshot.")] = 0,
                   limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
                   format: Annotated[str, Query(pattern="^(json|stopncii|threatexchange)$")] = "json"):
        """PDQ hashes of a bank, with delta sync: adds and withdrawal tombstones after `since`."""
        page = reg.export(bank, since, limit)
        if format == "stopncii":
            return exchange.render_stopncii(page)
        if format == "threatexchange":
            return PlainTextResponse(exchange.render_threatexchange(page), headers={
                "X-Bouclier-Cursor": str(page["cursor"]), "X-Bouclier-Has-More": str(page["has_more"]).lower()})
        return page

    @app.post("/v1/exchange/banks/{bank}/import", tags=["exchange"],
              responses={**ERROR_RESPONSES, 404: {"description": "No such bank"}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "text/plain": {"schema": {"type": "string"}},
                  "application/json": {"schema": {}}}}})
    async def import_pdq(request: Request, client: Annotated[ClientInfo, Depends(require("admin"))],
                         bank: Annotated[str, Path(max_length=64)],
                         format: Annotated[str, Query(pattern="^(threatexchange|hma|stopncii)$")]):
        """Import a PDQ list (python-threatexchange file, HMA signal JSON, or StopNCII hash records)."""
        body = await request.body()

        def work() -> dict:  # parsing a long list is CPU work: off the event loop
            records, skipped = exchange.parse_import(format, body, settings.max_import_records)
            return {**reg.import_pdq(client, bank, format, records), "skipped": skipped}

        return {"bank": bank, "format": format, **await run_in_threadpool(work)}

    @app.get("/v1/audit/verify", tags=["ops"], responses=ERROR_RESPONSES)
    def audit_verify(_: Annotated[ClientInfo, Depends(require("admin"))]) -> dict:
        with reg.db.read() as s:
            return audit.verify(s).to_dict()

    from ..web.ui import mount_ui  # the web UI under /ui (docs/web.md); / redirects there

    mount_ui(app)
    from ..cases.api import cases_router  # /v1/cases (docs/cases.md)

    app.include_router(cases_router(reg, require))
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    app.add_middleware(CountRequests, metrics=metrics)
    return app
