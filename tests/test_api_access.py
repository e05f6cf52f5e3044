"""Keys, roles and tenancy through a real uvicorn server on loopback: every route of the OpenAPI document
called with every role, with a foreign tenant, without a key and with a revoked key; the allowed set of
each route asserted exactly."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from apiserver import World, auth, make_key, serving
from xingqu.governance import review
from xingqu.governance.screening import Decision
from xingqu.runtime import Runtime
from xingqu.services import experiments, governance

ROLES = ("admin", "ops", "app", "merchant", "creator")
ALL = frozenset(ROLES)

#: Who may call each route, stated here apart from the server's own table (a change there must be
#: made here too, on purpose). Merchant and creator calls are made about their own shop or self.
EXPECTED: dict[str, frozenset[str]] = {
    "whoami": ALL,
    "create_key": frozenset({"admin"}),
    "list_keys": frozenset({"admin"}),
    "revoke_key": frozenset({"admin"}),
    "post_events": frozenset({"admin", "app"}),
    "upsert_catalogue": frozenset({"admin", "app"}),
    "user_feed": frozenset({"admin", "app"}),
    "user_content_feed": frozenset({"admin", "app"}),
    "similar_products": frozenset({"admin", "app"}),
    "product_details": frozenset({"admin", "ops", "merchant"}),
    "portrait": frozenset({"admin", "ops", "merchant", "creator"}),
    "audience": frozenset({"admin", "ops", "merchant"}),
    "lookalike": frozenset({"admin", "ops", "merchant"}),
    "creators_for_product": frozenset({"admin", "ops", "merchant"}),
    "similar_creators": frozenset({"admin", "ops", "merchant"}),
    "creator_selection": frozenset({"admin", "ops", "creator"}),
    "screen_listings": frozenset({"admin", "ops"}),
    "review_queue": frozenset({"admin", "ops"}),
    "approve_listing": frozenset({"admin", "ops"}),
    "reject_listing": frozenset({"admin", "ops"}),
    "take_down_product": frozenset({"admin", "ops"}),
    "reinstate_product": frozenset({"admin", "ops"}),
    "audit_log": frozenset({"admin", "ops"}),
    "verify_audit": frozenset({"admin", "ops"}),
    "shop_points": frozenset({"admin", "ops", "merchant"}),
    "give_points": frozenset({"admin", "ops"}),
    "check_stores": frozenset({"admin", "ops"}),
    "update_store_scores": frozenset({"admin", "ops"}),
    "gmv_report": frozenset({"admin", "ops", "merchant"}),
    "funnel_report": frozenset({"admin", "ops", "merchant"}),
    "customers_report": frozenset({"admin", "ops", "merchant"}),
    "live_report": frozenset({"admin", "ops", "merchant", "creator"}),
    "channels_report": frozenset({"admin", "ops", "merchant"}),
    "shop_compass": frozenset({"admin", "ops", "merchant"}),
    "overview_report": frozenset({"admin", "ops", "merchant"}),
    "list_models": frozenset({"admin", "ops"}),
    "current_model": frozenset({"admin", "ops", "app"}),
    "training_status": frozenset({"admin", "ops"}),
    "start_training": frozenset({"admin"}),
    "create_experiment": frozenset({"admin", "ops"}),
    "list_experiments": frozenset({"admin", "ops"}),
    "show_experiment": frozenset({"admin", "ops"}),
    "edit_experiment": frozenset({"admin", "ops"}),
    "stop_experiment": frozenset({"admin", "ops"}),
    "experiment_report": frozenset({"admin", "ops"}),
}
#: Routes whose merchant or creator calls are about one tenant: another tenant's key gets 404.
SCOPED = {
    "portrait",
    "audience",
    "lookalike",
    "creators_for_product",
    "creator_selection",
    "shop_points",
    "gmv_report",
    "funnel_report",
    "customers_report",
    "live_report",
    "channels_report",
    "shop_compass",
    "product_details",
    "overview_report",
}
PUBLIC = {"healthz", "readyz"}


@dataclass
class Req:
    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None


@dataclass
class Tenants:
    """The ids the calls are about: merchant A's shop and product, creator A, a user and the rest."""

    runtime: Runtime
    shop: str
    product: str
    other_shop: str
    spare_product: str  # taken down and reinstated (of neither tenant's shop)
    creator: str
    user: str
    seeds: list[str]
    event: dict[str, Any]


