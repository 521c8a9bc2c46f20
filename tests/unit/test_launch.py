"""The program's entry point: loads the command line with the collector paused, and
leaves it running (with what was loaded frozen) for the command."""

from __future__ import annotations

import subprocess
import sys

from archiver import __version__

# Run in a fresh interpreter: the entry point changes process-wide GC state.
_PROBE = """
import gc, sys
from archiver._launch import main
sys.argv = ["archiver", "--version"]
try:
    main()
except SystemExit as exc:
    code = exc.code
print("exit", code, "enabled", gc.isenabled(), "frozen", gc.get_freeze_count())
"""


def test_entry_point_runs_the_command_and_leaves_gc_enabled_with_loaded_objects_frozen() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    ).stdout
    first, last = out.splitlines()[0], out.splitlines()[-1]
    assert __version__ in first
    fields = last.split()
    assert fields[:5] == ["exit", "0", "enabled", "True", "frozen"]
    assert int(fields[5]) > 50_000  # the libraries and modules loaded for the command


def test_python_dash_m_uses_the_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "archiver", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and __version__ in result.stdout
