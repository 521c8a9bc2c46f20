"""An S3-compatible bucket (AWS S3, MinIO, Ceph, Backblaze, moto) through boto3's
low-level client (docs/storage.md says why boto3: Object Lock and retention read back
are in its API, obstore has neither).

Writing (:meth:`S3Store.put_file`), for a file already sealed on local disk:

- never over another object: ``If-None-Match: *`` on the final request (PutObject or
  CompleteMultipartUpload), so a second writer under the same name gets 412, and a key
  that already exists is only accepted when it holds the same bytes (a retry after a
  crash between upload and row);
- streamed: a file up to ``part_size`` goes in one PutObject read from the open file;
  a larger one in parts of ``part_size`` bytes, ``parallel_parts`` (4) of them in flight,
  each read from the file as it is sent (no part is held in memory);
- checked by the store: every request carries its SHA-256 (``x-amz-checksum-sha256``),
  which the store recomputes and refuses on mismatch; afterwards HeadObject's
  ``ChecksumSHA256`` must equal the file's SHA-256 (one part) or the SHA-256 of the
  parts' SHA-256s followed by ``-N`` (S3's composite checksum for N parts), computed
  here from the file as it was read (accepted without the ``-N`` too, as moto and
  some other stores answer), and the size must match;
- with Object Lock (``lock_days`` > 0): each object is written with its mode
  (COMPLIANCE or GOVERNANCE) and a retain-until date, and the date read back is checked.

Errors from botocore become :class:`~archiver.errors.StoreError` (its subclasses
:class:`StoreRefused` and :class:`ObjectMissing`) naming the bucket, key and the store's
error code, never a credential.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, cast

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from archiver.errors import StoreError
from archiver.storage.base import ObjectInfo, ObjectMissing, StoreRefused

MIB = 1024 * 1024
# Attempts per request (botocore's standard retries: timeouts, connection errors, 5xx,
# throttling), each waiting at most S3Options.timeout per connect and per read.
_ATTEMPTS = 4
_READ = 1 << 20
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
_REFUSED = {"AccessDenied", "403", "412", "PreconditionFailed", "InvalidRequest", "405"}
_TAKEN = {"412", "PreconditionFailed"}
# What a store's refusal of the credentials means, in words (docs/storage.md, "Faults").
_CREDENTIALS = {
    "ExpiredToken": "the store refused the credentials: they have expired",
    "TokenRefreshRequired": "the store refused the credentials: they have expired",
    "RequestExpired": "the store refused the credentials: the request expired",
    "InvalidToken": "the store refused the credentials: the session token is not valid",
    "InvalidAccessKeyId": "the store refused the credentials: it knows no such access key",
    "SignatureDoesNotMatch": "the store refused the credentials: the secret key is wrong",
    "RequestTimeTooSkewed": "the store refused the request: this machine's clock is wrong",
    "AccessDenied": "the store refused access with these credentials",
}
_TIMEOUTS = (ReadTimeoutError, ConnectTimeoutError)


@dataclass(frozen=True)
class S3Options:
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None  # None: AWS_ENDPOINT_URL, else AWS itself
    region: str | None = None
    access_key_id: str | None = None  # None: boto3's chain (AWS_ACCESS_KEY_ID, ...)
    secret_access_key: str | None = None
    lock_days: int = 0
    lock_mode: str = "COMPLIANCE"
    part_size: int = 16 * MIB
    parallel_parts: int = 4
    timeout: float = 60.0

    def __repr__(self) -> str:  # no credentials in any repr
        return f"S3Options(bucket={self.bucket!r}, prefix={self.prefix!r})"


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix without slashes at either end)."""
    if not url.startswith("s3://"):
        raise StoreError(f"storage.warc_url must start with s3://, not {url.split(':')[0]}")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise StoreError("storage.warc_url names no bucket (s3://bucket/prefix)")
    return bucket, prefix.strip("/")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _code(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))


