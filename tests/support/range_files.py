"""Static files over HTTP with single byte ranges, as ReplayWeb.page reads a WACZ (a
local server standing in for wherever a lawyer puts a package)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# ReplayWeb.page's frame page, to be served at <replayBase>/index.html as its embedding
# docs ask: the replay frame loads it before the service worker controls the frame (and
# while the worker starts); without it the frame showed a directory listing on a busy
# machine and the replay never started.
REPLAY_FRAME = (
    '<!doctype html><html><head><meta charset="utf-8"><script src="../ui.js"></script>'
    "</head><body><replay-app-main></replay-app-main></body></html>"
)


class RangeHandler(SimpleHTTPRequestHandler):
    """Static files with single byte ranges (``Range: bytes=first-last`` or ``-suffix``)."""

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        spec = self.headers.get("Range", "")
        if not path.is_file() or not spec.startswith("bytes="):
            return super().send_head()
        size = path.stat().st_size
        first, _, last = spec.removeprefix("bytes=").partition("-")
        start = int(first) if first else max(size - int(last), 0)
        end = min(int(last), size - 1) if first and last else size - 1
        handle = path.open("rb")
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self._left = end - start + 1
        return handle

    def copyfile(self, source, outputfile):  # type: ignore[no-untyped-def]
        left = getattr(self, "_left", None)
        if left is None:
            return super().copyfile(source, outputfile)
        while left > 0 and (chunk := source.read(min(left, 1 << 16))):
            outputfile.write(chunk)
            left -= len(chunk)
        return None

    def end_headers(self) -> None:
        if "Range" not in self.headers:
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_files(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1; yields its origin (``http://127.0.0.1:PORT``)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
