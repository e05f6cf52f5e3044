"""Events and catalogue records sent by apps: items are JSON objects with the fields of their kind, read
by the same rules as ``xingqu import`` of JSON Lines."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from xingqu.api.schemas.common import Strict
from xingqu.domain.records import KINDS
from xingqu.services.ingest import MAX_BATCH


def _fields(kind: str) -> str:
    spec = KINDS[kind]
    return f"{spec.doc} Fields: " + ", ".join(
        f"{f.name}{' (required)' if f.required else ''}" for f in spec.fields
    )


Items = list[dict[str, Any]]


class EventsIn(Strict):
    events: Items = Field(min_length=1, max_length=MAX_BATCH, description=_fields("events"))


class EventsOut(Strict):
    received: int = Field(description="Events in the batch.")
    written: int = Field(description="Events stored now.")
    duplicates: int = Field(description="Events already stored (same event_id), skipped.")


class CatalogueIn(Strict):
    brands: Items | None = Field(default=None, max_length=MAX_BATCH, description=_fields("brands"))
    shops: Items | None = Field(default=None, max_length=MAX_BATCH, description=_fields("shops"))
    creators: Items | None = Field(default=None, max_length=MAX_BATCH, description=_fields("creators"))
    users: Items | None = Field(default=None, max_length=MAX_BATCH, description=_fields("users"))
    products: Items | None = Field(default=None, max_length=MAX_BATCH, description=_fields("products"))
    content: Items | None = Field(default=None, max_length=MAX_BATCH, description=_fields("content"))
    relations: Items | None = Field(default=None, max_length=MAX_BATCH, description=_fields("relations"))

    @model_validator(mode="after")
    def _bounded(self) -> CatalogueIn:
        total = sum(len(v or []) for v in self.batches().values())
        if total == 0:
            raise ValueError("send at least one record")
        if total > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} records per request, not {total}")
        return self

    def batches(self) -> dict[str, Items]:
        """The records sent, per kind."""
        return {k: v for k in KINDS if k != "events" and (v := getattr(self, k)) is not None}


class KindWritten(Strict):
    received: int
    written: int = Field(description="Records inserted or updated.")
    screened: dict[str, int] | None = Field(
        default=None,
        description="Products: decisions of screening (approve, review → stored pending and queued, "
        "reject → stored rejected).",
    )


class CatalogueOut(Strict):
    kinds: dict[str, KindWritten]
