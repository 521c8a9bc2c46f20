"""The snapshot manifest: complete, canonical, stable, and built from a real snapshot."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import PurePosixPath

import pytest

from archiver.capture.snapshot import MainDocument, WrittenSnapshot
from archiver.integrity.manifest import (
    MANIFEST_FORMAT,
    ManifestInput,
    build_manifest,
    input_from_snapshot,
    manifest_bytes,
    manifest_sha256,
)

START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHA = "ab" * 32


def _input(**changes: object) -> ManifestInput:
    base = ManifestInput(
        snapshot_id="0f1e2d3c-0000-4000-8000-000000000001",
        source_url="https://rus.azattyq.org/a/1.html",
        cited_as=("http://rus.azattyq.org/a/1.html?utm_source=x",),
        final_url="https://rus.azattyq.org/a/1.html",
        http_status=200,
        redirect_chain=("http://rus.azattyq.org/a/1.html", "https://rus.azattyq.org/a/1.html"),
        started_at=START,
        finished_at=START + timedelta(seconds=12, microseconds=5),
        methods=("http", "browser"),
        software={"python": "3.11.2", "archiver": "0.1.0"},
        settings={"timeout": 30.0, "modes": ("http",), "proxy": ""},
        warc_path="warcs/2026/01/02/1/x.warc.gz",
        warc_sha256="cd" * 32,
        warc_size=123456,
        payload_sha256=SHA,
        payload_size=2048,
        content_type="text/html; charset=utf-8",
        artefacts=(
            {
                "kind": "screenshot",
                "uri": "urn:screenshot:https://x/",
                "content_type": "image/png",
                "size": 10,
                "sha256": "01" * 32,
            },
            {
                "kind": "dom",
                "uri": "urn:dom:https://x/",
                "content_type": "text/html",
                "size": 5,
                "sha256": "02" * 32,
            },
        ),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_manifest_lists_everything_the_issue_asks_for() -> None:
    manifest = build_manifest(_input())
    assert manifest["format"] == MANIFEST_FORMAT
    assert manifest["source"]["cited_as"] == ["http://rus.azattyq.org/a/1.html?utm_source=x"]
    assert manifest["source"]["final_url"] == "https://rus.azattyq.org/a/1.html"
    assert manifest["capture"]["started_at"] == "2026-01-02T03:04:05.000000Z"
    assert manifest["capture"]["finished_at"] == "2026-01-02T03:04:17.000005Z"
    assert manifest["software"] == {"archiver": "0.1.0", "python": "3.11.2"}
    assert manifest["settings"] == {"timeout": 30.0, "modes": ["http"], "proxy": ""}
    assert manifest["warc"] == {
        "path": "warcs/2026/01/02/1/x.warc.gz",
        "sha256": "cd" * 32,
        "size": 123456,
    }
    assert manifest["main_payload"]["sha256"] == SHA
    assert [a["kind"] for a in manifest["artefacts"]] == ["dom", "screenshot"]
    assert all({"size", "sha256"} <= set(a) for a in manifest["artefacts"])


def test_bytes_are_canonical_and_the_digest_is_their_sha256() -> None:
    manifest = build_manifest(_input())
    data = manifest_bytes(manifest)
    assert b" " not in data.replace(b"; charset=utf-8", b"")  # no insignificant whitespace
    assert json.loads(data) == json.loads(json.dumps(manifest))
    assert data == manifest_bytes(json.loads(data))  # rebuilding from the JSON gives the same bytes
    assert manifest_sha256(manifest) == hashlib.sha256(data).hexdigest()
    assert b'"timeout":30}' in data  # JCS numbers: 30.0 is written 30


def test_same_capture_gives_the_same_bytes_whatever_the_zone() -> None:
    almaty = timezone(timedelta(hours=5))
    shifted = _input(
        started_at=START.astimezone(almaty),
        finished_at=(START + timedelta(seconds=12, microseconds=5)).astimezone(almaty),
    )
    assert manifest_bytes(build_manifest(shifted)) == manifest_bytes(build_manifest(_input()))


def test_any_change_changes_the_digest() -> None:
    digest = manifest_sha256(build_manifest(_input()))
    assert manifest_sha256(build_manifest(_input(warc_sha256="ce" * 32))) != digest
    assert manifest_sha256(build_manifest(_input(cited_as=()))) != digest


@pytest.mark.parametrize(
    "changes",
    [{"warc_sha256": "AB" * 32}, {"payload_sha256": "ab"}, {"started_at": datetime(2026, 1, 1)}],
)
def test_bad_input_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_manifest(_input(**changes))


def test_failed_capture_has_no_main_payload() -> None:
    manifest = build_manifest(
        _input(
            payload_sha256=None, payload_size=None, final_url=None, http_status=None, artefacts=()
        )
    )
    assert manifest["main_payload"] is None and manifest["artefacts"] == []


def test_input_from_a_written_snapshot_and_its_provenance() -> None:
    main = MainDocument(
        status=200, final_url="https://x/", chain=[{"url": "http://x/", "status": 301, "failure": None}, {"url": "https://x/", "status": 200, "failure": None}],
        payload_sha256=SHA, payload_size=9, content_type="text/html", failure_kind=None,
        failure_message=None, tls_verified=True, title="t",
    )  # fmt: skip
    written = WrittenSnapshot(
        id="snap-1", relpath=PurePosixPath("warcs/a.warc.gz"), sha256="cd" * 32, size=99,
        records=4, main=main, truncated=False, started_at=START, finished_at=START,
        methods=("http",), artefacts=[],
    )  # fmt: skip
    provenance = {
        "source": {"id": 1, "url": "http://x/", "cited_as": ["http://x/?a=1"]},
        "settings": {"user_agent": "ua"},
        "software": {"archiver": "0.1.0"},
    }
    data = input_from_snapshot(written, provenance)
    manifest = build_manifest(data)
    assert manifest["source"] == {
        "url": "http://x/", "cited_as": ["http://x/?a=1"], "final_url": "https://x/",
        "http_status": 200, "redirect_chain": ["http://x/", "https://x/"],
    }  # fmt: skip
    assert manifest["warc"] == {"path": "warcs/a.warc.gz", "sha256": "cd" * 32, "size": 99}
    assert manifest["settings"] == {"user_agent": "ua"}


def test_manifest_says_what_is_missing_who_captured_and_which_server() -> None:
    main = MainDocument(
        status=200, final_url="https://x/", chain=[{"url": "https://x/", "status": 200, "failure": None}],
        payload_sha256=SHA, payload_size=9, content_type="text/html", failure_kind=None,
        failure_message=None, tls_verified=True, title="t",
    )  # fmt: skip
    missing = [{"artefact": "video", "reason": "HTTP Error 403: Forbidden"}]
    written = WrittenSnapshot(
        id="snap-1", relpath=PurePosixPath("warcs/a.warc.gz"), sha256="cd" * 32, size=99,
        records=4, main=main, truncated=False, started_at=START, finished_at=START,
        methods=("browser",), artefacts=[], incomplete=missing,
    )  # fmt: skip
    who = {"organisation": "Example Monitor", "operator": "Team A", "os_account": "archiver"}
    provenance = {
        "source": {"id": 1, "url": "https://x/", "cited_as": []},
        "settings": {"network": {"proxy": "http://[redacted]@proxy:3128"}},
        "captured_by": who,
        "redirect_chain": [{"url": "https://x/", "ip_address": "192.0.2.7"}],
    }
    manifest = build_manifest(input_from_snapshot(written, provenance))
    assert manifest["incomplete"] == missing
    assert manifest["captured_by"] == who
    # The address connected to is known: it is the server; the proxy is named as used.
    assert manifest["network"] == {
        "server_ip": "192.0.2.7",
        "proxy": "http://[redacted]@proxy:3128",
    }
    # A complete snapshot says so (an empty list), and through a proxy the IP is None.
    complete = dataclasses.replace(written, incomplete=[])
    proxied = {**provenance, "redirect_chain": [{"url": "https://x/", "ip_address": None}]}
    manifest = build_manifest(input_from_snapshot(complete, proxied))
    assert manifest["incomplete"] == []
    assert manifest["network"]["server_ip"] is None


def test_manifests_built_without_the_new_fields_keep_their_bytes() -> None:
    """Old manifests (no incomplete, captured_by, network) are signed bytes that must
    still verify: built from the same input, the bytes are the same as before."""
    manifest = build_manifest(_input())
    assert not {"incomplete", "captured_by", "network"} & set(manifest)