class S3Store:
    remote = True

    def __init__(self, options: S3Options) -> None:
        self.options = options
        session = boto3.session.Session(
            aws_access_key_id=options.access_key_id or None,
            aws_secret_access_key=options.secret_access_key or None,
            region_name=options.region or None,
        )
        self._client: Any = session.client(
            "s3",
            endpoint_url=options.endpoint_url or None,
            config=Config(
                connect_timeout=options.timeout,
                read_timeout=options.timeout,
                retries={"total_max_attempts": _ATTEMPTS, "mode": "standard"},
                # Our own SHA-256 on every write; no CRC added on top.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                s3={"addressing_style": "path"} if options.endpoint_url else None,
            ),
        )

    @property
    def description(self) -> str:
        where = f"s3://{self.options.bucket}/{self.options.prefix}".rstrip("/")
        return where + (f" at {self.options.endpoint_url}" if self.options.endpoint_url else "")

    def _key(self, key: str) -> str:
        return f"{self.options.prefix}/{key}" if self.options.prefix else key

    def _error(self, exc: Exception, doing: str, key: str) -> StoreError:
        where = f"{self.description}: cannot {doing} {key}"
        if isinstance(exc, ClientError):
            code = _code(exc)
            message = exc.response.get("Error", {}).get("Message") or ""
            kind = (
                ObjectMissing
                if code in _MISSING
                else StoreRefused
                if code in _REFUSED or code in _CREDENTIALS
                else StoreError
            )
            said = f" ({_CREDENTIALS[code]})" if code in _CREDENTIALS else ""
            return kind(f"{where}: {code} {message}".rstrip() + said)
        if isinstance(exc, (*_TIMEOUTS, EndpointConnectionError)):
            # botocore's retries are spent: say how long each attempt could wait.
            how = (
                f"no answer within {self.options.timeout:g} s"
                if isinstance(exc, _TIMEOUTS)
                else "cannot connect"
            )
            return StoreError(f"{where}: {how}, {_ATTEMPTS} attempts: {exc}")
        return StoreError(f"{where}: {type(exc).__name__}: {exc}")

    def _named(self, exc: ClientError, ask: Callable[[], object]) -> ClientError:
        """A HEAD's refusal is a bare status (S3 sends no body to a HEAD): ``ask`` the
        same with a GET to learn the store's error code (ExpiredToken, AccessDenied)."""
        if _code(exc) not in {"400", "403"}:
            return exc
        try:
            ask()
        except ClientError as named:
            if not _code(named).isdigit() and _code(named) not in _MISSING:
                return named
        except BotoCoreError:
            pass
        return exc

    def _lock(self) -> dict[str, Any]:
        if self.options.lock_days <= 0:
            return {}
        until = datetime.now(UTC) + timedelta(days=self.options.lock_days)
        return {"ObjectLockMode": self.options.lock_mode, "ObjectLockRetainUntilDate": until}

    # -- writing --------------------------------------------------------------------

    def put_file(self, local: Path, key: str, *, sha256: str, size: int) -> ObjectInfo:
        existing = self.stat(key, doing="write")
        if existing is not None:
            return self._same_or_refuse(local, key, existing, sha256, size)
        try:
            fh = local.open("rb")
        except OSError as exc:
            raise StoreError(f"cannot read {local}: {exc.strerror or exc}") from exc
        try:
            with fh:
                if size <= self.options.part_size:
                    expected = self._put_one(fh, key, sha256, size)
                else:
                    expected = self._put_parts(fh, key, sha256, size)
        except ClientError as exc:
            taken = self.stat(key, doing="write") if _code(exc) in _TAKEN else None
            if taken is None:
                raise self._error(exc, "write", key) from exc
            # The name is taken: by this very upload when the store did the write and
            # its answer was lost (botocore sent it again), else by another writer.
            return self._same_or_refuse(local, key, taken, sha256, size)
        except BotoCoreError as exc:  # before OSError: botocore's timeouts are OSErrors
            raise self._error(exc, "write", key) from exc
        except OSError as exc:
            raise StoreError(f"cannot read {local}: {exc.strerror or exc}") from exc
        info = self.stat(key)
        if info is None:
            raise StoreError(f"{self.description}: {key} is not there after it was written")
        if self.options.lock_days > 0 and info.retain_until is None:
            # Some stores (moto) ignore the lock headers of a multipart upload: the
            # retention is set on the object itself, as AWS allows (PutObjectRetention).
            info = self._retain(key)
        self._check_written(key, info, expected, sha256, size)
        return info

    def _retain(self, key: str) -> ObjectInfo:
        lock = self._lock()
        try:
            self._client.put_object_retention(
                Bucket=self.options.bucket, Key=self._key(key),
                Retention={
                    "Mode": lock["ObjectLockMode"],
                    "RetainUntilDate": lock["ObjectLockRetainUntilDate"],
                },
            )  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "set the retention of", key) from exc
        info = self.stat(key)
        if info is None:
            raise StoreError(f"{self.description}: {key} is not there after it was written")
        return info

    def _put_one(self, fh: BinaryIO, key: str, sha256: str, size: int) -> str:
        checksum = _b64(bytes.fromhex(sha256))
        self._client.put_object(
            Bucket=self.options.bucket, Key=self._key(key), Body=fh, ContentLength=size,
            ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum, IfNoneMatch="*", **self._lock(),
        )  # fmt: skip
        return checksum

    def _put_parts(self, fh: BinaryIO, key: str, sha256: str, size: int) -> str:
        """Multipart: each part's SHA-256 read from the file first (1 MiB at a time),
        then the part sent from the file itself (:class:`_Part`), ``parallel_parts`` of
        them in flight; no part is held in memory. Bytes that changed on disk between
        the two reads are refused by the store (the part's checksum) or found by the
        checks afterwards."""
        bucket, full = self.options.bucket, self._key(key)
        upload = self._client.create_multipart_upload(
            Bucket=bucket, Key=full, ChecksumAlgorithm="SHA256", **self._lock()
        )["UploadId"]
        pool = ThreadPoolExecutor(self.options.parallel_parts, thread_name_prefix="s3-part")
        descriptor = fh.fileno()
        try:
            whole = hashlib.sha256()
            parts: list[dict[str, Any]] = []
            digests = bytearray()
            flying: deque[tuple[int, str, Future[Any]]] = deque()

            def land() -> None:
                number, checksum, sent = flying.popleft()
                etag = sent.result()["ETag"]
                parts.append({"ETag": etag, "PartNumber": number, "ChecksumSHA256": checksum})

            for start in range(0, size, self.options.part_size):
                length = min(self.options.part_size, size - start)
                part = hashlib.sha256()
                for chunk in _Part(descriptor, start, length).chunks():
                    whole.update(chunk)
                    part.update(chunk)
                digest = part.digest()
                digests += digest
                number = len(parts) + len(flying) + 1
                sent = pool.submit(
                    self._client.upload_part, Bucket=bucket, Key=full, UploadId=upload,
                    PartNumber=number, Body=_Part(descriptor, start, length),
                    ContentLength=length, ChecksumSHA256=_b64(digest),
                )  # fmt: skip
                flying.append((number, _b64(digest), sent))
                if len(flying) >= self.options.parallel_parts:
                    land()
            while flying:
                land()
            if whole.hexdigest() != sha256:
                raise StoreError(f"{key}: the file changed on disk after it was sealed")
            self._client.complete_multipart_upload(
                Bucket=bucket, Key=full, UploadId=upload, MultipartUpload={"Parts": parts},
                IfNoneMatch="*",
            )  # fmt: skip
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            with contextlib.suppress(ClientError, BotoCoreError):
                self._client.abort_multipart_upload(Bucket=bucket, Key=full, UploadId=upload)
            raise
        finally:
            pool.shutdown(wait=True)
        return f"{_b64(hashlib.sha256(bytes(digests)).digest())}-{len(parts)}"

    def _check_written(
        self, key: str, info: ObjectInfo, expected: str, sha256: str, size: int
    ) -> None:
        if info.size != size:
            raise StoreError(f"{self.description}: {key} holds {info.size} bytes, not {size}")
        if info.checksum is None:
            # A store that keeps no checksum (older MinIO, Ceph): read the object back.
            if self._read_sha256(key) != sha256:
                raise StoreError(f"{self.description}: {key} read back is not the file written")
        # AWS answers a composite checksum with "-N"; some stores (moto) without it.
        elif info.checksum not in {expected, expected.partition("-")[0]}:
            raise StoreError(
                f"{self.description}: {key}: the store's SHA-256 checksum {info.checksum} "
                f"is not the file's {expected}"
            )
        if self.options.lock_days > 0 and (info.retain_until is None or info.lock_mode is None):
            raise StoreError(
                f"{self.description}: {key} was written without Object Lock retention "
                "(is object lock enabled on the bucket?)"
            )

    def _same_or_refuse(
        self, local: Path, key: str, existing: ObjectInfo, sha256: str, size: int
    ) -> ObjectInfo:
        """A key that exists already: the same bytes (a retried upload) or a refusal."""
        if existing.size == size and self._read_sha256(key) == sha256:
            if self.options.lock_days > 0 and existing.retain_until is None:
                return self._retain(key)  # stopped before its retention was set
            return existing
        raise StoreRefused(
            f"{self.description}: {key} already holds other bytes than {local}; objects "
            "are never overwritten"
        )

    def probe(self) -> None:
        """The bucket answers with these credentials (HeadBucket); raises StoreError.
        Nothing is written: under Object Lock a test object could never be removed."""
        bucket = self.options.bucket
        try:
            self._client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            named = self._named(exc, lambda: self._client.list_objects_v2(Bucket=bucket, MaxKeys=1))
            raise self._error(named, "reach", "the bucket") from exc
        except BotoCoreError as exc:
            raise self._error(exc, "reach", "the bucket") from exc

    # -- reading --------------------------------------------------------------------

    def _read_sha256(self, key: str) -> str:
        from archiver.storage import object_sha256

        return object_sha256(self, key)

    def stat(self, key: str, *, doing: str = "read") -> ObjectInfo | None:
        bucket, full = self.options.bucket, self._key(key)
        try:
            head = self._client.head_object(Bucket=bucket, Key=full, ChecksumMode="ENABLED")
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            named = self._named(
                exc, lambda: self._client.get_object(Bucket=bucket, Key=full, Range="bytes=0-0")
            )
            raise self._error(named, doing, key) from exc
        except BotoCoreError as exc:
            raise self._error(exc, doing, key) from exc
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            checksum=head.get("ChecksumSHA256"),
            lock_mode=head.get("ObjectLockMode"),
            retain_until=head.get("ObjectLockRetainUntilDate"),
            modified=head.get("LastModified"),
        )

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            answer = self._client.get_object(Bucket=self.options.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "read", key) from exc
        body = answer["Body"]
        try:
            yield cast(BinaryIO, _Reading(body, self, key))
        finally:
            body.close()

    @contextmanager
    def fetched(self, key: str, spool: Path) -> Iterator[Path]:
        # Under its own name (a package names the WARC file), in a folder of its own.
        folder = spool / f".fetched-{os.urandom(8).hex()}"
        local = folder / PurePosixPath(key).name
        try:
            folder.mkdir(parents=True)
            with self.open(key) as stream, local.open("xb") as out:
                while chunk := stream.read(_READ):
                    out.write(chunk)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise StoreError(f"cannot copy {key} to {folder}: {exc.strerror or exc}") from exc
        try:
            yield local
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def keys(self, prefix: str) -> Iterator[ObjectInfo]:
        skip = len(self._key(""))
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.options.bucket, Prefix=self._key(prefix)
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    yield ObjectInfo(
                        key=item["Key"][skip:],
                        size=int(item["Size"]),
                        modified=item["LastModified"],
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "list", prefix) from exc

    def delete(self, key: str) -> None:
        """Delete every version of the object: what an operator would try once its
        retention is over. Under Object Lock the store refuses (StoreRefused)."""
        try:
            versions = self._client.list_object_versions(
                Bucket=self.options.bucket, Prefix=self._key(key)
            )
            for version in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
                if version["Key"] == self._key(key):
                    self._client.delete_object(
                        Bucket=self.options.bucket, Key=version["Key"],
                        VersionId=version["VersionId"],
                    )  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, "delete", key) from exc


