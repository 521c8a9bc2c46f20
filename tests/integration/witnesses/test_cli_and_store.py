"""``archiver witnesses`` as a user runs it, and ``archiver verify --store`` over a store
holding third-party copies."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from archiver.app import Archive
from archiver.integrity.verify_store import verify_store
from tests.conftest import REPO
from tests.integration.witnesses.conftest import GONE, NEVER_ARCHIVED


def test_the_command_looks_up_every_unpreserved_source(archive: Archive) -> None:
    settings = archive.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env.update(
        PYTHONPATH=str(REPO),
        ARCHIVER_STORAGE__ROOT=str(settings.storage.root),
        ARCHIVER_NETWORK__PROXY=settings.network.proxy,
        ARCHIVER_CAPTURE__EXTRA_CA_FILE=str(settings.capture.extra_ca_file),
        ARCHIVER_CAPTURE__PER_HOST_INTERVAL="0",
        ARCHIVER_INTEGRITY__TSA_URLS="[]",
    )
    done = subprocess.run(
        [sys.executable, "-m", "archiver", "witnesses", "--json"],
        env=env, capture_output=True, text=True, timeout=120, cwd=settings.storage.root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {o["url"]: o["outcome"] for o in lines} == {GONE: "found", NEVER_ARCHIVED: "none"}
    found = next(o for o in lines if o["outcome"] == "found")
    assert found["memento_datetime"] == "2022-10-05T14:02:11Z"
    assert found["archive"] == "web.archive.org"
    text = subprocess.run(
        [sys.executable, "-m", "archiver", "witnesses", GONE],
        env=env, capture_output=True, text=True, timeout=120, cwd=settings.storage.root,
    )  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert "copy held by web.archive.org, captured 2022-10-05 14:02 UTC" in text.stdout
    assert text.stdout.rstrip().endswith("looked up 1 sources: 1 with a third-party copy")


def test_the_store_verifies_with_third_party_copies(archive: Archive) -> None:
    [source_id] = archive.find_sources([GONE])
    archive.witnesses.look_up([source_id])
    findings = verify_store(archive)
    assert not findings.failed, [f for f in findings if f.status == "fail"]
