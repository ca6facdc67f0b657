"""Downloads for data plugins: resumable, retried, checksum-verified, atomic.

``download(url, dest, sha256=...)`` fetches into ``dest.part``, picks up a partial file where it
stopped (HTTP Range), retries network failures with exponential backoff, checks the SHA-256
before anything uses the file, and only then renames it to ``dest``: a file at ``dest`` is always
complete and verified.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from textclf.console import format_bytes
from textclf.errors import TextclfError
from textclf.records import file_sha256

log = logging.getLogger("textclf.downloads")
CHUNK = 1 << 20
USER_AGENT = "textclf (+https://github.com/textclf/textclf)"


class DownloadError(TextclfError):
    """A download that failed for good; ``offline`` tells a network failure from the rest."""

    def __init__(self, message: str, offline: bool = False) -> None:
        super().__init__(message)
        self.offline = offline


class _Retry(Exception):
    """A failure worth another attempt (the partial file is kept and resumed)."""


def download(url: str, dest: Path, *, sha256: str | None = None, retries: int = 5,
             backoff: float = 1.0, timeout: float = 60.0, progress: bool | None = None) -> Path:
    """Fetch ``url`` to ``dest`` (see the module docstring); returns ``dest``."""
    part = dest.with_name(dest.name + ".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot write to {dest.parent}: {exc.strerror}; set `cache_dir` "
                            f"or TEXTCLF_CACHE to a writable directory") from None
    show = sys.stderr.isatty() if progress is None else progress
    start = time.perf_counter()
    last: BaseException | None = None
    for attempt in range(retries + 1):
        if attempt:
            wait = backoff * 2 ** (attempt - 1)
            log.info(f"download interrupted ({_reason(last)}); retrying in {wait:g} s "
                     f"({attempt}/{retries})")
            time.sleep(wait)
        try:
            _fetch(url, part, timeout, show)
            break
        except _Retry as exc:
            last = exc.__cause__ or exc
    else:
        offline = isinstance(last, (urllib.error.URLError, OSError)) and not isinstance(
            last, urllib.error.HTTPError)
        raise DownloadError(f"cannot download {url}: {_reason(last)}", offline=offline)
    if sha256:
        actual = file_sha256(part)
        if actual != sha256.lower():
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"{url}: the download's SHA-256 is {actual}, expected {sha256}; the file was "
                f"corrupted on the way or the server sends another file (deleted it; run again, "
                f"or set the right `sha256` for a mirror)")
    os.replace(part, dest)
    log.info(f"downloaded {format_bytes(dest.stat().st_size)} in {time.perf_counter() - start:.1f} s"
             + (", SHA-256 verified" if sha256 else ""))
    return dest


def _fetch(url: str, part: Path, timeout: float, show: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the part file is complete
            return
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Retry from exc
        raise DownloadError(f"cannot download {url}: the server answered {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, socket.gaierror):  # no name resolution: offline, not flaky
            raise DownloadError(f"cannot download {url}: {_reason(exc)}", offline=True) from None
        raise _Retry from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry from exc
    with response:
        if have and response.status == 206:
            mode = "ab"
        else:
            mode, have = "wb", 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        if not have:
            log.info(f"downloading {url}" + (f" ({format_bytes(total)})" if total else ""))
        else:
            log.info(f"resuming {url} at {format_bytes(have)}" + (f" of {format_bytes(total)}" if total else ""))
        received = have
        with part.open(mode) as handle, _progress(show, total, have, part.name) as advance:
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    handle.write(block)
                    received += len(block)
                    advance(len(block))
            except (OSError, http.client.HTTPException) as exc:
                raise _Retry from exc
        if total is not None and received < total:
            raise _Retry from ConnectionError(f"connection closed after {format_bytes(received)} of {format_bytes(total)}")


@contextmanager
def _progress(show: bool, total: int | None, done: int, name: str) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on a terminal; nothing elsewhere (the log lines say enough)."""
    if not show:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(name.removesuffix(".part"), total=total, completed=done)
        yield lambda n: bar.advance(task, n)


def _reason(exc: BaseException | None) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
        if isinstance(exc, socket.gaierror):
            return "cannot resolve the host name (no network?)"
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered {exc.code} {exc.reason}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(exc) or type(exc).__name__