def _tenants(runtime: Runtime, world: World) -> Tenants:
    store = runtime.store
    with store.reading() as conn:
        rows = conn.exec_driver_sql(
            "SELECT p.shop_id, p.product_id FROM products p WHERE p.status = 'listed' AND p.stock > 0 "
            "ORDER BY p.shop_id, p.product_id"
        ).all()
        users = [r[0] for r in conn.exec_driver_sql("SELECT user_id FROM users ORDER BY user_id").all()]
        creator = conn.exec_driver_sql(
            "SELECT creator_id FROM creators ORDER BY follower_count DESC, creator_id LIMIT 1"
        ).scalar_one()
    model_items = set(world.model.feed.cat.items.ids.tolist())  # type: ignore[union-attr]
    by_shop: dict[str, list[str]] = {}
    for shop, product in rows:
        if product in model_items:
            by_shop.setdefault(shop, []).append(product)
    shops = sorted(by_shop, key=lambda s: (-len(by_shop[s]), s))
    shop, other, third = shops[0], shops[1], shops[2]
    user = world.busy_user()
    event = {
        "event_id": "matrix-click-1",
        "event_type": "click",
        "ts": "2026-05-13T08:00:00+08:00",
        "user_id": user,
        "product_id": by_shop[shop][0],
        "surface": "feed",
    }
    return Tenants(
        runtime, shop, by_shop[shop][0], other, by_shop[third][0], creator, user, users[:40], event
    )


def _queued(t: Tenants) -> str:
    """A fresh open review entry (a listing that is not a product), for approve and reject calls."""
    listing = f"listing-{uuid.uuid4().hex[:8]}"
    decision = Decision(listing, "review", [], "test")
    review.enqueue(t.runtime.store, [(decision, {"shop": t.shop, "title": "待审核商品"})])
    return listing


def _status(t: Tenants, status: str) -> str:
    """The spare product in ``status`` (listed or taken_down) before a call that changes it."""
    with t.runtime.store.reading() as conn:
        now = conn.exec_driver_sql("SELECT status FROM products WHERE product_id = ?", (t.spare_product,))
        now = now.scalar_one()
    if now != status:
        action = governance.take_down if status == "taken_down" else governance.reinstate
        action(t.runtime, t.spare_product, reason="test: set up", actor="test")
    return t.spare_product


def _throwaway_key(t: Tenants) -> str:
    from xingqu.services.keys import create_key

    return create_key(t.runtime, "app", name="to revoke")[1].key_id


def _experiment_body(name: str, start_ms: int | None = None) -> dict[str, Any]:
    """A definition in a layer of its own (every call may make one)."""
    arms = [{"name": "control", "share": 0.5}, {"name": "blend", "share": 0.5, "feed": "blend"}]
    body: dict[str, Any] = {"name": name, "layer": name, "arms": arms}
    if start_ms is not None:
        body["start_ms"] = start_ms
    return body


def _made_experiment(t: Tenants, scheduled: bool = False) -> str:
    """A fresh experiment (running, or scheduled far ahead so that it may still be edited)."""
    name = f"matrix-{uuid.uuid4().hex[:8]}"
    body = _experiment_body(name, 2**50 if scheduled else None)
    experiments.create_experiment(t.runtime, body, "test")
    return name


def _scheduled_edit(t: Tenants) -> Req:
    name = _made_experiment(t, scheduled=True)
    return Req("PUT", f"/v1/experiments/{name}", json=_experiment_body(name, 2**50 + 1))


def _shop_for(role: str, t: Tenants) -> dict[str, Any]:
    return {"shop": t.shop}


