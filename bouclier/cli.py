"""Command line: `bouclier protect`, `bouclier check`, `bouclier hashes`, `bouclier bench`, `bouclier demo`,
and the service.

Exit status: 0 when the run worked, whatever the verdicts and even if some files were unreadable
(each is reported); 1 for an I/O or input failure that stops the run (e.g. unreadable bundle);
2 for a usage error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .errors import BouclierError, unexpected

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Protect photos on-device; find copies and manipulated derivatives; localise the edit.")
err = Console(stderr=True)


def progress(console: Console | None = None) -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console or err, transient=False)


def fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


@app.callback(invoke_without_command=True)
def main(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        print(__version__)
        raise typer.Exit(0)


@app.command()
def protect(
    paths: list[Path] = typer.Argument(..., help="Photos or folders (searched recursively)."),
    out: Path = typer.Option(..., "-o", "--out", help="Bundle file to write (fingerprints only, no pixels)."),
    label: Optional[str] = typer.Option(None, "--label", help="Label for the photos instead of their file names."),
    pdq_only: bool = typer.Option(False, "--pdq-only", help="Only the PDQ hash (StopNCII-equivalent, least data)."),
) -> None:
    """Fingerprint photos on this device into one bundle file. No pixels leave in it."""
    from . import bundle as bundle_mod
    from .fingerprint import compute
    from .load import find_images, load_many
    from .signals.base import WORK_SIDE

    files = find_images(paths)
    if not files:
        fail("no files found under the given paths")
    fps, bad = [], []
    with progress() as prog:
        task = prog.add_task("fingerprinting", total=len(files))
        for i, (path, item) in enumerate(zip(files, load_many(files, max_side=WORK_SIDE))):
            prog.advance(task)
            if isinstance(item, BouclierError):
                bad.append((str(path), getattr(item, "reason", str(item))))
                continue
            name = f"{label}-{len(fps) + 1:03d}" if label and len(files) > 1 else (label or path.name)
            try:
                fps.append(compute(item, label=name, pdq_only=pdq_only))
            except Exception as e:  # a bug must not stop the batch (nor lose the other photos)
                bad.append((str(path), unexpected(e)))
    for path, reason in bad:
        err.print(f"[yellow]skipped[/] {path}: {reason}")
    if not fps:
        fail("no photo could be read; no bundle written")
    b = bundle_mod.Bundle(fps, bundle_mod.new_meta(label=label, pdq_only=pdq_only, count=len(fps)))
    try:
        bundle_mod.write(out, b)
    except OSError as e:
        fail(f"cannot write {out}: {e.strerror or e}")
    size = out.stat().st_size
    err.print(f"[green]protected[/] {len(fps)} photo(s) -> {out} ({size / max(len(fps), 1):.0f} bytes per photo)"
              + (f", {len(bad)} skipped" if bad else ""))
    _note_too_plain(fps, pdq_only)


def _note_too_plain(fps, pdq_only: bool) -> None:
    """Name the photos only their same bytes can match (decide.too_plain), in the rule's own terms."""
    from .decide import PLAIN_KEYPOINTS, Thresholds, too_plain

    th = Thresholds.default()
    plain = [fp.label for fp in fps if too_plain(fp, th)]
    if plain:
        rule = f"PDQ quality under {th.pdq_min_quality}" + ("" if pdq_only else f", under {PLAIN_KEYPOINTS} keypoints")
        err.print(f"[yellow]note[/] {len(plain)} photo(s) too plain to match ({rule}): only exact copies of them "
                  "can be found (" + ", ".join(plain[:5]) + (", ..." if len(plain) > 5 else "") + ")")


