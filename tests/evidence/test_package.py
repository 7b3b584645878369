"""Export and verify evidence packages built from a case snapshot of the documented shape, with a real
local TSA (OpenSSL behind HTTP on loopback)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile

import pytest
from evidence_helpers import SUSPECT, flip, make_snapshot, rewrite

from bouclier.evidence import ExportError, export, verify
from bouclier.evidence import media as media_mod
from bouclier.evidence.tsa import TimestampError


@pytest.fixture(scope="module")
def stamped(tsa, tmp_path_factory):
    """One timestamped package (with media) shared by the tamper tests."""
    d = tmp_path_factory.mktemp("pkg")
    pub = media_mod.keygen(d / "key.txt")
    res = export(make_snapshot(), d / "pkg.zip", tsa_url=tsa.url, tsa_ca=tsa.ca_pem, include_media=True,
                 recipient=pub, media={3: SUSPECT})
    return d / "pkg.zip", res


def names(p) -> set[str]:
    with zipfile.ZipFile(p) as z:
        return set(z.namelist())


def test_default_export_is_complete_and_verifies(snapshot, tmp_path):
    res = export(snapshot, tmp_path / "pkg.zip")
    assert names(res.path) == {"manifest.json", "README.txt", "custody.json", "reports/item-3.html",
                               "edit-maps/item-3.png", "notices/1-dsa-art16.en.txt", "notices/2-take-it-down.fr.txt"}
    with zipfile.ZipFile(res.path) as z:
        m = json.loads(z.read("manifest.json"))
        custody = json.loads(z.read("custody.json"))
        blob = b"".join(z.read(n) for n in z.namelist())
    assert m["case"]["id"] == "C-7Q2K9M4X" and m["case"]["jurisdictions"] == ["FR", "EU"]
    assert "pseudonym" not in m["case"] and "contact" not in m["case"]
    assert b"Rose-Cedar-41" not in blob and b"rose.cedar@example.org" not in blob and b"prefers contact" not in blob
    it = m["items"][0]
    assert it["url"] == "https://img.example.net/p/abc.jpg" and it["sha256"] == hashlib.sha256(SUSPECT).hexdigest()
    assert it["verdict"] == "manipulated-derivative" and it["scores"]["inliers"] == 40 and it["thresholds"]
    assert it["report"] == "reports/item-3.html" and it["media"] is None
    assert m["tool"]["name"] == "bouclier" and m["created_at"] and m["timestamp"] is None
    arts = {a["path"]: a for a in m["artefacts"]}
    with zipfile.ZipFile(res.path) as z:
        for p, a in arts.items():
            assert hashlib.sha256(z.read(p)).hexdigest() == a["sha256"] and z.getinfo(p).file_size == a["size"]
    assert custody["events"][1]["action"] == "revealed" and custody["package_id"] == m["package_id"]
    # default export: no media, not even encrypted
    assert SUSPECT not in blob and not any(n.startswith("media/") for n in names(res.path))
    rep = verify(res.path)
    assert rep.ok, [str(p) for p in rep.problems]
    assert set(rep.verified) == names(res.path)


def test_timestamped_export_verifies_with_the_ca_and_with_openssl(stamped, tsa, tmp_path):
    pkg, res = stamped
    assert res.timestamp["trusted"] and res.timestamp["signer"] == "CN=bouclier test TSA"
    rep = verify(pkg, tsa_ca=tsa.ca_pem)
    assert rep.ok, [str(p) for p in rep.problems]
    assert rep.timestamp["trusted"] and rep.timestamp["imprint"] == res.manifest_sha256
    assert verify(pkg).timestamp["trusted"] is False  # signature checked, trust not established
    # The documented independent check: unzip + sha256sum + openssl ts -verify.
    with zipfile.ZipFile(pkg) as z:
        z.extractall(tmp_path / "x")
    m = json.loads((tmp_path / "x" / "manifest.json").read_text())
    for a in m["artefacts"]:
        out = subprocess.run(["sha256sum", a["path"]], cwd=tmp_path / "x", capture_output=True, text=True).stdout
        assert out.split()[0] == a["sha256"]
    r = subprocess.run(["openssl", "ts", "-verify", "-in", "manifest.tsr", "-data", "manifest.json", "-CAfile",
                        str(tsa.ca_pem)], cwd=tmp_path / "x", capture_output=True, text=True)
    assert r.returncode == 0 and "Verification: OK" in r.stdout, r.stderr
    # OpenSSL agrees when the manifest changes
    (tmp_path / "x" / "manifest.json").write_bytes((tmp_path / "x" / "manifest.json").read_bytes() + b" ")
    r = subprocess.run(["openssl", "ts", "-verify", "-in", "manifest.tsr", "-data", "manifest.json", "-CAfile",
                        str(tsa.ca_pem)], cwd=tmp_path / "x", capture_output=True, text=True)
    assert r.returncode != 0 and "Verification: OK" not in r.stdout


def test_rsa_tsa_tokens_verify(snapshot, tmp_path_factory, tmp_path):
    from tsa_server import LocalTSA

    t = LocalTSA(tmp_path_factory.mktemp("tsa-rsa"), rsa=True)
    try:
        res = export(snapshot, tmp_path / "p.zip", tsa_url=t.url, tsa_ca=t.ca_pem)
    finally:
        t.stop()
    assert res.timestamp["trusted"] and verify(res.path, tsa_ca=t.ca_pem).ok
    with zipfile.ZipFile(res.path) as z:
        tsr = z.read("manifest.tsr")
    bad = rewrite(res.path, tmp_path / "bad.zip", change={"manifest.tsr": flip(tsr, len(tsr) - 10)})
    assert [p.file for p in verify(bad, tsa_ca=t.ca_pem).problems] == ["manifest.tsr"]


@pytest.mark.parametrize("target", ["reports/item-3.html", "edit-maps/item-3.png", "notices/1-dsa-art16.en.txt",
                                    "custody.json", "media/item-3.age", "README.txt"])
def test_a_changed_byte_in_an_artefact_is_named(stamped, tsa, tmp_path, target):
    pkg, _ = stamped
    with zipfile.ZipFile(pkg) as z:
        data = z.read(target)
    bad = rewrite(pkg, tmp_path / "bad.zip", change={target: flip(data, len(data) // 2)})
    rep = verify(bad, tsa_ca=tsa.ca_pem)
    assert not rep.ok and [p.file for p in rep.problems] == [target], [str(p) for p in rep.problems]
    assert str(rep.problems[0]).startswith(f"{target}: SHA-256 mismatch (manifest ")


def test_a_changed_manifest_breaks_the_timestamp(stamped, tsa, tmp_path):
    pkg, _ = stamped
    with zipfile.ZipFile(pkg) as z:
        m = z.read("manifest.json")
    i = m.index(b"https://img.example.net/p/abc.jpg")  # change a URL, keep valid JSON
    bad = rewrite(pkg, tmp_path / "bad.zip", change={"manifest.json": m[:i + 8] + b"X" + m[i + 9:]})
    rep = verify(bad, tsa_ca=tsa.ca_pem)
    assert [str(p) for p in rep.problems] == ["manifest.tsr: message imprint does not match manifest.json"]
    # and a byte that breaks the JSON is reported as such
    bad2 = rewrite(pkg, tmp_path / "bad2.zip", change={"manifest.json": m.replace(b"{", b"[", 1)})
    assert [p.file for p in verify(bad2).problems] == ["manifest.json"]


@pytest.mark.parametrize("where", ["signature", "middle", "gen_time"])
def test_a_changed_byte_in_the_token_is_named(stamped, tsa, tmp_path, where):
    pkg, _ = stamped
    with zipfile.ZipFile(pkg) as z:
        tsr = z.read("manifest.tsr")
    at = {"signature": len(tsr) - 3, "middle": len(tsr) // 2, "gen_time": tsr.index(b"Z\x30") - 3}[where]
    bad = rewrite(pkg, tmp_path / "bad.zip", change={"manifest.tsr": flip(tsr, at)})
    rep = verify(bad, tsa_ca=tsa.ca_pem)
    assert not rep.ok and {p.file for p in rep.problems} == {"manifest.tsr"}, [str(p) for p in rep.problems]


def test_every_single_bit_flip_in_the_token_is_detected_with_the_ca(stamped, tsa):
    from bouclier.evidence import tsa as tsa_mod

    pkg, _ = stamped
    with zipfile.ZipFile(pkg) as z:
        tsr, m = z.read("manifest.tsr"), z.read("manifest.json")
    ca = tsa_mod.load_ca(tsa.ca_pem)
    undetected = []
    for i in range(len(tsr)):
        try:
            tsa_mod.verify(flip(tsr, i), data=m, ca=ca)
            undetected.append(i)
        except TimestampError:
            pass
    assert undetected == []


def test_wrong_ca_missing_token_extra_and_missing_files(stamped, other_ca, tmp_path):
    pkg, _ = stamped
    rep = verify(pkg, tsa_ca=other_ca)
    assert [p.file for p in rep.problems] == ["manifest.tsr"] and "does not chain to the given CA" in rep.problems[0].message
    bad = rewrite(pkg, tmp_path / "a.zip", drop=("manifest.tsr",), add={"notes.txt": b"x"})
    assert sorted(map(str, verify(bad).problems)) == [
        "manifest.tsr: missing (manifest.json declares a timestamp)", "notes.txt: extra file not in manifest"]
    bad = rewrite(pkg, tmp_path / "b.zip", drop=("reports/item-3.html",))
    assert [str(p) for p in verify(bad).problems] == ["reports/item-3.html: listed in manifest.json but missing from the package"]


def test_custody_log_must_be_well_formed(snapshot, tmp_path):
    res = export(snapshot, tmp_path / "p.zip")
    with zipfile.ZipFile(res.path) as z:
        m, c = json.loads(z.read("manifest.json")), json.loads(z.read("custody.json"))
    c["events"].reverse()  # out of order; re-hash it so only the custody check can catch it
    data = json.dumps(c).encode()
    for a in m["artefacts"]:
        if a["path"] == "custody.json":
            a.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    bad = rewrite(res.path, tmp_path / "bad.zip", change={"custody.json": data, "manifest.json": json.dumps(m).encode()})
    probs = [str(p) for p in verify(bad).problems]
    assert probs == ["custody.json: event 1 is earlier than event 0 (log out of order)"]


def test_hostile_zips_give_clear_errors(tmp_path, stamped):
    pkg, _ = stamped
    (tmp_path / "not.zip").write_bytes(b"this is not a zip file at all\n" * 10)
    rep = verify(tmp_path / "not.zip")
    assert not rep.ok and str(rep.problems[0]) == "not.zip: not a zip file"
    data = pkg.read_bytes()
    (tmp_path / "trunc.zip").write_bytes(data[: len(data) // 2])
    rep = verify(tmp_path / "trunc.zip")
    assert [str(p) for p in rep.problems] == ["trunc.zip: truncated or corrupt zip file (File is not a zip file)"]
    slip = rewrite(pkg, tmp_path / "slip.zip", add={"../../etc/evil.sh": b"echo hi", "/abs.txt": b"x"})
    probs = [str(p) for p in verify(slip).problems]
    assert "../../etc/evil.sh: path escapes the package (zip-slip); refusing this package entry" in probs
    assert any(p.startswith("/abs.txt: absolute path") for p in probs)
    assert not (tmp_path.parent / "etc" / "evil.sh").exists()
    # a zip bomb: 600 MiB of zeros declared in one entry
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", b"{}")
        with z.open("big.bin", "w", force_zip64=True) as f:
            chunk = bytes(1 << 20)
            for _ in range(600):
                f.write(chunk)
    probs = [str(p) for p in verify(bomb).problems]
    assert any(p.startswith("big.bin: entry too large") for p in probs)
    ratio = tmp_path / "ratio.zip"
    with zipfile.ZipFile(ratio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", bytes(40 << 20))
    assert str(verify(ratio).problems[0]).startswith("zeros.bin: suspicious compression ratio")
    dup = tmp_path / "dup.zip"
    with zipfile.ZipFile(pkg) as zin, zipfile.ZipFile(dup, "w") as z:
        for n in zin.namelist():
            z.writestr(n, zin.read(n))
        with pytest.warns(UserWarning):
            z.writestr("README.txt", b"a second README")
    assert "README.txt: duplicate entry in the zip" in [str(p) for p in verify(dup).problems]
    enc = tmp_path / "enc.zip"
    with zipfile.ZipFile(enc, "w") as z:
        z.writestr("manifest.json", b"{}")
    raw = bytearray(enc.read_bytes())  # mark the entry as password-encrypted (local and central headers)
    raw[6] |= 1
    raw[raw.index(b"PK\x01\x02") + 8] |= 1
    enc.write_bytes(bytes(raw))
    probs = [str(p) for p in verify(enc).problems]
    assert probs[0] == "manifest.json: encrypted zip entry (not made by bouclier)", probs
    # raw byte damage in a compressed entry (CRC no longer matches): named, no traceback
    raw = bytearray(data)
    i = raw.index(b"reports/item-3.html") + 40
    raw[i] ^= 0xFF
    (tmp_path / "crc.zip").write_bytes(bytes(raw))
    rep = verify(tmp_path / "crc.zip")
    assert not rep.ok and any(p.file == "reports/item-3.html" for p in rep.problems), [str(p) for p in rep.problems]


def test_media_is_encrypted_and_decrypts_with_the_private_key(stamped, tmp_path):
    pkg, _ = stamped
    raw = pkg.read_bytes()
    with zipfile.ZipFile(pkg) as z:
        enc = z.read("media/item-3.age")
        every = b"".join(z.read(n) for n in z.namelist())
        m = json.loads(z.read("manifest.json"))
    assert SUSPECT not in raw and SUSPECT not in every and SUSPECT[100:160] not in every
    assert enc.startswith(b"age-encryption.org/v1\n-> X25519 ")
    assert m["media"]["included"] and m["media"]["recipient"].startswith("age1") and m["items"][0]["media"]
    from bouclier.evidence.decrypt import decrypt_source

    written, problems = decrypt_source(pkg, pkg.parent / "key.txt", tmp_path / "out")
    assert problems == [] and [p.name for p in written] == ["item-3.png"] and written[0].read_bytes() == SUSPECT
    other = tmp_path / "other.txt"
    media_mod.keygen(other)
    written, problems = decrypt_source(pkg, other, tmp_path / "out2")
    assert written == [] and "cannot decrypt" in problems[0]


def test_bad_options_and_tsa_failures(snapshot, tsa, tmp_path):
    with pytest.raises(ExportError, match="--include-media needs --recipient"):
        export(snapshot, tmp_path / "p.zip", include_media=True)
    with pytest.raises(ExportError, match="only used with --include-media"):
        export(snapshot, tmp_path / "p.zip", recipient="age1xyz")
    with pytest.raises(media_mod.MediaKeyError, match="recipient"):
        export(snapshot, tmp_path / "p.zip", include_media=True, recipient="age1notakey")
    tsa.fail_next = 503
    with pytest.raises(TimestampError, match="HTTP 503"):
        export(snapshot, tmp_path / "p.zip", tsa_url=tsa.url)
    with pytest.raises(TimestampError, match="time-stamping authority http://127.0.0.1:9/"):
        export(snapshot, tmp_path / "p.zip", tsa_url="http://127.0.0.1:9/")
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left
