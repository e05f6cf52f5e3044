"""The HTTP API through a real uvicorn server on loopback, called with the Python client: events
idempotent and atomic per batch and seen by the next feed, catalogue changes screened, takedowns
honoured at once, errors with stable codes naming what is wrong, limits, probes and metrics."""

from __future__ import annotations

import csv
import io
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from apiserver import World, auth, make_key, serving
from xingqu.client import ApiError, Client
from xingqu.runtime import Runtime


@pytest.fixture(scope="module")
def api(api_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Runtime]]:
    db, models = api_world.copy(tmp_path_factory.mktemp("api"))
    runtime = Runtime(db=db, models_dir=str(models))
    with serving(runtime) as url, Client(url, make_key(runtime, "admin")) as client:
        yield client, runtime


def _count(runtime: Runtime, kind: str) -> int:
    return runtime.store.count(kind)


def _clicks(user: str, products: list[str], tag: str) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [
        {
            "event_id": f"{tag}-{k}",
            "event_type": "click",
            "ts": (now - timedelta(seconds=len(products) - k)).isoformat(),
            "user_id": user,
            "product_id": p,
            "surface": "feed",
        }
        for k, p in enumerate(products)
    ]


def test_events_are_idempotent_and_atomic_per_batch(api: tuple[Client, Runtime], api_world: World) -> None:
    client, runtime = api
    user = api_world.busy_user()
    products = [i["product"] for i in client.recommend(user, 10)["items"]]
    batch = _clicks(user, products, f"idem-{uuid.uuid4().hex[:6]}")
    before = _count(runtime, "events")
    assert client.events(batch) == {"received": 10, "written": 10, "duplicates": 0}
    assert client.events(batch) == {"received": 10, "written": 0, "duplicates": 10}
    assert _count(runtime, "events") == before + 10
    # one bad item: nothing of the batch is written, and each bad item is named with its field
    fresh = _clicks(user, products[:3], f"atom-{uuid.uuid4().hex[:6]}")
    fresh[1]["user_id"] = "no-such-user"
    fresh[2]["event_type"] = "teleport"
    with pytest.raises(ApiError) as err:
        client.events(fresh)
    e = err.value
    assert e.status == 422 and e.code == "invalid_records" and e.kind == "bad_input"
    named = {(i["index"], i["field"]) for i in e.items}
    assert named == {(1, "user_id"), (2, "event_type")}
    assert _count(runtime, "events") == before + 10
    with pytest.raises(ApiError) as err:
        client.events([batch[0]] * 1_001)
    assert err.value.status == 422 and err.value.field == "events"


def test_accepted_events_move_the_next_feed(api: tuple[Client, Runtime], api_world: World) -> None:
    client, _ = api
    model = api_world.model.feed
    assert model is not None
    user = api_world.busy_user()
    before = [i["product"] for i in client.recommend(user, 20)["items"]]
    level = model.cat.level1
    own = Counter(level[model.cat.items.index[p]] for p in before)
    sizes = Counter(level.tolist())
    target = min((c for c in sizes if c >= 0 and sizes[c] >= 10), key=lambda c: (own[c], -sizes[c]))
    picks = [str(model.cat.items.ids[j]) for j in range(len(level)) if level[j] == target][:3]
    client.events(_clicks(user, picks * 2, f"move-{uuid.uuid4().hex[:6]}"))
    after = [i["product"] for i in client.recommend(user, 20)["items"]]
    assert after != before
    assert sum(level[model.cat.items.index[p]] == target for p in after) > own[target]