@app.command()
def check(
    suspects: list[Path] = typer.Argument(..., help="Suspect images or folders."),
    against: Path = typer.Option(..., "--against", help="Bundle written by `bouclier protect`."),
    original: Optional[Path] = typer.Option(None, "--original", help="The protected original, for a pixel-level diff."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per suspect per line on stdout."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write a self-contained HTML evidence report."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes checking suspects at once (JSON lines then come "
                                "in the order they finish; the table and report keep the input order)."),
) -> None:
    """Check suspects against protected fingerprints: verdict, matched photo, edited region."""
    from . import bundle as bundle_mod
    from .check import bundle_matcher, check_many, check_parallel
    from .load import find_images, load

    try:
        b = bundle_mod.read(against)
    except BouclierError as e:
        fail(str(e))
    orig = None
    if original is not None:
        try:
            orig = load(original, max_side=512)
        except BouclierError as e:
            fail(f"--original: {e}")
    files = find_images(suspects)
    if not files:
        fail("no suspect files found")
    pictures = report is not None  # only a report draws them; a long batch would hold them all
    if workers > 1 and len(files) > 1:
        batch = check_parallel(against, files, workers=min(workers, len(files)), original_path=original,
                               pictures=pictures)
    else:
        batch = check_many(bundle_matcher(b.fingerprints), files, original=orig, pictures=pictures)
    results = [None] * len(files)
    with progress() as prog:
        task = prog.add_task("checking", total=len(files))
        for i, c in batch:
            results[i] = c
            prog.advance(task)
            if as_json:
                print(json.dumps(c.to_json()), flush=True)
    if not as_json:
        _print_table(results)
    if report is not None:
        from .report import write_report

        try:
            paths = write_report(report, results, bundle_path=against, original_path=original)
        except OSError as e:
            fail(f"cannot write report {report}: {e.strerror or e}")
        err.print(f"report: {', '.join(str(p) for p in paths)}")


def _print_table(results) -> None:
    t = Table(title="bouclier check")
    for col in ("file", "verdict", "protected", "edited", "score", "PDQ dist"):
        t.add_column(col)
    for c in results:
        if c.error:
            t.add_row(c.file, "[red]unreadable[/]", "", "", "", c.error)
            continue
        r = c.result
        colour = {"no-match": "dim", "manipulated-derivative": "bold red"}.get(r.verdict, "yellow")
        t.add_row(c.file, f"[{colour}]{r.verdict}[/]", r.protected or "",
                  "" if r.edited_fraction is None else f"{r.edited_fraction:.0%}",
                  str(r.scores.get("score", r.scores.get("best_score", ""))),
                  str(r.scores.get("pdq_distance", r.scores.get("best_pdq_distance", ""))))
    Console().print(t)
    for c in results:
        note = c.extra.get("original_alignment") or c.extra.get("original_note")
        if note:
            err.print(f"[yellow]--original[/] {c.file}: {note}")


@app.command()
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the demo's files.")) -> None:
    """End-to-end demo on photos that packages ship: protect, make a benign derivative, check, report."""
    from .demo import run_demo

    try:
        code = run_demo(out)
    except BouclierError as e:
        fail(str(e))
    raise typer.Exit(code)


@app.command()
def bench(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Folder of photos (default: `make bench-data`'s)."),
    out: Path = typer.Option(Path("bench-results"), "--out", help="Folder for results.json, results.md, plots."),
    quick: bool = typer.Option(False, "--quick", help="Small smoke run (under 5 minutes)."),
    seed: int = typer.Option(1, "--seed"),
    workers: int = typer.Option(2, "--workers", help="Worker processes."),
    write_thresholds: bool = typer.Option(False, "--write-thresholds",
                                          help="Install the calibrated thresholds as the engine's defaults."),
    service_load: int = typer.Option(0, "--service-load", help="Also load-test `bouclier serve` on loopback "
                                     "with this many protected photos (0: skip)."),
    benchmarks_md: Optional[Path] = typer.Option(None, "--benchmarks-md",
                                                 help="Also write this BENCHMARKS.md (notes kept from docs/benchmark/notes.md)."),
    only: str = typer.Option("accuracy,scale,service", "--only",
                             help="Parts to run, among accuracy, scale, service (without accuracy: needs --resume)."),
    resume: Optional[Path] = typer.Option(None, "--resume", help="A results.json to merge the parts run into."),
    scale_sizes: Optional[str] = typer.Option(None, "--scale-sizes", help="Index sizes, e.g. 1000,100000,1000000."),
) -> None:
    """Benchmark derivative detection, localisation, speed and scale against PDQ and pHash."""
    from importlib import resources

    from .bench.run import PARTS, run_bench

    parts = tuple(x.strip() for x in only.split(",") if x.strip())
    if not parts or not set(parts) <= set(PARTS):
        fail(f"--only takes parts among {', '.join(PARTS)}")
    if "accuracy" not in parts and resume is None:
        fail("--only without accuracy needs --resume RESULTS_JSON")
    try:
        sizes = tuple(int(x) for x in scale_sizes.split(",")) if scale_sizes else None
        previous = json.loads(resume.read_text()) if resume is not None else None
    except (ValueError, OSError) as e:
        fail(f"bad --scale-sizes or --resume: {e}")
    if sizes is not None and not all(0 < x <= 10_000_000 for x in sizes):
        fail("--scale-sizes are between 1 and 10,000,000")

    command = "bouclier " + " ".join(sys.argv[1:])
    with progress() as prog:
        tasks = {}

        def bar(name, total):
            tasks[name] = prog.add_task(name, total=total)
            return lambda n=1: prog.advance(tasks[name], n)

        try:
            res = run_bench(corpus, out, quick=quick, seed=seed, workers=workers, progress=bar,
                            service_load=service_load, only=parts, resume=previous, scale_sizes=sizes,
                            command=command)
        except BouclierError as e:
            fail(str(e))
    Console().print((out / "results.md").read_text())
    for name, reason in sorted(res.get("corpus", {}).get("unreadable", {}).items()):
        err.print(f"[yellow]left out[/] corpus file {name}: {reason}")
    err.print(f"results: {out / 'results.json'}, {out / 'results.md'}, plots in {out}/")
    if benchmarks_md is not None:
        from .bench.report import write_benchmarks

        notes = Path("docs/benchmark/notes.md")
        write_benchmarks(res, out / "results.md", benchmarks_md, command, notes.read_text() if notes.is_file() else "")
        err.print(f"wrote {benchmarks_md}")
    if write_thresholds:
        from .decide import Thresholds

        th = res["calibrated_thresholds"]
        if not th.get("certified"):
            fail(f"thresholds not written: the calibration split ({res['corpus']['queries']['calibration']} queries) "
                 "cannot show 0.1 % false alarms with 95 % confidence (too few negatives, or policy matches among "
                 "them); results are in " + str(out))
        target = Path(str(resources.files("bouclier").joinpath("thresholds.json")))
        target.write_text(json.dumps(Thresholds.from_dict(th).to_dict(), indent=1) + "\n")
        err.print(f"calibrated thresholds written to {target}")


hashes_app = typer.Typer(no_args_is_help=True, help="PDQ hash lists: a bundle's hashes for HMA / ThreatExchange / "
                         "StopNCII, or such a list as a bundle to check against.")
HASH_FORMATS = "threatexchange (a `pdq <hex>` line each), hma (signal JSON) or stopncii (hash records JSON)"


def _check_format(fmt: str) -> None:
    from .hashlist import FORMATS

    if fmt not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}", 2)


@hashes_app.command("export")
def hashes_export(
    bundle_path: Path = typer.Argument(..., metavar="BUNDLE", help="Bundle written by `bouclier protect`."),
    fmt: str = typer.Option(..., "--format", help=HASH_FORMATS),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="File to write (default: standard output)."),
    min_quality: int = typer.Option(50, "--min-quality", min=0, max=100,
                                    help="Leave out hashes under this PDQ quality (they match unrelated images)."),
) -> None:
    """Write the PDQ hashes of a bundle in another tool's format. Hashes only: no labels, no other signal."""
    from . import bundle as bundle_mod
    from . import hashlist

    _check_format(fmt)
    try:
        b = bundle_mod.read(bundle_path)
    except BouclierError as e:
        fail(str(e))
    hashes, low, seen = [], 0, set()
    for fp in b.fingerprints:
        if fp.pdq is None or fp.pdq_hex in seen:
            continue
        seen.add(fp.pdq_hex)
        if fp.pdq.quality < min_quality:
            low += 1
        else:
            hashes.append(fp.pdq_hex)
    if fmt == "threatexchange":
        text = hashlist.threatexchange_text(hashes)
    else:
        created = hashlist.epoch(b.meta.get("created"))
        doc = hashlist.hma_json(hashes) if fmt == "hma" else {
            "count": len(hashes), "hashRecords": hashlist.stopncii_records([(h, True, created) for h in hashes])}
        text = json.dumps(doc, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.write_text(text)
        except OSError as e:
            fail(f"cannot write {out}: {e.strerror or e}")
    err.print(f"[green]exported[/] {len(hashes)} PDQ hash(es)" + (f" to {out}" if out else "")
              + (f"; {low} under quality {min_quality} left out" if low else ""))


@hashes_app.command("import")
def hashes_import(
    path: Path = typer.Argument(..., metavar="FILE", help="A hash list from HMA, ThreatExchange or StopNCII."),
    fmt: str = typer.Option(..., "--format", help=HASH_FORMATS),
    out: Path = typer.Option(..., "-o", "--out", help="Bundle to write (PDQ-only fingerprints)."),
) -> None:
    """Turn a PDQ hash list into a bundle, so that `bouclier check --against` finds copies of its images.

    PDQ alone finds exact and near-exact copies (distance <= 31), not edited derivatives."""
    from . import bundle as bundle_mod
    from . import hashlist
    from .fingerprint import Fingerprint

    _check_format(fmt)
    try:
        records, skipped = hashlist.parse(fmt, path.read_bytes())
    except OSError as e:
        fail(f"{path}: cannot read ({e.strerror or e})")
    except BouclierError as e:
        fail(f"{path}: {e}")
    active = hashlist.latest(records)
    if not active:
        fail(f"{path}: no active PDQ hash in it; no bundle written")
    fps = [Fingerprint.pdq_only_hash(h, quality, label=f"pdq-{h[:12]}") for h, quality in active.items()]
    meta = bundle_mod.new_meta(source=f"{fmt} hash list", pdq_only=True, count=len(fps))
    try:
        bundle_mod.write(out, bundle_mod.Bundle(fps, meta))
    except OSError as e:
        fail(f"cannot write {out}: {e.strerror or e}")
    gone = len({h for h, _, a in records if not a} - set(active))
    err.print(f"[green]imported[/] {len(fps)} PDQ hash(es) -> {out}"
              + (f"; {skipped} other entr{'y' if skipped == 1 else 'ies'} skipped" if skipped else "")
              + (f"; {gone} withdrawn" if gone else ""))


def _mount_subcommands() -> None:
    """The service, evidence, web-account and case commands (each in its own package)."""
    from .cases.cli import case_app
    from .evidence.cli import evidence_app
    from .service.cli import audit_app, db_app, keys_app, serve
    from .web.cli import users_app

    app.command("serve")(serve)
    app.add_typer(hashes_app, name="hashes")
    for sub, name in ((keys_app, "keys"), (db_app, "db"), (audit_app, "audit"), (evidence_app, "evidence"),
                      (users_app, "users"), (case_app, "case")):
        app.add_typer(sub, name=name)


_mount_subcommands()


def run() -> None:
    try:
        app()
    except BouclierError as e:  # anything not caught closer to the user
        err.print(f"[bold red]error:[/] {e}")
        sys.exit(1)
