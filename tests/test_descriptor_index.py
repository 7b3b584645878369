"""The descriptor index across its flat -> IVF switch, background rebuilds and withdrawals.

Small limits (monkeypatched) put a few hundred synthetic photos through every state the index has
at 100k+ photos. A photo queried with its own descriptors must come first; a withdrawn one never.
"""

from __future__ import annotations

import numpy as np
import pytest

from bouclier.bench.scale import synthetic
from bouclier.match import Matcher
from bouclier.signals import keypoints as K
from bouclier.signals.keypoints import DescriptorIndex, KeypointQuery


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(K, "FLAT_LIMIT", 4_000)  # 31 photos of 128 descriptors
    monkeypatch.setattr(K, "IVF_REGROW", 2)


def photos(n: int, seed: int):
    return [fp.signals["orb"] for fp in synthetic(np.random.default_rng(seed), n)]


def query_of(kp) -> KeypointQuery:
    """The photo's own keypoints as a suspect (256-bit query descriptors, the first 128 bits its own)."""
    desc = np.zeros((len(kp.desc), 32), np.uint8)
    desc[:, :16] = kp.desc
    return KeypointQuery(kp.width, kp.height, [(kp.xy, kp.angle, desc)])


def best(index: DescriptorIndex, kp) -> int | None:
    votes = index.search(query_of(kp))
    return max(votes, key=votes.get) if votes else None


def check_all(index: DescriptorIndex, kps: dict, dead=()) -> None:
    for slot, kp in kps.items():
        if slot in dead:
            assert slot not in index.search(query_of(kp))
        else:
            assert best(index, kp) == slot


def test_adds_and_removes_across_the_ivf_switch(small_limits):
    index = DescriptorIndex()
    kps = dict(enumerate(photos(20, 1)))
    for s, kp in kps.items():
        index.add(s, kp)
    check_all(index, kps)
    assert index.kind == "flat"
    # Request-sized adds past the limit: the flat index keeps answering while an IVF is built aside.
    for s, kp in enumerate(photos(30, 2), start=20):
        kps[s] = kp
        index.add(s, kp)
        if s % 10 == 0:
            check_all(index, kps)
    index.remove(3)
    index.settle()
    # photo 3 was withdrawn while the IVF was being built: masked now, dropped at the next build
    assert index.kind.startswith("ivf") and index.rows.n == index.index.ntotal == 50 * 128
    assert len(index) == 49
    check_all(index, kps, dead={3})
    # Adds and removes into the IVF, then a regrow (background build) that drops the withdrawn rows.
    for s, kp in enumerate(photos(80, 3), start=50):
        kps[s] = kp
        index.add(s, kp)
        index.search(query_of(kp))  # one request at a time
        if s % 7 == 0:
            index.remove(s - 1)
    dead = {3} | {s - 1 for s in range(50, 130) if s % 7 == 0}
    index.settle()
    kept = set(index.rows.owner[:index.rows.n].tolist())
    assert index.rows.n == index.index.ntotal == len(kept) * 128 < 130 * 128  # withdrawn rows dropped
    assert index._dead_photos == len(kept & dead) < len(dead)
    assert len(index) == 130 - len(dead)
    check_all(index, kps, dead)


def test_a_bulk_load_builds_the_ivf_at_once(small_limits):
    index = DescriptorIndex()
    kps = dict(enumerate(photos(200, 4)))
    for s, kp in kps.items():
        index.add(s, kp)
    index.search(query_of(kps[0]))
    assert index.kind.startswith("ivf") and index._job is None  # built in the call, not aside
    check_all(index, kps)


def test_rows_added_during_a_background_build_are_kept(small_limits, monkeypatch):
    index = DescriptorIndex()
    kps = dict(enumerate(photos(60, 5)))
    for s, kp in kps.items():
        index.add(s, kp)
    index.settle()
    gate = __import__("threading").Event()
    real = K._build_ivf

    def slow(*a, **kw):
        gate.wait(30)
        return real(*a, **kw)

    monkeypatch.setattr(K, "_build_ivf", slow)
    for s, kp in enumerate(photos(70, 6), start=60):  # past 2x: a rebuild starts and waits
        kps[s] = kp
        index.add(s, kp)
        index.search(query_of(kp))
    assert index._job is not None and index._job.is_alive()
    late = dict(enumerate(photos(5, 7), start=130))
    for s, kp in late.items():
        kps[s] = kp
        index.add(s, kp)
    index.remove(61)
    index.remove(131)
    check_all(index, kps, dead={61, 131})  # answered by the old index meanwhile
    gate.set()
    index.settle()
    assert index._built_on < index.rows.n == index.index.ntotal
    check_all(index, kps, dead={61, 131})


def test_a_failed_background_build_keeps_the_live_index(small_limits, monkeypatch):
    index = DescriptorIndex()
    kps = dict(enumerate(photos(20, 8)))
    for s, kp in kps.items():
        index.add(s, kp)
    index.settle()

    def broken(*a, **kw):
        raise MemoryError("no room")

    monkeypatch.setattr(K, "_build_ivf", broken)
    for s, kp in enumerate(photos(20, 9), start=20):
        kps[s] = kp
        index.add(s, kp)
        index.search(query_of(kp))
    index.settle()
    assert index.kind == "flat"
    check_all(index, kps)


def test_matcher_withdrawals_never_match_and_need_no_rebuild(small_limits):
    m = Matcher()
    fps = synthetic(np.random.default_rng(10), 120)
    for fp in fps:
        m.add(fp.label, fp)
    m.settle()
    index = m.index("orb")
    built = index.index
    for fp in fps[:60]:  # half withdrawn: the live index is not rebuilt in the call
        assert m.remove(fp.label)
        assert index.index is built or index._job is None
    m.settle()
    assert len(m) == len(index) == 60 and index.rows.n == 60 * 128
    for i in (0, 59, 60, 119):
        votes = index.search(query_of(fps[i].signals["orb"]))
        assert (m._slot.get(fps[i].label) in votes) == (i >= 60)


def test_a_repeated_pattern_cannot_outvote_the_right_photo():
    # A suspect with a repetitive pattern (a tiled logo, a textured fill) repeats one descriptor many
    # times; if it matches one keypoint of an unrelated photo, that keypoint votes once, not 400 times.
    index = DescriptorIndex()
    right, unrelated = photos(2, 5)
    index.add(0, right)
    index.add(1, unrelated)
    kept = query_of(right)
    xy, ang, desc = kept.orientations[0]
    n = 30  # a third of a large edit's survivors
    rep = np.zeros((400, 32), np.uint8)
    rep[:, :16] = unrelated.desc[7]
    q = KeypointQuery(right.width, right.height, [(
        np.vstack([xy[:n], np.tile(unrelated.xy[7], (400, 1))]),
        np.concatenate([ang[:n], np.full(400, unrelated.angle[7])]),
        np.vstack([desc[:n], rep]))])
    votes = index.search(q)
    assert votes[1] <= 3 < votes[0]  # one keypoint, counted in at most its bin and the two beside it
    assert max(votes, key=votes.get) == 0
