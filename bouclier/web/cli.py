"""`bouclier users create|list|disable|enable`: local accounts of the web UI (see docs/web.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..service.cli import Config, DataDir, _db, _fail

users_app = typer.Typer(help="Accounts of the web UI (caseworkers, reviewers, admins).", no_args_is_help=True)


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option("--username", help="Login name (a-z, 0-9, _ - . @).")],
    role: Annotated[str, typer.Option("--role", help="caseworker, reviewer or admin.")],
    lang: Annotated[str, typer.Option("--lang", help="Language of the UI for this person: en or fr.")] = "en",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")] = False,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Create an account. The password is asked for (or read from stdin); only its argon2 hash is stored."""
    from .accounts import AccountError, check_password, check_role, check_username, create_user

    try:
        check_username(username), check_role(role)
    except AccountError as e:
        _fail(str(e))
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
        u = create_user(_db(data_dir, config), username, role, password, lang)
    except AccountError as e:
        _fail(str(e))
    typer.echo(f"created {u.role} {u.username!r} (id {u.id})")


@users_app.command("list")
def users_list(data_dir: DataDir = None, config: Config = None) -> None:
    """List accounts (never the hashes)."""
    from .accounts import list_users

    for u in list_users(_db(data_dir, config)):
        typer.echo(f"{u.id}\t{u.username}\t{u.role}\t{u.lang}\t{'disabled' if u.disabled else 'active'}\t"
                   f"created {u.created_at}\tlast login {u.last_login_at or '-'}")


def _set(username: str, disabled: bool, data_dir: Optional[Path], config: Optional[Path]) -> None:
    from .accounts import AccountError, set_disabled

    try:
        u = set_disabled(_db(data_dir, config), username, disabled)
    except AccountError as e:
        _fail(str(e))
    typer.echo(f"{'disabled' if disabled else 'enabled'} {u.username!r}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="The account's username.")],
                  data_dir: DataDir = None, config: Config = None) -> None:
    """Disable an account at once (its sessions end)."""
    _set(username, True, data_dir, config)


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="The account's username.")],
                 data_dir: DataDir = None, config: Config = None) -> None:
    """Enable a disabled account again (and clear a lockout)."""
    _set(username, False, data_dir, config)
