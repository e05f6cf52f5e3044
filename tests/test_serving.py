"""The serving core: each feed rule on its own, one loaded feed under many threads, online state shared
through Redis by two processes, a newer model version picked up while serving, and unreachable parts
reported as unavailable."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from test_cli import xingqu
from xingqu.errors import ConflictError, UnavailableError
from xingqu.features.profiles import DAY_MS
from xingqu.governance import actions
from xingqu.ingest import import_path
from xingqu.models.artifacts import ArtifactError
from xingqu.online import StoreRecentEvents
from xingqu.online.state import OnlineState
from xingqu.pipelines.feed import Feed, FeedConfig, Filters
from xingqu.pipelines.feed.rules import (
    AlreadyBought,
    IgnoredViews,
    PriceBand,
    RequestFilter,
    Reranker,
    Servable,
)
from xingqu.runtime import Runtime
from xingqu.services import governance
from xingqu.services.feed import feed_service
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.training import TrainedModel, train, versions

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store, TrainedModel]:
    """A simulated fortnight in an embedded store, trained once."""
    root = tmp_path_factory.mktemp("serving")
    simulate(preset("tiny", users=400, days=12), root / "m")
    store = Store(f"sqlite:///{root / 's.db'}")
    import_path(store, root / "m")
    model = train(store, root / "models")
    return root, store, model


def _feed(store: Store, model: TrainedModel, **config: object) -> Feed:
    assert model.feed is not None
    return Feed(
        model.feed, store.servable_products, FeedConfig(**config), StoreRecentEvents(store.events_since)
    )


def _events(rows: list[tuple[str, str, str, int, str | None]]) -> pa.Table:
    """Canonical event columns the feed reads: user, type, product, time (ms), order."""
    users, kinds, products, ts, orders = (list(c) for c in zip(*rows, strict=True))
    return pa.table(
        {
            "user_id": users,
            "event_type": kinds,
            "product_id": products,
            "ts": pa.array(ts, pa.int64()),
            "order_id": pa.array(orders, pa.string()),
        }
    )


def _copy_store(root: Path, dest: Path) -> str:
    """A copy of the world's SQLite store (through SQLite's backup, write-ahead log included)."""
    with sqlite3.connect(root / "s.db") as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    return f"sqlite:///{dest}"


def _busy_user(model: TrainedModel) -> str:
    assert model.feed is not None
    return str(model.feed.profiles.users.ids[int(np.argmax(np.diff(model.history.indptr)))])


# -- each rule alone ---------------------------------------------------------------------------


def test_request_filter_keeps_only_what_was_asked(world: tuple[Path, Store, TrainedModel]) -> None:
    _, store, model = world
    feed = _feed(store, model)
    prep, cat = feed.prepared, feed.model.cat
    items = np.arange(len(prep.item_ids))
    cap = int(np.nanmedian(cat.price))
    req = feed.request([_busy_user(model)])
    kept = RequestFilter(prep, Filters(max_price=cap)).apply(req, prep, 0, items)
    assert 0 < len(kept) < len(items) and (cat.price[kept] <= cap).all()
    assert set(items[cat.price <= cap].tolist()) == set(kept.tolist())
    level = cat.categories[int(cat.level1[0])]
    kept = RequestFilter(prep, Filters(categories=(level,))).apply(req, prep, 0, items)
    assert len(kept) and all(cat.categories[int(c)] == level for c in cat.level1[kept])
    brand = int(cat.brand[cat.brand >= 0][0])
    kept = RequestFilter(prep, Filters(brands=(str(cat.brands.ids[brand]),))).apply(req, prep, 0, items)
    assert len(kept) and (cat.brand[kept] == brand).all()


def test_already_bought_holds_durables_and_consumables_until_their_interval(
    world: tuple[Path, Store, TrainedModel],
) -> None:
    _, store, model = world
    assert model.feed is not None
    cat = model.feed.cat
    durable, consumable = (int(np.flatnonzero(cat.level1 == c)[0]) for c in (0, 1))
    interval = np.full(len(cat.categories), np.inf)
    interval[1] = 10.0  # category 1 is bought again every 10 days; category 0 once
    m = replace(model.feed, stats=replace(model.feed.stats, repurchase_days=interval))
    ids = m.cat.items.ids
    user = _busy_user(model)
    now = m.trained_until_ms + 1_000
    feed = Feed(m, store.servable_products, FeedConfig())
    feed.observe(
        _events(
            [(user, "pay", str(ids[durable]), now, "o-d"), (user, "pay", str(ids[consumable]), now, "o-c")]
        )
    )
    items = np.array([durable, consumable])
    rule = AlreadyBought()
    assert rule.apply(feed.request([user], now_ms=now), feed.prepared, 0, items).tolist() == []
    later = feed.request([user], now_ms=now + 11 * DAY_MS)
    assert rule.apply(later, feed.prepared, 0, items).tolist() == [consumable]
    refunded = Feed(m, store.servable_products, FeedConfig())
    refunded.observe(
        _events([(user, "pay", str(ids[durable]), now, "o-r"), (user, "refund", None, now + 5, "o-r")])
    )
    assert rule.apply(refunded.request([user], now_ms=now), refunded.prepared, 0, items[:1]).tolist() == [
        durable
    ]


def test_ignored_products_leave_unless_clicked(world: tuple[Path, Store, TrainedModel]) -> None:
    _, store, model = world
    m = model.feed
    assert m is not None
    user = "u-never-seen"
    feed = Feed(m, store.servable_products, FeedConfig())
    prep = feed.prepared
    a, b = str(prep.item_ids[0]), str(prep.item_ids[1])
    t = m.trained_until_ms + 1
    feed.observe(_events([(user, "impression", a, t + k, None) for k in range(3)]))
    feed.observe(
        _events([(user, "impression", b, t + k, None) for k in range(3)] + [(user, "click", b, t + 9, None)])
    )
    rule = IgnoredViews(3)
    assert rule.apply(feed.request([user]), prep, 0, np.array([0, 1])).tolist() == [1]
    assert IgnoredViews(4).apply(feed.request([user]), prep, 0, np.array([0, 1])).tolist() == [0, 1]


def test_price_band_keeps_the_band_and_fills_from_the_nearest(
    world: tuple[Path, Store, TrainedModel],
) -> None:
    _, store, model = world
    feed = _feed(store, model)
    prep, cat = feed.prepared, feed.model.cat
    items = np.flatnonzero(cat.level1 >= 0)
    req = feed.request([_busy_user(model)], n=5)
    assert req.rows is not None
    mu = req.rows.price_mu[0, cat.level1[items]]
    z = np.abs(cat.log_price[items] - mu) / max(float(req.rows.price_sd[0]), 0.05)
    kept = PriceBand(1.0).apply(req, prep, 0, items)
    assert set(kept.tolist()) == set(items[z <= 1.0].tolist())
    tight = PriceBand(1e-6).apply(req, prep, 0, items)  # almost none inside: the 5 nearest fill up
    assert sorted(tight.tolist()) == sorted(items[np.argsort(z, kind="stable")[:5]].tolist())


def test_servable_asks_best_first_and_drops_what_may_not_be_shown(
    world: tuple[Path, Store, TrainedModel],
) -> None:
    _, _, model = world
    m = model.feed
    assert m is not None
    ids = m.cat.items.ids
    asked: list[list[str]] = []
    banned = {str(ids[3])}

    def servable(products: list[str]) -> set[str]:
        asked.append(products)
        return set(products) - banned

    rule = Servable(servable, ids)
    items = np.arange(200)[None, :]
    scores = -np.arange(200, dtype=np.float64)[None, :]
    done = rule.check(items, scores, 5, np.zeros(items.shape, bool))
    assert scores[0, 3] == -np.inf and np.isfinite(scores[0, :3]).all()
    assert done[0, :40].all() and not done[0, 40:].any()  # only the best-ranked were asked about
    assert len(asked) == 1 and set(asked[0]) == {str(i) for i in ids[:40]}


def test_reranker_caps_categories_and_shops_and_keeps_new_slots(
    world: tuple[Path, Store, TrainedModel],
) -> None:
    _, store, model = world
    m = model.feed
    assert m is not None
    feed = Feed(m, store.servable_products, FeedConfig(max_category_share=0.3, max_per_shop=1, new_share=0.2))
    prep = feed.prepared
    items = np.flatnonzero(m.cat.level1 >= 0)[:300]
    scores = np.linspace(1, 0, len(items))
    is_new = np.zeros(len(items), bool)
    is_new[[150, 200]] = True  # two low-ranked new products
    final = Reranker(prep, Servable(lambda p: set(p), prep.item_ids)).assemble(
        items, scores, np.ones(len(items), bool), is_new, 10
    )
    chosen = items[final]
    assert len(final) == 10
    assert max(Counter(m.cat.level1[chosen].tolist()).values()) <= 3
    assert max(Counter(m.cat.shop[chosen].tolist()).values()) <= 1 or len(set(m.cat.shop[items])) < 10
    assert {final[2], final[7]} == {150, 200}  # the 保量 slots at evenly spread positions


# -- concurrency, shared online state, hot reload, unavailable parts ---------------------------


def test_reranker_keeps_a_share_for_the_categories_browsed_now(
    world: tuple[Path, Store, TrainedModel],
) -> None:
    _, store, model = world
    m = model.feed
    assert m is not None
    feed = Feed(m, store.servable_products, FeedConfig(browse_share=0.3, new_share=0.2, max_per_shop=None))
    rerank = Reranker(feed.prepared, Servable(lambda p: set(p), feed.prepared.item_ids))
    level = m.cat.level1
    top = int(np.bincount(level[level >= 0]).argmax())
    others = np.flatnonzero((level >= 0) & (level != top))[:100]
    browsed = np.flatnonzero(level == top)[:5]
    items = np.concatenate([others, browsed])  # the browsed category's goods ranked last
    scores = np.linspace(1, 0, len(items))
    is_new = np.zeros(len(items), bool)
    is_new[40] = True
    ask = np.ones(len(items), bool)
    plain = rerank.assemble(items, scores, ask, is_new, 10)
    assert not any(level[items[q]] == top for q in plain)
    final = rerank.assemble(items, scores, ask, is_new, 10, frozenset({top}))
    # 3 of 10 (0.3) from the browsed category, its best three, in the places of the list's last three
    assert final[:7] == plain[:7] and final[7:] == [100, 101, 102]
    assert 40 in final  # a new product's kept slot is never given up
    # a list that already shows enough of the browsed category is left as it was
    scores[100:] = 2.0
    first = rerank.assemble(items, scores, ask, is_new, 10, frozenset({top}))
    assert first[:4] == [100, 101, 40, 102]
    assert first == rerank.assemble(items, scores, ask, is_new, 10)
    off = feed.with_config(FeedConfig(browse_share=0.0, new_share=0.2, max_per_shop=None))
    again = Reranker(off.prepared, Servable(lambda p: set(p), off.prepared.item_ids))
    assert again.assemble(items, np.linspace(1, 0, len(items)), ask, is_new, 10, frozenset({top})) == plain


def test_one_feed_serves_eight_threads_as_it_serves_one(world: tuple[Path, Store, TrainedModel]) -> None:
    _, store, model = world
    feed = _feed(store, model)
    assert model.feed is not None
    users = model.feed.profiles.users.ids[:64].tolist()
    want = {u: [(i.product_id, i.reasons) for i in feed.recommend(u, 10)] for u in users}
    got: dict[str, list[tuple[str, list[str]]]] = {}
    errors: list[BaseException] = []

    def work(part: list[str]) -> None:
        try:
            for _ in range(2):
                for u in part:
                    got[u] = [(i.product_id, i.reasons) for i in feed.recommend(u, 10)]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(users[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and got == want


SERVER = """
import json, sys
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service
service = feed_service(Runtime())
print("ready", flush=True)
for line in sys.stdin:
    items = service.recommend(line.strip(), 20).items
    print(json.dumps([i.product_id for i in items]), flush=True)
