"""Model versions and training runs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ModelsOut(BaseModel):
    current: str | None
    versions: list[dict[str, Any]]


class CurrentOut(BaseModel):
    current: str | None
    version: dict[str, Any] | None


class TrainingRunOut(BaseModel):
    pid: int
    started_ms: int
    finished_ms: int | None
    running: bool
    exit_code: int | None
    version: str | None = None
    error: str | None = None


class TrainingOut(BaseModel):
    running: bool
    last: TrainingRunOut | None
