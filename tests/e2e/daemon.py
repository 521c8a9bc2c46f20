"""Running ``archiver run`` as a subprocess in end-to-end tests."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Poll for a condition; the test fails (not sleeps to pass) if it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached within the timeout")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def drop_into_inbox(inbox: Path, source: Path, name: str) -> None:
    """Copy into the inbox the way an operator's script should: write, then rename."""
    partial = inbox / f"{name}.part"
    shutil.copyfile(source, partial)
    partial.rename(inbox / name)


@contextmanager
def daemon_process(env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """``archiver run`` with ``env``; killed on the way out if the test did not stop it."""
    daemon = subprocess.Popen(
        [sys.executable, "-m", "archiver", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield daemon
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()


def stop(
    daemon: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM, timeout: float = 30
) -> str:
    """Send ``sig`` and wait for the daemon to exit; its stderr."""
    daemon.send_signal(sig)
    _, stderr = daemon.communicate(timeout=timeout)
    return stderr
