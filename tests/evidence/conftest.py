"""Fixtures of the evidence tests: a local OpenSSL TSA on loopback and a case snapshot."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
# The local TSA is on loopback: never route it through a proxy from the environment.
for _k in ("no_proxy", "NO_PROXY"):
    os.environ[_k] = ",".join(x for x in ("127.0.0.1", "localhost", os.environ.get(_k)) if x)
from evidence_helpers import make_snapshot  # noqa: E402
from tsa_server import LocalTSA, make_ca  # noqa: E402


@pytest.fixture(scope="session")
def tsa(tmp_path_factory):
    t = LocalTSA(tmp_path_factory.mktemp("tsa"))
    yield t
    t.stop()


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory) -> Path:
    """A CA that did not issue the TSA's certificate."""
    return make_ca(tmp_path_factory.mktemp("other-ca"), "some other CA")


@pytest.fixture
def snapshot() -> dict:
    return make_snapshot()
