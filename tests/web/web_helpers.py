"""Helpers of the web UI tests: the users CLI, a form-driving httpx client, database peeks."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import sqlalchemy as sa

from service_helpers import PY, REPO, Server, child_env

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def users_cli(server: Server, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`bouclier users ARGS` against the server's data folder and database."""
    r = subprocess.run([PY, "-c", "from bouclier.cli import run; run()", "users", *args], cwd=REPO,
                       env=child_env(server.env), input=input, capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"bouclier users {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


ACCOUNTS = {"alice": "caseworker", "rob": "reviewer", "ada": "admin"}


def start_ui_server(data_dir: Path, database_url: str | None = None, env: dict | None = None) -> Server:
    s = Server(data_dir, database_url, env)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    for name, role in ACCOUNTS.items():
        users_cli(s, "create", "--username", name, "--role", role, "--password-stdin", input=PASSWORD + "\n")
    return s.start()


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


class UIClient:
    """A browser-like client: cookies kept, redirects not followed (tests look at them)."""

    def __init__(self, server: Server):
        self.http = httpx.Client(base_url=server.url, timeout=60, follow_redirects=False)

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        token = csrf_of(self.http.get("/ui/login").text)
        return self.http.post("/ui/login", data={"username": username, "password": password, "csrf": token})

    def logged_in(self, username: str) -> "UIClient":
        r = self.login(username)
        assert r.status_code == 303 and "bouclier_ui=" in r.headers.get("set-cookie", ""), r.text[:500]
        return self

    def csrf(self, path: str = "/ui/") -> str:
        r = self.http.get(path, follow_redirects=True)
        return csrf_of(r.text)

    def get(self, path: str, **kw) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, data: dict | None = None, **kw) -> httpx.Response:
        return self.http.post(path, data=data, **kw)

    def new_case(self, pseudonym: str = "Camille", **extra) -> str:
        data = {"csrf": self.csrf("/ui/cases/new"), "pseudonym": pseudonym, "kind": "manipulated-synthetic",
                "jurisdictions": ["FR", "EU"], **extra}
        r = self.post("/ui/cases/new", data)
        assert r.status_code == 303, r.text[:800]
        return r.headers["location"].rsplit("/", 1)[1]


def db_rows(server: Server, sql: str, **params) -> list:
    url = server.database_url or f"sqlite:///{(server.data_dir / 'bouclier.db').resolve()}"
    eng = sa.create_engine(url)
    try:
        with eng.connect() as c:
            return list(c.execute(sa.text(sql), params))
    finally:
        eng.dispose()
