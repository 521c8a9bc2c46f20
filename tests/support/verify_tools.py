"""The independent tools an evidence package's VERIFY.md names (warcio, brotlipy, wacz at
``archiver.integrity._verify_doc.VERIFY_TOOLS``), as the tests run them: from .venv-tools,
which ./dev builds from tools-constraints.txt (pywb, used for replay tests, lives there
too). The project's own virtualenv is no stand-in: it has Google's ``brotli`` (the
archiver's bounded decoder), with which warcio 1.8.1 cannot read a "br" response."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".venv-tools" / "bin"
WARCIO = TOOLS / "warcio"
CONSTRAINTS = REPO / "tools-constraints.txt"

# warcio's own command line, in a Python where no module called ``brotli`` can be
# imported: what a checker gets who leaves brotlipy out, as VERIFY.md allows.
_WITHOUT_BROTLI = "import sys; sys.modules['brotli'] = None; from warcio.cli import main; main()"


def require_tools() -> None:
    """Fail (not skip) when .venv-tools is missing: ./dev test installs it."""
    if not WARCIO.exists() or not (TOOLS / "wacz").exists():
        pytest.fail("warcio and wacz must be installed in .venv-tools (./dev test installs them)")


def warcio_check(*paths: Path, without_brotli: bool = False) -> subprocess.CompletedProcess[str]:
    """``warcio check -v PATH...`` with the pinned tools."""
    require_tools()
    command = [str(WARCIO)]
    if without_brotli:
        command = [str(TOOLS / "python"), "-c", _WITHOUT_BROTLI]
    return subprocess.run(
        [*command, "check", "-v", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def tools_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with .venv-tools' Python (its warcio, its ``brotli`` module)."""
    require_tools()
    return subprocess.run(
        [str(TOOLS / "python"), "-c", code, *args], capture_output=True, text=True, timeout=120
    )


def constraint_pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    """``name==version`` lines of a constraints file (tools-constraints.txt unless told),
    names lower-cased."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    return pins