class _Part:
    """Bytes ``start`` to ``start + length`` of an open file, as a seekable read-only
    stream of their own (what botocore sends as a part's body, and seeks back to 0 to
    retry). ``os.pread``: parts in flight on several threads share the descriptor."""

    def __init__(self, descriptor: int, start: int, length: int) -> None:
        self._fd, self._start, self._length, self._at = descriptor, start, length, 0

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._at
        want = left if size is None or size < 0 else min(size, left)
        if want <= 0:
            return b""
        data = os.pread(self._fd, want, self._start + self._at)
        if not data:
            raise StoreError("the file got shorter while it was uploaded")
        self._at += len(data)
        return data

    def chunks(self) -> Iterator[bytes]:
        while chunk := self.read(_READ):
            yield chunk

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._at, os.SEEK_END: self._length}[whence]
        self._at = max(0, base + offset)
        return self._at

    def tell(self) -> int:
        return self._at

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._length


class _Reading:
    """botocore's streaming body, its errors as StoreError."""

    def __init__(self, body: Any, store: S3Store, key: str) -> None:
        self._body = body
        self._store = store
        self._key = key

    def read(self, size: int = -1) -> bytes:
        try:
            return bytes(self._body.read(size if size >= 0 else None))
        except (ClientError, BotoCoreError, OSError) as exc:
            raise self._store._error(exc, "read", self._key) from exc

    def readable(self) -> bool:
        return True
