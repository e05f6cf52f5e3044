"""The files of a saved model version, written and read through one place.

Writers save their files with ``save_json`` / ``save_npz`` / ``save_parquet`` / ``save_text``; once all
are written, ``write_manifest`` lists every file of the version with its size and SHA-256 in
``manifest.json`` (written last, so a version without one was never finished). Loading verifies the
manifest first, then reads through ``read_json`` / ``read_npz`` / ``read_parquet`` / ``read_text``, which
name the file on any damage (``ArtifactError``, exit 1): a missing file, changed bytes, malformed JSON or
a JSON value of the wrong shape never surface as a crash.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from xingqu.errors import StoreError

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "xingqu-model-manifest"


class ArtifactError(StoreError):
    """A saved model's file is missing, changed or malformed; the message names the file."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: Path) -> Path:
    """List every file under ``folder`` with size and SHA-256 in ``manifest.json``; call it last."""
    files = {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in _files(folder)
    }
    doc = {"format": MANIFEST_FORMAT, "files": files}
    tmp = folder / (MANIFEST + ".part")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(folder / MANIFEST)
    return folder / MANIFEST


def manifest_digest(folder: Path) -> str:
    """SHA-256 of a version's manifest, which lists every file's own digest: one value that pins all."""
    return _sha256(folder / MANIFEST)


def verify_manifest(folder: Path) -> None:
    """Check, before anything is loaded, that every file of the version is there, unchanged, and that no
    file was added; raise ``ArtifactError`` naming the first file that is not."""
    doc = read_json(folder / MANIFEST)
    files = doc.get("files")
    if doc.get("format") != MANIFEST_FORMAT or not isinstance(files, dict):
        raise ArtifactError(f"{folder / MANIFEST}: not a model manifest this xingqu reads")
    for name, entry in sorted(files.items()):
        path = folder / name
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise ArtifactError(f"{folder / MANIFEST}: the entry of {name!r} is malformed")
        if ".." in Path(name).parts or not path.is_file():
            raise ArtifactError(f"{path}: listed in the manifest but missing")
        if path.stat().st_size != entry.get("bytes") or _sha256(path) != entry["sha256"]:
            raise ArtifactError(f"{path}: changed since the model was saved (checksum mismatch)")
    extra = [
        p.relative_to(folder).as_posix()
        for p in _files(folder)
        if p.relative_to(folder).as_posix() not in files
    ]
    if extra:
        raise ArtifactError(f"{folder / extra[0]}: not part of the saved model (added after saving)")


@contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn any failure to make sense of a verified file's content into an ``ArtifactError`` naming it
    (a key missing from an archive, arrays of the wrong shape…)."""
    try:
        yield
    except ArtifactError:
        raise
    except (
        KeyError,
        ValueError,
        TypeError,
        IndexError,
        AttributeError,
        OSError,
        zipfile.BadZipFile,
        pa.ArrowException,
    ) as exc:
        raise ArtifactError(
            f"{path}: content does not fit this model ({type(exc).__name__}: {exc})"
        ) from None


def read_json(path: Path, shape: type = dict) -> Any:
    """A JSON file whose top-level value has type ``shape`` (an object by default)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArtifactError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(value, shape):
        raise ArtifactError(f"{path}: expected a JSON {shape.__name__}, found a {type(value).__name__}")
    return value


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: not readable ({exc})") from None


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file (no pickled objects)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise ArtifactError(f"{path}: not a readable array archive ({exc})") from None


def read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: missing") from None
    except (pa.ArrowException, OSError) as exc:
        raise ArtifactError(f"{path}: not a readable Parquet file ({exc})") from None


def save_json(path: Path, value: Any, **kw: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, **kw), encoding="utf-8")


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def save_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def save_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