"""


@pytest.mark.redis
def test_two_processes_share_recent_events_and_takedowns_through_redis(
    world: tuple[Path, Store, TrainedModel], redis_url: str, tmp_path: Path
) -> None:
    root, _, model = world
    db = _copy_store(root, tmp_path / "s.db")
    prefix = f"xingqu-test-{uuid.uuid4().hex[:8]}:"
    env = {
        **os.environ,
        "XINGQU_DB": db,
        "XINGQU_MODELS_DIR": str(root / "models"),
        "XINGQU_REDIS": redis_url,
        "XINGQU_REDIS_PREFIX": prefix,
    }
    other = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "ready"

        def ask(user: str) -> list[str]:
            other.stdin.write(user + "\n")  # type: ignore[union-attr]
            other.stdin.flush()  # type: ignore[union-attr]
            return json.loads(other.stdout.readline())  # type: ignore[union-attr]

        here = Runtime(db=db, models_dir=str(root / "models"), redis=redis_url, redis_prefix=prefix)
        service = feed_service(here)
        m = service.serving().model.feed
        assert m is not None
        user = _busy_user(model)
        before = ask(user)
        assert before == [i.product_id for i in service.recommend(user, 20).items]
        # clicks recorded in this process (in Redis only, not in the store) move the other's next feed
        level = m.cat.level1
        own = Counter(level[m.cat.items.index[p]] for p in before)
        sizes = Counter(level.tolist())
        target = min((c for c in sizes if c >= 0 and sizes[c] >= 10), key=lambda c: (own[c], -sizes[c]))
        clicked = m.cat.items.ids[next(j for j in np.argsort(-m.stats.recent).tolist() if level[j] == target)]
        t = m.trained_until_ms + 60_000
        service.record(_events([(user, "click", str(clicked), t + k, None) for k in range(3)]))
        after = ask(user)
        assert after != before
        assert sum(level[m.cat.items.index[p]] == target for p in after) > own[target]
        assert after == [i.product_id for i in service.recommend(user, 20).items]
        # a takedown through this process leaves the other's next feed
        gone = after[0]
        governance.take_down(here, gone, reason="test: counterfeit", actor="test")
        assert gone not in ask(user)
        governance.reinstate(here, gone, reason="test: cleared", actor="test")
        assert gone in ask(user)
    finally:
        other.kill()
        other.wait()


def test_a_newer_version_is_served_without_a_failed_request(
    world: tuple[Path, Store, TrainedModel], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _, model = world
    models = tmp_path / "models"
    shutil.copytree(root / "models", models)
    monkeypatch.setattr("xingqu.services.feed.CHECK_EVERY_S", 0.05)
    runtime = Runtime(db=_copy_store(root, tmp_path / "s.db"), models_dir=str(models))
    service = feed_service(runtime)
    user = _busy_user(model)
    first = service.recommend(user, 10).version
    seen: list[str] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            try:
                seen.append(service.recommend(user, 10).version)
            except BaseException as exc:
                errors.append(exc)

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        newer = first + "-z"  # later in version order; copied in whole by a rename, then published
        shutil.copytree(models / first, models / ".incoming")
        (models / ".incoming").rename(models / newer)
        Runtime(db=runtime.settings.db, models_dir=str(models)).registry.publish(newer)  # as another process
        deadline = time.monotonic() + 60
        while (not seen or seen[-1] != newer) and time.monotonic() < deadline:
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join()
    assert versions(models)[-1] == newer
    assert not errors and seen[0] == first and seen[-1] == newer
    assert seen.index(newer) > 0 and set(seen) == {first, newer}


def test_unreachable_redis_is_unavailable_not_a_traceback(world: tuple[Path, Store, TrainedModel]) -> None:
    root, _, model = world
    runtime = Runtime(
        db=f"sqlite:///{root / 's.db'}", models_dir=str(root / "models"), redis="redis://127.0.0.1:1/0"
    )
    with pytest.raises(UnavailableError, match=r"Redis at redis://127\.0\.0\.1:1/0 cannot be reached"):
        OnlineState.build(runtime.settings, runtime.store)
    env_db = f"sqlite:///{root / 's.db'}"
    os.environ["XINGQU_REDIS"] = "redis://127.0.0.1:1/0"
    try:
        r = xingqu("recommend", _busy_user(model), "--models-dir", str(root / "models"), db=env_db)
    finally:
        del os.environ["XINGQU_REDIS"]
    assert r.returncode == 3, r.stderr
    assert "cannot be reached" in r.stderr and "Traceback" not in r.stderr


def test_the_registry_publishes_retires_and_refuses_a_changed_manifest(
    world: tuple[Path, Store, TrainedModel], tmp_path: Path
) -> None:
    root, _, model = world
    models = tmp_path / "models"
    shutil.copytree(root / "models", models)
    db = _copy_store(root, tmp_path / "s.db")
    registry = Runtime(db=db, models_dir=str(models)).registry
    first = model.version
    assert registry.current() == first and [v.status for v in registry.list()] == ["ready"]
    newer = first + "-z"
    shutil.copytree(models / first, models / newer)
    assert registry.current() == first  # on disk is not published
    assert {v.version: v.status for v in registry.list()}[newer] == "unregistered"
    r = xingqu("models", "publish", newer, "--models-dir", str(models), "--json", db=db)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["current"] == newer == registry.current()
    r = xingqu("models", "retire", newer, "--models-dir", str(models), "--json", db=db)
    assert r.returncode == 0 and json.loads(r.stdout)["current"] == first
    with pytest.raises(ConflictError, match="retired"):
        registry.load(newer)
    r = xingqu("models", "list", "--models-dir", str(models), "--json", db=db)
    listed = json.loads(r.stdout)
    assert listed["current"] == first
    assert {v["version"]: v["status"] for v in listed["versions"]} == {first: "ready", newer: "retired"}
    assert listed["versions"][0]["meta"]["interactions"] == model.meta["interactions"]
    manifest = models / first / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("\n", "\n ", 1), encoding="utf-8")
    with pytest.raises(ArtifactError, match=f"not the manifest registered for {first}"):
        registry.load()
    r = xingqu("recommend", _busy_user(model), "--models-dir", str(models), db=db)
    assert r.returncode == 1 and "not the manifest registered" in r.stderr and "Traceback" not in r.stderr


# -- the embedded store's servable set, kept in memory ---------------------------------------------


def _records(store: Store, kind: str) -> pa.Table:
    return pa.Table.from_batches(list(store.iter_records(kind)))


def _set_rows(store: Store, kind: str, key: str, changes: dict[str, dict[str, object]]) -> None:
    """Rewrite some records of ``kind`` with a few fields changed, as an import of them would."""
    rows = [r for r in _records(store, kind).to_pylist() if r[key] in changes]
    for r in rows:
        r.update(changes[r[key]])
    with store.writing() as conn:
        store.write_records(conn, kind, pa.Table.from_pylist(rows, schema=_records(store, kind).schema))


def _serving_process(script: str, db: str, models: Path) -> subprocess.Popen[str]:
    """Another process on the store ``db``, running ``script``: it answers a line of stdin per line."""
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "XINGQU_DB": db, "XINGQU_MODELS_DIR": str(models)},
    )


SNAPSHOT_SERVER = """
import json, sys
from xingqu.runtime import Runtime
servability = Runtime().online.servability
print(type(servability).__name__, flush=True)
for line in sys.stdin:
    print(json.dumps(sorted(servability.servable(json.loads(line)))), flush=True)
