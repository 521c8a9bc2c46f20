"""open_snapshot: a snapshot appears complete under its final name, or not at all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archiver.capture.warc import SealedWarc, SnapshotAbandoned, open_snapshot, verify_warc
from archiver.errors import WarcError
from tests.conftest import FixedClock
from tests.integration.capture.conftest import Snapshot


def test_sealed_file_digest_size_and_permissions(snapshot: Snapshot) -> None:
    sealed = snapshot.sealed
    data = sealed.path.read_bytes()
    assert sealed.size == len(data)
    assert sealed.sha256 == __import__("hashlib").sha256(data).hexdigest()
    assert sealed.path.stat().st_mode & 0o222 == 0  # read-only: never modified again
    assert os.listdir(sealed.path.parent) == [sealed.path.name]  # no .part left behind


def test_an_exception_leaves_no_file_and_no_temp(tmp_path: Path, clock: FixedClock) -> None:
    final = tmp_path / "warcs" / "s.warc.gz"
    with (
        pytest.raises(RuntimeError, match="browser crashed"),
        open_snapshot(final, clock=clock) as w,
    ):
        w.write_warcinfo(operator="op")
        w.write_resource("urn:dom:https://example.org/", "text/html", b"<p>x</p>")
        raise RuntimeError("browser crashed")
    assert os.listdir(final.parent) == []
    with pytest.raises(WarcError, match="not sealed"):
        _ = w.sealed


def test_a_failing_record_inside_leaves_nothing(tmp_path: Path, clock: FixedClock) -> None:
    final = tmp_path / "s.warc.gz"

    def broken_stream() -> object:
        yield b"first part"
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError), open_snapshot(final, clock=clock) as w:
        w.write_warcinfo(operator="op")
        w.write_resource("urn:video:https://example.org/", "video/mp4", broken_stream())  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


def test_an_empty_snapshot_is_not_kept(tmp_path: Path) -> None:
    final = tmp_path / "s.warc.gz"
    with pytest.raises(WarcError, match="no record"), open_snapshot(final):
        pass
    assert os.listdir(tmp_path) == []


def write_one(final: Path, clock: FixedClock, text: bytes) -> SealedWarc:
    with open_snapshot(final, clock=clock) as w:
        w.write_warcinfo(operator="op")
        w.write_resource("urn:dom:https://example.org/", "text/html", text)
    return w.sealed


def test_an_existing_snapshot_is_never_overwritten(tmp_path: Path, clock: FixedClock) -> None:
    final = tmp_path / "s.warc.gz"
    first = write_one(final, clock, b"first")
    with pytest.raises(WarcError, match="never overwritten"):
        write_one(final, clock, b"second")
    assert verify_warc(final, expected_sha256=first.sha256).ok
    assert os.listdir(tmp_path) == ["s.warc.gz"]


def test_a_file_that_appears_during_the_write_wins_and_ours_is_dropped(
    tmp_path: Path, clock: FixedClock
) -> None:
    final = tmp_path / "s.warc.gz"
    with (
        pytest.raises(WarcError, match="never overwritten"),
        open_snapshot(final, clock=clock) as w,
    ):
        w.write_warcinfo(operator="op")
        final.write_bytes(b"another writer's snapshot")
    assert final.read_bytes() == b"another writer's snapshot"
    assert os.listdir(tmp_path) == ["s.warc.gz"]


KILLED_WRITER = """
import os, sys, uuid
from pathlib import Path
from archiver.capture.warc import open_snapshot
final, video = Path(sys.argv[1]), Path(sys.argv[2])
with open_snapshot(final) as w:
    w.write_warcinfo(operator="op")
    print("writing", flush=True)
    w.write_resource("urn:video:https://example.org/v", "video/mp4", video)
print("done", flush=True)
"""


def test_a_killed_writer_leaves_only_a_part_file(tmp_path: Path) -> None:
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(64 << 20))  # incompressible: writing takes a while
    folder = tmp_path / "warcs"
    final = folder / "s.warc.gz"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(final), str(video)], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"writing\n"
        deadline = time.monotonic() + 30
        parts: list[Path] = []
        # Kill it once the resource record is partly on disk.
        while time.monotonic() < deadline:
            parts = list(folder.glob(".s.warc.gz.*.part"))
            if parts and parts[0].stat().st_size > 4 << 20:
                break
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not final.exists()
    assert [p.name for p in folder.iterdir()] == [parts[0].name]
    # What the crash left is recognisably incomplete.
    report = verify_warc(parts[0])
    assert not report.ok and any("truncated" in line for line in report.failures())


# -- abandoned: the process is stopping -----------------------------------------------------


def test_abandoned_mid_record_leaves_no_file_and_no_temp(tmp_path: Path, clock: FixedClock) -> None:
    """A big body being written when the process is told to stop: given up within a
    chunk, nothing under the final name, its temporary file removed."""
    final = tmp_path / "s.warc.gz"
    written: list[int] = []

    def body() -> object:  # a video, say, arriving in 1 MiB pieces
        for _ in range(64):
            written.append(1)
            yield os.urandom(1 << 20)

    stopping = iter([False] * 8 + [True] * 1000)
    with (
        pytest.raises(SnapshotAbandoned),
        open_snapshot(final, clock=clock, abandoned=lambda: next(stopping)) as w,
    ):
        w.write_warcinfo(operator="op")
        w.write_resource("urn:video:https://example.org/", "video/mp4", body())  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []
    assert len(written) == 64  # spooled for its digest first, then cut while written


@pytest.mark.parametrize("moment", ["last write", "before the fsync", "before the link"])
def test_abandoned_at_the_last_moments_leaves_nothing(
    tmp_path: Path, clock: FixedClock, moment: str
) -> None:
    """Asked at every write, then before the fsync and before the link: turning true at
    any of those, the file is given up."""
    final = tmp_path / "s.warc.gz"
    asked: list[int] = []

    def counting() -> bool:
        asked.append(1)
        return False

    with open_snapshot(final, clock=clock, abandoned=counting) as w:
        w.write_warcinfo(operator="op")
    final.unlink()
    turns = len(asked) - 3 + ["last write", "before the fsync", "before the link"].index(moment)
    answers = iter([False] * turns + [True] * 10)
    with (
        pytest.raises(SnapshotAbandoned),
        open_snapshot(final, clock=clock, abandoned=lambda: next(answers)) as w,
    ):
        w.write_warcinfo(operator="op")
    assert os.listdir(tmp_path) == []


def test_abandoned_once_complete_keeps_the_file(tmp_path: Path, clock: FixedClock) -> None:
    """Once linked under its final name, the file is complete: a stop that comes later
    changes nothing (the caller records it)."""
    final = tmp_path / "s.warc.gz"
    stopping = False
    with open_snapshot(final, clock=clock, abandoned=lambda: stopping) as w:
        w.write_warcinfo(operator="op")
    stopping = True
    assert verify_warc(final, expected_sha256=w.sealed.sha256).ok
    assert os.listdir(tmp_path) == ["s.warc.gz"]
