"""Commands of the registry service, mounted by bouclier/cli.py:

    from bouclier.service.cli import serve, keys_app, db_app, audit_app
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")

Heavy imports (FastAPI, SQLAlchemy, the engine) happen inside the commands, so `bouclier --help`
stays fast and works without the `serve` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", help="Data folder (default: $BOUCLIER_DATA_DIR or ./bouclier-data).")]
Config = Annotated[Optional[Path], typer.Option("--config", help="TOML settings file (default: $BOUCLIER_CONFIG or DATA_DIR/bouclier.toml).")]


def _fail(msg: str) -> None:
    typer.echo(f"bouclier: {msg}", err=True)
    raise typer.Exit(2)


def _settings(data_dir: Path | None, config: Path | None, **kw):
    from ..errors import BouclierError
    from .settings import load_settings

    try:
        return load_settings(data_dir=data_dir, config=config, **kw)
    except BouclierError as e:
        _fail(str(e))


def _db(data_dir: Path | None, config: Path | None):
    """The registry database, migrated to the current schema."""
    from .db import Database

    s = _settings(data_dir, config)
    db = Database(s.url)
    try:
        db.upgrade()
    except Exception as e:  # unreachable database, bad URL, ...
        _fail(f"cannot open the registry database: {type(e).__name__}: {e}")
    return db


def serve(
    port: Annotated[Optional[int], typer.Option(help="TCP port [default: 8737, or the config's / $BOUCLIER_PORT].")] = None,
    host: Annotated[Optional[str], typer.Option(help="Interface [default: 127.0.0.1 (loopback), or the config's].")] = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Run the registry and matching service (HTTP API under /v1, OpenAPI at /openapi.json)."""
    import uvicorn

    from .app import create_app

    s = _settings(data_dir, config, port=port, host=host)
    typer.echo(f"bouclier registry on http://{s.host}:{s.port}  (data: {s.data_dir}, database: "
               f"{'SQLite' if s.is_sqlite else 'PostgreSQL'})", err=True)
    # One process: the index lives in memory. Threads serve requests concurrently.
    uvicorn.run(create_app(s), host=s.host, port=s.port, workers=1, log_level=s.log_level,
                timeout_graceful_shutdown=10)


keys_app = typer.Typer(help="API keys of platforms, helplines and apps.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="Who uses the key.")],
    scope: Annotated[list[str], typer.Option("--scope", help="submit, match, export, admin or cases (repeat for several).")],
    rate: Annotated[Optional[int], typer.Option("--rate", help="Requests per minute for this key (default: the server's).")] = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Create a key. It is printed once, alone on the last line; only its hash is stored."""
    from .auth import check_scopes, create_key

    scopes = [x for s in scope for x in s.replace(",", " ").split()]
    try:
        check_scopes(scopes)
    except ValueError as e:
        _fail(str(e))
    db = _db(data_dir, config)
    try:
        client, key = create_key(db, name, scopes, rate)
    except ValueError as e:
        _fail(str(e))
    typer.echo(f"created key {client.prefix} (id {client.id}) for {client.name!r} with scopes "
               f"{' '.join(sorted(client.scopes))}; it will not be shown again:")
    typer.echo(key)


@keys_app.command("list")
def keys_list(data_dir: DataDir = None, config: Config = None) -> None:
    """List keys (never the keys themselves)."""
    from .auth import list_keys

    for c in list_keys(_db(data_dir, config)):
        state = f"revoked {c.revoked_at}" if c.revoked_at else "active"
        typer.echo(f"{c.id}\t{c.prefix}\t{c.name}\t{','.join(sorted(c.scopes))}\t{c.rate_per_minute or '-'}/min\t"
                   f"created {c.created_at}\t{state}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id or prefix (see `keys list`).")],
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Revoke a key at once."""
    from .auth import revoke_key

    c = revoke_key(_db(data_dir, config), key_id)
    if c is None:
        _fail(f"no key with id or prefix {key_id!r}")
    typer.echo(f"revoked key {c.prefix} ({c.name})")


db_app = typer.Typer(help="The registry database.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, config: Config = None) -> None:
    """Apply the schema migrations (the server also does this at start)."""
    from .db import Database

    s = _settings(data_dir, config)
    try:
        rev = Database(s.url).upgrade()
    except Exception as e:
        _fail(f"migration failed: {type(e).__name__}: {e}")
    typer.echo(f"database at schema revision {rev}")


audit_app = typer.Typer(help="The append-only, hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None, config: Config = None) -> None:
    """Check the whole hash chain. Exit status 1 when it is broken."""
    from . import audit

    db = _db(data_dir, config)
    with db.read() as s:
        r = audit.verify(s)
    if r.ok:
        typer.echo(f"audit log intact: {r.entries} entries, head {r.head_hash}")
        return
    typer.echo(f"audit log BROKEN at entry {r.bad_seq}: {r.error} ({r.entries} entries verified before it)", err=True)
    raise typer.Exit(1)


def main_app() -> typer.Typer:
    """A stand-alone app with just these commands (`python -m bouclier.service`)."""
    app = typer.Typer(help="bouclier registry service", no_args_is_help=True)
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")
    app.add_typer(audit_app, name="audit")
    return app
