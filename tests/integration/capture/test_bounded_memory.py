"""A 200 MB artefact is written and verified with bounded memory: a correctness
property (videos can be gigabytes), not a benchmark."""

from __future__ import annotations

import resource
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.capture.warc import open_snapshot, verify_warc
from tests.conftest import FixedClock

SIZE = 200 << 20
LIMIT = 100 << 20


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


@pytest.mark.slow
def test_a_200_mb_resource_from_a_file_stays_in_bounded_memory(
    tmp_path: Path, clock: FixedClock
) -> None:
    video = tmp_path / "big.mp4"
    with video.open("wb") as fh:
        fh.truncate(SIZE)  # sparse: 200 MB of zeros without using the disk
    final = tmp_path / "big.warc.gz"
    rss_before = peak_rss()
    tracemalloc.start()
    try:
        with open_snapshot(final, clock=clock) as w:
            w.write_warcinfo(operator="op")
            record = w.write_resource("urn:video:https://example.org/v", "video/mp4", video)
        report = verify_warc(final)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert record.content_length == SIZE
    assert report.ok, report.failures()
    assert python_peak < 32 << 20, f"Python allocations peaked at {python_peak >> 20} MB"
    assert peak_rss() - rss_before < LIMIT


@pytest.mark.slow
def test_a_200_mb_streamed_body_is_spooled_not_held(tmp_path: Path, clock: FixedClock) -> None:
    def stream() -> Iterator[bytes]:
        piece = bytes(range(256)) * 4096  # 1 MB
        for _ in range(SIZE // len(piece)):
            yield piece

    tracemalloc.start()
    try:
        with open_snapshot(tmp_path / "s.warc.gz", clock=clock, spool_dir=tmp_path) as w:
            w.write_warcinfo(operator="op")
            w.write_resource("urn:video:https://example.org/v", "video/mp4", stream())
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert w.sealed.size > 0
    assert python_peak < 32 << 20, f"Python allocations peaked at {python_peak >> 20} MB"