CASES: dict[str, Callable[[Tenants, str], Req]] = {
    "healthz": lambda t, r: Req("GET", "/healthz"),
    "readyz": lambda t, r: Req("GET", "/readyz"),
    "whoami": lambda t, r: Req("GET", "/v1/keys/me"),
    "create_key": lambda t, r: Req("POST", "/v1/keys", json={"role": "ops", "name": "made in the matrix"}),
    "list_keys": lambda t, r: Req("GET", "/v1/keys"),
    "revoke_key": lambda t, r: Req("DELETE", f"/v1/keys/{_throwaway_key(t)}"),
    "post_events": lambda t, r: Req("POST", "/v1/events", json={"events": [t.event]}),
    "upsert_catalogue": lambda t, r: Req(
        "POST",
        "/v1/catalogue",
        json={"users": [{"user_id": "matrix-user", "gender": "F", "age_band": "24-30"}]},
    ),
    "user_feed": lambda t, r: Req("GET", f"/v1/users/{t.user}/feed", {"n": 5}),
    "user_content_feed": lambda t, r: Req("GET", f"/v1/users/{t.user}/content", {"n": 3}),
    "similar_products": lambda t, r: Req("GET", f"/v1/products/{t.product}/similar", {"n": 3}),
    "product_details": lambda t, r: Req("GET", f"/v1/products/{t.product}"),
    "portrait": lambda t, r: Req(
        "GET", f"/v1/portraits/creator/{t.creator}" if r == "creator" else f"/v1/portraits/shop/{t.shop}"
    ),
    "audience": lambda t, r: Req("GET", f"/v1/audiences/shop/{t.shop}"),
    "lookalike": lambda t, r: Req(
        "POST", f"/v1/audiences/shop/{t.shop}/lookalike", {"page_size": 5}, {"n": 30, "seed_users": t.seeds}
    ),
    "creators_for_product": lambda t, r: Req("GET", f"/v1/products/{t.product}/creators", {"n": 3}),
    "similar_creators": lambda t, r: Req("GET", f"/v1/creators/{t.creator}/similar", {"n": 3}),
    "creator_selection": lambda t, r: Req("GET", f"/v1/creators/{t.creator}/selection", {"n": 3}),
    "screen_listings": lambda t, r: Req(
        "POST",
        "/v1/governance/screen",
        json={"listings": [{"id": "l-1", "shop": t.shop, "title": "纯棉T恤 男款", "price": 5900}]},
    ),
    "review_queue": lambda t, r: Req("GET", "/v1/governance/review", {"status": "all"}),
    "approve_listing": lambda t, r: Req(
        "POST", f"/v1/governance/review/{_queued(t)}/approve", json={"note": "checked"}
    ),
    "reject_listing": lambda t, r: Req(
        "POST", f"/v1/governance/review/{_queued(t)}/reject", json={"note": "checked"}
    ),
    "take_down_product": lambda t, r: Req(
        "POST", f"/v1/products/{_status(t, 'listed')}/takedown", json={"reason": "counterfeit"}
    ),
    "reinstate_product": lambda t, r: Req(
        "POST", f"/v1/products/{_status(t, 'taken_down')}/reinstate", json={"reason": "cleared"}
    ),
    "audit_log": lambda t, r: Req("GET", "/v1/governance/audit", {"limit": 5}),
    "verify_audit": lambda t, r: Req("GET", "/v1/governance/audit/verify"),
    "shop_points": lambda t, r: Req("GET", f"/v1/shops/{t.shop}/points"),
    "give_points": lambda t, r: Req(
        "POST",
        f"/v1/shops/{t.other_shop}/points",
        json={"violation": "misleading", "reason": "r", "points": 1},
    ),
    "check_stores": lambda t, r: Req("GET", "/v1/governance/stores"),
    "update_store_scores": lambda t, r: Req("POST", "/v1/governance/stores/scores"),
    "gmv_report": lambda t, r: Req("GET", "/v1/reports/gmv", _shop_for(r, t)),
    "funnel_report": lambda t, r: Req("GET", "/v1/reports/funnel", _shop_for(r, t)),
    "customers_report": lambda t, r: Req("GET", "/v1/reports/customers", _shop_for(r, t)),
    "live_report": lambda t, r: Req(
        "GET", "/v1/reports/live", {"creator": t.creator} if r == "creator" else _shop_for(r, t)
    ),
    "channels_report": lambda t, r: Req("GET", "/v1/reports/channels", _shop_for(r, t)),
    "shop_compass": lambda t, r: Req("GET", f"/v1/shops/{t.shop}/compass"),
    "overview_report": lambda t, r: Req("GET", "/v1/reports/overview", {**_shop_for(r, t), "days": 5}),
    "list_models": lambda t, r: Req("GET", "/v1/models"),
    "current_model": lambda t, r: Req("GET", "/v1/models/current"),
    "training_status": lambda t, r: Req("GET", "/v1/models/training"),
    "start_training": lambda t, r: Req("POST", "/v1/models/train"),
    "create_experiment": lambda t, r: Req(
        "POST", "/v1/experiments", json=_experiment_body(f"matrix-{uuid.uuid4().hex[:8]}")
    ),
    "list_experiments": lambda t, r: Req("GET", "/v1/experiments"),
    "show_experiment": lambda t, r: Req("GET", f"/v1/experiments/{_made_experiment(t)}"),
    "edit_experiment": lambda t, r: _scheduled_edit(t),
    "stop_experiment": lambda t, r: Req(
        "POST", f"/v1/experiments/{_made_experiment(t)}/stop", json={"reason": "matrix"}
    ),
    "experiment_report": lambda t, r: Req("GET", f"/v1/experiments/{_made_experiment(t)}/report"),
}


