"""`bouclier case ...`: the cases domain from the command line (same database as `bouclier serve`).

Errors print one line and exit 1 (2 for usage errors). The actor in the timeline and audit log is
`cli:<user>`, or --actor.
"""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..service.cli import Config, DataDir, _fail, _settings

case_app = typer.Typer(help="Cases: items and matches, review decisions, notices, deadlines.", no_args_is_help=True)
Actor = Annotated[Optional[str], typer.Option("--actor", help="Who acts (default: cli:<user>).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _cases(data_dir, config, index: bool = False):
    from ..service.store import Registry
    from .store import Cases

    s = _settings(data_dir, config)
    try:
        reg = Registry(s)
        reg.db.upgrade()
        if index:  # matching needs the protected fingerprints in memory
            reg.rebuild_index()
    except Exception as e:
        _fail(f"cannot open the registry database: {type(e).__name__}: {e}")
    return Cases(reg)


def _run(fn):
    from ..service.errors import ApiError

    try:
        return fn()
    except ApiError as e:
        typer.echo(f"bouclier: {e.message}", err=True)
        raise typer.Exit(1)


def _out(obj, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=str) if as_json else text)


def _line(c: dict) -> str:
    flag = "  UNDER 18 -> child protection" if c["under_18"] else ""
    return f"{c['id']}\t{c['status']}\t{c['kind']}\t{','.join(c['jurisdictions'])}\t{c['pseudonym']}{flag}"


@case_app.command("create")
def create(pseudonym: Annotated[str, typer.Option("--pseudonym", help="A pseudonym (not a legal name).")],
           kind: Annotated[str, typer.Option("--kind", help="non-consensual-authentic | manipulated-synthetic")],
           jurisdiction: Annotated[list[str], typer.Option("--jurisdiction", "-j", help="FR, UK, US or EU (repeat).")],
           contact: Annotated[Optional[str], typer.Option("--contact", help="Only if the person gives it.")] = None,
           under_18: Annotated[bool, typer.Option("--under-18", help="The person is under 18.")] = False,
           note: Annotated[str, typer.Option("--note")] = "",
           actor: Actor = None, as_json: AsJson = False, data_dir: DataDir = None, config: Config = None) -> None:
    """Open a case."""
    js = [x for j in jurisdiction for x in j.replace(",", " ").split()]
    cs = _cases(data_dir, config)
    c = _run(lambda: cs.create_case(_actor(actor), pseudonym=pseudonym, kind=kind, jurisdictions=js,
                                    contact=contact, under_18=under_18, note=note))
    extra = f"\nrouted to child protection: {c['child_protection']}" if c["under_18"] else ""
    _out(c, as_json, f"created case {c['id']}{extra}")


@case_app.command("list")
def list_(status: Annotated[Optional[str], typer.Option("--status", help="open or closed")] = None,
          as_json: AsJson = False, data_dir: DataDir = None, config: Config = None) -> None:
    """List cases, newest first."""
    rows = _run(lambda: _cases(data_dir, config).list_cases(status))
    _out(rows, as_json, "\n".join(_line(c) + f"\t{c['n_items']} item(s)" for c in rows) or "no cases")


@case_app.command("show")
def show(case_id: str, as_json: AsJson = False, data_dir: DataDir = None, config: Config = None) -> None:
    """A case with its items, protections, deadlines, notices and timeline."""
    c = _run(lambda: _cases(data_dir, config).get_case(case_id))
    lines = [_line(c)]
    if c["under_18"]:
        lines.append(f"child-protection route: {c['child_protection']}")
    lines += [f"protection {p['protection_case_id']}" for p in c["protections"]]
    for i in c["items"]:
        prot = i["protected"]["case_id"] if i["protected"] else "-"
        lines.append(f"item {i['id']}\t{i['verdict'] or 'url only'}\t{prot}\t{i['url'] or '-'}\t"
                     f"decision: {i['decision'] or 'pending'}")
    lines += [f"deadline {d['id']}\t{d['status']}\t{d['kind']}\tdue {d['due_at']}" for d in c["deadlines"]]
    lines += [f"notice {n['id']}\t{n['kind']}.{n['lang']}\t{n['platform']}\t{n['created_at']}" for n in c["notices"]]
    lines += [f"{e['ts']}\t{e['actor']}\t{e['action']}\t{e['artefact']}" for e in c["events"]]
    _out(c, as_json, "\n".join(lines))


@case_app.command("link")
def link(case_id: str, protection_case_id: str, actor: Actor = None, data_dir: DataDir = None,
         config: Config = None) -> None:
    """Link a protection (its case id from `bouclier serve` submit) to the case."""
    r = _run(lambda: _cases(data_dir, config).link_protection(_actor(actor), case_id, protection_case_id))
    typer.echo(f"linked {r['protection_case_id']} ({r['status']}) to {r['case_id']}")


@case_app.command("add-item")
def add_item(case_id: str,
             url: Annotated[Optional[str], typer.Option("--url", help="Where the content is.")] = None,
             image: Annotated[Optional[Path], typer.Option("--image", help="A suspect file to match.")] = None,
             captured_at: Annotated[Optional[str], typer.Option("--captured-at", help="ISO 8601, UTC.")] = None,
             keep_media: Annotated[bool, typer.Option("--keep-media", help="Keep the suspect, encrypted, for review.")] = False,
             actor: Actor = None, as_json: AsJson = False, data_dir: DataDir = None, config: Config = None) -> None:
    """Add an item: a URL and/or a suspect image (matched against the protections)."""
    data = None
    if image is not None:
        try:
            data = image.read_bytes()
        except OSError as e:
            _fail(f"cannot read {image}: {e.strerror or e}")
    cs = _cases(data_dir, config, index=data is not None)
    it = _run(lambda: cs.add_item(_actor(actor), case_id, url=url, image=data,
                                  filename=image.name if image else None, captured_at=captured_at,
                                  keep_media=keep_media))
    prot = f" of {it['protected']['case_id']} photo {it['protected']['photo']}" if it["protected"] else ""
    _out(it, as_json, f"item {it['id']}: {it['verdict'] or 'url only'}{prot}")


@case_app.command("decide")
def decide(item_id: int, decision: Annotated[str, typer.Option("--decision", help="confirmed or rejected")],
           reason: Annotated[str, typer.Option("--reason")], actor: Actor = None, data_dir: DataDir = None,
           config: Config = None) -> None:
    """Record a reviewer's decision on a matched item."""
    it = _run(lambda: _cases(data_dir, config).decide(_actor(actor), item_id, decision, reason))
    typer.echo(f"item {it['id']} {it['decision']}")


@case_app.command("notice")
def notice(case_id: str, kind: Annotated[str, typer.Option("--kind", help="take-it-down, dsa-art16, pharos, "
                                                            "police-annex, uk-report, gdpr-erasure")],
           platform: Annotated[str, typer.Option("--platform", help="Who receives it.")],
           lang: Annotated[str, typer.Option("--lang", help="fr or en")] = "en",
           item: Annotated[Optional[list[int]], typer.Option("--item", help="Item ids (default: all not rejected).")] = None,
           signer: Annotated[Optional[str], typer.Option("--signer", help="Name signing the notice.")] = None,
           contact: Annotated[Optional[str], typer.Option("--contact", help="Contact for the platform's answer.")] = None,
           out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Write the text here.")] = None,
           actor: Actor = None, data_dir: DataDir = None, config: Config = None) -> None:
    """Generate a notice (its deadlines start now) and print or write its text."""
    n = _run(lambda: _cases(data_dir, config).generate_notice(_actor(actor), case_id, kind=kind, lang=lang,
                                                              platform=platform, item_ids=item or None,
                                                              signer=signer, contact=contact))
    if out is None:
        typer.echo(n["text"])
        return
    try:
        out.write_text(n["text"], encoding="utf-8")
    except OSError as e:
        _fail(f"cannot write {out}: {e.strerror or e}")
    typer.echo(f"notice {n['id']} written to {out} (sha256 {n['sha256']})")


@case_app.command("due")
def due(now: Annotated[Optional[str], typer.Option("--now", help="ISO 8601 (default: the present).")] = None,
        all_: Annotated[bool, typer.Option("--all", help="Also deadlines already done.")] = False,
        as_json: AsJson = False, data_dir: DataDir = None, config: Config = None) -> None:
    """What is due, most urgent first (overdue, warning, pending)."""
    t = None
    if now:
        try:
            t = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            _fail("--now must be an ISO 8601 date and time")
    rows = _run(lambda: _cases(data_dir, config).due(t, all_))
    _out(rows, as_json, "\n".join(f"{d['status'].upper():8}\t{d['case_id']}\t{d['kind']}\tdue {d['due_at']}\t"
                                  f"deadline {d['id']}" for d in rows) or "nothing due")


@case_app.command("close-deadline")
def close_deadline(deadline_id: int, note: Annotated[str, typer.Option("--note")] = "", actor: Actor = None,
                   data_dir: DataDir = None, config: Config = None) -> None:
    """Mark a deadline done (e.g. the content was removed)."""
    d = _run(lambda: _cases(data_dir, config).close_deadline(_actor(actor), deadline_id, note))
    typer.echo(f"deadline {d['id']} ({d['kind']}, {d['case_id']}) done")


@case_app.command("sor")
def sor(case_id: str, out: Annotated[Optional[Path], typer.Option("-o", "--out", help="Write the JSON here.")] = None,
        data_dir: DataDir = None, config: Config = None) -> None:
    """DSA art. 17 statements of reasons for confirmed items, as Transparency Database JSON."""
    from .sor import export_json

    text = export_json(_run(lambda: _cases(data_dir, config).statements_of_reasons(case_id)))
    if out is None:
        typer.echo(text)
        return
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as e:
        _fail(f"cannot write {out}: {e.strerror or e}")
    typer.echo(f"statements written to {out}")