def test_catalogue_upserts_are_screened(api: tuple[Client, Runtime]) -> None:
    client, runtime = api
    shop = runtime.store.catalogue.product_cards(runtime.store.catalogue.product_ids()[:1])
    shop_id = next(iter(shop.values()))["shop_id"]
    tag = uuid.uuid4().hex[:6]
    clean = {
        "product_id": f"clean-{tag}",
        "shop_id": shop_id,
        "category": "home>kitchen",
        "title": "不锈钢保温杯 500ml 男女通用",
        "price": 5900,
        "stock": 10,
    }
    banned = {**clean, "product_id": f"banned-{tag}", "title": "高仿LV包包 原单"}
    out = client.catalogue(products=[clean, banned])
    assert out["kinds"]["products"]["written"] == 2
    screened = out["kinds"]["products"]["screened"]
    assert screened["reject"] >= 1 and sum(screened.values()) == 2
    with runtime.store.reading() as conn:
        status = dict(
            conn.exec_driver_sql(
                "SELECT product_id, status FROM products WHERE product_id IN (?, ?)",
                (clean["product_id"], banned["product_id"]),
            ).all()
        )
    assert status[banned["product_id"]] == "rejected"
    assert [e["action"] for e in client.audit(banned["product_id"])] == ["screen"]
    with pytest.raises(ApiError) as err:
        client.catalogue(products=[{**clean, "product_id": f"orphan-{tag}", "shop_id": "no-such-shop"}])
    assert err.value.status == 422
    assert {(i["kind"], i["index"], i["field"]) for i in err.value.items} == {("products", 0, "shop_id")}
    assert runtime.store.catalogue.product_cards([f"orphan-{tag}"]) == {}


def test_a_takedown_leaves_the_next_feed(api: tuple[Client, Runtime], api_world: World) -> None:
    client, _ = api
    user = api_world.busy_user()
    first = client.recommend(user, 10)["items"][0]["product"]
    change = client.takedown(first, "counterfeit")
    assert change == {"product": first, "before": "listed", "after": "taken_down"}
    assert first not in [i["product"] for i in client.recommend(user, 10)["items"]]
    assert first not in [r["product_id"] for r in client.similar(first)["similar"]]
    with pytest.raises(ApiError) as err:
        client.takedown(first, "again")
    assert err.value.status == 400 and "already taken_down" in err.value.message
    client.reinstate(first, "cleared")
    assert first in [i["product"] for i in client.recommend(user, 10)["items"]]


def test_errors_have_stable_codes_and_name_the_field(api: tuple[Client, Runtime]) -> None:
    client, _ = api
    http = client.http
    missing = http.get("/v1/users/nobody-at-all/feed")
    assert missing.status_code == 404
    assert (
        missing.json()["error"]["code"] == "not_found"
        and "nobody-at-all" in missing.json()["error"]["message"]
    )
    bad = http.get("/v1/users/u1/feed", params={"n": 0})
    assert bad.status_code == 422 and bad.json()["error"] | {"items": None} == {
        "code": "invalid_request",
        "message": bad.json()["error"]["message"],
        "field": "n",
        "items": None,
    }
    nowhere = http.get("/v1/no/such/route")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"
    wrong = http.delete("/v1/events")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    garbled = http.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"})
    assert garbled.status_code == 422 and garbled.json()["error"]["code"] == "invalid_request"
    extra = http.post("/v1/events", json={"events": [{"event_id": "x"}], "surprise": 1})
    assert extra.status_code == 422 and extra.json()["error"]["field"] == "surprise"


def test_portraits_never_show_a_group_under_the_minimum(api: tuple[Client, Runtime]) -> None:
    client, runtime = api
    with runtime.store.reading() as conn:
        small = conn.exec_driver_sql(
            "SELECT creator_id FROM creators ORDER BY follower_count, creator_id LIMIT 1"
        ).scalar_one()
    p = client.portrait("creator", small, "buyers")
    assert p["hidden"] and p["size"] < 30 and "dimensions" not in p
    assert "fewer than 30" in p["hidden_because"]
    with pytest.raises(ApiError) as err:
        client.portrait("creator", small, "followers", min_count=5)
    assert err.value.status == 400 and "minimum group size" in err.value.message
    sizes = client.audience(
        "shop",
        runtime.store.catalogue.product_cards(runtime.store.catalogue.product_ids()[:1]).popitem()[1][
            "shop_id"
        ],
    )
    assert all(v is None or v >= 30 for v in sizes["private_domain"].values())


def test_reports_as_json_and_csv_agree(api: tuple[Client, Runtime]) -> None:
    client, _ = api
    report = client.report("gmv", period="week")
    rows = list(csv.DictReader(io.StringIO(client.report_csv("gmv", period="week"))))
    assert len(rows) == len(report["rows"]) > 0
    assert [int(r["gmv_paid"]) for r in rows] == [r["gmv_paid"] for r in report["rows"]]
    assert report["total"]["gmv_paid"] == sum(r["gmv_paid"] for r in report["rows"])


