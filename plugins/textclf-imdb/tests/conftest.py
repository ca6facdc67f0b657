"""An HTTP server on 127.0.0.1 serving a generated aclImdb archive, with scripted failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from textclf_imdb.synthetic import write_archive


class ArchiveServer:
    """Serves ``content`` at ``/aclImdb_v1.tar.gz``, honouring ``Range: bytes=N-``.

    ``cut_after`` (one entry per coming request) closes the connection after that many bytes;
    ``fail_with`` answers coming requests with those HTTP statuses instead. ``requests`` records
    the ``Range`` header (or ``None``) of every request.
    """

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.cut_after: list[int | None] = []
        self.fail_with: list[int] = []
        self.requests: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.headers.get("Range"))
                if server.fail_with:
                    self.send_error(server.fail_with.pop(0))
                    return
                if self.path != "/aclImdb_v1.tar.gz":
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range", "").startswith("bytes="):
                    start = int(self.headers["Range"][6:].split("-")[0])
                body = server.content[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(server.content) - 1}/{len(server.content)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = server.cut_after.pop(0) if server.cut_after else None
                self.wfile.write(body if cut is None else body[:cut])
                if cut is not None:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/aclImdb_v1.tar.gz"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A generated archive in the aclImdb layout (120 reviews per class and split) and its SHA-256."""
    path = tmp_path_factory.mktemp("imdb") / "aclImdb_v1.tar.gz"
    sha = write_archive(path, 120, unsup=5, seed=1)
    return path, sha


@pytest.fixture
def serve() -> Iterator:
    """``serve(content)`` starts an ``ArchiveServer``; all of them stop after the test."""
    started: list[ArchiveServer] = []

    def start(content: bytes) -> ArchiveServer:
        started.append(ArchiveServer(content))
        return started[-1]

    yield start
    for served in started:
        served.close()


@pytest.fixture
def server(archive: tuple[Path, str], serve) -> ArchiveServer:
    """The session's generated archive, served on 127.0.0.1."""
    return serve(archive[0].read_bytes())