"""


def test_the_embedded_store_servable_set_follows_every_change_made_by_another_process(
    world: tuple[Path, Store, TrainedModel], tmp_path: Path
) -> None:
    """A process keeps the servable set in memory and reads the store's change log at every call: a
    takedown, a reinstatement, an emptied stock, a suspended shop and a new listing made by another
    process are each honoured on its next call, and every answer equals the store's own query."""
    root, _, _ = world
    db = _copy_store(root, tmp_path / "s.db")
    store = Store(db)
    other = _serving_process(SNAPSHOT_SERVER, db, root / "models")
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "SnapshotServability"
        every = sorted(store.catalogue.product_ids())

        def ask() -> set[str]:
            other.stdin.write(json.dumps(every) + "\n")  # type: ignore[union-attr]
            other.stdin.flush()  # type: ignore[union-attr]
            seen = set(json.loads(other.stdout.readline()))  # type: ignore[union-attr]
            assert seen == store.servable_products(every)  # the rule, asked of the store itself
            return seen

        start = ask()
        assert 0 < len(start) < len(every)  # the world has unservable goods too
        products = _records(store, "products").to_pylist()
        shop_of = {p["product_id"]: p["shop_id"] for p in products}
        gone, emptied = sorted(start)[:2]
        actions.take_down(store, gone, reason="test: counterfeit", actor="test")
        assert ask() == start - {gone}
        actions.reinstate(store, gone, reason="test: cleared", actor="test")
        assert ask() == start
        _set_rows(store, "products", "product_id", {emptied: {"stock": 0}})
        assert ask() == start - {emptied}
        shop = shop_of[sorted(start)[-1]]
        _set_rows(store, "shops", "shop_id", {shop: {"status": "suspended"}})
        now = ask()
        assert now == start - {emptied} - {p for p in start if shop_of[p] == shop}
        _set_rows(store, "shops", "shop_id", {shop: {"status": "active"}})
        new = dict(next(p for p in products if p["product_id"] in start), product_id="p-new-listing")
        with store.writing() as conn:
            store.write_records(
                conn, "products", pa.Table.from_pylist([new], schema=_records(store, "products").schema)
            )
        every.append("p-new-listing")
        assert ask() == (start - {emptied}) | {"p-new-listing"}
    finally:
        other.kill()
        other.wait()


