"""End-to-end tests of the `bouclier` command (protect, check) run as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from bouclier import bundle as bundle_mod
from bouclier.load import encode_jpeg

PROTECTED = ("astronaut", "coffee", "chelsea", "rocket", "camera")


def command() -> list[str]:
    """The installed console script next to this Python, else the same entry point through -c."""
    script = Path(sys.executable).with_name("bouclier")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-c", "from bouclier.cli import run; run()"]


def bouclier(*args, cwd=None, **env_extra) -> subprocess.CompletedProcess:
    # A wide terminal so Rich never wraps a file name across lines on stderr.
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb", **env_extra}
    return subprocess.run(command() + [str(a) for a in args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def png_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def png_bomb_header() -> bytes:
    """A valid PNG header declaring 100,000 x 100,000 pixels, with a tiny IDAT."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


HOSTILE = {
    "empty.jpg": (lambda photos: b"", "empty file"),
    "truncated.jpg": (lambda photos: encode_jpeg(photos["coffee"], 90)[:3000], "truncated JPEG"),
    "notes.jpg": (lambda photos: b"these are my holiday notes, not a photo\n" * 3, "not an image"),
    "bomb.png": (lambda photos: png_bomb_header(), "pixel"),
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, photos, astronaut_derivative):
    """Photos folder (good photos in a sub-folder too, plus hostile files), suspects, and bundles."""
    root = tmp_path_factory.mktemp("cli")
    album = root / "album"
    (album / "trip").mkdir(parents=True)
    for n in PROTECTED:
        folder = album / "trip" if n == "rocket" else album
        if n == "chelsea":
            (folder / f"{n}.png").write_bytes(png_bytes(photos[n]))
        else:
            (folder / f"{n}.jpg").write_bytes(encode_jpeg(photos[n], 95))
    for name, (make, _) in HOSTILE.items():
        (album / name).write_bytes(make(photos))
    (album / "notes.json").write_text("{}")  # a sidecar: skipped silently when walking a folder

    suspects = root / "suspects"
    suspects.mkdir()
    (suspects / "derivative.jpg").write_bytes(astronaut_derivative.jpeg)
    (suspects / "unrelated.jpg").write_bytes(encode_jpeg(photos["hubble_deep_field"], 85))
    (suspects / "corrupt.jpg").write_bytes(encode_jpeg(photos["coffee"], 90)[:2000])
    small = photos["chelsea"][::2, ::2]
    (suspects / "small-copy.jpg").write_bytes(encode_jpeg(np.ascontiguousarray(small), 60))

    bundle = root / "protected.bcl"
    protect = bouclier("protect", album, "-o", bundle)
    pdq_bundle = root / "pdq.bcl"
    protect_pdq = bouclier("protect", album, "-o", pdq_bundle, "--pdq-only")
    return {"root": root, "album": album, "suspects": suspects, "bundle": bundle, "protect": protect,
            "pdq_bundle": pdq_bundle, "protect_pdq": protect_pdq}


# --------------------------------------------------------------------------------------------------
# protect


def test_protect_skips_hostile_files_and_writes_bundle(workspace):
    r = workspace["protect"]
    assert r.returncode == 0, r.stderr
    assert workspace["bundle"].is_file()
    for name, (_, reason) in HOSTILE.items():
        lines = [line for line in r.stderr.splitlines() if name in line]
        assert len(lines) == 1, (name, r.stderr)
        assert "skipped" in lines[0] and reason in lines[0], lines[0]
    assert "notes.json" not in r.stderr
    assert "protected 5 photo(s)" in r.stderr and "4 skipped" in r.stderr
    assert "Traceback" not in r.stderr