@pytest.fixture(scope="module")
def server(api_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Tenants]]:
    db, models = api_world.copy(tmp_path_factory.mktemp("matrix"), models=True)
    runtime = Runtime(db=db, models_dir=str(models))
    with serving(runtime) as url:
        yield url, _tenants(runtime, api_world)


def _operations(url: str) -> list[tuple[str, str, str]]:
    doc = httpx.get(f"{url}/openapi.json").json()
    return [
        (op["operationId"], method.upper(), path)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    ]


def _call(client: httpx.Client, req: Req, key: str | None) -> httpx.Response:
    headers = auth(key) if key else {}
    return client.request(req.method, req.path, params=req.params, json=req.json, headers=headers)


def test_every_route_answers_exactly_its_roles_and_tenants(server: tuple[str, Tenants]) -> None:
    url, t = server
    rt = t.runtime
    keys = {
        "admin": make_key(rt, "admin"),
        "ops": make_key(rt, "ops"),
        "app": make_key(rt, "app"),
        "merchant": make_key(rt, "merchant", shops=[t.shop]),
        "creator": make_key(rt, "creator", creator=t.creator),
    }
    with rt.store.reading() as conn:
        other_creator = conn.exec_driver_sql(
            "SELECT creator_id FROM creators WHERE creator_id != ? ORDER BY creator_id LIMIT 1", (t.creator,)
        ).scalar_one()
    foreign = {
        "merchant": make_key(rt, "merchant", shops=[t.other_shop]),
        "creator": make_key(rt, "creator", creator=other_creator),
    }
    revoked = make_key(rt, "admin", name="revoked")
    httpx.delete(f"{url}/v1/keys/{revoked.split('_')[1]}", headers=auth(keys["admin"])).raise_for_status()

    operations = _operations(url)
    assert {op for op, _, _ in operations} == set(CASES), "every route of the document has a case here"
    assert set(EXPECTED) | PUBLIC == set(CASES)
    wrong: list[str] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for op, method, path in operations:
            for role in ROLES:
                req = CASES[op](t, role)
                assert (req.method, _template(req.path, path)) == (method, path), op
                got = _call(client, req, keys[role]).status_code
                allowed = op in PUBLIC or role in EXPECTED[op]
                if allowed and not 200 <= got < 300:
                    wrong.append(f"{op} as {role}: {got}, expected success")
                if not allowed and got != 403:
                    wrong.append(f"{op} as {role}: {got}, expected 403")
                if role in foreign and allowed and op not in PUBLIC:
                    got = _call(client, CASES[op](t, role), foreign[role]).status_code
                    want = 404 if op in SCOPED else 200
                    if (got != 404) if op in SCOPED else not 200 <= got < 300:
                        wrong.append(f"{op} as another {role}: {got}, expected {want}")
            req = CASES[op](t, "admin")
            for key, label in (
                (None, "no key"),
                (revoked, "a revoked key"),
                ("xq_nope_nope", "an unknown key"),
            ):
                got = _call(client, req, key).status_code
                if got != (200 if op in PUBLIC else 401):
                    wrong.append(f"{op} with {label}: {got}")
    assert not wrong, "\n".join(wrong)


def _template(path: str, template: str) -> str:
    """``template`` if ``path`` is an instance of it (same segments, ``{…}`` matching any)."""
    a, b = path.split("/"), template.split("/")
    if len(a) == len(b) and all(y.startswith("{") or x == y for x, y in zip(a, b, strict=True)):
        return template
    return path