def test_the_servable_set_rereads_the_store_when_the_log_has_moved_on(
    world: tuple[Path, Store, TrainedModel], tmp_path: Path
) -> None:
    """Behind by more changes than one read takes, or past changes the log has pruned, the set is read
    whole again; in every case it answers as the store's query does."""
    from xingqu.online.servability import SnapshotServability

    root, _, _ = world
    store = Store(_copy_store(root, tmp_path / "s.db"))
    snapshot = SnapshotServability(store.catalogue)
    snapshot.BATCH = 3
    every = sorted(store.catalogue.product_ids())
    start = snapshot.servable(every)
    assert start == store.servable_products(every)
    rng = np.random.default_rng(5)
    many = sorted(rng.choice(sorted(start), 6, replace=False).tolist())
    _set_rows(store, "products", "product_id", {p: {"stock": 0} for p in many})  # 6 changes > BATCH
    assert snapshot.servable(every) == start - set(many) == store.servable_products(every)
    _set_rows(store, "products", "product_id", {many[0]: {"stock": 5}})
    with sqlite3.connect(tmp_path / "s.db") as conn:  # the log pruned past what the set has seen
        conn.execute("DELETE FROM servability_changes WHERE seq = (SELECT max(seq) FROM servability_changes)")
    _set_rows(store, "products", "product_id", {many[1]: {"stock": 5}})
    assert snapshot.servable(every) == (start - set(many)) | {many[0], many[1]}
    assert snapshot.servable(every) == store.servable_products(every)


