"""HTTP routes /v1/cases... (scope `cases`), included by bouclier.service.app.create_app:

    app.include_router(cases_router(reg, require))

Errors are the service's JSON errors; the actor in the timeline and audit log is the API key's client.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from ..service.errors import not_found, too_large
from .sor import SCHEMA
from .store import Cases, cases_for

CaseId = Annotated[str, Path(max_length=16, description="A case id such as C-7Q2K9M4X.")]
ItemId = Annotated[int, Path(ge=1, le=2**62)]


class CaseIn(BaseModel):
    pseudonym: str = Field(min_length=1, max_length=120, description="Never a legal name unless the person wants it.")
    kind: str = Field(description="non-consensual-authentic | manipulated-synthetic")
    jurisdictions: list[str] = Field(min_length=1, max_length=4, description="Among FR, UK, US, EU.")
    contact: str | None = Field(None, max_length=300)
    under_18: bool = False
    note: str = Field("", max_length=4000)


class CasePatch(BaseModel):
    status: str = Field(pattern="^(open|closed)$")


class LinkIn(BaseModel):
    protection_case_id: str = Field(min_length=1, max_length=40)


class DecisionIn(BaseModel):
    decision: str = Field(pattern="^(confirmed|rejected)$")
    reason: str = Field(min_length=1, max_length=2000)


class NoticeIn(BaseModel):
    kind: str
    lang: str = Field(pattern="^(fr|en)$")
    platform: str = Field(min_length=1, max_length=120)
    item_ids: list[int] | None = None
    signer: str | None = Field(None, max_length=300)
    contact: str | None = Field(None, max_length=300)


class CustodyIn(BaseModel):
    action: str = Field(min_length=1, max_length=40)
    artefact: str = Field(min_length=1, max_length=200)
    details: dict | None = None


class CloseIn(BaseModel):
    note: str = Field("", max_length=2000)


def cases_router(reg, require) -> APIRouter:
    """`require(scope)` is the service's auth dependency factory."""
    r = APIRouter(prefix="/v1/cases", tags=["cases"])
    Client = Annotated[object, Depends(require("cases"))]  # (no `from __future__ import annotations` here)

    def cs() -> Cases:
        return cases_for(reg)

    def own_item(case_id: str, item_id: int) -> dict:
        it = cs().get_item(item_id)
        if it["case_id"] != case_id:
            raise not_found(f"no item {item_id} in case {case_id}", "no_such_item")
        return it

    @r.post("", status_code=201)
    def create_case(client: Client, body: CaseIn) -> dict:
        """Open a case. Under-18 cases are flagged and routed to child protection."""
        return cs().create_case(client.actor, **body.model_dump())

    @r.get("")
    def list_cases(_: Client, status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None) -> list[dict]:
        return cs().list_cases(status)

    @r.get("/review-queue")
    def review_queue(_: Client) -> list[dict]:
        """Positive, undecided matches of adult cases, oldest first."""
        return cs().review_queue()

    @r.get("/due")
    def due(_: Client, now: Annotated[datetime | None, Query(description="Default: the present (UTC).")] = None,
            include_done: bool = False) -> list[dict]:
        """Deadlines, most urgent first: overdue, warning, pending."""
        return cs().due(now, include_done)

    @r.post("/deadlines/{deadline_id}/close")
    def close_deadline(client: Client, deadline_id: Annotated[int, Path(ge=1, le=2**62)],
                       body: CloseIn | None = None) -> dict:
        return cs().close_deadline(client.actor, deadline_id, body.note if body else "")

    @r.get("/{case_id}")
    def get_case(_: Client, case_id: CaseId) -> dict:
        return cs().get_case(case_id)

    @r.patch("/{case_id}")
    def patch_case(client: Client, case_id: CaseId, body: CasePatch) -> dict:
        return cs().set_status(client.actor, case_id, body.status)

    @r.post("/{case_id}/protections", status_code=201)
    def link(client: Client, case_id: CaseId, body: LinkIn) -> dict:
        return cs().link_protection(client.actor, case_id, body.protection_case_id)

    @r.post("/{case_id}/items", status_code=201)
    def add_item(client: Client, case_id: CaseId,
                 file: Annotated[UploadFile | None, File(description="A suspect image; fingerprinted in memory.")] = None,
                 url: Annotated[str | None, Form(max_length=2000)] = None,
                 captured_at: Annotated[str | None, Form(max_length=40)] = None,
                 keep_media: Annotated[bool, Form(description="Keep the suspect encrypted for review.")] = False):
        data = None
        if file is not None:
            cap = reg.settings.max_image_bytes
            data = file.file.read(cap + 1)
            if len(data) > cap:
                raise too_large(f"the image exceeds {cap} bytes", "file_too_large")
        return cs().add_item(client.actor, case_id, url=url, image=data, filename=file.filename if file else None,
                             captured_at=captured_at, keep_media=keep_media)

    @r.get("/{case_id}/items/{item_id}")
    def get_item(_: Client, case_id: CaseId, item_id: ItemId) -> dict:
        return own_item(case_id, item_id)

    @r.delete("/{case_id}/items/{item_id}", status_code=204)
    def delete_item(client: Client, case_id: CaseId, item_id: ItemId,
                    reason: Annotated[str, Query(min_length=1, max_length=2000)]):
        own_item(case_id, item_id)
        cs().delete_item(client.actor, item_id, reason)
        return Response(status_code=204)

    @r.get("/{case_id}/items/{item_id}/report", response_class=Response)
    def item_report(client: Client, case_id: CaseId, item_id: ItemId):
        """The `check` report (suspect blurred). Recorded as `viewed` in the custody log."""
        own_item(case_id, item_id)
        html = cs().item_report(item_id)
        if html is None:
            raise not_found("this item has no report (no image was uploaded)", "no_report")
        cs().record_custody(client.actor, case_id, "viewed", f"item:{item_id}:report")
        return Response(html, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"})

    @r.get("/{case_id}/items/{item_id}/edit-map", response_class=Response)
    def edit_map(_: Client, case_id: CaseId, item_id: ItemId):
        own_item(case_id, item_id)
        png = cs().item_edit_map(item_id)
        if png is None:
            raise not_found("this item has no edit map", "no_edit_map")
        return Response(png, media_type="image/png")

    @r.get("/{case_id}/items/{item_id}/media", response_class=Response)
    def media(client: Client, case_id: CaseId, item_id: ItemId,
              purpose: Annotated[str, Query(min_length=1, max_length=64, description="Why: review, export, ...")]):
        """The kept suspect, decrypted. Every access is in the custody log."""
        own_item(case_id, item_id)
        return Response(cs().item_media(client.actor, item_id, purpose), media_type="application/octet-stream",
                        headers={"Cache-Control": "no-store"})

    @r.post("/{case_id}/items/{item_id}/decision")
    def decide(client: Client, case_id: CaseId, item_id: ItemId, body: DecisionIn) -> dict:
        own_item(case_id, item_id)
        return cs().decide(client.actor, item_id, body.decision, body.reason)

    @r.post("/{case_id}/notices", status_code=201)
    def notice(client: Client, case_id: CaseId, body: NoticeIn) -> dict:
        """Generate a notice; it opens its deadlines (TAKE IT DOWN 48 h, DSA, GDPR one month)."""
        return cs().generate_notice(client.actor, case_id, **body.model_dump())

    @r.get("/{case_id}/custody")
    def custody(_: Client, case_id: CaseId) -> list[dict]:
        return cs().custody_log(case_id)

    @r.post("/{case_id}/custody", status_code=201)
    def add_custody(client: Client, case_id: CaseId, body: CustodyIn):
        cs().record_custody(client.actor, case_id, body.action, body.artefact, body.details)
        return JSONResponse({"recorded": True}, 201)

    @r.get("/{case_id}/statements-of-reasons")
    def sor(_: Client, case_id: CaseId) -> dict:
        """DSA art. 17 statements for confirmed items (Transparency Database format; no names)."""
        return {"schema": SCHEMA, "statements": cs().statements_of_reasons(case_id)}

    return r

