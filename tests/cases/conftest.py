"""Fixtures of the cases tests: a started Registry (SQLite and a real PostgreSQL) with two protections
(astronaut and coffee, from scikit-image), the `Cases` domain on it, and benign suspects.

PostgreSQL comes from the service tests' fixtures (BOUCLIER_TEST_PG_URL, or a cluster started here).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVICE_TESTS = Path(__file__).resolve().parents[1] / "service"
sys.path.insert(0, str(SERVICE_TESTS))
sys.path.insert(0, str(Path(__file__).parent))

_spec = importlib.util.spec_from_file_location("service_conftest_for_cases", SERVICE_TESTS / "conftest.py")
_svc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_svc)
pg_base_url = _svc.pg_base_url  # session fixture, reused
fresh_pg = _svc._fresh_pg

DATABASES = ["sqlite", "postgresql"]


def bundle_of(rgbs: dict) -> bytes:
    """A bundle as `bouclier protect` makes it (fingerprints only)."""
    from bouclier import bundle
    from bouclier.fingerprint import compute
    from bouclier.load import load_array

    fps = [compute(load_array(rgb, name=n), label=n) for n, rgb in rgbs.items()]
    return bundle.dumps(bundle.Bundle(fps, bundle.new_meta(label="test")))


@dataclass
class World:
    kind: str
    data_dir: Path
    reg: object
    cases: object
    protections: dict  # photo name -> protection case id
    suspects: dict  # name -> JPEG bytes


@pytest.fixture(scope="module", params=DATABASES)
def world(request, tmp_path_factory, photos, astronaut_derivative):
    from bouclier.cases.store import Cases
    from bouclier.load import encode_jpeg
    from bouclier.service.auth import create_key
    from bouclier.service.settings import load_settings
    from bouclier.service.store import Registry

    kind = request.param
    url = drop = None
    if kind == "postgresql":
        url, drop = fresh_pg(request.getfixturevalue("pg_base_url"))
    d = tmp_path_factory.mktemp(f"cases-{kind}")
    reg = Registry(load_settings(data_dir=d, env={}, database_url=url))
    reg.start()
    client, _ = create_key(reg.db, "helpline", ["submit"])
    prot = {n: reg.submit(client, "default", bundle_of({n: photos[n]}), None).case_id for n in ("astronaut", "coffee")}
    suspects = {"astronaut-derivative.jpg": astronaut_derivative.jpeg,
                "unrelated.jpg": encode_jpeg(photos["hubble_deep_field"][:400, :600].copy(), 85)}
    yield World(kind, d, reg, Cases(reg), prot, suspects)
    reg.db.dispose()
    if drop:
        drop()
