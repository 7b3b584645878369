"""The whole flow through the real CLI and a real server: keys -> protect -> submit -> match a
manipulated derivative -> withdraw -> the same upload no longer matches. Benign edits only."""

from __future__ import annotations

import subprocess

import cv2
import numpy as np
import pytest
from skimage import data

from service_helpers import PY, REPO, child_env, encode, parse_metrics


def bouclier(*args: str, env: dict) -> str:
    """The `bouclier` command (bouclier/cli.py, with the service commands mounted)."""
    r = subprocess.run([PY, "-c", "from bouclier.cli import app; app(prog_name='bouclier')", *args],
                       cwd=REPO, env=child_env(env), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"bouclier {' '.join(args)}: {r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_full_flow(server_factory, kind, tmp_path, derive):
    srv = server_factory(kind)
    helpline = bouclier("keys", "create", "--name", "helpline", "--scope", "submit", env=srv.env).strip().splitlines()[-1]
    platform = bouclier("keys", "create", "--name", "platform", "--scope", "match", env=srv.env).strip().splitlines()[-1]
    assert helpline.startswith("bcl_") and platform.startswith("bcl_") and helpline != platform

    # On the person's device: protect photos (only fingerprints go into the bundle).
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, img in (("astronaut.png", data.astronaut()), ("coffee.png", data.coffee())):
        (photos / name).write_bytes(encode(img))
    bundle = tmp_path / "mine.bcl"
    bouclier("protect", str(photos), "-o", str(bundle), env=srv.env)

    with srv.client(helpline) as h, srv.client(platform) as p:
        r = h.post("/v1/protections", files={"bundle": ("mine.bcl", bundle.read_bytes())},
                   headers={"Idempotency-Key": "flow-1"})
        assert r.status_code == 201, r.text
        case = r.json()
        assert case["fingerprints"] == 2

        # Benign edit: a lower-central rectangle (~30 % of the photo) blur-filled, 15 % cropped, JPEG 60.
        d = derive(data.astronaut(), scale=1.0, quality=60)
        upload = d.jpeg
        r = p.post("/v1/match", files={"file": ("upload.jpg", upload)})
        assert r.status_code == 200, r.text
        m = r.json()
        assert m["verdict"] == "manipulated-derivative", m
        assert m["protected"]["case_id"] == case["case_id"] and m["protected"]["bank"] == "default"
        assert abs(m["edited_fraction"] - d.true_fraction) < 0.15 and m["scores"]["inliers"] > 0
        (only,) = m["matches"]
        assert only["protected"] == m["protected"] and only["verdict"] == m["verdict"]
        assert p.post("/v1/match", files={"file": ("cat.png", encode(data.chelsea()))}).json()["verdict"] == "no-match"

        # A collage: the derivative beside the other protected photo. Both are answered and recorded.
        post = np.full((384, 800, 3), 255, np.uint8)
        post[:, :384] = cv2.resize(derive(data.astronaut(), crop=0.0, scale=1.0).pixels, (384, 384))
        post[:267, 400:] = cv2.resize(data.coffee(), (400, 267))
        admin = srv.key("ops", "admin")
        with srv.client(admin) as a:
            before = parse_metrics(a.get("/metrics").text)["bouclier_matches_recorded"]
            m = p.post("/v1/match", files={"file": ("post.jpg", encode(post, "JPEG", quality=90))}).json()
            assert m["verdict"] == "manipulated-derivative" and m["protected"]["photo"] == 0, m
            got = sorted((x["region"][0] > 390, x["protected"]["photo"], x["verdict"]) for x in m["matches"])
            assert got == [(False, 0, "manipulated-derivative"), (True, 1, "near-duplicate")], m["matches"]
            assert parse_metrics(a.get("/metrics").text)["bouclier_matches_recorded"] == before + 2

        r = h.delete(f"/v1/protections/{case['case_id']}", headers={"X-Case-Secret": case["secret"]})
        assert r.status_code == 200 and r.json()["removed"] == 2

        r = p.post("/v1/match", files={"file": ("upload.jpg", upload)})
        assert r.status_code == 200 and r.json()["verdict"] == "no-match" and r.json()["protected"] is None
    assert "intact" in bouclier("audit", "verify", env=srv.env)
