"""Writes that never leave a half-written file or directory behind: write aside, then rename.

A directory is written as ``.NAME.tmp-HOST-PID-XXXXXXXX`` beside its target. A write that was
killed leaves that behind; the next write to the same target removes it once no process on this
host has that pid, or once it is ``STALE_AGE`` old (a pid can be reused, and another host's pid
means nothing here).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: tempfile makes private (0600/0700) files and directories; what we publish gets the permissions
#: a plain open() or mkdir() would give, so that bundles and runs can be shared and deployed.
_UMASK = _umask()
#: A leftover of a killed write older than this is removed even if its pid is alive again.
STALE_AGE = 24 * 3600
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
#: After the target's ``.NAME.``: a temporary directory or a replaced target moved aside, as this
#: version names them (host, pid, random part), or a temporary directory as earlier versions did
#: (random part only: judged by age alone). Nothing else, so that no one's own directory matches.
_LEFTOVER = re.compile(r"(?P<kind>tmp|old)-(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-z_]{8}|tmp-[0-9a-z_]{8}")
#: What rename() answers when a directory cannot take the place of an existing, non-empty one.
_TAKEN = {errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR}


class TargetExists(FileExistsError):
    """The target of ``directory`` was written meanwhile by another process, or is no longer what
    may be replaced: it was left as it was (or, rarely, moved to ``kept``), the new one dropped."""

    kept: Path | None = None


@contextmanager
def file(path: Path, mode: str = "w", *, durable: bool = False) -> Iterator[IO[Any]]:
    """A handle on a temporary file beside ``path`` (``mode`` "w" for text, "wb" for bytes) that
    becomes ``path`` when the block ends without error; after an error ``path`` is untouched.
    ``durable`` flushes it to the disk first, so a crash right after the rename loses nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        encoding = None if "b" in mode else "utf-8"
        with open(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    with file(path) as handle:
        handle.write(text)


def publishable(directory: Path) -> None:
    """Give the files under ``directory`` the permissions a plain open() would: libraries that
    write through a private temporary file (safetensors does) leave them readable by no one else."""
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, (path.stat().st_mode | (0o666 & ~_UMASK)) & 0o777)


@contextmanager
def directory(target: Path, *, replace: bool = False, exist_ok: bool = True,
              replaceable: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; on success it becomes ``target``.

    The final rename itself refuses to replace a non-empty directory, so that a ``target`` written
    meanwhile by another process is never lost. Without ``replace`` such a ``target`` is kept and
    the new directory dropped: silently with ``exist_ok`` (content any writer makes the same,
    like a cache entry), else raising ``TargetExists``. With ``replace`` it is swapped out, but
    with ``replaceable`` only if that accepts it once moved aside (so what is checked is what is
    replaced), else ``TargetExists``. On failure nothing changes and the temporary directory is
    removed. Leftovers of killed writes to ``target`` are removed first (``clean_stale``).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{_HOST}-{os.getpid()}-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        publishable(tmp)
        _publish(tmp, target, replace, exist_ok, replaceable)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _publish(tmp: Path, target: Path, replace: bool, exist_ok: bool,
             replaceable: Callable[[Path], bool] | None) -> None:
    meanwhile = "written meanwhile by another process; kept it"
    if _renamed(tmp, target) or (not replace and exist_ok):
        return
    if not replace:
        raise TargetExists(errno.EEXIST, meanwhile, str(target))
    old = target.with_name(f".{target.name}.old-{_HOST}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        os.rename(target, old)
    except FileNotFoundError:  # removed meanwhile: nothing left to replace
        if _renamed(tmp, target):
            return
        raise TargetExists(errno.EEXIST, meanwhile, str(target)) from None
    if replaceable is not None and not replaceable(old):
        _refuse(old, target, "not what may be replaced; kept it")
    if not _renamed(tmp, target):  # another writer's took its place between the two renames
        _refuse(old, target, meanwhile)
    _remove(old)


def _renamed(tmp: Path, target: Path) -> bool:
    """Whether ``tmp`` became ``target``: False where a non-empty directory (or a file) is there."""
    try:
        os.rename(tmp, target)
    except OSError as exc:
        if exc.errno in _TAKEN:
            return False
        raise
    return True


def _refuse(old: Path, target: Path, reason: str) -> NoReturn:
    """Put ``old`` back as ``target`` (beside it, visibly, if that was taken meanwhile), and raise."""
    error = TargetExists(errno.EEXIST, reason, str(target))
    try:
        os.rename(old, target)
    except OSError:
        error.kept = target.with_name(f"{target.name}.kept-{secrets.token_hex(4)}")
        os.rename(old, error.kept)
    raise error


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_stale(target: Path) -> list[Path]:
    """Remove what killed writes of ``target`` left beside it; returns what it removed. A replaced
    target moved aside is put back instead when the write died before its successor took its
    place (no ``target``)."""
    prefix = f".{target.name}."
    try:
        entries = [entry for entry in os.scandir(target.parent) if entry.name.startswith(prefix)]
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _LEFTOVER.fullmatch(entry.name, len(prefix))
        if match is None or not _abandoned(entry, match):
            continue
        path = Path(entry.path)
        try:
            if match["kind"] == "old" and not os.path.lexists(target):
                try:
                    os.rename(path, target)
                    continue
                except OSError:  # the target appeared meanwhile: the old one is no longer wanted
                    pass
            _remove(path)
            removed.append(path)
        except OSError:  # best effort: a leftover we may not remove must not stop this write
            pass
    return removed


def _abandoned(entry: os.DirEntry[str], match: re.Match[str]) -> bool:
    try:
        age = time.time() - entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return False
    if age > STALE_AGE:
        return True
    return match["host"] == _HOST and not _running(int(match["pid"]))


def _running(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send the process a Ctrl-C there, not probe it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except (OverflowError, ValueError):  # no process can have such a pid
        return False
    return True
