"""End to end through the real cases domain: a registry (SQLite, and PostgreSQL), a protection, a case
with a matched benign derivative kept for review, a decision, a notice, then the package exported with
a timestamp from the local TSA and encrypted media, verified, tampered with, decrypted; and the CLI."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import pytest
from evidence_helpers import flip, rewrite
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "service"))
from service_helpers import encode, make_bundle, texture  # noqa: E402

from bouclier.cases.store import Cases  # noqa: E402
from bouclier.evidence import export_case, verify  # noqa: E402
from bouclier.evidence import media as media_mod  # noqa: E402
from bouclier.evidence.decrypt import decrypt_source  # noqa: E402
from bouclier.service import audit  # noqa: E402
from bouclier.service.auth import create_key  # noqa: E402
from bouclier.service.errors import ApiError  # noqa: E402
from bouclier.service.settings import Settings  # noqa: E402
from bouclier.service.store import Registry  # noqa: E402

PHOTO = texture(21, (360, 480))  # synthetic: shapes and colour noise, no person


def derivative() -> bytes:
    """Benign edit: blur-fill a central block, crop the borders, downscale, JPEG."""
    a = PHOTO.copy()
    a[120:300, 140:340] = cv2.GaussianBlur(a[120:300, 140:340], (0, 0), 20)
    a = cv2.resize(a[20:-20, 25:-25], None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=80)
    return buf.getvalue()


# PostgreSQL fixtures shared with the service tests (BOUCLIER_TEST_PG_URL, or a cluster started there).
_spec = importlib.util.spec_from_file_location("service_conftest_for_evidence", REPO / "tests" / "service" / "conftest.py")
_svc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_svc)
pg_base_url = _svc.pg_base_url


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request, tmp_path):
    url, drop = None, None
    if request.param == "postgresql":
        url, drop = _svc._fresh_pg(request.getfixturevalue("pg_base_url"))
    reg = Registry(Settings(data_dir=tmp_path / "data", database_url=url))
    reg.start()
    yield reg
    reg.db.dispose()
    if drop:
        drop()


def make_case(reg: Registry) -> tuple[Cases, str, int, bytes]:
    client, _ = create_key(reg.db, "helpline", ["submit"])
    sub = reg.submit(client, "default", make_bundle([encode(PHOTO)]), None)
    cases = Cases(reg)
    case = cases.create_case("caseworker:ana", pseudonym="Rose-Cedar-41", kind="manipulated-synthetic",
                             jurisdictions=["FR", "EU"], contact="rose.cedar@example.org")
    cases.link_protection("caseworker:ana", case["id"], sub.case_id)
    suspect = derivative()
    item = cases.add_item("caseworker:ana", case["id"], url="https://img.example.net/p/abc.jpg", image=suspect,
                          filename="abc.jpg", captured_at="2026-11-20T09:30:00Z", keep_media=True)
    assert item["verdict"] in ("manipulated-derivative", "near-duplicate"), item
    cases.add_item("caseworker:ana", case["id"], url="https://other.example.com/post/9")
    cases.decide("reviewer:bo", item["id"], "confirmed", "same photo, lower part replaced")
    cases.generate_notice("caseworker:ana", case["id"], kind="dsa-art16", lang="en", platform="ExampleSocial",
                          item_ids=[item["id"]], signer="Ana Caseworker", contact="helpline@example.org")
    return cases, case["id"], item["id"], suspect


def test_case_export_with_timestamp_and_media(registry, tsa, tmp_path):
    cases, cid, iid, suspect = make_case(registry)
    pub = media_mod.keygen(tmp_path / "key.txt")
    out = tmp_path / "pkg.zip"
    res = export_case(registry, "caseworker:ana", cid, out, tsa_url=tsa.url, tsa_ca=tsa.ca_pem,
                      include_media=True, recipient=pub)
    assert res.warnings == [] and res.timestamp["trusted"]
    rep = verify(out, tsa_ca=tsa.ca_pem)
    assert rep.ok, [str(p) for p in rep.problems]
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        m = json.loads(z.read("manifest.json"))
        custody = json.loads(z.read("custody.json"))
        blob = b"".join(z.read(n) for n in names)
    assert {f"reports/item-{iid}.html", f"edit-maps/item-{iid}.png", f"media/item-{iid}.age", "manifest.tsr",
            "custody.json"} <= names
    assert any(n.startswith("notices/") and n.endswith("-dsa-art16.en.txt") for n in names)
    item = next(i for i in m["items"] if i["id"] == iid)
    assert item["url"] == "https://img.example.net/p/abc.jpg" and item["decision"] == "confirmed"
    assert item["thresholds"] and item["scores"] and item["algorithm"]
    assert m["case"]["id"] == cid and b"Rose-Cedar-41" not in blob and b"rose.cedar@example.org" not in blob
    assert suspect not in blob
    # the export and the media read for it are in the custody log inside the package
    acts = [(e["action"], e["artefact"]) for e in custody["events"]]
    assert ("exported", "evidence package pkg.zip") in acts
    assert any(a == f"item:{iid}:media" for _, a in acts)
    exp = next(e for e in custody["events"] if e["action"] == "exported")
    assert exp["details"]["package_id"] == m["package_id"] == custody["package_id"]
    # and in the registry's audit log, whose chain is intact
    with registry.db.read() as s:
        assert audit.verify(s).ok
    assert any(e["action"] == "exported" for e in cases.custody_log(cid))
    written, problems = decrypt_source(out, tmp_path / "key.txt", tmp_path / "media")
    assert problems == [] and written[0].read_bytes() == suspect
    with zipfile.ZipFile(out) as z:
        rpt = z.read(f"reports/item-{iid}.html")
    bad = rewrite(out, tmp_path / "bad.zip", change={f"reports/item-{iid}.html": flip(rpt, 100)})
    assert [p.file for p in verify(bad, tsa_ca=tsa.ca_pem).problems] == [f"reports/item-{iid}.html"]


def test_unknown_case_and_failed_export_are_handled(registry, tmp_path):
    with pytest.raises(ApiError, match="no case"):
        export_case(registry, "caseworker:ana", "C-NOPE0000", tmp_path / "p.zip")
    cases = Cases(registry)
    cid = cases.create_case("caseworker:ana", pseudonym="P", kind="non-consensual-authentic", jurisdictions=["UK"])["id"]
    with pytest.raises(Exception, match="time-stamping authority"):
        export_case(registry, "caseworker:ana", cid, tmp_path / "p.zip", tsa_url="http://127.0.0.1:9/")
    assert [e["action"] for e in cases.custody_log(cid)] == ["exported", "export-failed"]
    assert not (tmp_path / "p.zip").exists()


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("BOUCLIER_")}
    e.update(env or {})
    return subprocess.run([str(REPO / ".venv" / "bin" / "bouclier"), *args], capture_output=True, text=True,
                          timeout=300, env=e)


def test_cli_export_verify_keygen_decrypt(tsa, tmp_path):
    data = tmp_path / "data"
    reg = Registry(Settings(data_dir=data))
    reg.start()
    _, cid, iid, suspect = make_case(reg)
    reg.db.dispose()
    r = cli("evidence", "keygen", "-o", str(tmp_path / "key.txt"))
    assert r.returncode == 0 and r.stdout.strip().startswith("age1"), r.stderr
    pub = r.stdout.strip()
    out = tmp_path / "pkg.zip"
    r = cli("evidence", "export", cid, "-o", str(out), "--data-dir", str(data), "--tsa-ca", str(tsa.ca_pem),
            "--include-media", "--recipient", pub, env={"BOUCLIER_TSA_URL": tsa.url})
    assert r.returncode == 0 and "timestamped" in r.stdout, r.stderr
    r = cli("evidence", "verify", str(out), "--tsa-ca", str(tsa.ca_pem))
    assert r.returncode == 0 and r.stdout.startswith("VALID") and "chain to the given CA verified" in r.stdout
    r = cli("evidence", "verify", str(out), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True and json.loads(r.stdout)["case"] == cid
    with zipfile.ZipFile(out) as z:
        c = z.read("custody.json")
    bad = rewrite(out, tmp_path / "bad.zip", change={"custody.json": flip(c, 30)})
    r = cli("evidence", "verify", str(bad))
    assert r.returncode == 1 and "FAIL custody.json: SHA-256 mismatch" in r.stdout and "Traceback" not in r.stderr
    (tmp_path / "junk.zip").write_bytes(b"\x00" * 100)
    r = cli("evidence", "verify", str(tmp_path / "junk.zip"))
    assert r.returncode == 1 and "not a zip file" in r.stdout
    r = cli("evidence", "verify", str(tmp_path / "missing.zip"))
    assert r.returncode == 2 and "cannot read" in r.stderr and "Traceback" not in r.stderr
    r = cli("evidence", "decrypt", str(out), "-i", str(tmp_path / "key.txt"), "-o", str(tmp_path / "plain"))
    assert r.returncode == 0 and (tmp_path / "plain" / f"item-{iid}.jpg").read_bytes() == suspect
    r = cli("evidence", "export", "C-NOPE0000", "-o", str(tmp_path / "x.zip"), "--data-dir", str(data))
    assert r.returncode == 1 and "no case" in r.stderr and "Traceback" not in r.stderr
    r = cli("evidence", "export", cid, "-o", str(tmp_path / "x.zip"), "--data-dir", str(data), "--include-media")
    assert r.returncode == 2 and "--recipient" in r.stderr
    assert not (tmp_path / "x.zip").exists()
