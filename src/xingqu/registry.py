"""The model registry: trained versions' files under the models folder, their state in the store.

Training registers a version ``training`` when its files start to be written and ``ready`` with the
digest of its manifest once they are all written (``training.train``); ``retired`` versions are never
served. Every serving process
asks ``current()`` — one small query — to learn whether a newer ready version exists, and loads a
version only if its manifest still has the digest the registry recorded."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xingqu.errors import ConflictError, NotFoundError
from xingqu.models import artifacts
from xingqu.store import Store
from xingqu.store import models as rows
from xingqu.training import TrainedModel, finished, load_trained, versions


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class VersionInfo:
    """One version as ``xingqu models list`` shows it."""

    version: str
    status: str  # training, ready, retired; unregistered: on disk only (saved before the registry)
    created_ms: int | None
    on_disk: bool
    meta: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": self.status,
            "created_ms": self.created_ms,
            "on_disk": self.on_disk,
            "meta": self.meta,
        }


class ModelRegistry:
    """Versions of one store and models folder."""

    def __init__(self, store: Store, models_dir: Path | str) -> None:
        self.store = store
        self.models_dir = Path(models_dir)

    def publish(self, version: str) -> None:
        """Register a finished version found in the models folder (copied from another machine, or
        written by a distributed training run) as ready to serve."""
        folder = self.models_dir / version
        if not (folder / artifacts.MANIFEST).exists():
            raise NotFoundError(f"{folder}: no finished model version there (no {artifacts.MANIFEST})")
        artifacts.verify_manifest(folder)
        meta = artifacts.read_json(folder / "meta.json")
        summary = {k: meta.get(k) for k in ("users", "items", "interactions", "validation", "seconds")}
        with self.store.writing() as conn:
            rows.record(conn, version, "ready", _now_ms(), artifacts.manifest_digest(folder), summary)

    def retire(self, version: str) -> None:
        """Never serve ``version`` again (its files stay for audit and rollback)."""
        with self.store.writing() as conn:
            known = {r["version"] for r in rows.rows(conn)}
            if version not in known:
                raise NotFoundError(f"no registered model version {version!r}")
            rows.record(conn, version, "retired", _now_ms())

    def current(self) -> str | None:
        """The version to serve: the newest ready one; for a store that has registered none (saved
        before the registry), the newest finished folder."""
        with self.store.reading() as conn:
            found = rows.current(conn)
            if found is not None:
                return found[0]
            registered = rows.count(conn)
        if registered:
            return None
        done = finished(self.models_dir)
        return done[-1] if done else None

    def list(self) -> list[VersionInfo]:
        """Registered versions and versions found only on disk, oldest first."""
        with self.store.reading() as conn:
            known = {r["version"]: r for r in rows.rows(conn)}
        on_disk = set(versions(self.models_dir))
        out = []
        for v in sorted(set(known) | on_disk):
            r = known.get(v)
            out.append(
                VersionInfo(
                    v,
                    r["status"] if r else "unregistered",
                    r["created_at"] if r else None,
                    v in on_disk,
                    r["meta"] if r else None,
                )
            )
        return out

    def show(self, version: str) -> dict[str, Any]:
        """A version's registry row and its saved description (meta.json)."""
        info = {v.version: v for v in self.list()}.get(version)
        if info is None:
            raise NotFoundError(f"no model version {version!r}")
        out = info.to_dict()
        if info.on_disk:
            out["saved"] = artifacts.read_json(self.models_dir / version / "meta.json")
        return out

    def load(self, version: str | None = None) -> TrainedModel:
        """A version (the current one by default), refused when retired, unfinished, or when its
        manifest is not the one the registry recorded; its files are then verified by the manifest."""
        version = version or self.current()
        if version is None:
            raise NotFoundError(f"no ready model version in {self.models_dir}: run 'xingqu train' first")
        with self.store.reading() as conn:
            row = next((r for r in rows.rows(conn) if r["version"] == version), None)
        if row is not None:
            if row["status"] == "retired":
                raise ConflictError(f"model version {version} is retired")
            if row["status"] != "ready":
                raise ConflictError(f"model version {version} is still {row['status']}")
            folder = self.models_dir / version
            on_disk = (folder / artifacts.MANIFEST).exists()
            if on_disk and artifacts.manifest_digest(folder) != row["manifest_sha256"]:
                raise artifacts.ArtifactError(
                    f"{folder / artifacts.MANIFEST}: not the manifest registered for {version} (changed)"
                )
        return load_trained(self.models_dir, version)
