"""The cases domain on top of the registry: every state change is one `registry.db.tx()` transaction with
its timeline event and its audit entry. Errors are `ApiError`s (the API answers them as JSON, the CLI
as one line). The audit log never receives the person's pseudonym or contact, and gets URLs and free text
only as SHA-256 (it cannot be erased; the timeline can).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import weakref
from datetime import datetime, timezone

from sqlalchemy import func, select

from .. import __version__
from ..service import audit, engine
from ..service.errors import ApiError, bad_request, conflict, not_found
from ..service.models import Protection
from . import deadlines as dl
from . import law
from .i18n import with_params
from .media import MediaError, MediaStore
from .models import Case, CaseDeadline, CaseEvent, CaseItem, CaseNotice, CaseProtection, Person

ID_CHARS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
POSITIVE = ("identical", "near-duplicate", "manipulated-derivative")
DECISIONS = ("confirmed", "rejected")
CUSTODY_ACTIONS = ("viewed", "revealed", "exported", "downloaded", "printed", "shared")
_PRIVATE = ("url", "reason", "note", "platform")  # hashed in the audit log (kept in clear in the timeline)
_PURPOSE_ACTION = {"reveal": "revealed", "review": "revealed", "view": "viewed", "export": "exported",
                   "download": "downloaded"}


def _iso(t: datetime | None) -> str:
    t = t or datetime.now(timezone.utc)
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat(
        timespec="microseconds")


def _text(value, name: str, max_len: int, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise bad_request(f"{name} is required", f"missing_{name}")
        return None
    if not isinstance(value, str) or len(value) > max_len or not value.replace("\n", " ").isprintable():
        raise with_params(bad_request(f"{name} must be printable text of at most {max_len} characters",
                                      f"bad_{name}"), max_len=max_len)
    return value.strip()


def _url(value: str | None) -> str | None:
    u = _text(value, "url", 2000, required=False)
    if u is not None and (not u.lower().startswith(("http://", "https://")) or any(c.isspace() for c in u)):
        raise bad_request("url must be an http(s) address without spaces", "bad_url")
    return u


def _row(s, model, row_id):
    """The row with this integer id, None when there is none or the id is not an integer."""
    try:
        return s.get(model, int(row_id))
    except (TypeError, ValueError, OverflowError):
        return None


_INSTANCES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def cases_for(registry) -> "Cases":
    """The one `Cases` of a registry (the API and the web UI share it)."""
    c = _INSTANCES.get(registry)
    if c is None:
        c = _INSTANCES[registry] = Cases(registry)
    return c


class Cases:
    def __init__(self, registry):
        self.reg = registry
        self.db = registry.db
        self.settings = registry.settings
        self.media = MediaStore(registry.settings)
        self.limits = engine.Limits(max_bytes=registry.settings.max_image_bytes,
                                    max_pixels=registry.settings.max_image_pixels)

    # -- helpers -----------------------------------------------------------------------------------

    def _case(self, s, case_id: str) -> Case:
        c = s.execute(select(Case).where(Case.public_id == str(case_id))).scalar_one_or_none() \
            if isinstance(case_id, str) else None
        if c is None:
            raise not_found(f"no case {case_id!r}", "no_such_case")
        return c

    def _item(self, s, item_id) -> tuple[CaseItem, Case]:
        item = _row(s, CaseItem, item_id)
        if item is None:
            raise not_found(f"no item {item_id!r}", "no_such_item")
        return item, s.get(Case, item.case_id)

    @staticmethod
    def _linked(s, case: Case) -> set[str]:
        return set(s.execute(select(CaseProtection.protection_case_id)
                             .where(CaseProtection.case_id == case.id)).scalars())

    @staticmethod
    def _event(s, case: Case, actor: str, action: str, artefact: str = "", details: dict | None = None,
               custody: bool = False, ts: str | None = None) -> None:
        """Timeline event and audit entry, in the caller's transaction."""
        det = details or {}
        s.add(CaseEvent(case_id=case.id, ts=ts or audit.now(), actor=actor, action=action, artefact=artefact,
                        details=audit.canonical(det), custody=custody))
        case.updated_at = audit.now()
        # The audit log cannot be erased: free text and URLs (which may name the person) go there hashed.
        hidden = {f"{k}_sha256" if k in _PRIVATE and isinstance(v, str) else k:
                  hashlib.sha256(v.encode()).hexdigest() if k in _PRIVATE and isinstance(v, str) else v
                  for k, v in det.items()}
        audit.append(s, actor, ("custody." if custody else "case.") + action, f"case:{case.public_id}",
                     {"artefact": artefact, **hidden})

    def _case_dict(self, c: Case, p: Person) -> dict:
        j = json.loads(c.jurisdictions)
        return {"id": c.public_id, "kind": c.kind, "jurisdictions": j, "status": c.status, "route": c.route,
                "under_18": p.under_18, "pseudonym": p.pseudonym, "contact": p.contact, "note": c.note,
                "child_protection": law.child_protection_channels(j) if p.under_18 else None,
                "legal_bases": law.bases(c.kind, j), "created_by": c.created_by, "created_at": c.created_at,
                "updated_at": c.updated_at}

    @staticmethod
    def _item_dict(i: CaseItem, case: Case, linked: set[str] | None = None) -> dict:
        algo = json.loads(i.algorithm or "{}")
        protected = None
        if i.protected_case_id is not None or i.fingerprint_uid is not None:
            protected = {"case_id": i.protected_case_id, "bank": i.bank, "photo": i.photo, "id": i.fingerprint_uid,
                         "linked": i.protected_case_id in (linked or set())}
        return {"id": i.id, "case_id": case.public_id, "url": i.url, "filename": i.filename,
                "captured_at": i.captured_at, "sha256": i.sha256, "size": i.size, "verdict": i.verdict,
                "protected": protected, "bank": i.bank, "edited_fraction": i.edited_fraction,
                "scores": json.loads(i.scores or "{}"), "thresholds": json.loads(i.thresholds or "{}"),
                "algorithm": algo.get("name"), "version": algo.get("version"), "has_media": i.media is not None,
                "has_edit_map": i.edit_map_png is not None, "has_report": i.report_html is not None,
                "decision": i.decision, "decision_reason": i.decision_reason, "decided_by": i.decided_by,
                "decided_at": i.decided_at, "created_at": i.created_at}

    @staticmethod
    def _event_dict(e: CaseEvent) -> dict:
        return {"ts": e.ts, "actor": e.actor, "action": e.action, "artefact": e.artefact,
                "details": json.loads(e.details or "{}"), "custody": e.custody}

    @staticmethod
    def _notice_dict(n: CaseNotice, case: Case) -> dict:
        return {"id": n.id, "case_id": case.public_id, "kind": n.kind, "lang": n.lang, "platform": n.platform,
                "item_ids": json.loads(n.item_ids), "text": n.text, "sha256": n.sha256, "created_by": n.created_by,
                "created_at": n.created_at}

    @staticmethod
    def _deadline_dict(d: CaseDeadline, case: Case, now: datetime) -> dict:
        st = dl.status(d.due_at, d.warn_at, d.closed_at, now)
        return {"id": d.id, "case_id": case.public_id, "kind": d.kind, "label": d.label, "notice_id": d.notice_id,
                "starts_at": d.starts_at, "warn_at": d.warn_at, "due_at": d.due_at, "closed_at": d.closed_at,
                "closed_by": d.closed_by, "status": st,
                "remaining_s": round((dl.parse(d.due_at) - now).total_seconds())}

    # -- cases -------------------------------------------------------------------------------------

    def create_case(self, actor: str, *, pseudonym: str, kind: str, jurisdictions: list[str],
                    contact: str | None = None, under_18: bool = False, note: str = "") -> dict:
        pseudonym = _text(pseudonym, "pseudonym", 120)
        contact = _text(contact, "contact", 300, required=False)
        note = _text(note, "note", 4000, required=False) or ""
        if kind not in law.KINDS:
            raise bad_request(f"kind must be one of: {', '.join(law.KINDS)}", "bad_kind")
        js = [str(j).upper() for j in (jurisdictions or [])]
        if not js or not set(js) <= set(law.JURISDICTIONS):
            raise bad_request(f"jurisdictions must be among {', '.join(law.JURISDICTIONS)}", "bad_jurisdictions")
        js = sorted(set(js), key=law.JURISDICTIONS.index)
        route = "child-protection" if under_18 else "standard"
        with self.db.tx() as s:
            while True:
                pid = "C-" + "".join(secrets.choice(ID_CHARS) for _ in range(8))
                if not s.execute(select(Case.id).where(Case.public_id == pid)).first():
                    break
            ts = audit.now()
            p = Person(pseudonym=pseudonym, contact=contact, under_18=bool(under_18), created_at=ts)
            s.add(p)
            s.flush()
            c = Case(public_id=pid, person_id=p.id, kind=kind, jurisdictions=json.dumps(js), status="open",
                     route=route, note=note, created_by=actor, created_at=ts, updated_at=ts)
            s.add(c)
            s.flush()
            self._event(s, c, actor, "create", pid, {"kind": kind, "jurisdictions": js, "route": route,
                                                     "under_18": bool(under_18)})
            if under_18:
                self._event(s, c, actor, "routed", "child-protection",
                            {"channels": law.child_protection_channels(js)})
            return self._case_dict(c, p)

    def get_case(self, case_id: str, now: datetime | None = None) -> dict:
        now = dl.parse(_iso(now))
        with self.db.read() as s:
            c = self._case(s, case_id)
            out = self._case_dict(c, s.get(Person, c.person_id))
            links = s.execute(select(CaseProtection).where(CaseProtection.case_id == c.id)
                              .order_by(CaseProtection.id)).scalars().all()
            linked = {x.protection_case_id for x in links}
            out["protections"] = [{"protection_case_id": x.protection_case_id, "linked_by": x.linked_by,
                                   "linked_at": x.linked_at} for x in links]
            out["items"] = [self._item_dict(i, c, linked) for i in s.execute(
                select(CaseItem).where(CaseItem.case_id == c.id).order_by(CaseItem.id)).scalars()]
            out["events"] = [self._event_dict(e) for e in s.execute(
                select(CaseEvent).where(CaseEvent.case_id == c.id).order_by(CaseEvent.id)).scalars()]
            out["notices"] = [self._notice_dict(n, c) for n in s.execute(
                select(CaseNotice).where(CaseNotice.case_id == c.id).order_by(CaseNotice.id)).scalars()]
            ds = [self._deadline_dict(d, c, now) for d in s.execute(
                select(CaseDeadline).where(CaseDeadline.case_id == c.id)).scalars()]
            out["deadlines"] = dl.most_urgent_first(ds)
            return out

    def list_cases(self, status: str | None = None) -> list[dict]:
        if status is not None and status not in ("open", "closed"):
            raise bad_request("status must be open or closed", "bad_status")
        with self.db.read() as s:
            q = select(Case, Person).join(Person, Person.id == Case.person_id).order_by(Case.id.desc())
            if status:
                q = q.where(Case.status == status)
            counts = dict(s.execute(select(CaseItem.case_id, func.count()).group_by(CaseItem.case_id)).all())
            out = []
            for c, p in s.execute(q):
                d = self._case_dict(c, p)
                d["n_items"] = counts.get(c.id, 0)
                out.append(d)
            return out

    def set_status(self, actor: str, case_id: str, status: str) -> dict:
        if status not in ("open", "closed"):
            raise bad_request("status must be open or closed", "bad_status")
        with self.db.tx() as s:
            c = self._case(s, case_id)
            if c.status != status:
                c.status = status
                self._event(s, c, actor, "close" if status == "closed" else "reopen", c.public_id)
            return self._case_dict(c, s.get(Person, c.person_id))

    def erase_person(self, actor: str, case_id: str) -> dict:
        """Forget who the person is (pseudonym, contact) and their kept media; the case's facts stay."""
        names = []
        with self.db.tx() as s:
            c = self._case(s, case_id)
            p = s.get(Person, c.person_id)
            p.pseudonym, p.contact = "(erased)", None
            for i in s.execute(select(CaseItem).where(CaseItem.case_id == c.id, CaseItem.media.is_not(None))).scalars():
                names.append(i.media)
                i.media = None
            self._event(s, c, actor, "erase_person", c.public_id, {"media_deleted": len(names)})
            out = self._case_dict(c, p)
        for n in names:
            self.media.delete(n)
        return out

    def link_protection(self, actor: str, case_id: str, protection_case_id: str) -> dict:
        pcid = _text(protection_case_id, "protection_case_id", 40)
        with self.db.tx() as s:
            c = self._case(s, case_id)
            p = s.execute(select(Protection).where(Protection.case_id == pcid)).scalar_one_or_none()
            if p is None:
                raise with_params(not_found(f"no protection {pcid!r} in this registry", "no_such_protection"), pcid=pcid)
            old = s.execute(select(CaseProtection).where(CaseProtection.case_id == c.id,
                                                         CaseProtection.protection_case_id == pcid)).scalar_one_or_none()
            if old is None:
                old = CaseProtection(case_id=c.id, protection_case_id=pcid, linked_by=actor, linked_at=audit.now())
                s.add(old)
                self._event(s, c, actor, "link_protection", pcid, {"status": p.status})
            return {"case_id": c.public_id, "protection_case_id": pcid, "status": p.status,
                    "linked_by": old.linked_by, "linked_at": old.linked_at}

    # -- items -------------------------------------------------------------------------------------

    def add_item(self, actor: str, case_id: str, *, url: str | None = None, image: bytes | None = None,
                 filename: str | None = None, captured_at: str | None = None, keep_media: bool = False) -> dict:
        url = _url(url)
        filename = _text(filename, "filename", 255, required=False)
        captured_at = _text(captured_at, "captured_at", 40, required=False)
        if captured_at is not None:
            try:
                captured_at = _iso(datetime.fromisoformat(captured_at.replace("Z", "+00:00")))
            except ValueError:
                raise bad_request("captured_at must be an ISO 8601 date and time", "bad_captured_at") from None
        if url is None and not image:
            raise bad_request("give a url, an image, or both", "need_url_or_image")
        if keep_media and not image:
            raise bad_request("keep_media needs an image", "no_media")
        with self.db.read() as s:
            c = self._case(s, case_id)
            minor, case_pk = s.get(Person, c.person_id).under_18, c.id
        if minor and keep_media:
            raise with_params(ApiError(403, "child_protection_route", "this case concerns a person under 18: suspect "
                                       "media is never kept here; use the child-protection channels: "
                                       + law.child_protection_channels(json.loads(c.jurisdictions))),
                              what="media", jurisdictions=json.loads(c.jurisdictions))
        found: dict = {}
        if image:
            if len(image) > self.settings.max_image_bytes:
                raise with_params(ApiError(413, "file_too_large", f"the image exceeds {self.settings.max_image_bytes} bytes"),
                                  max_bytes=self.settings.max_image_bytes)
            from .analysis import analyse

            try:  # CPU work outside the transaction; no picture of a minor's suspect in the report
                found = analyse(self.reg.index, image, filename or "upload", self.limits, with_picture=not minor)
            except engine.ImageError as e:
                raise ApiError(422, "invalid_image", str(e)) from None
        media = self.media.put(image) if keep_media else None
        try:
            with self.db.tx() as s:
                c = s.get(Case, case_pk)
                item = CaseItem(case_id=c.id, url=url, filename=filename, captured_at=captured_at,
                                sha256=found.get("sha256"), size=found.get("size"), query_fp=found.get("query"),
                                verdict=found.get("verdict"), protected_case_id=found.get("protected_case_id"),
                                bank=found.get("bank"), fingerprint_uid=found.get("fingerprint_uid"),
                                photo=found.get("photo"), edited_fraction=found.get("edited_fraction"),
                                scores=audit.canonical(found.get("scores") or {}),
                                thresholds=audit.canonical(found.get("thresholds") or {}),
                                algorithm=audit.canonical(found.get("algorithm") or {}),
                                edit_map_png=found.get("edit_map_png"), report_html=found.get("report_html"),
                                media=media, created_at=audit.now())
                s.add(item)
                s.flush()
                self._event(s, c, actor, "add_item", f"item:{item.id}",
                            {"url": url, "sha256": item.sha256, "verdict": item.verdict,
                             "protected_case_id": item.protected_case_id, "edited_fraction": item.edited_fraction,
                             "media_kept": media is not None})
                return self._item_dict(item, c, self._linked(s, c))
        except Exception:
            if media:
                self.media.delete(media)
            raise

    def get_item(self, item_id: int) -> dict:
        with self.db.read() as s:
            i, c = self._item(s, item_id)
            return self._item_dict(i, c, self._linked(s, c))

    def item_report(self, item_id: int) -> str | None:
        """The stored `check`-style report (suspect blurred only); callers record custody as they show it."""
        with self.db.read() as s:
            return self._item(s, item_id)[0].report_html

    def item_edit_map(self, item_id: int) -> bytes | None:
        with self.db.read() as s:
            return self._item(s, item_id)[0].edit_map_png

    def item_media(self, actor: str, item_id: int, purpose: str) -> bytes:
        """The suspect as uploaded (decrypted). Records a custody event first: no bytes without a log line."""
        purpose = _text(purpose, "purpose", 64)
        with self.db.read() as s:
            i, _ = self._item(s, item_id)
            name, sha = i.media, i.sha256
        if name is None:
            raise not_found("no media is kept for this item", "no_media")
        try:
            data = self.media.get(name)
        except MediaError as e:
            raise ApiError(500, "media_unreadable", str(e)) from None
        action = purpose if purpose in CUSTODY_ACTIONS else _PURPOSE_ACTION.get(
            purpose, "exported" if "export" in purpose else "accessed")
        with self.db.tx() as s:
            i, c = self._item(s, item_id)
            self._event(s, c, actor, action, f"item:{i.id}:media", {"purpose": purpose, "sha256": sha}, custody=True)
        return data

    def delete_item(self, actor: str, item_id: int, reason: str) -> None:
        """Remove an item and its kept media (the timeline keeps the fact, with the hash)."""
        reason = _text(reason, "reason", 2000)
        with self.db.tx() as s:
            i, c = self._item(s, item_id)
            name = i.media
            self._event(s, c, actor, "delete_item", f"item:{i.id}", {"sha256": i.sha256, "url": i.url,
                                                                     "reason": reason})
            s.delete(i)
        if name:
            self.media.delete(name)

    def review_queue(self) -> list[dict]:
        """Positive, undecided items of adult cases, oldest first (under-18 items go to child protection)."""
        with self.db.read() as s:
            rows = s.execute(select(CaseItem, Case).join(Case, Case.id == CaseItem.case_id)
                             .join(Person, Person.id == Case.person_id)
                             .where(CaseItem.verdict.in_(POSITIVE), CaseItem.decision.is_(None),
                                    Person.under_18.is_(False))
                             .order_by(CaseItem.id)).all()
            return [self._item_dict(i, c, self._linked(s, c)) for i, c in rows]

    def decide(self, actor: str, item_id: int, decision: str, reason: str) -> dict:
        if decision not in DECISIONS:
            raise bad_request("decision must be confirmed or rejected", "bad_decision")
        reason = _text(reason, "reason", 2000)
        with self.db.tx() as s:
            i, c = self._item(s, item_id)
            if i.verdict is None:
                raise bad_request("this item has no image match to decide on", "nothing_to_decide")
            if i.decision is not None:
                raise conflict(f"item {i.id} was already {i.decision} by {i.decided_by}", "already_decided")
            i.decision, i.decision_reason, i.decided_by, i.decided_at = decision, reason, actor, audit.now()
            self._event(s, c, actor, "decide", f"item:{i.id}", {"decision": decision, "reason": reason,
                                                                "verdict": i.verdict})
            return self._item_dict(i, c, self._linked(s, c))

    # -- custody -----------------------------------------------------------------------------------

    def record_custody(self, actor: str, case_id: str, action: str, artefact: str,
                       details: dict | None = None) -> None:
        action = _text(action, "action", 40)
        if not all(ch.isalnum() or ch in "-_." for ch in action):
            raise bad_request("action: letters, digits, '-', '_' and '.' only", "bad_action")
        artefact = _text(artefact, "artefact", 200)
        if details is not None and not isinstance(details, dict):
            raise bad_request("details must be an object", "bad_details")
        with self.db.tx() as s:
            self._event(s, self._case(s, case_id), actor, action, artefact, details or {}, custody=True)

    def custody_log(self, case_id: str) -> list[dict]:
        with self.db.read() as s:
            c = self._case(s, case_id)
            return [{k: v for k, v in self._event_dict(e).items() if k != "custody"} for e in s.execute(
                select(CaseEvent).where(CaseEvent.case_id == c.id, CaseEvent.custody.is_(True))
                .order_by(CaseEvent.id)).scalars()]

    # -- deadlines ---------------------------------------------------------------------------------

    def due(self, now: datetime | None = None, include_done: bool = False) -> list[dict]:
        """Deadlines across cases, most urgent first: overdue, warning, pending (then done if asked)."""
        now = dl.parse(_iso(now))
        with self.db.read() as s:
            q = select(CaseDeadline, Case).join(Case, Case.id == CaseDeadline.case_id)
            if not include_done:
                q = q.where(CaseDeadline.closed_at.is_(None))
            out = [self._deadline_dict(d, c, now) for d, c in s.execute(q)]
        return dl.most_urgent_first(out)

    def close_deadline(self, actor: str, deadline_id: int, note: str = "") -> dict:
        note = _text(note, "note", 2000, required=False) or ""
        with self.db.tx() as s:
            d = _row(s, CaseDeadline, deadline_id)
            if d is None:
                raise not_found(f"no deadline {deadline_id!r}", "no_such_deadline")
            c = s.get(Case, d.case_id)
            if d.closed_at is None:
                d.closed_at, d.closed_by = audit.now(), actor
                self._event(s, c, actor, "close_deadline", f"deadline:{d.id}", {"kind": d.kind, "note": note})
            return self._deadline_dict(d, c, datetime.now(timezone.utc))

    # -- notices -----------------------------------------------------------------------------------

    def generate_notice(self, actor: str, case_id: str, *, kind: str, lang: str, platform: str,
                        item_ids: list[int] | None = None, signer: str | None = None,
                        contact: str | None = None, now: datetime | None = None) -> dict:
        """Render, store and 'send' a notice; opens its deadlines (from `now`, default: the present)."""
        from . import notices

        case = self.get_case(case_id)
        if case["under_18"] and kind in notices.ADULT_KINDS:
            raise with_params(ApiError(403, "child_protection_route",
                                       f"case {case['id']} concerns a person under 18: {kind} notices are not used; "
                                       f"route it to the child-protection channels: {case['child_protection']}"),
                              what="notice", jurisdictions=case["jurisdictions"])
        text = notices.render(case, kind=kind, lang=lang, platform=platform, item_ids=item_ids, signer=signer,
                              contact=contact, now=now)
        ids = [i["id"] for i in notices.select_items(case, item_ids)]
        start = _iso(now)
        try:
            rules = dl.rules(extra=self.settings.extra)
        except ValueError as e:
            raise ApiError(500, "bad_deadline_settings", str(e)) from None
        with self.db.tx() as s:
            c = self._case(s, case_id)
            n = CaseNotice(case_id=c.id, kind=kind, lang=lang, platform=platform.strip(), item_ids=json.dumps(ids),
                           text=text, sha256=hashlib.sha256(text.encode()).hexdigest(), created_by=actor,
                           created_at=start)
            s.add(n)
            s.flush()
            self._event(s, c, actor, "notice", f"notice:{n.id}", {"kind": kind, "lang": lang, "platform": n.platform,
                                                                  "items": ids, "sha256": n.sha256})
            for k in dl.OPENS.get(kind, []):
                due, warn = dl.window(rules[k], dl.parse(start))
                d = CaseDeadline(case_id=c.id, notice_id=n.id, kind=k, label=rules[k].label, starts_at=start,
                                 warn_at=_iso(warn) if warn else None, due_at=_iso(due))
                s.add(d)
                s.flush()
                self._event(s, c, actor, "deadline_open", f"deadline:{d.id}", {"kind": k, "due_at": d.due_at})
            return self._notice_dict(n, c)

    def statements_of_reasons(self, case_id: str) -> list[dict]:
        from .sor import statements

        return statements(self.get_case(case_id))

    # -- evidence ----------------------------------------------------------------------------------

    def snapshot(self, case_id: str) -> dict:
        """Everything an evidence package needs (JSON-serialisable except `edit_map_png` bytes)."""
        case = self.get_case(case_id)
        with self.db.read() as s:
            c = self._case(s, case_id)
            rows = {i.id: i for i in s.execute(select(CaseItem).where(CaseItem.case_id == c.id)).scalars()}
        items = []
        for it in case["items"]:
            row = rows[it["id"]]
            items.append({**{k: it[k] for k in ("id", "url", "captured_at", "sha256", "filename", "verdict",
                                                "protected", "bank", "edited_fraction", "scores", "thresholds",
                                                "algorithm", "version", "has_media", "decision",
                                                "decision_reason", "decided_by", "decided_at", "created_at")},
                          "report_html": row.report_html or "", "edit_map_png": row.edit_map_png})
        base = {k: v for k, v in case.items() if k not in ("items", "events", "notices", "protections")}
        return {"case": base, "protections": case["protections"], "items": items,
                "notices": [{k: n[k] for k in ("id", "kind", "lang", "platform", "text", "sha256", "created_at")}
                            for n in case["notices"]],
                "timeline": case["events"], "custody": self.custody_log(case_id),
                "tool": {"name": "bouclier", "version": __version__}}