def test_bundle_holds_the_good_photos(workspace):
    b = bundle_mod.read(workspace["bundle"])
    labels = sorted(fp.label for fp in b.fingerprints)
    assert labels == ["astronaut.jpg", "camera.jpg", "chelsea.png", "coffee.jpg", "rocket.jpg"]
    assert all(set(fp.signals) == {"pdq", "orb", "grid"} for fp in b.fingerprints)
    assert b.meta["count"] == 5 and b.meta["pdq_only"] is False and b.meta["tool"] == "bouclier"
    by_label = {fp.label: fp for fp in b.fingerprints}
    assert (by_label["coffee.jpg"].width, by_label["coffee.jpg"].height) == (600, 400)  # full size recorded


def test_bundle_contains_no_pixels(workspace, photos):
    data = workspace["bundle"].read_bytes()
    assert len(data) / 5 <= 4096
    for magic in (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"II*\x00", b"MM\x00*"):
        assert magic not in data
    # not even a small thumbnail: no run of 64 grey pixels of any protected photo's 64-wide copy
    import cv2

    for n in PROTECTED:
        thumb = cv2.resize(cv2.cvtColor(photos[n], cv2.COLOR_RGB2GRAY), (64, 64), interpolation=cv2.INTER_AREA)
        assert thumb[32].tobytes() not in data


def test_pdq_only_bundle_is_small(workspace):
    r = workspace["protect_pdq"]
    assert r.returncode == 0, r.stderr
    b = bundle_mod.read(workspace["pdq_bundle"])
    assert len(b.fingerprints) == 5 and all(fp.pdq_only for fp in b.fingerprints)
    # 89 bytes (header, PDQ record, CRC) plus the label, here the file name
    overhead = [len(fp.to_bytes()) - len(fp.label.encode()) for fp in b.fingerprints]
    assert max(overhead) < 100
    size = workspace["pdq_bundle"].stat().st_size
    assert size / 5 < 160  # fingerprints + a little metadata JSON
    assert size * 10 < workspace["bundle"].stat().st_size


def test_protect_with_label(tmp_path, workspace):
    out = tmp_path / "labelled.bcl"
    r = bouclier("protect", workspace["album"] / "coffee.jpg", workspace["album"] / "camera.jpg", "-o", out,
                 "--label", "holiday")
    assert r.returncode == 0, r.stderr
    assert [fp.label for fp in bundle_mod.read(out).fingerprints] == ["holiday-001", "holiday-002"]


def test_protect_only_bad_files_fails_without_bundle(tmp_path, workspace):
    out = tmp_path / "none.bcl"
    r = bouclier("protect", workspace["album"] / "empty.jpg", workspace["album"] / "notes.jpg", "-o", out)
    assert r.returncode == 1
    assert "no photo could be read" in r.stderr
    assert not out.exists()


def test_protect_and_check_extreme_strips(tmp_path, workspace, photos):
    """A 6000 x 10 banner's working copy is 512 x 1, on which ORB itself fails: such images get a
    fingerprint without keypoints (PDQ and the edit grid still work) instead of stopping the batch."""
    folder = tmp_path / "strips"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for name, shape in {"banner.png": (10, 6000, 3), "pole.png": (6000, 10, 3), "line.png": (1, 600, 3)}.items():
        (folder / name).write_bytes(png_bytes(rng.integers(0, 256, shape, dtype=np.uint8)))
    (folder / "coffee.jpg").write_bytes(encode_jpeg(photos["coffee"], 90))
    out = tmp_path / "strips.bcl"
    r = bouclier("protect", folder, "-o", out)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    fps = {fp.label: fp for fp in bundle_mod.read(out).fingerprints}
    assert sorted(fps) == ["banner.png", "coffee.jpg", "line.png", "pole.png"]
    assert len(fps["banner.png"].signals["orb"].xy) == 0 and len(fps["coffee.jpg"].signals["orb"].xy) > 0
    r = bouclier("check", *sorted(folder.iterdir()), "--against", out, "--json")
    assert r.returncode == 0, r.stderr
    rows = {Path(j["file"]).name: j for j in map(json.loads, r.stdout.splitlines())}
    assert {n: (j["verdict"], j["protected"]) for n, j in rows.items()} == {n: ("identical", n) for n in fps}


