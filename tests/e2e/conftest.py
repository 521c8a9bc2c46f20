from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    env["ARCHIVER_STORAGE__ROOT"] = str(tmp_path / "storage")
    env["PYTHONPATH"] = str(REPO)
    # The daemon serves its pages on a port of its own per test (issue 7).
    env["ARCHIVER_WEB__PORT"] = "0"
    # No public web archive is asked by the daemon on its own (issue 18).
    env["ARCHIVER_WITNESSES__LOOKUP_UNPRESERVED"] = "false"
    return env


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> CliRunner:
    """Run ``archiver ...`` as a subprocess from a neutral working directory."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "archiver", *args],
            cwd=tmp_path,
            env={**cli_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