def test_a_scoped_key_is_refused_kinds_outside_its_scope(server: tuple[str, Tenants]) -> None:
    url, t = server
    merchant = auth(make_key(t.runtime, "merchant", shops=[t.shop]))
    creator = auth(make_key(t.runtime, "creator", creator=t.creator))
    with httpx.Client(base_url=url, timeout=60) as client:
        # a kind a merchant may never ask about: 403; another shop's product: 404 (it may not know it)
        brand = client.get(f"/v1/portraits/brand/{'b0'}", headers=merchant)
        assert brand.status_code == 403 and brand.json()["error"]["code"] == "forbidden"
        other = client.get(f"/v1/products/{t.spare_product}/creators", headers=merchant)
        assert other.status_code == 404 and other.json()["error"]["code"] == "not_found"
        platform = client.get("/v1/reports/gmv", headers=merchant)
        assert platform.status_code == 403 and "own shops" in platform.json()["error"]["message"]
        assert client.get(f"/v1/portraits/shop/{t.shop}", headers=creator).status_code == 403
        assert client.get("/v1/reports/live", params={"shop": t.shop}, headers=creator).status_code == 403
        own = client.get("/v1/reports/live", headers=creator)
        assert own.status_code == 200 and {r["creator"] for r in own.json()["rows"]} <= {t.creator}


def test_keys_are_shown_once_and_stored_only_as_hashes(server: tuple[str, Tenants]) -> None:
    url, t = server
    admin = auth(make_key(t.runtime, "admin"))
    made = httpx.post(
        f"{url}/v1/keys", json={"role": "merchant", "shops": [t.shop], "name": "shop tools"}, headers=admin
    )
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("xq_") and made.json()["shops"] == [t.shop]
    listed = httpx.get(f"{url}/v1/keys", headers=admin).json()["keys"]
    assert key not in json.dumps(listed) and all("secret_hash" not in k for k in listed)
    with t.runtime.store.reading() as conn:
        stored = [r[0] for r in conn.exec_driver_sql("SELECT secret_hash FROM api_keys").all()]
    secret = key.split("_", 2)[2]
    assert all(h.startswith("scrypt$") and secret not in h for h in stored)
    me = httpx.get(f"{url}/v1/keys/me", headers=auth(key)).json()
    assert me["role"] == "merchant" and me["name"] == "shop tools"
    bad = httpx.post(f"{url}/v1/keys", json={"role": "merchant"}, headers=admin)
    assert bad.status_code == 400 and "--shop" in bad.json()["error"]["message"]
    unknown = httpx.post(
        f"{url}/v1/keys", json={"role": "merchant", "shops": ["no-such-shop"]}, headers=admin
    )
    assert unknown.status_code == 404


def test_the_training_run_started_in_the_matrix_is_served_without_a_restart(
    server: tuple[str, Tenants],
) -> None:
    url, t = server
    admin = auth(make_key(t.runtime, "admin"))
    with httpx.Client(base_url=url, timeout=60, headers=admin) as client:
        started = client.get("/v1/models/training").json()
        if started["last"] is None:  # run alone: start one here
            assert client.post("/v1/models/train").status_code == 202
        assert client.post("/v1/models/train").status_code in (202, 409)
        original = client.get("/v1/models").json()["versions"][0]["version"]
        deadline = time.monotonic() + 240
        while client.get("/v1/models/training").json()["running"] and time.monotonic() < deadline:
            time.sleep(0.5)
        status = client.get("/v1/models/training").json()
        assert not status["running"] and status["last"]["exit_code"] == 0, status
        newer = status["last"]["version"]
        assert newer is not None and newer != original
        deadline = time.monotonic() + 30
        while client.get("/v1/models/current").json()["current"] != newer and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/v1/models/current").json()["current"] == newer
        feed = client.get(f"/v1/users/{t.user}/feed", params={"n": 5})
        deadline = time.monotonic() + 30
        while feed.json()["model"] != newer and time.monotonic() < deadline:
            time.sleep(0.3)
            feed = client.get(f"/v1/users/{t.user}/feed", params={"n": 5})
        assert feed.status_code == 200 and feed.json()["model"] == newer
