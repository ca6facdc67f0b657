"""Writes that never leave a half-written file or directory behind: write aside, then rename."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: tempfile makes private (0600/0700) files and directories; what we publish gets the permissions
#: a plain open() or mkdir() would give, so that bundles and runs can be shared and deployed.
_UMASK = _umask()


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def directory(target: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside ``target``; on success it becomes ``target``.

    With ``replace`` an existing ``target`` is swapped out; without, an existing ``target`` (made
    meanwhile by another process, say) is kept and the new one dropped. On failure nothing
    changes and the temporary directory is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        if not target.exists():
            tmp.rename(target)
        elif replace:
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