# -- the embedded store's recent events, kept in memory --------------------------------------------


TAIL_SERVER = """
import json, sys
from xingqu.runtime import Runtime
recent = Runtime().online.recent
print(type(recent).__name__, flush=True)
for line in sys.stdin:
    users, since = json.loads(line)
    print(json.dumps([[list(e) for e in evs] for evs in recent.for_users(users, since)]), flush=True)
"""


def _click(user: str, product: str, ts_ms: int, kind: str = "click", **more: object) -> dict[str, object]:
    from datetime import UTC, datetime

    return {
        "event_id": f"tail-{uuid.uuid4().hex}",
        "event_type": kind,
        "ts": datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(),
        "user_id": user,
        "product_id": product,
        **more,
    }


def test_recent_events_kept_in_process_follow_every_event_another_process_accepts(
    world: tuple[Path, Store, TrainedModel], tmp_path: Path
) -> None:
    """A serving process keeps users' events since training in memory and reads the store's event log
    past the last row it saw at every call: events accepted by another process (late ones, out of time
    order, included) are in its next answer, for users it had read before and users it had not, and
    every answer equals the store's own query."""
    from xingqu.services.ingest import post_events

    root, _, model = world
    assert model.feed is not None
    db = _copy_store(root, tmp_path / "s.db")
    runtime = Runtime(db=db, models_dir=str(root / "models"))
    store = runtime.store
    since = model.feed.trained_until_ms
    users = [str(u) for u in model.feed.profiles.users.ids[:6]]
    products = sorted(store.catalogue.product_ids())
    other = _serving_process(TAIL_SERVER, db, root / "models")
    direct = StoreRecentEvents(store.events_since)
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "TailRecentEvents"

        def ask(who: list[str], after: int = since) -> list[list[tuple[object, ...]]]:
            other.stdin.write(json.dumps([who, after]) + "\n")  # type: ignore[union-attr]
            other.stdin.flush()  # type: ignore[union-attr]
            seen = [[tuple(e) for e in evs] for evs in json.loads(other.stdout.readline())]  # type: ignore[union-attr]
            assert seen == [[tuple(e) for e in evs] for evs in direct.for_users(who, after)]
            return seen

        assert ask(users[:3]) == [[], [], []]  # nothing since training yet
        post_events(runtime, [_click(users[0], products[0], since + 5_000)])
        post_events(
            runtime, [_click(users[0], products[1], since + 2_000), _click(users[3], products[2], since + 1)]
        )
        first, _, _ = ask(users[:3])
        assert [(e[0], e[2]) for e in first] == [(since + 2_000, products[1]), (since + 5_000, products[0])]
        assert ask(users[3:4]) == [[(since + 1, "click", products[2], None, None)]]  # not read before
        post_events(
            runtime,
            [
                _click(
                    users[1], products[3], since + 9_000, "order", order_id="o-tail", quantity=1, amount=100
                ),
                _click(users[0], products[4], since - 1_000),  # before training: in the model, not here
            ],
        )
        assert len(ask(users[:2])[1]) == 1
        assert ask(users[:1], since + 3_000) == [[(since + 5_000, "click", products[0], None, None)]]
        assert len(ask(users[:1])[0]) == 2  # an older model again: read afresh
    finally:
        other.kill()
        other.wait()


