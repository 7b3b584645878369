"""Helpers for the service tests: real servers in subprocesses, the CLI, synthetic images and bundles."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image as PILImage

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra: dict | None = None) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("BOUCLIER_CONFIG", None)
    env.update({k: str(v) for k, v in (extra or {}).items() if v is not None})
    return env


def service_cli(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m bouclier.service ARGS` (the commands bouclier/cli.py mounts)."""
    r = subprocess.run([PY, "-m", "bouclier.service", *args], cwd=REPO, env=child_env(env),
                       capture_output=True, text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"bouclier {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


class Server:
    """`bouclier serve` in a subprocess on a loopback port, with its own data folder and database."""

    def __init__(self, data_dir: Path, database_url: str | None, env: dict | None = None):
        self.data_dir, self.database_url = Path(data_dir), database_url
        self.env = {"BOUCLIER_DATA_DIR": str(data_dir), "BOUCLIER_DATABASE_URL": database_url,
                    "BOUCLIER_LOG_LEVEL": "warning", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log = self.data_dir / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> "Server":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([PY, "-m", "bouclier.service", "serve", "--port", str(self.port)],
                                     cwd=REPO, env=child_env(self.env), stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"server did not come up in {timeout}s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return service_cli(*args, env=self.env, check=check)

    def key(self, name: str, *scopes: str, rate: int | None = None) -> str:
        args = ["keys", "create", "--name", name] + [a for s in scopes for a in ("--scope", s)]
        if rate:
            args += ["--rate", str(rate)]
        out = self.cli(*args).stdout.strip().splitlines()
        return out[-1]

    def client(self, key: str | None = None, timeout: float = 60) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


# -- synthetic images -----------------------------------------------------------------------------

def texture(seed: int, size: tuple[int, int] = (256, 320)) -> np.ndarray:
    """A distinct, feature-rich synthetic RGB image (smooth colour noise plus random shapes)."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = size
    small = rng.integers(0, 256, (h // 16, w // 16, 3), dtype=np.uint8)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(25):
        c = tuple(int(x) for x in rng.integers(0, 256, 3))
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if rng.random() < 0.5:
            cv2.circle(img, p, int(rng.integers(4, 30)), c, -1)
        else:
            cv2.rectangle(img, p, (p[0] + int(rng.integers(5, 50)), p[1] + int(rng.integers(5, 50))), c, -1)
    return img


def encode(pixels: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, format=fmt, **kw)
    return buf.getvalue()


def fingerprint(data: bytes, label: str = "", pdq_only: bool = False):
    from bouclier.fingerprint import compute
    from bouclier.load import load

    return compute(load(data, name=label or "img"), label=label, pdq_only=pdq_only)


def make_bundle(images: list[bytes], pdq_only: bool = False) -> bytes:
    """A bundle file, as `bouclier protect` writes, made with the real engine."""
    from bouclier import bundle

    fps = [fingerprint(d, f"photo{i}.png", pdq_only) for i, d in enumerate(images)]
    return bundle.dumps(bundle.Bundle(fingerprints=fps, meta={}))


def query_bytes(data: bytes) -> bytes:
    from bouclier.fingerprint import Query
    from bouclier.load import load

    return Query.compute(load(data, name="q")).to_bytes()


def parse_metrics(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