def test_probes_and_metrics(api: tuple[Client, Runtime], api_world: World) -> None:
    client, _ = api
    assert client.healthz() == {"status": "ok"}
    ready = client.readyz()
    assert ready["ready"] and ready["checks"] == {"store": "ok", "online": "ok", "model": "ok"}
    client.recommend(api_world.busy_user(), 5)
    text = httpx.get(f"{client.http.base_url}/metrics").text
    assert 'xingqu_http_requests_total{method="GET",route="/v1/users/{user_id}/feed",status="200"}' in text
    assert (
        'xingqu_http_request_duration_seconds_bucket{le="0.05",method="GET",route="/v1/users/{user_id}/feed"}'
        in text
    )
    assert f'xingqu_model_version_info{{version="{ready["model"]}"}} 1.0' in text


def test_body_size_and_rate_limits(api_world: World, tmp_path_factory: pytest.TempPathFactory) -> None:
    db, models = api_world.copy(tmp_path_factory.mktemp("limits"))
    runtime = Runtime(db=db, models_dir=str(models), api_max_body_bytes=4_096, api_rate_per_s=5)
    key = make_key(runtime, "app")
    with serving(runtime) as url, httpx.Client(base_url=url, headers=auth(key)) as http:
        big = http.post("/v1/events", json={"events": [{"event_id": "x" * 100}] * 100})
        assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
        statuses = [http.get("/v1/keys/me") for _ in range(30)]
        limited = [r for r in statuses if r.status_code == 429]
        assert limited and all(r.status_code in (200, 429) for r in statuses)
        assert (
            limited[0].headers["retry-after"] == "1" and limited[0].json()["error"]["code"] == "rate_limited"
        )
        own = make_key(runtime, "app", rate_per_s=100)
        assert all(http.get("/v1/keys/me", headers=auth(own)).status_code == 200 for _ in range(30))


def test_concurrent_feeds_are_served_in_batches_each_as_it_is_alone(
    api: tuple[Client, Runtime], api_world: World
) -> None:
    """Feed requests that arrive while the feed is busy are served together (the batch-size histogram
    says so), and each response is exactly the one the user gets alone: products, scores, sources and
    reasons; an unknown user in the crowd gets its 404 without failing the others."""
    import asyncio

    client, _ = api
    assert api_world.model.feed is not None
    users = [str(u) for u in api_world.model.feed.profiles.users.ids[:48]]
    base = str(client.http.base_url)
    key = client.http.headers["Authorization"]

    def items(body: dict[str, object]) -> list[object]:
        return body["items"]  # type: ignore[return-value]

    alone = {
        u: items(httpx.get(f"{base}/v1/users/{u}/feed?n=10", headers={"Authorization": key}).json())
        for u in users
    }

    async def crowd() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": key}, timeout=60) as http:
            asks = [http.get(f"/v1/users/{u}/feed", params={"n": 10}) for u in [*users, "no-such-user"]]
            return list(await asyncio.gather(*asks))

    def batch_counts() -> tuple[float, float]:
        text = httpx.get(f"{base}/metrics").text
        found = {
            line.split()[0]: float(line.split()[1])
            for line in text.splitlines()
            if line.startswith(("xingqu_feed_batch_size_count", "xingqu_feed_batch_size_sum"))
        }
        return found["xingqu_feed_batch_size_count"], found["xingqu_feed_batch_size_sum"]

    batches0, served0 = batch_counts()
    for _ in range(3):
        answers = asyncio.run(crowd())
        assert [r.status_code for r in answers] == [200] * len(users) + [404]
        assert answers[-1].json()["error"]["code"] == "not_found"
        assert {u: items(r.json()) for u, r in zip(users, answers, strict=False)} == alone
    batches, served = batch_counts()
    assert served - served0 == 3 * (len(users) + 1)
    assert batches - batches0 < (served - served0) / 2  # most requests shared a batch
