"""Fingerprint, query and bundle formats: computed sizes, exact round trips, and corruption always
reported as FormatError (property tests with hypothesis)."""

from __future__ import annotations

import hashlib
import json
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bouclier import bundle as bundle_mod
from bouclier.errors import FormatError
from bouclier.fingerprint import FLAG_PDQ_ONLY, Fingerprint, Query, compute
from bouclier.load import encode_jpeg, load
from bouclier.signals.grid import CELLS, EditGrid, GridQuery
from bouclier.signals.keypoints import KeypointQuery, Keypoints
from bouclier.signals.pdq import PDQ, PDQQuery

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------------
# Strategies: signals built directly from random arrays


@st.composite
def pdqs(draw):
    return PDQ(draw(st.binary(min_size=32, max_size=32)), draw(st.integers(0, 100)))


@st.composite
def keypoint_sets(draw):
    w = draw(st.integers(1, 65535))
    h = draw(st.integers(1, 65535))
    n = draw(st.integers(0, 160))
    nb = draw(st.sampled_from([1, 8, 16, 32]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    xy = (rng.random((n, 2)) * [w - 1, h - 1]).astype(np.float32)
    ang = (rng.random(n) * 360).astype(np.float32)
    desc = rng.integers(0, 256, (n, nb), dtype=np.uint8)
    return Keypoints(w, h, xy, ang, desc).quantised()  # positions and angles as the format keeps them


@st.composite
def grids(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return EditGrid(rng.integers(0, 16, (CELLS, CELLS), dtype=np.uint8),
                    rng.integers(0, 16, (CELLS, CELLS), dtype=np.uint8))


@st.composite
def fingerprints(draw):
    signals = {}
    if draw(st.booleans()):
        signals["pdq"] = draw(pdqs())
    if draw(st.booleans()):
        signals["orb"] = draw(keypoint_sets())
    if draw(st.booleans()):
        signals["grid"] = draw(grids())
    return Fingerprint(
        label=draw(st.text(max_size=300)),
        sha256=draw(st.binary(min_size=32, max_size=32)).hex(),
        width=draw(st.integers(0, 2**32 - 1)),
        height=draw(st.integers(0, 2**32 - 1)),
        signals=signals,
    )


@st.composite
def queries(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    ww, wh = draw(st.integers(1, 65535)), draw(st.integers(1, 65535))
    ors = []
    for _ in range(draw(st.integers(1, 2))):
        n = draw(st.integers(0, 300))
        ors.append(((rng.random((n, 2)) * 512).astype(np.float32), (rng.random(n) * 360).astype(np.float32),
                    rng.integers(0, 256, (n, 32), dtype=np.uint8)))
    gw, gh = draw(st.integers(1, 384)), draw(st.integers(1, 384))
    pq = PDQQuery([rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(draw(st.integers(1, 8)))],
                  draw(st.integers(0, 100)))
    return Query(draw(st.binary(min_size=32, max_size=32)).hex(), draw(st.integers(0, 2**32 - 1)),
                 draw(st.integers(0, 2**32 - 1)), pq, KeypointQuery(ww, wh, ors),
                 GridQuery(ww, wh, rng.integers(0, 256, (gh, gw), dtype=np.uint8)))


# --------------------------------------------------------------------------------------------------
# Equality helpers (signals hold numpy arrays, so dataclass == does not apply)


def assert_same_signal(a, b):
    assert type(a) is type(b)
    if isinstance(a, PDQ):
        assert a == b
    elif isinstance(a, Keypoints):
        assert (a.width, a.height) == (b.width, b.height)
        np.testing.assert_array_equal(a.xy, b.xy)
        np.testing.assert_array_equal(a.angle, b.angle)
        assert len(a.desc) == len(b.desc) == len(a.xy)
        if len(a.xy):
            np.testing.assert_array_equal(a.desc, b.desc)
    elif isinstance(a, EditGrid):
        np.testing.assert_array_equal(a.luma, b.luma)
        np.testing.assert_array_equal(a.texture, b.texture)
    else:  # pragma: no cover
        raise AssertionError(type(a))


def assert_same_fingerprint(a: Fingerprint, b: Fingerprint, *, label: str | None = None):
    assert b.label == (a.label if label is None else label)
    assert (b.sha256, b.width, b.height) == (a.sha256, a.width, a.height)
    assert set(b.signals) == set(a.signals)
    for k in a.signals:
        assert_same_signal(a.signals[k], b.signals[k])


def assert_same_query(a: Query, b: Query):
    assert (b.sha256, b.width, b.height) == (a.sha256, a.width, a.height)
    assert b.pdq == a.pdq
    assert (b.keypoints.width, b.keypoints.height) == (a.keypoints.width, a.keypoints.height)
    for x, y in zip(a.keypoints.orientations, b.keypoints.orientations, strict=True):
        for u, v in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, v)
    assert (b.grid.work_width, b.grid.work_height) == (a.grid.work_width, a.grid.work_height)
    np.testing.assert_array_equal(a.grid.gray, b.grid.gray)


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def with_sha(body: bytes) -> bytes:
    return body + hashlib.sha256(body).digest()


# --------------------------------------------------------------------------------------------------
# Computed fingerprints


@pytest.fixture(scope="module")
def astro_image(photos):
    return load(encode_jpeg(photos["astronaut"], 92), name="astronaut.jpg", max_side=512)


@pytest.fixture(scope="module")
def astro_fp(astro_image):
    return compute(astro_image, label="astronaut.jpg")


@pytest.fixture(scope="module")
def astro_query(photos):
    return Query.compute(load(encode_jpeg(np.ascontiguousarray(photos["astronaut"][::2, ::2]), 70)))


def test_computed_fingerprint_contents(astro_image, astro_fp):
    assert set(astro_fp.signals) == {"pdq", "orb", "grid"}
    assert not astro_fp.pdq_only
    assert astro_fp.sha256 == astro_image.sha256 and astro_fp.id == astro_image.sha256[:16]
    assert (astro_fp.width, astro_fp.height) == (512, 512)
    assert astro_fp.pdq_hex == astro_fp.pdq.hash.hex() and len(astro_fp.pdq_hex) == 64
    assert astro_fp.pdq_quality == astro_fp.pdq.quality


def test_computed_fingerprint_size_within_budget(astro_fp):
    data = astro_fp.to_bytes()
    assert len(data) <= 4096  # the ceiling per photo
    assert data[:4] == b"BCLF"


def test_computed_fingerprint_round_trip_exact(astro_fp):
    back = Fingerprint.from_bytes(astro_fp.to_bytes())
    assert_same_fingerprint(astro_fp, back)
    assert back.to_bytes() == astro_fp.to_bytes()


def test_pdq_only_fingerprint(astro_image, astro_fp):
    fp = compute(astro_image, label="a", pdq_only=True)
    assert set(fp.signals) == {"pdq"} and fp.pdq_only
    assert fp.pdq == astro_fp.pdq
    data = fp.to_bytes()
    assert data[5] & FLAG_PDQ_ONLY
    assert len(data) < 100
    back = Fingerprint.from_bytes(data)
    assert back.pdq_only and back.pdq == fp.pdq


SHAPES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SHAPES
@given(long=st.integers(1, 6000), short=st.integers(1, 48), tall=st.booleans(), noise=st.booleans())
def test_any_image_shape_fingerprints_and_matches_itself(long, short, tall, noise):
    """Thin strips and tiny images (working copies down to 512 x 1) fingerprint without error, round
    trip, and match themselves; the matcher never sees an exception from a signal."""
    from bouclier.load import load_array
    from bouclier.match import Matcher

    h, w = (long, short) if tall else (short, long)
    rng = np.random.default_rng(long * 100 + short)
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if noise else np.full((h, w, 3), 90, np.uint8)
    img = load_array(a)
    fp = compute(img, label="strip")
    assert set(fp.signals) == {"pdq", "orb", "grid"} and (fp.width, fp.height) == (w, h)
    assert Fingerprint.from_bytes(fp.to_bytes()).to_bytes() == fp.to_bytes()
    q = Query.from_bytes(Query.compute(img).to_bytes())
    m = Matcher()
    m.add("strip", fp)
    r = m.match_query(q)
    assert (r.verdict, r.protected) == ("identical", "strip")


def test_fingerprint_with_no_signals():
    fp = Fingerprint("empty", "ab" * 32, 10, 20)
    back = Fingerprint.from_bytes(fp.to_bytes())
    assert back.signals == {} and back.pdq is None and back.pdq_hex is None and back.pdq_quality is None


def test_label_truncated_to_255_bytes_at_a_utf8_boundary():
    label = "é" * 200  # 400 bytes of UTF-8: byte 255 falls in the middle of a character
    fp = Fingerprint(label, "00" * 32, 1, 1, {"pdq": PDQ(bytes(32), 50)})
    back = Fingerprint.from_bytes(fp.to_bytes())
    assert back.label == "é" * 127 + "\ufffd"  # the cut character is replaced, never a crash
    assert back.pdq == fp.pdq
    ascii_label = "x" * 1000
    assert Fingerprint.from_bytes(Fingerprint(ascii_label, "00" * 32, 1, 1).to_bytes()).label == "x" * 255


def test_unknown_signal_kind_is_skipped(astro_fp):
    """A newer writer's extra kind (unknown tag) or newer kind version is skipped, the rest still read."""
    body = astro_fp.to_bytes()[:-4]
    label_len = body[46]
    count_at = 47 + label_len
    extra = struct.pack("<BBH", 200, 1, 5) + b"hello" + struct.pack("<BBH", 1, 9, 33) + bytes(33)
    body = body[:count_at] + bytes([body[count_at] + 2]) + body[count_at + 1 :] + extra
    back = Fingerprint.from_bytes(with_crc(body))
    assert_same_fingerprint(astro_fp, back)


def test_bad_magic_and_version_are_format_errors(astro_fp):
    body = astro_fp.to_bytes()[:-4]
    with pytest.raises(FormatError, match="magic"):
        Fingerprint.from_bytes(with_crc(b"XXXX" + body[4:]))
    with pytest.raises(FormatError, match="version"):
        Fingerprint.from_bytes(with_crc(body[:4] + b"\x02" + body[5:]))
    with pytest.raises(FormatError):
        Fingerprint.from_bytes(b"")


def test_header_only_fingerprint_with_valid_crc_is_format_error(astro_fp):
    """Regression: a body that ends right after the fixed header used to raise IndexError."""
    head = astro_fp.to_bytes()[:46]
    for extra in (b"", b"\x00", b"\x05ab"):
        with pytest.raises(FormatError):
            Fingerprint.from_bytes(with_crc(head + extra))


def test_computed_query_round_trip(astro_query):
    data = astro_query.to_bytes()
    assert data[:4] == b"BCLQ"
    assert_same_query(astro_query, Query.from_bytes(data))


def test_query_is_not_a_fingerprint(astro_query, astro_fp):
    with pytest.raises(FormatError):
        Fingerprint.from_bytes(astro_query.to_bytes())
    with pytest.raises(FormatError):
        Query.from_bytes(astro_fp.to_bytes())


# --------------------------------------------------------------------------------------------------
# Property tests: round trips


@PROPS
@given(fingerprints())
def test_fingerprint_round_trip(fp):
    back = Fingerprint.from_bytes(fp.to_bytes())
    expected_label = fp.label.encode()[:255].decode("utf-8", "replace")
    assert_same_fingerprint(fp, back, label=expected_label)
    assert back.pdq_only == fp.pdq_only


@PROPS
@given(fingerprints())
def test_fingerprint_bytes_are_stable(fp):
    """Writing what was read gives the same bytes (when the label fits in 255 bytes)."""
    assume(len(fp.label.encode()) <= 255)
    data = fp.to_bytes()
    assert Fingerprint.from_bytes(data).to_bytes() == data


@PROPS
@given(keypoint_sets())
def test_keypoints_round_trip(kp):
    assert_same_signal(kp, Keypoints.from_bytes(kp.to_bytes(), Keypoints.version))
    assert (kp.xy >= 0).all() and (kp.xy[:, 0] <= kp.width - 1).all() and (kp.xy[:, 1] <= kp.height - 1).all()


@PROPS
@given(queries())
def test_query_round_trip(q):
    assert_same_query(q, Query.from_bytes(q.to_bytes()))


@PROPS
@given(st.lists(fingerprints(), max_size=5),
       st.dictionaries(st.text(max_size=20), st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9),
                                                       st.text(max_size=40)), max_size=5))
def test_bundle_round_trip(fps, meta):
    fps = [f for f in fps if len(f.label.encode()) <= 255]
    b = bundle_mod.loads(bundle_mod.dumps(bundle_mod.Bundle(fps, meta)))
    assert b.meta == meta
    assert len(b.fingerprints) == len(fps)
    for a, c in zip(fps, b.fingerprints):
        assert_same_fingerprint(a, c)


def test_bundle_write_read(tmp_path, astro_fp):
    p = tmp_path / "sub" / "protected.bcl"
    b = bundle_mod.Bundle([astro_fp, astro_fp], bundle_mod.new_meta(label="x", count=2))
    bundle_mod.write(p, b)
    back = bundle_mod.read(p)
    assert back.meta["tool"] == "bouclier" and back.meta["count"] == 2 and "created" in back.meta
    assert len(back.fingerprints) == 2
    assert_same_fingerprint(astro_fp, back.fingerprints[1])
    assert [q.name for q in p.parent.iterdir()] == ["protected.bcl"]  # no temporary file left behind
    with pytest.raises(FormatError, match="cannot read bundle"):
        bundle_mod.read(tmp_path / "missing.bcl")
    (tmp_path / "junk.bcl").write_bytes(b"hello, world")
    with pytest.raises(FormatError, match="junk.bcl"):
        bundle_mod.read(tmp_path / "junk.bcl")


# --------------------------------------------------------------------------------------------------
# Property tests: corruption is always a FormatError (the checksum catches it)


@pytest.fixture(scope="module")
def valid_fingerprint_bytes(astro_fp):
    return astro_fp.to_bytes()


@pytest.fixture(scope="module")
def valid_bundle_bytes(astro_fp, photos):
    other = compute(load(encode_jpeg(photos["coffee"], 90)), label="coffee", pdq_only=True)
    return bundle_mod.dumps(bundle_mod.Bundle([astro_fp, other], {"tool": "bouclier"}))


@FUZZ
@given(data=st.data())
def test_fingerprint_byte_flips_are_format_errors(valid_fingerprint_bytes, data):
    raw = bytearray(valid_fingerprint_bytes)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    assume(bytes(raw) != valid_fingerprint_bytes)
    with pytest.raises(FormatError):
        Fingerprint.from_bytes(bytes(raw))


@FUZZ
@given(data=st.data())
def test_fingerprint_truncations_and_extensions_are_format_errors(valid_fingerprint_bytes, data):
    n = len(valid_fingerprint_bytes)
    cut = data.draw(st.integers(0, n - 1))
    with pytest.raises(FormatError):
        Fingerprint.from_bytes(valid_fingerprint_bytes[:cut])
    tail = data.draw(st.binary(min_size=1, max_size=16))
    with pytest.raises(FormatError):
        Fingerprint.from_bytes(valid_fingerprint_bytes + tail)


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_are_not_a_fingerprint(raw):
    with pytest.raises(FormatError):
        Fingerprint.from_bytes(raw)


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_are_not_a_query(raw):
    with pytest.raises(FormatError):
        Query.from_bytes(raw)


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_are_not_a_bundle(raw):
    with pytest.raises(FormatError):
        bundle_mod.loads(raw)


@st.composite
def crafted_fingerprint_bodies(draw):
    """Structurally plausible bodies (right magic and version, random records) with a valid CRC:
    the parser itself must reject what is malformed, with FormatError only."""
    head = struct.pack("<4sBBII32s", b"BCLF", 1, draw(st.integers(0, 255)), draw(st.integers(0, 2**32 - 1)),
                       draw(st.integers(0, 2**32 - 1)), bytes(32))
    label = draw(st.binary(max_size=40))
    parts = [head, bytes([draw(st.integers(0, 255))]), label]
    if draw(st.booleans()):
        parts.append(bytes([draw(st.integers(0, 255))]))
        for _ in range(draw(st.integers(0, 4))):
            payload = draw(st.binary(max_size=200))
            tag = draw(st.sampled_from([1, 2, 3, 77]))
            ver = draw(st.sampled_from([1, 1, 1, 2]))
            ln = draw(st.one_of(st.just(len(payload)), st.integers(0, 65535)))
            parts.append(struct.pack("<BBH", tag, ver, ln) + payload)
    return b"".join(parts)


@FUZZ
@given(crafted_fingerprint_bodies())
def test_crafted_fingerprints_with_valid_crc_raise_only_format_error(body):
    try:
        fp = Fingerprint.from_bytes(with_crc(body))
    except FormatError:
        return
    assert isinstance(fp, Fingerprint)
    fp.to_bytes()  # whatever was accepted can be written again


@st.composite
def crafted_query_bodies(draw):
    head = struct.pack("<4sBBII32s", b"BCLQ", 1, 0, draw(st.integers(0, 2**32 - 1)), 1, bytes(32))
    parts = [head]
    for _ in range(draw(st.integers(0, 3))):
        payload = draw(st.binary(max_size=300))
        ln = draw(st.one_of(st.just(len(payload)), st.integers(0, 2**32 - 1)))
        parts.append(struct.pack("<I", ln) + payload)
    return b"".join(parts)


@FUZZ
@given(crafted_query_bodies())
def test_crafted_queries_with_valid_crc_raise_only_format_error(body):
    try:
        q = Query.from_bytes(with_crc(body))
    except FormatError:
        return
    assert isinstance(q, Query)


@FUZZ
@given(data=st.data())
def test_bundle_byte_flips_are_format_errors(valid_bundle_bytes, data):
    raw = bytearray(valid_bundle_bytes)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
    assume(bytes(raw) != valid_bundle_bytes)
    with pytest.raises(FormatError):
        bundle_mod.loads(bytes(raw))


@FUZZ
@given(data=st.data())
def test_bundle_truncations_and_extensions_are_format_errors(valid_bundle_bytes, data):
    cut = data.draw(st.integers(0, len(valid_bundle_bytes) - 1))
    with pytest.raises(FormatError):
        bundle_mod.loads(valid_bundle_bytes[:cut])
    with pytest.raises(FormatError):
        bundle_mod.loads(valid_bundle_bytes + data.draw(st.binary(min_size=1, max_size=16)))


@FUZZ
@given(st.binary(max_size=300), st.integers(0, 2**32 - 1), st.binary(max_size=300))
def test_crafted_bundles_with_valid_sha_raise_only_format_error(meta, count, rest):
    body = b"BCLB\x01" + struct.pack("<I", len(meta)) + meta + struct.pack("<I", count) + rest
    try:
        b = bundle_mod.loads(with_sha(body))
    except FormatError:
        return
    assert isinstance(b.meta, dict)


@pytest.mark.parametrize("meta", [b"[" * 100_000, b"1" * 5000, b"\xff\xfe", b"{", b"nope"])
def test_hostile_bundle_metadata_is_format_error(meta):
    """Regression: deeply nested or over-long-number JSON used to escape as RecursionError / ValueError."""
    body = b"BCLB\x01" + struct.pack("<I", len(meta)) + meta + struct.pack("<I", 0)
    with pytest.raises(FormatError, match="metadata"):
        bundle_mod.loads(with_sha(body))


def test_bundle_declaring_too_many_fingerprints_is_format_error():
    meta = json.dumps({}).encode()
    body = b"BCLB\x01" + struct.pack("<I", len(meta)) + meta + struct.pack("<I", 2_000_000)
    with pytest.raises(FormatError, match="limit"):
        bundle_mod.loads(with_sha(body))


def test_bundle_with_trailing_bytes_inside_checksum_is_format_error(astro_fp):
    body = bundle_mod.dumps(bundle_mod.Bundle([astro_fp], {}))[:-32] + b"extra"
    with pytest.raises(FormatError, match="trailing"):
        bundle_mod.loads(with_sha(body))


def test_bundle_of_other_version_is_format_error(astro_fp):
    body = bundle_mod.dumps(bundle_mod.Bundle([astro_fp], {}))[:-32]
    with pytest.raises(FormatError, match="version"):
        bundle_mod.loads(with_sha(body[:4] + b"\x07" + body[5:]))
