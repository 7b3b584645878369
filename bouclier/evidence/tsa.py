"""RFC 3161 time-stamping: ask a time-stamping authority (TSA) for a token over HTTP, and verify one.

asn1crypto parses (it tolerates the unsorted certificate sets that OpenSSL-based TSAs emit); the
`cryptography` wheel checks signatures and the certificate chain. A token is valid when: the TSA
granted it; its message imprint is the digest of the data; its CMS signature verifies with the signer
certificate (signed attributes: content type TSTInfo, message digest of the TSTInfo, ESS certificate
hash); the signer has the critical extendedKeyUsage timeStamping; and, when CA certificates are given,
the signer chains to one of them with every certificate valid at the token's time. No revocation
(CRL/OCSP) checks: the network may be out of reach where packages are verified.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from asn1crypto import core, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import BouclierError

MAX_RESPONSE = 1 << 20
HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha1": hashes.SHA1}


class TimestampError(BouclierError):
    """A token is malformed or invalid, or the TSA could not be used."""


class ImprintMismatch(TimestampError):
    """The token is over other data."""


@dataclass
class TokenInfo:
    gen_time: str
    serial: int
    policy: str
    hash_algorithm: str
    imprint: str
    signer: str
    trusted: bool  # chained to a CA that the caller gave

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def load_ca(path: str | Path) -> list[x509.Certificate]:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise TimestampError(f"cannot read CA file {path}: {e.strerror or e}") from None
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise TimestampError(f"{path}: no PEM or DER certificate in it") from None


def request(url: str, data: bytes, *, ca: list[x509.Certificate] | None = None, timeout: float = 30) -> tuple[bytes, TokenInfo]:
    """Timestamp SHA-256(data) at `url`; returns the DER TimeStampResp, verified (nonce included)."""
    if not url.startswith(("http://", "https://")):
        raise TimestampError(f"time-stamping authority URL must be http:// or https://, not {url!r}")
    digest, nonce = hashlib.sha256(data).digest(), secrets.randbits(63)
    body = tsp.TimeStampReq({"version": "v1", "nonce": nonce, "cert_req": True, "message_imprint": {
        "hash_algorithm": {"algorithm": "sha256"}, "hashed_message": digest}}).dump()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            resp = r.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as e:
        raise TimestampError(f"time-stamping authority {url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise TimestampError(f"time-stamping authority {url}: {getattr(e, 'reason', None) or e}") from None
    if len(resp) > MAX_RESPONSE:
        raise TimestampError(f"time-stamping authority {url}: response larger than {MAX_RESPONSE} bytes")
    try:
        info = verify(resp, digest=digest, ca=ca, nonce=nonce)
    except TimestampError as e:
        raise TimestampError(f"time-stamping authority {url} sent an unusable token: {e}") from None
    return resp, info


def verify(resp_der: bytes, *, data: bytes | None = None, digest: bytes | None = None,
           ca: list[x509.Certificate] | None = None, nonce: int | None = None) -> TokenInfo:
    """Check a DER TimeStampResp over `data` (or its SHA-256 `digest`). Raises TimestampError."""
    try:
        return _verify(resp_der, data, digest, ca, nonce)
    except TimestampError:
        raise
    except Exception as e:  # hostile bytes: asn1crypto parses lazily and may raise anything
        raise TimestampError(f"malformed timestamp token ({type(e).__name__}: {e})") from None


def _verify(resp_der, data, digest, ca, nonce) -> TokenInfo:
    try:
        resp = tsp.TimeStampResp.load(resp_der, strict=True)
        status = resp["status"]["status"].native
    except Exception as e:
        raise TimestampError(f"not an RFC 3161 timestamp response ({type(e).__name__})") from None
    if status != "granted":
        text = resp["status"]["status_string"].native
        raise TimestampError(f"the TSA did not grant a token (status {status}{': ' + '; '.join(text) if text else ''})")
    token = resp["time_stamp_token"]
    if token["content_type"].native != "signed_data":
        raise TimestampError("the token is not CMS SignedData")
    sd = token["content"]
    eci = sd["encap_content_info"]
    if eci["content_type"].native != "tst_info":
        raise TimestampError("the token's content is not a TSTInfo")
    tst_bytes = eci["content"].contents
    tst = tsp.TSTInfo.load(tst_bytes)
    mi = tst["message_imprint"]
    alg = mi["hash_algorithm"]["algorithm"].native
    imprint = mi["hashed_message"].native
    if data is not None:
        if alg not in HASHES or alg == "sha1":
            raise TimestampError(f"unsupported message imprint algorithm {alg}")
        expected = hashlib.new(alg, data).digest()
    else:
        if alg != "sha256":
            raise TimestampError(f"message imprint uses {alg}, SHA-256 expected")
        expected = digest
    if imprint != expected:
        raise ImprintMismatch("message imprint does not match the data")
    if nonce is not None and tst["nonce"].native != nonce:
        raise TimestampError("nonce in the token differs from the request's (replayed response?)")
    gen_time = tst["gen_time"].native
    if gen_time.tzinfo is None:
        gen_time = gen_time.replace(tzinfo=timezone.utc)

    if len(sd["signer_infos"]) != 1:
        raise TimestampError(f"expected one signer, found {len(sd['signer_infos'])}")
    si = sd["signer_infos"][0]
    if sd["version"].native != "v3":
        raise TimestampError("the token's SignedData version is not 3")
    certs = [] if isinstance(sd["certificates"], core.Void) else \
        [c.chosen for c in sd["certificates"] if c.name == "certificate"]
    for c in certs:  # parts of a certificate that its signature does not cover (RFC 5280 4.1.1.2)
        if c["signature_algorithm"].dump() != c["tbs_certificate"]["signature"].dump() or c["signature_value"].contents[:1] != b"\0":
            raise TimestampError(f"certificate {c.subject.human_friendly} in the token is malformed")
    embedded = [x509.load_der_x509_certificate(c.dump()) for c in certs]
    signer = _find_signer(si["sid"], embedded + list(ca or []))
    if si["version"].native != ("v1" if si["sid"].name == "issuer_and_serial_number" else "v3"):
        raise TimestampError("signer info version does not match its identifier")
    if si["digest_algorithm"].dump() not in {a.dump() for a in sd["digest_algorithms"]}:
        raise TimestampError("the signer's digest algorithm is not among the token's digest algorithms")
    _check_signature(si, tst_bytes, signer)
    _check_eku(signer)
    if ca:
        _check_chain(signer, embedded, ca, gen_time)
    _check_embedded(embedded, list(ca or []), strict=bool(ca))
    return TokenInfo(gen_time=gen_time.isoformat(), serial=tst["serial_number"].native, policy=tst["policy"].native,
                     hash_algorithm=alg, imprint=imprint.hex(), signer=signer.subject.rfc4514_string(), trusted=bool(ca))


def _find_signer(sid, certs: list[x509.Certificate]) -> x509.Certificate:
    for c in certs:
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if c.serial_number == ias["serial_number"].native and c.issuer.public_bytes() == ias["issuer"].dump():
                return c
        else:
            try:
                ski = c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if ski == sid.chosen.native:
                return c
    raise TimestampError("the signer's certificate is neither in the token nor among the given CA certificates")


def _check_signature(si, tst_bytes: bytes, signer: x509.Certificate) -> None:
    dalg = si["digest_algorithm"]["algorithm"].native
    if dalg not in HASHES or si["digest_algorithm"]["parameters"].native is not None:
        raise TimestampError(f"unsupported digest algorithm {dalg}")
    salg = si["signature_algorithm"]
    try:
        shash = salg.hash_algo
    except ValueError:  # a bare key-type OID (rsaEncryption, ed25519): the digest algorithm applies
        shash = dalg
    if shash != dalg:
        raise TimestampError(f"signature algorithm {salg['algorithm'].native} does not use digest {dalg}")
    attrs = si["signed_attrs"]
    if not len(attrs):
        raise TimestampError("the token has no signed attributes")
    values = {a["type"].native: a["values"] for a in attrs}
    if values.get("content_type") is None or values["content_type"][0].native != "tst_info":
        raise TimestampError("signed content-type attribute is not TSTInfo")
    if values.get("message_digest") is None or values["message_digest"][0].native != hashlib.new(dalg, tst_bytes).digest():
        raise TimestampError("signed message digest does not match the TSTInfo (token altered)")
    ess = values.get("signing_certificate_v2") or values.get("signing_certificate")
    if ess is not None:
        first = ess[0]["certs"][0]
        halg = first["hash_algorithm"]["algorithm"].native if "hash_algorithm" in first else "sha1"
        if first["cert_hash"].native != hashlib.new(halg, signer.public_bytes(Encoding.DER)).digest():
            raise TimestampError("signing-certificate attribute does not match the signer's certificate")
    signed = b"\x31" + attrs.dump()[1:]  # signature covers the attributes as a SET, not [0] IMPLICIT
    sig = si["signature"].native
    h = HASHES[dalg]()
    key = signer.public_key()
    try:
        kinds = {rsa.RSAPublicKey: ("rsassa_pkcs1v15", "rsassa_pss"), ec.EllipticCurvePublicKey: ("ecdsa",),
                 ed25519.Ed25519PublicKey: ("ed25519",), ed448.Ed448PublicKey: ("ed448",)}
        if not any(isinstance(key, k) and salg.signature_algo in v for k, v in kinds.items()):
            raise TimestampError(f"signature algorithm {salg['algorithm'].native} does not fit the signer's key")
        if isinstance(key, rsa.RSAPublicKey):
            if salg.signature_algo == "rsassa_pss":
                p = salg["parameters"]
                mgf_h = HASHES[p["mask_gen_algorithm"]["parameters"]["algorithm"].native]()
                pad = padding.PSS(mgf=padding.MGF1(mgf_h), salt_length=p["salt_length"].native)
            else:
                pad = padding.PKCS1v15()
            key.verify(sig, signed, pad, h)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, signed, ec.ECDSA(h))
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(sig, signed)
        else:
            raise TimestampError(f"unsupported signer key type {type(key).__name__}")
    except InvalidSignature:
        raise TimestampError("signature does not verify (token altered)") from None
    except UnsupportedAlgorithm as e:
        raise TimestampError(f"unsupported signature algorithm ({e})") from None


def _check_eku(cert: x509.Certificate) -> None:
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        raise TimestampError("the signer's certificate has no extendedKeyUsage (timeStamping required)") from None
    if x509.ExtendedKeyUsageOID.TIME_STAMPING not in eku.value or not eku.critical:
        raise TimestampError("the signer's certificate lacks a critical extendedKeyUsage timeStamping")


def _valid_at(c: x509.Certificate, t: datetime) -> None:
    if not (c.not_valid_before_utc <= t <= c.not_valid_after_utc):
        raise TimestampError(f"certificate {c.subject.rfc4514_string()} was not valid at {t.isoformat()}")


def _check_chain(signer, embedded, anchors, t: datetime) -> None:
    anchor_der = {a.public_bytes(Encoding.DER) for a in anchors}
    cur = signer
    for _ in range(8):
        _valid_at(cur, t)
        if cur.public_bytes(Encoding.DER) in anchor_der:
            return
        nxt = None
        for cand in anchors + [c for c in embedded if _is_ca(c)]:
            if cand.subject != cur.issuer or cand.public_bytes(Encoding.DER) == cur.public_bytes(Encoding.DER):
                continue
            try:
                cur.verify_directly_issued_by(cand)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            nxt = cand
            break
        if nxt is None:
            raise TimestampError(f"the signer {signer.subject.rfc4514_string()} does not chain to the given CA")
        cur = nxt
    raise TimestampError("certificate chain too long")


def _check_embedded(embedded, anchors, strict: bool) -> None:
    """Every certificate in the token must verify against an issuer in the token or the CA file (when
    the CA is given; without it, certificates whose issuer is absent cannot be checked)."""
    anchor_der = {a.public_bytes(Encoding.DER) for a in anchors}
    pool = embedded + anchors
    for c in embedded:
        if c.public_bytes(Encoding.DER) in anchor_der:
            continue
        issuers = [i for i in pool if i.subject == c.issuer]
        ok = False
        for i in issuers:
            try:
                c.verify_directly_issued_by(i)
                ok = True
                break
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
        if issuers and not ok:
            raise TimestampError(f"certificate {c.subject.rfc4514_string()} in the token does not verify (altered)")
        if strict and not ok:
            raise TimestampError(f"certificate {c.subject.rfc4514_string()} in the token has no issuer among the "
                                 "token's certificates or the given CA")


def _is_ca(c: x509.Certificate) -> bool:
    try:
        return c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False

