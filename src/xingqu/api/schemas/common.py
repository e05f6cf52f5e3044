"""What every route shares: the error body, pages of a list."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """A request body: unknown fields are refused (422 naming the field)."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(
        description="Stable code: bad_input, invalid_request, invalid_records, unauthenticated, "
        "forbidden, not_found, conflict, rate_limited, too_large, unavailable, …"
    )
    message: str
    field: str | None = Field(default=None, description="The field (or first field) at fault, when one is.")
    items: list[dict[str, Any]] | None = Field(
        default=None, description="Every bad item or field (invalid_records, invalid_request)."
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail


#: Error answers every route may give (documented once, on every route).
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "Bad input"),
        (401, "No key, or a revoked or unknown key"),
        (403, "The key's role or scope does not allow this"),
        (404, "Not found (or outside the key's scope)"),
        (409, "Conflicts with the current state"),
        (413, "Request body too large"),
        (422, "Invalid request or records"),
        (429, "Rate limit reached; see Retry-After"),
        (503, "The store, Redis or the model is unavailable; retry later"),
    )
}


class Page(BaseModel):
    total: int = Field(description="Items in the whole list.")
    page: int = Field(description="This page, from 1.")
    page_size: int