def test_recent_events_in_process_start_afresh_when_far_behind_the_log(
    world: tuple[Path, Store, TrainedModel], tmp_path: Path
) -> None:
    """Behind the log by more rows than one read takes, what was kept is dropped and read again when
    asked for; the newest events per user are kept up to the limit; answers equal the store's query."""
    from xingqu.online.recent import TailRecentEvents
    from xingqu.services.ingest import post_events

    root, _, model = world
    assert model.feed is not None
    runtime = Runtime(db=_copy_store(root, tmp_path / "s.db"), models_dir=str(root / "models"))
    since = model.feed.trained_until_ms
    tail = TailRecentEvents(runtime.store.events, max_per_user=4)
    tail.BATCH = 3
    direct = StoreRecentEvents(runtime.store.events_since)
    user = str(model.feed.profiles.users.ids[0])
    products = sorted(runtime.store.catalogue.product_ids())
    assert tail.for_users([user], since) == [[]]
    post_events(runtime, [_click(user, p, since + 1_000 * (k + 1)) for k, p in enumerate(products[:2])])
    assert tail.for_users([user], since) == direct.for_users([user], since)
    post_events(runtime, [_click(user, p, since + 10_000 * (k + 1)) for k, p in enumerate(products[2:5])])
    got = tail.for_users([user], since)[0]  # 3 new rows: a full read, so it started afresh
    assert got == direct.for_users([user], since)[0][-4:] and len(got) == 4