def test_a_bug_on_one_photo_is_reported_and_the_batch_goes_on(tmp_path, workspace, monkeypatch):
    """Fault injection (in process): a signal that raises on one photo, as the strip bug above did.
    protect keeps the other photos and names the failing one; check reports it in its row."""
    from typer.testing import CliRunner

    import bouclier.check
    import bouclier.fingerprint
    from bouclier.cli import app

    real_compute, real_check = bouclier.fingerprint.compute, bouclier.check.check_one

    def compute(image, *, label="", **kw):
        if label == "camera.jpg":
            raise RuntimeError("injected fault")
        return real_compute(image, label=label, **kw)

    def check_one(matcher, source, **kw):
        if Path(source).name == "camera.jpg":
            raise RuntimeError("injected fault")
        return real_check(matcher, source, **kw)

    monkeypatch.setattr(bouclier.fingerprint, "compute", compute)
    monkeypatch.setattr(bouclier.check, "check_one", check_one)
    monkeypatch.setenv("COLUMNS", "500")  # no line wrapping of the messages checked
    album, out = workspace["album"], tmp_path / "b.bcl"
    r = CliRunner().invoke(app, ["protect", str(album / "camera.jpg"), str(album / "coffee.jpg"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "camera.jpg: unexpected error (RuntimeError: injected fault)" in r.output
    assert [fp.label for fp in bundle_mod.read(out).fingerprints] == ["coffee.jpg"]
    r = CliRunner().invoke(app, ["check", str(album / "camera.jpg"), str(album / "coffee.jpg"), "--against",
                                 str(out), "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert [(Path(j["file"]).name, j["verdict"], j.get("error")) for j in rows] == [
        ("camera.jpg", None, "unexpected error (RuntimeError: injected fault)"), ("coffee.jpg", "identical", None)]


def test_protect_names_photos_too_plain_to_match(tmp_path, workspace):
    """A flat photo has no keypoints and a PDQ of quality 0: only its exact bytes can be found, and the
    person protecting it is told. A very dark photo has too weak a PDQ too, but keeps its keypoints:
    flagged only with --pdq-only."""
    plain, dark = tmp_path / "plain.png", tmp_path / "dark.png"
    plain.write_bytes(png_bytes(np.full((400, 600, 3), 30, np.uint8)))
    dark.write_bytes(png_bytes((workspace_photo(workspace, "coffee.jpg") // 12).astype(np.uint8)))
    for extra, named in (([], "(plain.png)"), (["--pdq-only"], "(plain.png, dark.png)")):
        r = bouclier("protect", plain, dark, workspace["album"] / "coffee.jpg", "-o", tmp_path / "p.bcl", *extra)
        assert r.returncode == 0, r.stderr
        assert f"{named.count(',') + 1} photo(s) too plain to match" in r.stderr and named in r.stderr, r.stderr


def workspace_photo(workspace, name: str) -> np.ndarray:
    return np.asarray(PILImage.open(workspace["album"] / name).convert("RGB"))


def test_protect_missing_path_is_reported(tmp_path, workspace):
    out = tmp_path / "b.bcl"
    r = bouclier("protect", workspace["album"] / "coffee.jpg", tmp_path / "nope.jpg", "-o", out)
    assert r.returncode == 0
    assert "nope.jpg" in r.stderr and "no such file" in r.stderr
    assert len(bundle_mod.read(out).fingerprints) == 1


# --------------------------------------------------------------------------------------------------
# check


@pytest.fixture(scope="module")
def checked(workspace):
    s = workspace["suspects"]
    r = bouclier("check", s / "derivative.jpg", s / "unrelated.jpg", s / "corrupt.jpg",
                 workspace["album"] / "trip" / "rocket.jpg", "--against", workspace["bundle"], "--json")
    return r, json_lines(r.stdout)


def test_check_json_one_object_per_suspect(checked):
    r, rows = checked
    assert r.returncode == 0, r.stderr
    assert len(rows) == 4 == len(r.stdout.strip().splitlines())
    for row in rows:
        assert {"file", "verdict", "protected", "edited_fraction", "scores"} <= set(row)
        assert isinstance(row["scores"], dict)
    assert [Path(row["file"]).name for row in rows] == ["derivative.jpg", "unrelated.jpg", "corrupt.jpg", "rocket.jpg"]


def test_check_json_verdicts(checked, astronaut_derivative):
    _, (deriv, unrelated, corrupt, _) = checked
    assert deriv["verdict"] == "manipulated-derivative"
    assert deriv["protected"] == "astronaut.jpg"
    assert abs(deriv["edited_fraction"] - astronaut_derivative.true_fraction) <= 0.15
    assert deriv["scores"]["inliers"] >= 10
    assert deriv["transform"]["mirrored"] is False
    assert deriv["algorithm"]["name"] and deriv["thresholds"]["pdq_distance"] == 31
    assert len(deriv["sha256"]) == 64

    (only,) = deriv["matches"]  # one protected photo in it, described as at the top level
    assert {k: only[k] for k in ("protected", "verdict", "edited_fraction")} == {
        k: deriv[k] for k in ("protected", "verdict", "edited_fraction")}
    assert only["score"] == deriv["scores"]["score"]
    h, w = astronaut_derivative.pixels.shape[:2]  # cropped: the photo's frame reaches past every edge
    assert only["region"] == [0, 0, w, h]

    assert unrelated["verdict"] == "no-match"
    assert unrelated["protected"] is None and unrelated["edited_fraction"] is None
    assert unrelated["matches"] == []

    assert corrupt["verdict"] is None and corrupt["protected"] is None
    assert "truncated" in corrupt["error"]


def _strip_volatile(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "algorithm"}


def test_check_on_several_processes_gives_the_same_rows(workspace, checked):
    """--workers 2: the same JSON objects (in the order they finish), the table in input order, and
    --original prepared in each worker."""
    s = workspace["suspects"]
    files = (s / "derivative.jpg", s / "unrelated.jpg", s / "corrupt.jpg", workspace["album"] / "trip" / "rocket.jpg")
    r = bouclier("check", *files, "--against", workspace["bundle"], "--json", "--workers", "2")
    assert r.returncode == 0, r.stderr
    by_file = {row["file"]: _strip_volatile(row) for row in json_lines(r.stdout)}
    assert by_file == {row["file"]: _strip_volatile(row) for row in checked[1]}
    r = bouclier("check", *files, "--against", workspace["bundle"], "--workers", "3")
    assert r.returncode == 0, r.stderr
    assert [r.stdout.index(f.name) for f in files] == sorted(r.stdout.index(f.name) for f in files)
    r = bouclier("check", files[0], files[1], "--against", workspace["bundle"], "--json", "--workers", "2",
                 "--original", workspace["album"] / "astronaut.jpg")
    rows = {Path(j["file"]).name: j for j in json_lines(r.stdout)}
    assert rows["derivative.jpg"]["original"]["aligned"] is True and "pixel_edited_fraction" in rows["derivative.jpg"]
    assert rows["unrelated.jpg"]["verdict"] == "no-match"
    r = bouclier("check", files[0], "--against", workspace["bundle"], "--workers", "0")
    assert r.returncode == 2 and "--workers" in r.stderr  # a usage error


def test_a_worker_process_that_dies_costs_only_its_file(tmp_path, workspace):
    """A file that kills its worker process (a decoder crash, the kernel's OOM killer) is reported as
    such; the files the other workers held are checked again and keep their verdicts."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, sys\n"
        "if '--multiprocessing-fork' in sys.argv:  # only inside check's (spawned) worker processes\n"
        "    import bouclier.check as c\n"
        "    real = c.check_one\n"
        "    def check_one(matcher, source, **kw):\n"
        "        if str(source).endswith('unrelated.jpg'):\n"
        "            os._exit(9)\n"
        "        return real(matcher, source, **kw)\n"
        "    c.check_one = check_one\n")
    s = workspace["suspects"]
    files = [s / "derivative.jpg", s / "unrelated.jpg", s / "small-copy.jpg", workspace["album"] / "coffee.jpg",
             workspace["album"] / "camera.jpg"]
    r = bouclier("check", *files, "--against", workspace["bundle"], "--json", "--workers", "2",
                 PYTHONPATH=os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]))
    assert r.returncode == 0, r.stderr
    rows = {Path(j["file"]).name: j for j in json_lines(r.stdout)}
    assert sorted(rows) == sorted(f.name for f in files)
    assert rows["unrelated.jpg"]["verdict"] is None and "worker process died" in rows["unrelated.jpg"]["error"]
    assert rows["derivative.jpg"]["verdict"] == "manipulated-derivative"
    assert (rows["coffee.jpg"]["verdict"], rows["coffee.jpg"]["protected"]) == ("identical", "coffee.jpg")
    assert (rows["camera.jpg"]["verdict"], rows["camera.jpg"]["protected"]) == ("identical", "camera.jpg")
    assert rows["small-copy.jpg"]["protected"] == "chelsea.png"


def test_a_batch_keeps_no_pictures_unless_a_report_needs_them(workspace):
    """10,000 suspects would hold ~6 GB of working copies; without --report only the outcome is kept."""
    from bouclier.check import bundle_matcher, check_many

    m = bundle_matcher(bundle_mod.read(workspace["bundle"]).fingerprints)
    files = [workspace["suspects"] / "derivative.jpg", workspace["album"] / "coffee.jpg"]
    kept = [c for _, c in check_many(m, files, original=None, pictures=True)]
    light = [c for _, c in check_many(m, files, original=None, pictures=False)]
    assert all(c.suspect_rgb is not None for c in kept) and kept[0].edit_mask is not None
    assert all(c.suspect_rgb is None and c.edit_mask is None for c in light)
    assert [_strip_volatile(c.to_json()) for c in light] == [_strip_volatile(c.to_json()) for c in kept]


def test_check_folder_and_table_output(workspace):
    r = bouclier("check", workspace["suspects"], "--against", workspace["bundle"])
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for name in ("derivative.jpg", "unrelated.jpg", "corrupt.jpg", "small-copy.jpg"):
        assert name in out
    assert "manipulated-derivative" in out and "no-match" in out and "unreadable" in out


def test_check_with_original(workspace, astronaut_derivative):
    r = bouclier("check", workspace["suspects"] / "derivative.jpg", "--against", workspace["bundle"],
                 "--original", workspace["album"] / "astronaut.jpg", "--json")
    assert r.returncode == 0, r.stderr
    (row,) = json_lines(r.stdout)
    assert row["verdict"] == "manipulated-derivative"
    assert abs(row["pixel_edited_fraction"] - astronaut_derivative.true_fraction) <= 0.15
    assert row["original"]["aligned"] is True and row["original"]["inliers"] > 20
    assert row["original"]["is_matched_photo"] is True and "note" not in row["original"]


def test_check_with_the_wrong_original_says_it_does_not_align(workspace):
    args = ("check", workspace["suspects"] / "derivative.jpg", "--against", workspace["bundle"],
            "--original", workspace["album"] / "coffee.jpg")
    r = bouclier(*args, "--json")
    assert r.returncode == 0, r.stderr
    (row,) = json_lines(r.stdout)
    assert (row["verdict"], row["protected"]) == ("manipulated-derivative", "astronaut.jpg")
    # coffee's 1,500 keypoints align onto this suspect by chance with a support of about 3, above the
    # matcher's threshold: without the checks, the report showed a pixel difference with an unrelated photo
    assert row["original"]["aligned"] is False and "does not align" in row["original"]["note"]
    assert row["original"]["is_matched_photo"] is False and "not the protected photo" in row["original"]["note"]
    assert "pixel_edited_fraction" not in row
    r = bouclier(*args)
    assert r.returncode == 0 and "--original" in r.stderr and "does not align" in r.stderr, r.stderr


def test_pdq_only_bundle_finds_near_duplicate(workspace):
    s = workspace["suspects"]
    r = bouclier("check", s / "small-copy.jpg", s / "unrelated.jpg", "--against", workspace["pdq_bundle"], "--json")
    assert r.returncode == 0, r.stderr
    copy, unrelated = json_lines(r.stdout)
    assert copy["verdict"] == "near-duplicate" and copy["protected"] == "chelsea.png"
    assert copy["scores"]["pdq_distance"] <= 31
    assert unrelated["verdict"] == "no-match"


def test_check_exact_file_is_identical(checked):
    row = checked[1][3]
    assert row["verdict"] == "identical" and row["protected"] == "rocket.jpg"
    assert row["edited_fraction"] == 0.0


def exif_jpeg(stored: np.ndarray, orientation: int) -> bytes:
    im = PILImage.fromarray(stored)
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def test_exif_rotated_suspects_match_upright(tmp_path, workspace, photos):
    """Phone JPEGs: pixels stored sideways or upside down, EXIF says how to show them. Each displays as
    the protected coffee photo, so it must match with no rotation (proving the orientation was applied;
    unapplied, PDQ's dihedral variants would still match, but rotated)."""
    files = []
    for orientation, stored_turns in [(6, 1), (8, -1), (3, 2)]:
        stored = np.ascontiguousarray(np.rot90(photos["coffee"], stored_turns))
        files.append(tmp_path / f"phone-{orientation}.jpg")
        files[-1].write_bytes(exif_jpeg(stored, orientation))
    r = bouclier("check", *files, "--against", workspace["bundle"], "--json")
    assert r.returncode == 0, r.stderr
    rows = json_lines(r.stdout)
    assert len(rows) == 3
    for row in rows:
        assert row["verdict"] in ("near-duplicate", "identical") and row["protected"] == "coffee.jpg", row
        assert row["scores"]["pdq_variant"] == 0 and row["scores"]["pdq_distance"] <= 31, row
        assert abs(row["transform"]["rotation_deg"]) < 3, row


# --------------------------------------------------------------------------------------------------
# Failures and usage


def test_missing_bundle_is_exit_1(tmp_path, workspace):
    r = bouclier("check", workspace["suspects"] / "derivative.jpg", "--against", tmp_path / "missing.bcl")
    assert r.returncode == 1
    assert "missing.bcl" in r.stderr and "cannot read bundle" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.parametrize("content", [b"", b"garbage, not a bundle", b"BCLB\x01" + b"\x00" * 60])
def test_garbage_bundle_is_exit_1(tmp_path, workspace, content):
    bad = tmp_path / "bad.bcl"
    bad.write_bytes(content)
    r = bouclier("check", workspace["suspects"] / "derivative.jpg", "--against", bad, "--json")
    assert r.returncode == 1
    assert "bad.bcl" in r.stderr and "error" in r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_truncated_bundle_is_exit_1(tmp_path, workspace):
    bad = tmp_path / "cut.bcl"
    bad.write_bytes(workspace["bundle"].read_bytes()[:-100])
    r = bouclier("check", workspace["suspects"] / "derivative.jpg", "--against", bad)
    assert r.returncode == 1
    assert "corrupted or truncated" in r.stderr and "Traceback" not in r.stderr


def test_no_args_is_usage_exit_2():
    r = bouclier()
    assert r.returncode == 2
    assert "Usage" in r.stdout + r.stderr


@pytest.mark.parametrize("args", [["check", "x.jpg"], ["protect", "x.jpg"], ["frobnicate"], ["check", "--nope"]])
def test_usage_errors_exit_2(args):
    r = bouclier(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr


def test_version():
    from bouclier import __version__

    r = bouclier("--version")
    assert r.returncode == 0 and r.stdout.strip() == __version__


def test_no_suspects_found_is_exit_1(tmp_path, workspace):
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    r = bouclier("check", empty, "--against", workspace["bundle"])
    assert r.returncode == 1 and "no suspect files found" in r.stderr


def test_check_report_is_self_contained(tmp_path, workspace):
    """`--report` writes one HTML file naming the verdict, the matched photo and the files' SHA-256,
    with every picture embedded and nothing fetched or run."""
    import hashlib
    import re

    out = tmp_path / "evidence" / "report.html"
    deriv = workspace["suspects"] / "derivative.jpg"
    # BOUCLIER_REPORT_PDF=0: the PDF (WeasyPrint) is optional and slow; the HTML is what is checked here
    r = bouclier("check", deriv, workspace["suspects"] / "unrelated.jpg", "--against", workspace["bundle"],
                 "--json", "--report", out, BOUCLIER_REPORT_PDF="0")
    assert r.returncode == 0, r.stderr
    assert [row["verdict"] for row in json_lines(r.stdout)] == ["manipulated-derivative", "no-match"]
    assert out.is_file() and str(out) in r.stderr
    html = out.read_text(encoding="utf-8")
    assert "manipulated-derivative" in html and "astronaut.jpg" in html
    assert hashlib.sha256(deriv.read_bytes()).hexdigest() in html
    assert hashlib.sha256(workspace["bundle"].read_bytes()).hexdigest() in html
    assert "data:image/jpeg;base64," in html
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)


def test_check_collage_lists_every_protected_photo_in_it(tmp_path, workspace, photos, derive):
    """A before/after post (the photo, then its edit) above another protected photo: the JSON row
    leads with the manipulated derivative and lists all three, each with its region; the report
    names the others and outlines them."""
    import cv2

    def fit(p, h=300):
        return cv2.resize(p, (round(p.shape[1] * h / p.shape[0]), h), interpolation=cv2.INTER_AREA)

    edited = derive(photos["astronaut"], crop=0.0, scale=1.0, quality=95).pixels
    top = np.concatenate([fit(photos["astronaut"]), np.full((300, 16, 3), 255, np.uint8), fit(edited)], axis=1)
    post = np.full((616, 616, 3), 255, np.uint8)  # the pair on top, another photo below
    post[:300], post[316:, :450] = top, fit(photos["coffee"])
    path = tmp_path / "post.jpg"
    path.write_bytes(encode_jpeg(post, 90))
    out = tmp_path / "report.html"
    r = bouclier("check", path, "--against", workspace["bundle"], "--json", "--report", out,
                 BOUCLIER_REPORT_PDF="0")
    assert r.returncode == 0, r.stderr
    (row,) = json_lines(r.stdout)
    assert (row["verdict"], row["protected"]) == ("manipulated-derivative", "astronaut.jpg")
    assert row["matches"][0]["verdict"] == row["verdict"] and row["matches"][0]["score"] == row["scores"]["score"]
    found = {(m["protected"], m["verdict"]): m["region"] for m in row["matches"]}
    want = {("astronaut.jpg", "near-duplicate"): (0, 0, 300, 300),
            ("astronaut.jpg", "manipulated-derivative"): (316, 0, 616, 300),
            ("coffee.jpg", "near-duplicate"): (0, 316, 450, 616)}
    assert set(found) == set(want) and len(row["matches"]) == 3
    for key, box in want.items():
        assert np.abs(np.subtract(found[key], box)).max() <= 6, (key, found[key])
    html = out.read_text(encoding="utf-8")
    assert html.count("Also in this image") == 2 and "Orange: the other protected photos" in html


# --------------------------------------------------------------------------------------------------
# hashes: PDQ lists for HMA / ThreatExchange / StopNCII


@pytest.mark.parametrize("fmt", ["threatexchange", "hma", "stopncii"])
def test_hashes_export_then_import_finds_copies_by_pdq(tmp_path, workspace, fmt):
    listing = tmp_path / "list.out"
    r = bouclier("hashes", "export", workspace["bundle"], "--format", fmt, "-o", listing)
    assert r.returncode == 0, r.stderr
    want = {fp.pdq_hex for fp in bundle_mod.read(workspace["bundle"]).fingerprints if fp.pdq.quality >= 50}
    text = listing.read_text()
    assert all(h in text for h in want) and "astronaut" not in text  # hashes only, never labels
    if fmt != "threatexchange":
        json.loads(text)
    back = tmp_path / "from-list.bcl"
    r = bouclier("hashes", "import", listing, "--format", fmt, "-o", back)
    assert r.returncode == 0, r.stderr
    fps = bundle_mod.read(back).fingerprints
    assert {fp.pdq_hex for fp in fps} == want and all(fp.pdq_only for fp in fps)
    # a JPEG copy of a protected photo is found by PDQ alone; the unrelated photo is not
    copy = tmp_path / "copy.jpg"
    copy.write_bytes((workspace["album"] / "coffee.jpg").read_bytes())
    r = bouclier("check", copy, workspace["suspects"] / "unrelated.jpg", "--against", back, "--json")
    assert r.returncode == 0, r.stderr
    got = {Path(d["file"]).name: d["verdict"] for d in json_lines(r.stdout)}
    assert got["copy.jpg"] in ("identical", "near-duplicate") and got["unrelated.jpg"] == "no-match"


def test_hashes_export_leaves_out_low_quality_hashes(tmp_path, workspace):
    from bouclier.fingerprint import Fingerprint

    low = Fingerprint.pdq_only_hash("ab" * 32, 20, label="flat")
    good = Fingerprint.pdq_only_hash("cd" * 32, 90, label="fine")
    b = tmp_path / "mixed.bcl"
    bundle_mod.write(b, bundle_mod.Bundle([low, good, good], {}))
    r = bouclier("hashes", "export", b, "--format", "threatexchange")
    assert r.stdout == "pdq " + "cd" * 32 + "\n" and "1 under quality 50 left out" in r.stderr
    r = bouclier("hashes", "export", b, "--format", "threatexchange", "--min-quality", "0")
    assert r.stdout.splitlines() == ["pdq " + "ab" * 32, "pdq " + "cd" * 32]


def test_hashes_import_reports_bad_lists_and_applies_withdrawals(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("pdq " + "ab" * 32 + "\npdq nothex\n")
    r = bouclier("hashes", "import", bad, "--format", "threatexchange", "-o", tmp_path / "x.bcl")
    assert r.returncode == 1 and "line 2: not a PDQ hash" in r.stderr and not (tmp_path / "x.bcl").exists()
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    r = bouclier("hashes", "import", deep, "--format", "hma", "-o", tmp_path / "x.bcl")
    assert r.returncode == 1 and "invalid JSON" in r.stderr and "Traceback" not in r.stderr
    r = bouclier("hashes", "import", bad, "--format", "csv", "-o", tmp_path / "x.bcl")
    assert r.returncode == 2 and "--format must be one of" in r.stderr
    recs = [{"signalType": "ImagePDQ", "hashValue": "ab" * 32, "hashStatus": "Active", "lastModtimestamp": 1},
            {"signalType": "ImagePDQ", "hashValue": "cd" * 32, "hashStatus": "Active", "lastModtimestamp": 1},
            {"signalType": "ImagePDQ", "hashValue": "ab" * 32, "hashStatus": "Withdrawn", "lastModtimestamp": 2},
            {"signalType": "VideoMD5", "hashValue": "00", "lastModtimestamp": 1}]
    sn = tmp_path / "stopncii.json"
    sn.write_text(json.dumps({"hashRecords": recs}))
    r = bouclier("hashes", "import", sn, "--format", "stopncii", "-o", tmp_path / "s.bcl")
    assert r.returncode == 0, r.stderr
    assert "1 other entry skipped" in r.stderr and "1 withdrawn" in r.stderr
    assert [fp.pdq_hex for fp in bundle_mod.read(tmp_path / "s.bcl").fingerprints] == ["cd" * 32]
