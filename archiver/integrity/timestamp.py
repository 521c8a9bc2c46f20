"""RFC 3161 trusted timestamps of a manifest digest.

A signature shows who vouches for a manifest; a timestamp from an independent
authority (TSA) shows the manifest existed at a time the archiver could not backdate.
Every token is checked on receipt (:func:`verify_response`): status granted, the
TSTInfo's message imprint is our SHA-256 digest, the nonce is ours, the CMS signed
attributes carry the digest of the TSTInfo, and the signature verifies with the
certificate in the token, which must be a time-stamping certificate. Whether that
certificate chains to a trusted root is a question for the verifier of an export
(``openssl ts -verify -CAfile``), not for receipt: the archiver keeps what it got.

The archiver must work offline: :class:`TimestampClient` never raises for a TSA that
cannot be reached, answers badly or too slowly (``integrity.tsa_timeout``, a total
deadline per request); it returns a :class:`PendingTimestamp` that a later
:meth:`TimestampClient.retry` turns into a token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID

from archiver.bounded import PrivateLoop, bounded
from archiver.errors import TimestampError
from archiver.integrity import _der as der
from archiver.integrity._der import Node

SHA256_OID = "2.16.840.1.101.3.4.2.1"
SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
TST_INFO_OID = "1.2.840.113549.1.9.16.1.4"
CONTENT_TYPE_ATTR = "1.2.840.113549.1.9.3"
MESSAGE_DIGEST_ATTR = "1.2.840.113549.1.9.4"
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "1.3.14.3.2.26": hashes.SHA1,
    SHA256_OID: hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_STATUS = {0: "granted", 1: "grantedWithMods", 2: "rejection", 3: "waiting", 4: "revocationWarning", 5: "revocationNotification"}  # fmt: skip
QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"


def build_request(digest: bytes, nonce: int) -> bytes:
    """TimeStampReq DER: v1, SHA-256 message imprint, nonce, certReq TRUE."""
    if len(digest) != 32:
        raise ValueError("expected a 32-byte SHA-256 digest")
    imprint = der.sequence(der.sequence(der.oid(SHA256_OID), der.null()), der.octet_string(digest))
    return der.sequence(der.integer(1), imprint, der.integer(nonce), der.boolean(True))


def new_nonce() -> int:
    return secrets.randbits(63) | 1 << 62  # positive, 8 bytes, never 0


@dataclass(frozen=True)
class TimestampToken:
    """A verified token. ``token`` is the DER ContentInfo to store and export."""

    tsa_url: str
    digest: str  # hex SHA-256 that was stamped
    token: bytes
    gen_time: datetime
    serial: int
    policy: str
    nonce: int
    tsa_certificate_sha256: str
    received_at: datetime


@dataclass(frozen=True)
class PendingTimestamp:
    """A stamp not obtained yet; ``reason`` says why (offline, refused, bad token)."""

    tsa_url: str
    digest: str
    reason: str
    attempted_at: datetime
    attempts: int = 1


TimestampResult = TimestampToken | PendingTimestamp


@dataclass(frozen=True)
class _TstInfo:
    policy: str
    hash_oid: str
    hashed_message: bytes
    serial: int
    gen_time: datetime
    nonce: int | None


def verify_response(
    response: bytes, digest: bytes, nonce: int, *, tsa_url: str, received_at: datetime
) -> TimestampToken:
    """Check a TimeStampResp against our request; the token it carries, or TimestampError."""
    try:
        return _verify_response(response, digest, nonce, tsa_url, received_at)
    except (IndexError, StopIteration, ValueError) as exc:
        raise TimestampError(f"malformed time-stamp response: {exc!r}") from exc


def _verify_response(
    response: bytes, digest: bytes, nonce: int, tsa_url: str, received_at: datetime
) -> TimestampToken:
    parts = der.decode_one(response).expect(der.SEQUENCE).children()
    if not parts:
        raise TimestampError("empty TimeStampResp")
    status_info = parts[0].expect(der.SEQUENCE).children()
    status = status_info[0].integer()
    if status not in (0, 1):
        texts = [
            s.content.decode("utf-8", "replace")
            for n in status_info[1:]
            if n.tag == der.SEQUENCE
            for s in n.children()
        ]
        detail = f": {'; '.join(texts)}" if texts else ""
        raise TimestampError(f"TSA answered {_STATUS.get(status, status)}{detail}")
    if len(parts) < 2:
        raise TimestampError("TSA granted but sent no token")
    token = parts[1]
    tst_der, signer_infos, certificates = _signed_data(token)
    info = _parse_tst_info(tst_der)
    if info.hash_oid != SHA256_OID or info.hashed_message != digest:
        raise TimestampError("token's message imprint is not our digest")
    if info.nonce != nonce:
        raise TimestampError(f"token's nonce {info.nonce} is not ours ({nonce})")
    cert = _verify_signer(tst_der, signer_infos, certificates)
    return TimestampToken(
        tsa_url=tsa_url,
        digest=digest.hex(),
        token=token.encoded,
        gen_time=info.gen_time,
        serial=info.serial,
        policy=info.policy,
        nonce=nonce,
        tsa_certificate_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        received_at=received_at,
    )


def token_info(token: bytes) -> tuple[str, datetime, int]:
    """(digest hex, genTime, serial) of a stored token, without re-verifying it."""
    try:
        tst_der, _signers, _certs = _signed_data(der.decode_one(token))
        info = _parse_tst_info(tst_der)
    except (IndexError, StopIteration, ValueError) as exc:
        raise TimestampError(f"malformed time-stamp token: {exc!r}") from exc
    return info.hashed_message.hex(), info.gen_time, info.serial


@dataclass(frozen=True)
class StoredTokenCheck:
    """What a stored token says, once its signature has been checked offline."""

    gen_time: datetime
    serial: int
    tsa_subject: str
    tsa_certificate_sha256: str


def verify_token(token: bytes, digest: bytes) -> StoredTokenCheck:
    """Check a stored token (DER ContentInfo) offline: it stamps ``digest`` (SHA-256),
    its signed attributes match its TSTInfo, and the signature verifies with the
    time-stamping certificate it carries. Whether that certificate chains to a trusted
    root is for ``openssl ts -verify -CAfile`` (the root is not in the token)."""
    try:
        tst_der, signer_infos, certificates = _signed_data(der.decode_one(token))
        info = _parse_tst_info(tst_der)
        if info.hash_oid != SHA256_OID or info.hashed_message != digest:
            raise TimestampError("token stamps another digest than this file's sha256")
        cert = _verify_signer(tst_der, signer_infos, certificates)
    except (IndexError, StopIteration, ValueError) as exc:
        raise TimestampError(f"malformed time-stamp token: {exc!r}") from exc
    return StoredTokenCheck(
        gen_time=info.gen_time,
        serial=info.serial,
        tsa_subject=cert.subject.rfc4514_string(),
        tsa_certificate_sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def token_certificates(token: bytes) -> list[x509.Certificate]:
    """The certificates a token carries (the TSA's, sometimes its intermediates)."""
    try:
        return _signed_data(der.decode_one(token))[2]
    except (IndexError, StopIteration, ValueError) as exc:
        raise TimestampError(f"malformed time-stamp token: {exc!r}") from exc


def _signed_data(token: Node) -> tuple[bytes, list[Node], list[x509.Certificate]]:
    """TSTInfo DER, SignerInfos and certificates from a ContentInfo(SignedData)."""
    content_type, wrapped = token.expect(der.SEQUENCE).children()[:2]
    if content_type.oid() != SIGNED_DATA_OID:
        raise TimestampError("token is not CMS SignedData")
    fields = der.decode_one(wrapped.expect(der.context(0)).content).expect(der.SEQUENCE).children()
    encap = fields[2].expect(der.SEQUENCE).children()
    if encap[0].oid() != TST_INFO_OID or len(encap) < 2:
        raise TimestampError("token does not contain a TSTInfo")
    tst_der = der.decode_one(encap[1].expect(der.context(0)).content).expect(der.OCTET_STRING)
    certificates: list[x509.Certificate] = []
    signer_infos: list[Node] = []
    for node in fields[3:]:
        if node.tag == der.context(0):
            for cert in node.children():
                try:
                    certificates.append(x509.load_der_x509_certificate(cert.encoded))
                except ValueError as exc:
                    raise TimestampError(f"token carries a malformed certificate: {exc}") from exc
        elif node.tag == der.SET:
            signer_infos = node.children()
    if not signer_infos:
        raise TimestampError("token has no signer")
    return tst_der.content, signer_infos, certificates


def _parse_tst_info(data: bytes) -> _TstInfo:
    fields = der.decode_one(data).expect(der.SEQUENCE).children()
    if len(fields) < 5 or fields[0].integer() != 1:
        raise TimestampError("TSTInfo is not version 1")
    algorithm, hashed = fields[2].expect(der.SEQUENCE).children()[:2]
    nonce = None
    for node in fields[5:]:
        if node.tag == der.INTEGER:
            nonce = node.integer()
    return _TstInfo(
        policy=fields[1].oid(),
        hash_oid=algorithm.children()[0].oid(),
        hashed_message=hashed.expect(der.OCTET_STRING).content,
        serial=fields[3].integer(),
        gen_time=_generalized_time(fields[4].expect(der.GENERALIZED_TIME).content),
        nonce=nonce,
    )


def _generalized_time(content: bytes) -> datetime:
    text = content.decode("ascii", "replace")
    if not text.endswith("Z"):
        raise TimestampError(f"genTime {text!r} is not UTC")
    main, _, fraction = text[:-1].partition(".")
    try:
        moment = datetime.strptime(main, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise TimestampError(f"bad genTime {text!r}") from exc
    if fraction:
        moment = moment.replace(microsecond=int((fraction + "000000")[:6]))
    return moment


def _verify_signer(
    tst_der: bytes, signer_infos: list[Node], certificates: list[x509.Certificate]
) -> x509.Certificate:
    """Check the first SignerInfo: messageDigest attribute and signature by its cert."""
    fields = signer_infos[0].expect(der.SEQUENCE).children()
    sid, digest_alg = fields[1], fields[2]
    hash_oid = digest_alg.children()[0].oid()
    if hash_oid not in _HASHES:
        raise TimestampError(f"unsupported digest algorithm {hash_oid}")
    algorithm = _HASHES[hash_oid]()
    signed_attrs = next((n for n in fields[3:] if n.tag == der.context(0)), None)
    if signed_attrs is None:
        raise TimestampError("SignerInfo has no signed attributes")
    signature = next(n for n in fields[3:] if n.tag == der.OCTET_STRING).content
    attrs = {a.children()[0].oid(): a.children()[1].children() for a in signed_attrs.children()}
    if [v.oid() for v in attrs.get(CONTENT_TYPE_ATTR, [])] != [TST_INFO_OID]:
        raise TimestampError("signed content type is not TSTInfo")
    h = hashes.Hash(algorithm)
    h.update(tst_der)
    if [v.content for v in attrs.get(MESSAGE_DIGEST_ATTR, [])] != [h.finalize()]:
        raise TimestampError("signed messageDigest does not match the TSTInfo")
    cert = _find_signer(sid, certificates)
    # The signature covers the attributes re-tagged as a SET (RFC 5652 5.4).
    signed = der.encode(der.SET, signed_attrs.content)
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(algorithm))
        elif isinstance(key, Ed25519PublicKey):
            key.verify(signature, signed)
        else:
            raise TimestampError(f"unsupported TSA key type {type(key).__name__}")
    except InvalidSignature as exc:
        raise TimestampError("token signature does not verify") from exc
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise TimestampError("TSA certificate has no extended key usage") from exc
    if ExtendedKeyUsageOID.TIME_STAMPING not in usage.value:
        raise TimestampError("TSA certificate is not for time stamping")
    return cert


def _find_signer(sid: Node, certificates: list[x509.Certificate]) -> x509.Certificate:
    if sid.tag == der.SEQUENCE:
        issuer, serial = sid.children()[:2]
        for cert in certificates:
            if (
                cert.serial_number == serial.integer()
                and cert.issuer.public_bytes() == issuer.encoded
            ):
                return cert
    elif sid.tag == der.context(0, constructed=False):
        for cert in certificates:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == sid.content:
                return cert
    raise TimestampError("token does not include its signer's certificate")


class TimestampClient:
    """Asks every configured TSA for a stamp of a digest; failures become pending.

    Each request ends ``timeout`` seconds after it starts, whatever the TSA does (a
    total deadline: httpx's timeout is per read, and a TSA sending one byte at a time
    never trips it). ``should_stop``: once it is true, the request in flight is
    abandoned and :class:`~archiver.bounded.Stopped` raised (the process is stopping;
    nothing was obtained, the stamp stays pending). ``http`` makes the
    ``httpx.AsyncClient`` (injectable so the caller can route through
    ``network.proxy``); its requests run on an event loop of this client's own, so the
    methods are blocking calls, and connections live on between them until
    :meth:`close`.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        http: Callable[[], httpx.AsyncClient] | None = None,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce_factory: Callable[[], int] = new_nonce,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.urls = tuple(urls)
        self.timeout = timeout
        self._make_http = http or (lambda: httpx.AsyncClient(timeout=timeout))
        self._http: httpx.AsyncClient | None = None
        self._loop = PrivateLoop()
        self._clock = clock
        self._nonce = nonce_factory
        self._should_stop = should_stop

    def stamp(self, digest_hex: str) -> list[TimestampResult]:
        """One result per configured TSA, in configuration order."""
        return self._asks([(url, digest_hex, 1) for url in self.urls])

    def retry(self, pending: Sequence[PendingTimestamp]) -> list[TimestampResult]:
        """Ask again for stamps that are still pending."""
        return self._asks([(p.tsa_url, p.digest, p.attempts + 1) for p in pending])

    def _asks(self, asks: Sequence[tuple[str, str, int]]) -> list[TimestampResult]:
        async def all_of_them() -> list[TimestampResult]:
            if self._http is None:
                self._http = self._make_http()
            return [await self._ask(self._http, *ask) for ask in asks]

        return self._loop.run(all_of_them, should_stop=self._should_stop)

    async def _ask(
        self, http: httpx.AsyncClient, url: str, digest_hex: str, attempts: int
    ) -> TimestampResult:
        digest = bytes.fromhex(digest_hex)
        nonce = self._nonce()
        try:
            post = http.post(
                url,
                content=build_request(digest, nonce),
                headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
            )
            reply = await bounded(post, deadline=self.timeout)
            if reply.status_code != 200:
                raise TimestampError(f"HTTP {reply.status_code} from TSA")
            return verify_response(
                reply.content, digest, nonce, tsa_url=url, received_at=self._clock()
            )
        except TimeoutError:
            reason = f"no answer within {self.timeout:g}s (integrity.tsa_timeout)"
        except (httpx.HTTPError, TimestampError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        return PendingTimestamp(url, digest_hex, reason, self._clock(), attempts)

    def close(self) -> None:
        http, self._http = self._http, None
        self._loop.close(http.aclose if http is not None else None)
