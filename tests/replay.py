"""A local HTTP server on 127.0.0.1 for tests that replay Overpass or Nominatim answers built from real extracts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonReplay(BaseHTTPRequestHandler):
    """Base request handler: subclasses answer with `answer`; requests are not logged."""

    def answer(self, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(handler: type[JsonReplay]) -> Iterator[ThreadingHTTPServer]:
    """Serve ``handler`` on a free local port; yields the server (``server_port``; ``shutdown`` stops it early)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
