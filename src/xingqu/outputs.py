"""Every file xingqu writes for a user goes through here: the path is checked before any work starts,
the content is written to a temporary file in the target folder, and renamed over the target only once
complete. A failure leaves the user's existing file exactly as it was, and no half-written file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from xingqu.errors import UserError


class OutputPathError(UserError):
    """An output path that cannot be written (missing folder, a folder, read-only, wrong suffix…)."""


def check_output_file(path: Path, option: str, suffixes: tuple[str, ...] = ()) -> Path:
    """Refuse, before any work, an output file that could not be written; return it.

    ``suffixes`` (e.g. ``(".png", ".svg")``) limits the file types the writer can produce."""
    where = f"{option} {path}"
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputPathError(f"{where}: the file name must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise OutputPathError(f"{where}: is a folder; give a file name")
    _check_folder(path.parent, where)
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"{where}: the file is read-only")
    return path


def check_output_folder(path: Path, option: str) -> Path:
    """Refuse, before any work, an output folder that could not be written into (created if absent,
    when its parent exists); return it."""
    where = f"{option} {path}"
    if path.exists():
        if not path.is_dir():
            raise OutputPathError(f"{where}: is a file, not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise OutputPathError(f"{where}: the folder is not writable")
        return path
    _check_folder(path.parent, where)
    return path


def _check_folder(folder: Path, where: str) -> None:
    folder = folder if str(folder) else Path(".")
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise OutputPathError(f"{where}: {probe} is a file, not a folder")
    if not folder.exists():
        raise OutputPathError(f"{where}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{where}: the folder {folder} is not writable")


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to (by any library); renamed over ``path`` when the
    block succeeds, removed when it fails."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    except OSError as exc:
        raise OutputPathError(f"cannot write {path}: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's owner-only mode
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputPathError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def writing_text(path: Path, newline: str | None = None) -> Iterator[IO[str]]:
    """A UTF-8 text handle whose content replaces ``path`` only when the block succeeds."""
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8", newline=newline) as fh:
        yield fh
