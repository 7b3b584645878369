"""`bouclier evidence export|verify|keygen|decrypt`, mounted by bouclier/cli.py.

Exit status: 0 success (verify: the package is valid), 1 failure (verify: invalid package; export:
no such case, TSA failure), 2 usage or I/O error (unreadable file, bad option).
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..service.cli import Config, DataDir

evidence_app = typer.Typer(help="Evidence packages: export a case, verify a package, keys for encrypted media.",
                           no_args_is_help=True)


def _fail(msg: str, code: int) -> None:
    typer.echo(f"bouclier: {msg}", err=True)
    raise typer.Exit(code)


@evidence_app.command("export")
def export_cmd(
    case: Annotated[str, typer.Argument(help="Case id, e.g. C-7Q2K9M4X.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Package file to write (.zip).")],
    tsa_url: Annotated[Optional[str], typer.Option("--tsa", help="RFC 3161 time-stamping authority URL "
                                                   "(default: $BOUCLIER_TSA_URL or the config's tsa_url; none: no timestamp).")] = None,
    tsa_ca: Annotated[Optional[Path], typer.Option("--tsa-ca", help="PEM file of the TSA's CA: the token is checked against it.")] = None,
    include_media: Annotated[bool, typer.Option("--include-media", help="Also include the kept suspect files, encrypted.")] = False,
    recipient: Annotated[Optional[str], typer.Option("--recipient", help="age1... public key (or a file with one) to encrypt media to.")] = None,
    actor: Annotated[Optional[str], typer.Option("--actor", help="Who exports, for the chain of custody (default: cli:$USER).")] = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Export a case as an evidence package (manifest, reports, edit maps, notices, custody log)."""
    from ..errors import BouclierError
    from ..service.cli import _settings
    from ..service.errors import ApiError
    from ..service.store import Registry
    from .package import ExportError, check_options, configured_tsa, export_case

    s = _settings(data_dir, config)
    if tsa_url is None:
        tsa_url, conf_ca = configured_tsa(s)
        tsa_ca = tsa_ca if tsa_ca is not None else (Path(conf_ca) if conf_ca else None)
    try:
        ca, rcpt = check_options(tsa_url=tsa_url, tsa_ca=tsa_ca, include_media=include_media, recipient=recipient)
    except BouclierError as e:
        _fail(str(e), 2)
    try:
        reg = Registry(s)
        reg.db.upgrade()
    except Exception as e:  # unreachable database, bad URL, unwritable data folder
        _fail(f"cannot open the registry database: {type(e).__name__}: {e}", 2)
    who = actor or f"cli:{getpass.getuser()}"
    try:
        res = export_case(reg, who, case, out, tsa_url=tsa_url, tsa_ca=ca, include_media=include_media, recipient=rcpt)
    except ApiError as e:
        _fail(e.message, 1)
    except ExportError as e:
        _fail(str(e), 2 if str(e).startswith("cannot write") else 1)
    except BouclierError as e:
        _fail(str(e), 1)
    finally:
        reg.db.dispose()
    for w in res.warnings:
        typer.echo(f"warning: {w}", err=True)
    ts = res.timestamp
    typer.echo(f"wrote {res.path}: {res.artefacts} files, manifest SHA-256 {res.manifest_sha256}"
               + (f", timestamped {ts['gen_time']} by {ts['signer']}" if ts else ", no timestamp"))


@evidence_app.command("verify")
def verify_cmd(
    package: Annotated[Path, typer.Argument(help="Package file (.zip).")],
    tsa_ca: Annotated[Optional[Path], typer.Option("--tsa-ca", help="PEM file of the TSA's CA to check the timestamp against.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check every file's SHA-256 and size, the timestamp and the custody log. Exit 1 when invalid."""
    from ..errors import BouclierError
    from .verify import verify

    try:
        rep = verify(package, tsa_ca=tsa_ca)
    except BouclierError as e:
        _fail(str(e), 2)
    if as_json:
        typer.echo(json.dumps(rep.to_dict(), indent=1, ensure_ascii=False))
    else:
        for p in rep.problems:
            typer.echo(f"FAIL {p}")
        m = rep.manifest or {}
        if rep.ok:
            ts = rep.timestamp
            when = (f"; timestamp {ts['gen_time']} by {ts['signer']}"
                    + (" (chain to the given CA verified)" if ts["trusted"] else " (signature valid; TSA not checked against a CA: give --tsa-ca)")) if ts else "; no timestamp"
            typer.echo(f"VALID {package}: case {(m.get('case') or {}).get('id')}, {len(rep.verified)} files verified{when}")
        else:
            typer.echo(f"INVALID {package}: {len(rep.problems)} problem(s)")
    raise typer.Exit(0 if rep.ok else 1)


@evidence_app.command("keygen")
def keygen_cmd(
    out: Annotated[Path, typer.Option("-o", "--out", help="Private key file to create (mode 0600).")],
) -> None:
    """Make a key pair for encrypted media (age X25519). Prints the public key to give to exporters."""
    from .media import MediaKeyError, keygen

    try:
        pub = keygen(out)
    except MediaKeyError as e:
        _fail(str(e), 2)
    typer.echo(f"private key written to {out} (keep it secret); public key:", err=True)
    typer.echo(pub)


@evidence_app.command("decrypt")
def decrypt_cmd(
    source: Annotated[Path, typer.Argument(help="A package (.zip) or one encrypted file (.age).")],
    identity: Annotated[Path, typer.Option("-i", "--identity", help="Private key file from `keygen`.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder to write the decrypted files to.")],
) -> None:
    """Decrypt the suspect media of a package (checked against the manifest's SHA-256)."""
    from ..errors import BouclierError
    from .decrypt import decrypt_source

    try:
        written, problems = decrypt_source(source, identity, out)
    except BouclierError as e:
        _fail(str(e), 2)
    for p in written:
        typer.echo(f"wrote {p}")
    for p in problems:
        typer.echo(f"FAIL {p}", err=True)
    if problems or not written:
        if not written and not problems:
            typer.echo("no encrypted media in this package", err=True)
        raise typer.Exit(1)
