"""A typed Python client of the HTTP API, with the CLI's verbs: ``Client(url, key).recommend("u1")``.

Every method returns the answer's JSON (as the OpenAPI document describes it); an error answer raises
``ApiError`` with the server's stable code, its HTTP status and the kind of ``xingqu.errors`` it maps
from (so that callers handle a remote error as they would a local one)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, Literal

import httpx

from xingqu.errors import XingquError

#: The kind of ``xingqu.errors`` behind each HTTP status (the API's mapping, read backwards).
KIND_OF_STATUS = {
    400: "bad_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "bad_input",
    422: "bad_input",
    429: "rate_limited",
    503: "unavailable",
}

Period = Literal["day", "week", "month"]
Json = dict[str, Any]


class ApiError(XingquError):
    """An error answer: ``status``, the stable ``code``, ``field`` at fault and the bad ``items``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        items: list[Json] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.field, self.items, self.retry_after = field, items or [], retry_after
        self.kind = KIND_OF_STATUS.get(status, "internal")

    @property
    def retryable(self) -> bool:
        """The same request may succeed later (rate limited, or a server part unavailable)."""
        return self.status in (429, 503)


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


class Client:
    """The API at ``url`` with one key (``Authorization: Bearer``); use as a context manager, or
    ``close()`` when done. ``retries``: how often a request answered 429/503, or not answered at all,
    is sent again (after ``Retry-After``, else a short back-off) — safe for reads and for events,
    which are idempotent by ``event_id``."""

    def __init__(self, url: str, key: str | None = None, *, timeout: float = 30.0, retries: int = 0) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)
        self.retries = retries

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    # -- transport ------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> httpx.Response:
        """One call, retried as ``retries`` says; an error answer raises ``ApiError``."""
        attempt = 0
        while True:
            try:
                response = self.http.request(method, path, params=_clean(params or {}), json=json)
            except httpx.TransportError as exc:
                if attempt >= self.retries:
                    raise ApiError(503, "unreachable", f"{self.http.base_url}: {exc}") from exc
                attempt += 1
                time.sleep(min(0.05 * 2**attempt, 2.0))
                continue
            if response.status_code < 400:
                return response
            error = self._error(response)
            if not error.retryable or attempt >= self.retries:
                raise error
            attempt += 1
            time.sleep(error.retry_after if error.retry_after is not None else min(0.05 * 2**attempt, 2.0))

    @staticmethod
    def _error(response: httpx.Response) -> ApiError:
        try:
            body = response.json().get("error") or {}
        except ValueError:
            body = {}
        retry = response.headers.get("retry-after")
        return ApiError(
            response.status_code,
            str(body.get("code") or "http_error"),
            str(body.get("message") or response.text[:200]),
            body.get("field"),
            body.get("items"),
            float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
        )

    def _get(self, path: str, **params: Any) -> Json:
        return self.request("GET", path, params=params).json()  # type: ignore[no-any-return]

    def _post(self, path: str, body: Any = None, **params: Any) -> Json:
        return self.request("POST", path, params=params, json=body).json()  # type: ignore[no-any-return]

    # -- health ---------------------------------------------------------------------------------

    def healthz(self) -> Json:
        return self._get("/healthz")

    def readyz(self) -> Json:
        """Readiness with its checks (``ApiError`` 503 when not ready)."""
        return self._get("/readyz")

    # -- keys -----------------------------------------------------------------------------------

    def whoami(self) -> Json:
        return self._get("/v1/keys/me")

    def keys_create(
        self,
        role: str,
        *,
        shops: Iterable[str] = (),
        creator: str | None = None,
        name: str | None = None,
        rate_per_s: int | None = None,
    ) -> Json:
        """A new key (its ``key`` field is shown this once)."""
        body = {
            "role": role,
            "shops": list(shops),
            "creator": creator,
            "name": name,
            "rate_per_s": rate_per_s,
        }
        return self._post("/v1/keys", {k: v for k, v in body.items() if v is not None})

    def keys_list(self) -> list[Json]:
        return self._get("/v1/keys")["keys"]  # type: ignore[no-any-return]

    def keys_revoke(self, key_id: str) -> Json:
        return self.request("DELETE", f"/v1/keys/{key_id}").json()  # type: ignore[no-any-return]

    # -- records --------------------------------------------------------------------------------

    def events(self, events: list[Json]) -> Json:
        """Post a batch of up to 1,000 events (all or none; repeats skipped)."""
        return self._post("/v1/events", {"events": events})

    def catalogue(self, **kinds: list[Json]) -> Json:
        """Upsert catalogue records: ``catalogue(products=[…], shops=[…])``; products are screened."""
        return self._post("/v1/catalogue", kinds)

    # -- feeds ----------------------------------------------------------------------------------

    def recommend(
        self,
        user: str,
        n: int = 20,
        *,
        max_price: float | None = None,
        category: Iterable[str] | None = None,
        brand: Iterable[str] | None = None,
        explain: bool = True,
        content: bool = False,
    ) -> Json:
        """A user's feed (``max_price`` in yuan), or with ``content`` their videos and live rooms."""
        if content:
            return self._get(f"/v1/users/{user}/content", n=n)
        return self._get(
            f"/v1/users/{user}/feed",
            n=n,
            max_price=max_price,
            category=list(category) if category else None,
            brand=list(brand) if brand else None,
            explain=explain,
        )

    def similar(self, product: str, n: int = 10) -> Json:
        """Products similar to ``product`` and bought together with it."""
        return self._get(f"/v1/products/{product}/similar", n=n)

    # -- merchants' and creators' tools ---------------------------------------------------------

    def portrait(
        self, kind: str, key: str, audience: str | None = None, min_count: int | None = None
    ) -> Json:
        return self._get(f"/v1/portraits/{kind}/{key}", audience=audience, min_count=min_count)

    def audience(self, kind: str, key: str) -> Json:
        """The private domain of a product, shop or brand: group sizes."""
        return self._get(f"/v1/audiences/{kind}/{key}")

    def lookalike(
        self,
        kind: str,
        key: str,
        *,
        n: int | None = None,
        top_pct: float | None = None,
        seed_users: list[str] | None = None,
        exclude_private: bool = False,
        page: int = 1,
        page_size: int = 1_000,
    ) -> Json:
        """One page of a lookalike audience, with its size estimates."""
        body = _clean({"n": n, "top_pct": top_pct, "seed_users": seed_users})
        body["exclude_private"] = exclude_private
        return self._post(
            f"/v1/audiences/{kind}/{key}/lookalike", body, page=page, page_size=page_size, format="json"
        )

    def lookalike_lines(self, kind: str, key: str, **body: Any) -> Iterator[str]:
        """Every user of a lookalike audience, as the JSON lines of the file answer."""
        body = _clean(body)
        response = self.request(
            "POST", f"/v1/audiences/{kind}/{key}/lookalike", params={"format": "jsonl"}, json=body
        )
        yield from (line for line in response.text.splitlines() if line)

    def creators(self, product: str, n: int = 10, **filters: Any) -> Json:
        """Creators for ``product`` (goal, min_followers, max_followers, category, min_reputation,
        target=["gender=F", …])."""
        return self._get(f"/v1/products/{product}/creators", n=n, **filters)

    def similar_creators(self, creator: str, n: int = 10) -> Json:
        return self._get(f"/v1/creators/{creator}/similar", n=n)

    def selection(self, creator: str, n: int = 10, categories: int = 3) -> Json:
        return self._get(f"/v1/creators/{creator}/selection", n=n, categories=categories)

    # -- governance -----------------------------------------------------------------------------

    def screen(self, listings: list[Json], queue: bool = False) -> Json:
        return self._post("/v1/governance/screen", {"listings": listings, "queue": queue})

    def review_list(self, status: str = "open", limit: int = 100) -> list[Json]:
        return self._get("/v1/governance/review", status=status, limit=limit)["entries"]  # type: ignore[no-any-return]

    def review_approve(self, listing: str, note: str) -> Json:
        return self._post(f"/v1/governance/review/{listing}/approve", {"note": note})

    def review_reject(self, listing: str, note: str) -> Json:
        return self._post(f"/v1/governance/review/{listing}/reject", {"note": note})

    def takedown(self, product: str, reason: str) -> Json:
        return self._post(f"/v1/products/{product}/takedown", {"reason": reason})

    def reinstate(self, product: str, reason: str) -> Json:
        return self._post(f"/v1/products/{product}/reinstate", {"reason": reason})

    def audit(self, subject: str | None = None, limit: int = 50) -> list[Json]:
        return self._get("/v1/governance/audit", subject=subject, limit=limit)["entries"]  # type: ignore[no-any-return]

    def audit_verify(self) -> Json:
        return self._get("/v1/governance/audit/verify")

    def points_show(self, shop: str) -> Json:
        return self._get(f"/v1/shops/{shop}/points")

    def points_give(
        self, shop: str, violation: str, reason: str, points: int | None = None, product: str | None = None
    ) -> Json:
        body = _clean({"violation": violation, "reason": reason, "points": points, "product": product})
        return self._post(f"/v1/shops/{shop}/points", body)

    def stores_check(self, window_days: int = 7, update_scores: bool = False) -> Json:
        if update_scores:
            return self._post("/v1/governance/stores/scores", None, window_days=window_days)
        return self._get("/v1/governance/stores", window_days=window_days)

    # -- reports --------------------------------------------------------------------------------

    def report(self, name: Literal["gmv", "funnel", "customers", "live", "channels"], **params: Any) -> Json:
        """A report as JSON: ``report("gmv", period="week", shop="s1")``."""
        return self._get(f"/v1/reports/{name}", **params)

    def report_csv(
        self, name: Literal["gmv", "funnel", "customers", "live", "channels"], **params: Any
    ) -> str:
        """A report's rows as CSV text."""
        return self.request("GET", f"/v1/reports/{name}", params={**params, "format": "csv"}).text

    def compass(self, shop: str, days: int = 30) -> Json:
        return self._get(f"/v1/shops/{shop}/compass", days=days)

    # -- models ---------------------------------------------------------------------------------

    def models_list(self) -> Json:
        return self._get("/v1/models")

    def models_current(self) -> Json:
        return self._get("/v1/models/current")

    def training(self) -> Json:
        return self._get("/v1/models/training")

    def train(self) -> Json:
        """Start a training run in the background (``ApiError`` 409 while one goes)."""
        return self._post("/v1/models/train")

    # -- experiments ----------------------------------------------------------------------------

    def experiment_create(self, definition: Json) -> Json:
        """Define an experiment (``ApiError`` 409 when its name exists or its layer is full)."""
        return self._post("/v1/experiments", definition)

    def experiments(self) -> list[Json]:
        return self._get("/v1/experiments")["experiments"]  # type: ignore[no-any-return]

    def experiment(self, name: str) -> Json:
        return self._get(f"/v1/experiments/{name}")

    def experiment_stop(self, name: str, reason: str) -> Json:
        return self._post(f"/v1/experiments/{name}/stop", {"reason": reason})

    def experiment_report(self, name: str) -> Json:
        return self._get(f"/v1/experiments/{name}/report")
