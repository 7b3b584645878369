"""The registry's in-memory index across restarts: rebuilt from the store (the only source of truth,
so a crash can never leave it stale), through the flat -> IVF switch, with withdrawals in between."""

from __future__ import annotations

import numpy as np
import pytest

from bouclier.bench.scale import synthetic
from bouclier.bundle import Bundle, dumps
from bouclier.service.auth import create_key
from bouclier.service.settings import Settings
from bouclier.service.store import Registry
from bouclier.signals import keypoints as K
from bouclier.signals.keypoints import KeypointQuery


def own_query(fp) -> KeypointQuery:
    kp = fp.signals["orb"]
    desc = np.zeros((len(kp.desc), 32), np.uint8)
    desc[:, :16] = kp.desc
    return KeypointQuery(kp.width, kp.height, [(kp.xy, kp.angle, desc)])


def found(reg: Registry, fp) -> str | None:
    """uid of the photo the descriptor index ranks first for `fp`'s own descriptors."""
    m = reg.index._banks["default"].matcher
    votes = m.index("orb").search(own_query(fp))
    live = {s: v for s, v in votes.items() if m._fps[s] is not None and v >= 32}  # not a chance hit
    return m._keys[max(live, key=live.get)] if live else None


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_restart_rebuilds_the_ivf_from_the_store(kind, tmp_path, database_url, monkeypatch):
    monkeypatch.setattr(K, "FLAT_LIMIT", 3_000)
    monkeypatch.setattr(K, "IVF_REGROW", 2)
    settings = Settings(data_dir=tmp_path, database_url=database_url(kind))
    reg = Registry(settings)
    reg.start()
    client, _ = create_key(reg.db, "helpline", ["submit"])
    fps = synthetic(np.random.default_rng(5), 90)
    cases = [reg.submit(client, "default", dumps(Bundle(fps[i:i + 10], {})), None) for i in range(0, 90, 10)]
    reg.index.settle()
    assert reg.index._banks["default"].matcher.index("orb").kind.startswith("ivf")
    reg.withdraw(client, cases[2].case_id, cases[2].secret)  # photos 20-29
    uids = {i: found(reg, fp) for i, fp in enumerate(fps)}
    assert all(uids[i] is None for i in range(20, 30)) and all(uids[i] for i in range(90) if not 20 <= i < 30)
    reg.db.dispose()

    again = Registry(settings)  # as after a crash: nothing but the store is read
    again.start()
    orb = again.index._banks["default"].matcher.index("orb")
    assert again.index.sizes() == {"default": 80} and len(orb) == 80 and orb.kind.startswith("ivf")
    assert orb.rows.n == orb.index.ntotal == 80 * 128 and orb._job is None  # built at start, not later
    assert {i: found(again, fp) for i, fp in enumerate(fps)} == uids
    # Submits and withdrawals after the restart follow at once, without a rebuild on the request path.
    more = synthetic(np.random.default_rng(6), 10)
    new = again.submit(client, "default", dumps(Bundle(more, {})), None)
    assert all(found(again, fp) for fp in more)
    again.withdraw(client, cases[0].case_id, cases[0].secret)
    again.withdraw(client, new.case_id, new.secret)
    assert all(found(again, fp) is None for fp in fps[:10] + more)
    assert all(found(again, fp) == uids[i] for i, fp in enumerate(fps) if i >= 30)
    again.db.dispose()
