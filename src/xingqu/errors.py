"""The one error hierarchy of xingqu, mapped once to CLI exit codes (and later to HTTP statuses)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Exit codes of the ``xingqu`` command.
EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
#: A service xingqu needs (the store's server, Redis) cannot be reached: retry later (HTTP 503).
EXIT_UNAVAILABLE = 3


class XingquError(Exception):
    """Base class of every error xingqu raises on purpose. ``kind`` is what the edges map: the CLI to
    an exit code, the API to an HTTP status (bad_input, not_found, conflict, forbidden, unauthenticated,
    rate_limited, unavailable, internal)."""

    exit_code: int = EXIT_INTERNAL
    kind: str = "internal"


class UserError(XingquError):
    """The caller asked for something that cannot be done; the message says what and why."""

    exit_code = EXIT_USER_ERROR
    kind = "bad_input"


class ConfigError(UserError):
    """A setting or option has a value xingqu cannot use."""


class NotFoundError(UserError):
    """A named thing (file, product, user, model) does not exist."""

    kind = "not_found"


class ConflictError(UserError):
    """The request clashes with the current state (a second training run, a key that exists…)."""

    kind = "conflict"


class ForbiddenError(UserError):
    """The caller may not do this (its role or tenancy does not allow it)."""

    kind = "forbidden"


class UnauthenticatedError(UserError):
    """No credentials, or credentials that are not (or no longer) valid (HTTP 401)."""

    kind = "unauthenticated"


class RateLimitedError(UserError):
    """Too many requests from one key: ``retry_after_s`` says when to try again (HTTP 429)."""

    kind = "rate_limited"

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StoreError(UserError):
    """The store cannot be opened or is not in a usable state (missing schema, newer version...)."""


class UnavailableError(XingquError):
    """A service xingqu needs (a PostgreSQL server, Redis) does not answer: nothing is wrong with the
    request, it may succeed later (exit 3, HTTP 503); the message names the service, one line."""

    exit_code = EXIT_UNAVAILABLE
    kind = "unavailable"


class HistoryChangedError(StoreError):
    """The audit log or the penalty ledger no longer matches its hash chain: history was rewritten."""


class MissingDependencyError(UserError):
    """An optional part needs a package that is not installed; the message names the extra."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(f"{purpose} needs the '{package}' package: pip install 'xingqu[{extra}]'")
        self.package = package
        self.extra = extra


@dataclass(frozen=True)
class RowError:
    """One problem with one input row: where it is and what is wrong."""

    source: str
    row: int | None
    field: str | None
    reason: str
    line: int | None = None
    value: str | None = None

    def location(self) -> str:
        """Human-readable place: file, then line (text formats) or row (columnar formats)."""
        where = self.source
        if self.line is not None:
            where += f", line {self.line}"
        elif self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field '{self.field}'"
        return where

    def __str__(self) -> str:
        shown = f" (got {self.value!r})" if self.value is not None else ""
        return f"{self.location()}: {self.reason}{shown}"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for ``--json`` output and reject files."""
        return {
            "source": self.source,
            "line": self.line,
            "row": self.row,
            "field": self.field,
            "reason": self.reason,
            "value": self.value,
        }


@dataclass
class ValidationFailed(UserError):
    """An input file had invalid rows; nothing from it was written."""

    source: str
    errors: list[RowError] = field(default_factory=list)
    total: int = 0

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = "\n".join(f"  {e}" for e in self.errors)
        more = self.total - len(self.errors)
        tail = f"\n  … and {more} more" if more > 0 else ""
        return f"{self.source}: {self.total} invalid row(s); nothing was imported.\n{shown}{tail}"


def require_at_least(name: str, value: int | None, low: int = 1) -> None:
    """Refuse a count below ``low`` with an error naming the argument (the function API's twin of the
    CLI's bounds); ``None`` means "not given" and passes."""
    if value is not None and value < low:
        raise UserError(f"{name} must be at least {low}, not {value}")
