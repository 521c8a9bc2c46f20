"""The capture benchmark's rate once running: start-up cancels out between page counts."""

from __future__ import annotations

import pytest

from bench.capture_bench import _marginal


def test_rate_between_page_counts_leaves_out_start_up() -> None:
    # 0.5 s of start-up, then 400 pages/s; wget has none and runs at 100 pages/s.
    walls = {
        (0, "wget --warc-file"): {500: 5.0, 2000: 20.0},
        (0, "archiver capture (http)"): {500: 0.5 + 500 / 400, 2000: 0.5 + 2000 / 400},
    }
    rows = _marginal(walls)
    assert rows == [
        "| 500 to 2000 | 0 ms | wget --warc-file | 100.0 | 1.0x |",
        "| 500 to 2000 | 0 ms | archiver capture (http) | 400.0 | 4.0x |",
    ]


def test_a_single_page_count_gives_no_rate() -> None:
    walls = {(100, "wget --warc-file"): {500: 55.0}, (100, "archiver capture (http)"): {500: 2.0}}
    assert _marginal(walls) == []


@pytest.mark.parametrize("missing", [500, 2000])
def test_a_tool_without_both_counts_is_left_out(missing: int) -> None:
    walls = {
        (0, "wget --warc-file"): {500: 5.0, 2000: 20.0},
        (0, "archiver capture (http)"): {n: 1.0 for n in (500, 2000) if n != missing},
    }
    assert [row.split(" | ")[2] for row in _marginal(walls)] == ["wget --warc-file"]
