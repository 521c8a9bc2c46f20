"""Real media files for the platform tests, made by ffmpeg once per session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.simweb.fixtures import simweb  # noqa: F401


def make_clip(path: Path, seconds: int = 2, size: str = "320x240") -> Path:
    """An H.264/AAC MP4 of ``seconds`` test pattern and tone."""
    subprocess.run(
        [
            "ffmpeg", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate=10",
            "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        ],
        check=True,
    )  # fmt: skip
    return path


def make_thumbnail(path: Path) -> Path:
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120",
         "-frames:v", "1", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (./dev setup installs it)")
    folder = tmp_path_factory.mktemp("media")
    return {
        "clip": make_clip(folder / "clip.mp4").read_bytes(),
        "thumb": make_thumbnail(folder / "thumb.jpg").read_bytes(),
        "subs": "WEBVTT\n\n00:00.000 --> 00:01.000\nЗадержание в Алматы\n".encode(),
    }
