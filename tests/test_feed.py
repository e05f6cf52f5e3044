"""The ranked feed: learned ranker, every rule, real time, cold start, content feed and the CLI."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import sqlalchemy as sa
from rich.cells import cell_len

from conftest import descendants
from test_cli import xingqu
from xingqu.features.market import arrow_schema
from xingqu.features.ranking import feature_names
from xingqu.governance.actions import take_down
from xingqu.ingest import import_path
from xingqu.online import StoreRecentEvents
from xingqu.pipelines.feed import Feed, FeedConfig, FeedItem, FeedTrace
from xingqu.pipelines.feed.sources import retrieve
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.store.schema import TABLES
from xingqu.training import TrainedModel, load_trained, train

NEW_PRODUCT = "p-new-arrival"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _trained_world(root: Path) -> tuple[Store, TrainedModel, Path]:
    """A simulated fortnight in a store, plus one product listed just before training, trained."""
    simulate(preset("tiny", users=600, days=14), root / "m")
    store = Store(f"sqlite:///{root / 's.db'}")
    import_path(store, root / "m")
    last = store.event_time_range()[1]  # type: ignore[index]
    with store.reading() as conn:
        p = TABLES["products"]
        template = dict(conn.execute(sa.select(p).where(p.c.product_id == "p000")).mappings().one())
    template.update(product_id=NEW_PRODUCT, created_at=_iso(last - 3_600_000), stock=50, status="listed")
    for key in ("style_tags", "function_tags", "qualifications"):
        template[key] = json.loads(template[key]) if template[key] else []
    template.pop("reference_price", None)
    import_path(store, _write_jsonl(root / "new" / "products.jsonl", [template]))
    model = train(store, root / "models")
    return store, model, root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, TrainedModel, Path]:
    """The world the tests below share: some take goods down or add events, as a live store would."""
    return _trained_world(tmp_path_factory.mktemp("feed"))


@pytest.fixture(scope="module")
def untouched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, TrainedModel, Path]:
    """The same world for a test whose figures must not depend on what other tests did to the store."""
    return _trained_world(tmp_path_factory.mktemp("feed-untouched"))


def _feed(store: Store, model: TrainedModel, **config: object) -> Feed:
    """The feed as the embedded runtime serves it: servability and recent events from the store."""
    assert model.feed is not None
    recent = StoreRecentEvents(store.events_since)
    return Feed(model.feed, store.servable_products, FeedConfig(**config), recent=recent)


def _users(model: TrainedModel, k: int = 40) -> list[str]:
    assert model.feed is not None
    busiest = np.argsort(-np.diff(model.history.indptr), kind="stable")[:k]
    return model.feed.profiles.users.ids[busiest].tolist()


def test_ranker_is_trained_on_impressions_and_saved(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, root = trained
    assert model.feed is not None and model.feed.ranker is not None
    ranker = model.feed.ranker
    assert ranker.features == feature_names(model.feed.kinds)
    assert ranker.meta["groups"] >= 20 and ranker.meta["positives"] > 0
    assert model.meta["ranker"]["importance"]["price_fit"] + model.meta["ranker"]["importance"]["price_z"] > 0
    loaded = load_trained(root / "models")
    users = _users(model, 10)
    a = [[i.product_id for i in f] for f in _feed(store, model).recommend_many(users, 10)]
    b = [[i.product_id for i in f] for f in _feed(store, loaded).recommend_many(users, 10)]
    assert a == b and all(len(x) == 10 for x in a)


def test_position_is_a_training_only_feature(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, _ = trained
    feed = _feed(store, model)
    trace = FeedTrace()
    feed.recommend(_users(model, 1)[0], 10, trace=trace)
    x, names = trace.features, trace.names
    assert x is not None and x.shape[-1] == len(names) == len(feed.feature_names)
    assert (x[..., names.index("position")] == 0).all()
    assert set(trace.seconds) >= {"recent", "candidates", "rules", "ranker", "servable", "rerank"}


def test_items_carry_explanations(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, _ = trained
    items = _feed(store, model).recommend(_users(model, 1)[0], 10)
    assert all(i.found_by for i in items)
    assert sum(bool(i.reasons) for i in items) >= 8
    known = {"in your usual price range", "in a category you like", "new arrival", "your style"}
    assert any(set(i.reasons) & known for i in items)


def test_takedown_and_out_of_stock_leave_every_feed_at_once(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    store, model, _ = trained
    feed = _feed(store, model)
    users = _users(model)
    before = feed.recommend_many(users, 20)
    counts = Counter(i.product_id for f in before for i in f)
    gone, empty = (p for p, _ in counts.most_common(2))
    take_down(store, gone, reason="test: counterfeit", actor="test")
    p = TABLES["products"]
    with store.writing() as conn:
        conn.execute(sa.update(p).where(p.c.product_id == empty).values(stock=0))
    after = feed.recommend_many(users, 20)
    shown = {i.product_id for f in after for i in f}
    assert gone not in shown and empty not in shown
    assert all(len(f) == 20 for f in after)
    assert gone not in {c for item in feed.content(users[0], 20) for c in item.products}


def test_max_price_categories_and_brands_hold(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, _ = trained
    feed = _feed(store, model)
    user = _users(model, 1)[0]
    items = feed.recommend(user, 20, max_price=5_000)
    prices = store.product_titles([i.product_id for i in items])
    assert len(items) >= 5 and all(prices[i.product_id][1] <= 5_000 for i in items)
    assert model.feed is not None
    cat = model.feed.cat
    level1 = cat.categories[0]
    items = feed.recommend(user, 10, categories=[level1])
    idx = cat.items.lookup(np.array([i.product_id for i in items], dtype=object))
    assert items and all(cat.categories[cat.level1[j]] == level1 for j in idx)
    brand = cat.brands.ids[0]
    items = feed.recommend(user, 10, brands=[brand])
    idx = cat.items.lookup(np.array([i.product_id for i in items], dtype=object))
    assert all(cat.brands.ids[cat.brand[j]] == brand for j in idx)


def test_diversity_caps_hold(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, _ = trained
    assert model.feed is not None
    cat = model.feed.cat
    feed = _feed(store, model, max_category_share=0.25, max_per_shop=2, price_band_z=None)
    for items in feed.recommend_many(_users(model, 20), 20):
        idx = cat.items.lookup(np.array([i.product_id for i in items], dtype=object))
        assert max(Counter(cat.level1[idx].tolist()).values()) <= 5
        assert max(Counter(cat.shop[idx].tolist()).values()) <= 2
    uncapped = _feed(store, model, max_category_share=1.0, max_per_shop=None, price_band_z=None)
    widest = max(
        max(
            Counter(
                cat.shop[cat.items.lookup(np.array([i.product_id for i in f], dtype=object))].tolist()
            ).values()
        )
        for f in uncapped.recommend_many(_users(model, 20), 20)
    )
    assert widest > 2  # the cap is what held it


def test_a_users_blended_feed_does_not_depend_on_who_is_scored_with_them(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    """Batch scoring gives each user the blend (the feed without its ranker) they get alone: each
    retriever's z-scores are over the user's own candidates, not the padding up to the batch's widest."""
    store, model, _ = trained
    feed = _feed(store, model, use_ranker=False)
    users = _users(model, 40)
    together = [[i.product_id for i in f] for f in feed.recommend_many(users, 10)]
    alone = [[i.product_id for i in feed.recommend(u, 10)] for u in users]
    assert together == alone


def test_a_users_ranked_and_explained_feed_does_not_depend_on_who_is_scored_with_them(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    """Up to the row-loop batch size, serving users together gives each exactly what they get alone:
    products, scores to the last bit, sources and reasons (the explanations' reference is the median
    over the user's own candidates, not over the padding up to the batch's widest)."""
    from xingqu.models.rowops import MAX_LOOP_ROWS

    store, model, _ = trained
    feed = _feed(store, model)
    users = _users(model, 3 * MAX_LOOP_ROWS)

    def card(items: list[FeedItem]) -> list[tuple[object, ...]]:
        return [(i.product_id, i.score, i.found_by, i.reasons, i.new) for i in items]

    alone = [card(feed.recommend(u, 10, explain=True)) for u in users]
    for size in (4, MAX_LOOP_ROWS):
        together = []
        for lo in range(0, len(users), size):
            together += [card(f) for f in feed.recommend_many(users[lo : lo + size], 10, explain=True)]
        assert together == alone
    assert sum(bool(i[3]) for f in alone for i in f) > len(users)  # reasons were given


def test_new_product_slots_are_filled(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, _ = trained
    feed = _feed(store, model, new_share=0.2, new_days=14.0)
    for items in feed.recommend_many(_users(model, 10), 10):
        assert [k for k, i in enumerate(items) if i.new] == [2, 7]
        assert all("new arrival" in i.reasons for i in items if i.new)
    more = _feed(store, model, new_share=0.4, new_days=14.0)
    full = 0
    for items in more.recommend_many(_users(model, 10), 10):
        # the slots in order; a user with fewer new products that pass the rules (one of these has
        # two or three among its candidates) leaves the last ones to regular products
        new_at = [k for k, i in enumerate(items) if i.new]
        assert new_at == [1, 3, 6, 8][: len(new_at)]
        full += len(new_at) == 4
    assert full >= 8
    # a product listed an hour before training, with no behaviour at all, reaches users through the slots
    fresh = _feed(store, model, new_share=0.2, new_days=2.0)
    reached = [
        u
        for u, f in zip(_users(model), fresh.recommend_many(_users(model), 10), strict=True)
        if NEW_PRODUCT in {i.product_id for i in f}
    ]
    assert len(reached) >= 5


def test_price_band_rule_keeps_prices_near_the_users_centre(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    store, model, _ = trained
    assert model.feed is not None
    m = model.feed
    banded = _feed(store, model, price_band_z=1.0, new_share=0.0)
    users = _users(model, 20)
    inside = []
    for u, items in zip(users, banded.recommend_many(users, 10), strict=True):
        row = m.profiles.users.index[u]
        for i in items:
            j = m.cat.items.index[i.product_id]
            z = abs(m.cat.log_price[j] - m.profiles.price_mu[row, m.cat.level1[j]]) / m.profiles.price_sd[row]
            inside.append(z <= 1.0 + 1e-6)
    assert np.mean(inside) >= 0.95


def _events_file(root: Path, name: str, rows: list[dict[str, object]]) -> Path:
    return _write_jsonl(root / name / "events.jsonl", rows)


def test_a_purchase_disappears_from_the_next_feed(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, root = trained
    feed = _feed(store, model)
    user = _users(model, 3)[2]
    first = feed.recommend(user, 10)
    bought = first[0].product_id
    assert model.feed is not None
    ts = _iso(model.feed.trained_until_ms + 60_000)
    import_path(
        store,
        _events_file(
            root,
            "pay",
            [
                {
                    "event_id": f"t-{kind}",
                    "event_type": kind,
                    "ts": ts,
                    "user_id": user,
                    "product_id": bought,
                    "order_id": "t-o1",
                    "amount": 100,
                    "quantity": 1,
                }
                for kind in ("order", "pay")
            ],
        ),
    )
    after = [i.product_id for i in feed.recommend(user, 10)]
    assert bought not in after and len(after) == 10


def test_an_ingested_click_changes_the_next_feed(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, root = trained
    feed = _feed(store, model)
    assert model.feed is not None
    user = _users(model, 5)[4]
    before = [i.product_id for i in feed.recommend(user, 20)]
    level = model.feed.cat.level1
    own = Counter(level[model.feed.cat.items.index[p]] for p in before)
    sizes = Counter(level.tolist())
    stocked = [c for c in sizes if c >= 0 and sizes[c] >= 10]
    target = min(stocked, key=lambda c: (own[c], -sizes[c]))  # the well-stocked category it shows least
    other = next(j for j in np.argsort(-model.feed.stats.recent).tolist() if level[j] == target)
    shown_before = own[target]
    clicked = model.feed.cat.items.ids[other]
    ts = model.feed.trained_until_ms + 120_000
    import_path(
        store,
        _events_file(
            root,
            "clicks",
            [
                {
                    "event_id": f"t-click-{k}",
                    "event_type": "click",
                    "ts": _iso(ts + k),
                    "user_id": user,
                    "product_id": clicked,
                    "surface": "feed",
                }
                for k in range(3)
            ],
        ),
    )
    after = feed.recommend(user, 20)
    assert [i.product_id for i in after] != before
    assert sum(level[model.feed.cat.items.index[i.product_id]] == target for i in after) > shown_before


def test_sequence_retrievers_follow_a_click_since_training(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, root = trained
    feed = _feed(store, model)
    assert model.feed is not None
    retrievers = model.feed.retrievers
    assert {"recentknn", "transition"} <= set(model.feed.kinds)  # candidate sources of the feed
    user = _users(model, 12)[11]
    u = int(model.feed.profiles.users.index[user])
    seen = set(model.history[u].indices.tolist())
    rules = retrievers["transition"].rules  # type: ignore[attr-defined]
    # the product with the most distinct successors that the user never touched
    clicked = next(int(j) for j in np.argsort(-np.diff(rules.indptr), kind="stable") if int(j) not in seen)
    successors = set(np.argsort(-rules[clicked].toarray().ravel())[:20].tolist())
    neighbours = set(np.argsort(-retrievers["recentknn"].neighbours(clicked))[:20].tolist())  # type: ignore[attr-defined]
    wanted = {"transition": successors, "recentknn": neighbours}
    before = {k: set(retrieve(k, feed.request([user]), feed.prepared)[0, :20].tolist()) for k in wanted}
    ts = model.feed.trained_until_ms + 180_000
    row = {"event_type": "click", "ts": _iso(ts), "user_id": user, "surface": "feed"}
    row |= {"event_id": "t-seq-click", "product_id": model.feed.cat.items.ids[clicked]}
    import_path(store, _events_file(root, "seq-click", [row]))
    after = {k: set(retrieve(k, feed.request([user]), feed.prepared)[0, :20].tolist()) for k in wanted}
    for kind, like in wanted.items():  # the newest item leads each list, without retraining
        assert len(after[kind] & like) > len(before[kind] & like), kind


#: How far one click must move a 20-item feed towards the clicked product's category, as a share
#: (mean over 40 users of a world no other test touched; the clicked product itself is not counted).
#: Measured 0.0525 (20 of the 40 pulled, one pushed by one item, none six half-lives on) on an AMD
#: EPYC machine; on another machine, with the product counted and 20 users, 0.075 with 15 pulled:
#: other CPUs' BLAS kernels train a slightly different ranker. The bound asks 0.8 items per list.
CLICK_PULL = 0.04
#: Share of the users whose list the click must pull (a user whose price band or the category cap
#: leave the category out is not), and how many may lose one item of it to what the click brings.
PULLED_SHARE = 1 / 3
PUSHED_USERS = 4


def test_a_click_moves_the_next_feed_towards_its_category_then_fades(
    untouched: tuple[Store, TrainedModel, Path],
) -> None:
    """No retraining: one click on a product of category c, told to the feed, raises c's share of the
    user's next list by ``CLICK_PULL`` or more on average; six recency half-lives later the pull is
    gone, against the same user's list at that time without the click. The clicked product is not
    counted: clicked, it may leave a list that showed it."""
    store, model, _ = untouched
    m = model.feed
    assert m is not None
    feed = Feed(m, store.servable_products, FeedConfig())  # events since training held in process
    half_life = feed.config.recent_half_life_hours
    assert half_life is not None
    level, index = m.cat.level1, m.cat.items.index
    sizes = Counter(level.tolist())
    stocked = [c for c in sizes if c >= 0 and sizes[c] >= 20]
    t0 = m.trained_until_ms + 60_000
    late = t0 + int(6 * half_life * 3_600_000)
    found = []  # per user: c's items in the list before and after the click, now and six half-lives on
    for k, user in enumerate(_users(model, 50)[10:]):

        def listed(now: int, user: str = user) -> list[int]:
            return [index[i.product_id] for i in feed.recommend(user, 20, now_ms=now)]

        before, before_late = listed(t0 + 60_000), listed(late)
        shown = Counter(int(level[j]) for j in before)
        target = min(stocked, key=lambda c: (shown[c], -sizes[c]))  # well stocked, shown little
        clicked = next(j for j in np.argsort(-m.stats.recent).tolist() if level[j] == target)
        row = {"event_id": f"t-pull-{k}", "event_type": "click", "ts": t0, "user_id": user}
        row |= {"surface": "feed", "product_id": m.cat.items.ids[clicked]}
        feed.observe(pa.Table.from_pylist([row], schema=arrow_schema("events")))
        after, after_late = listed(t0 + 60_000), listed(late)
        lists = (before, after, before_late, after_late)
        found.append([sum(level[j] == target and j != clicked for j in x) for x in lists])
    n = np.array(found) / 20
    pull, late_pull = n[:, 1] - n[:, 0], n[:, 3] - n[:, 2]
    assert pull.mean() >= CLICK_PULL, found
    assert (pull >= -1 / 20).all() and (pull < 0).sum() <= PUSHED_USERS, found
    pulled = pull > 0
    assert pulled.sum() >= PULLED_SHARE * len(pull), found
    assert (late_pull[pulled] < pull[pulled]).all(), found  # faded
    assert np.abs(late_pull).max() <= 1 / 20 and abs(late_pull.mean()) <= 0.02, found


def test_the_sequence_switch_leaves_out_sequence_retrievers_and_session_features(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    store, model, _ = trained
    m = model.feed
    assert m is not None and m.ranker is not None
    on = Feed(m, store.servable_products, FeedConfig())
    off = on.with_config(FeedConfig().without_sequence())
    assert {"recentknn", "transition"} <= set(on.prepared.kinds)
    assert not {"recentknn", "transition"} & set(off.prepared.kinds)
    user = _users(model, 3)[2]
    t0 = m.trained_until_ms + 60_000
    row = {"event_id": "t-switch", "event_type": "click", "ts": t0, "user_id": user, "surface": "feed"}
    row["product_id"] = m.cat.items.ids[int(np.argmax(m.stats.recent))]
    on.observe(pa.Table.from_pylist([row], schema=arrow_schema("events")))  # both read the same events
    traces = {}
    for name, feed in (("on", on), ("off", off)):
        trace = FeedTrace()
        items = feed.recommend(user, 20, now_ms=t0 + 60_000, trace=trace)
        assert len(items) == 20
        assert all(not {"recentknn", "transition"} & set(i.found_by) for i in items) or name == "on"
        traces[name] = trace
    names = on.feature_names
    col = {f: names.index(f) for f in ("session_category", "visit_gap_hours", "rank_transition")}
    on_x, off_x = traces["on"].features, traces["off"].features
    assert on_x is not None and off_x is not None
    assert on_x[0, :, col["session_category"]].max() > 0  # the click is this session's
    assert off_x[0, :, col["session_category"]].max() == 0
    assert np.isnan(off_x[0, :, col["visit_gap_hours"]]).all()
    assert (off_x[0, :, col["rank_transition"]] == off.config.rank_depth).all()


def test_a_new_user_with_only_a_profile_gets_their_segments_trends(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    store, _model, root = trained
    import_path(
        store,
        _write_jsonl(
            root / "newuser" / "users.jsonl",
            [
                {
                    "user_id": "u-newcomer",
                    "gender": "F",
                    "age_band": "24-30",
                    "city_tier": "T1",
                    "crowd": "gen_z",
                    "consumption_level": "high",
                }
            ],
        ),
    )
    out = xingqu(
        "recommend",
        "u-newcomer",
        "-n",
        "10",
        "--json",
        "--db",
        store.url,
        "--models-dir",
        str(root / "models"),
    )
    assert out.returncode == 0, out.stderr
    items = json.loads(out.stdout)["items"]
    assert len(items) == 10 and any("segment" in i["found_by"] for i in items)
    missing = xingqu("recommend", "u-nobody", "--db", store.url, "--models-dir", str(root / "models"))
    assert missing.returncode != 0 and "u-nobody" in missing.stderr


def test_cli_recommend_json_all_users_and_content(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, root = trained
    common = ["--db", store.url, "--models-dir", str(root / "models")]
    user = _users(model, 1)[0]
    # a cap that leaves the cheaper half of the catalogue (the simulated world decides what that is)
    with store.reading() as conn:
        cap = int(np.median(conn.execute(sa.select(TABLES["products"].c.price)).scalars().all()))
    run = xingqu("recommend", user, "-n", "5", "--max-price", f"{cap / 100:.2f}", "--json", *common)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert len(out["items"]) == 5
    prices = store.product_titles([i["product"] for i in out["items"]])
    assert all(prices[i["product"]][1] <= cap for i in out["items"])
    table = xingqu("recommend", user, "-n", "5", "--max-price", f"{cap / 100:.2f}", *common).stdout
    assert all(i["product"] in table for i in out["items"])  # the table shows the same feed
    recs = root / "recs.jsonl"
    xingqu("recommend", "--all-users", "-n", "7", "--out", str(recs), *common)
    lines = [json.loads(x) for x in recs.read_text(encoding="utf-8").splitlines()]
    assert model.feed is not None
    assert len(lines) == len(model.feed.profiles.users)
    assert all(set(x) == {"user", "items"} and len(x["items"]) <= 7 for x in lines)
    assert sum(len(x["items"]) == 7 for x in lines) >= 0.9 * len(lines)
    content = json.loads(xingqu("recommend", user, "--content", "-n", "5", "--json", *common).stdout)["items"]
    assert content and all(c["kind"] in ("live", "video") and c["products"] for c in content)
    assert [c["score"] for c in content] == sorted((c["score"] for c in content), reverse=True)


def test_live_rooms_on_air_are_boosted(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, _ = trained
    assert model.feed is not None and model.feed.content is not None
    t = model.feed.content
    kinds = t["kind"].to_pylist()
    live = [k for k, x in enumerate(kinds) if x == "live"]
    start = t["published_at"][live[-1]].as_py()
    now = int(start.timestamp() * 1000) + 60_000
    feed = _feed(store, model, live_boost=100.0)
    items = feed.content(_users(model, 1)[0], 5, now_ms=now)
    on_air = [c for c in items if c.live_now]
    assert on_air and items[0].live_now and "live now" in items[0].reasons
    assert math.isfinite(items[0].score)


def test_a_suspended_shop_leaves_the_feed_at_once(trained: tuple[Store, TrainedModel, Path]) -> None:
    from xingqu.governance.points import give_points

    store, model, _ = trained
    assert model.feed is not None
    feed = _feed(store, model)
    users = _users(model, 20)
    counts = Counter(
        model.feed.cat.shop[model.feed.cat.items.index[i.product_id]]
        for f in feed.recommend_many(users, 20)
        for i in f
    )
    shop = model.feed.cat.shops.ids[counts.most_common(1)[0][0]]
    standing = give_points(
        store, shop, "counterfeit", reason="test: counterfeit goods", actor="test", points=48
    )
    assert standing.status == "suspended"
    after = feed.recommend_many(users, 20)
    shops = {
        model.feed.cat.shops.ids[model.feed.cat.shop[model.feed.cat.items.index[i.product_id]]]
        for f in after
        for i in f
    }
    assert shop not in shops and all(len(f) == 20 for f in after)


def _at_80_columns(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XINGQU_DB"}
    env["COLUMNS"] = "80"
    return subprocess.run(
        [sys.executable, "-m", "xingqu.cli.app", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_json_feed_items_say_what_the_product_is(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, root = trained
    user = _users(model, 1)[0]
    run = xingqu(
        "recommend", user, "-n", "6", "--json", "--db", store.url, "--models-dir", str(root / "models")
    )
    assert run.returncode == 0, run.stderr
    items = json.loads(run.stdout)["items"]
    assert len(items) == 6
    with store.reading() as conn:
        p, s, b = TABLES["products"], TABLES["shops"], TABLES["brands"]
        rows = {
            r.product_id: r
            for r in conn.execute(
                sa.select(
                    p.c.product_id, p.c.title, p.c.price, p.c.category, s.c.name.label("shop"), p.c.brand_id
                )
                .select_from(p.join(s, s.c.shop_id == p.c.shop_id))
                .where(p.c.product_id.in_([i["product"] for i in items]))
            )
        }
        brands = dict(conn.execute(sa.select(b.c.brand_id, b.c.name)).all())
    for i in items:
        row = rows[i["product"]]
        assert i["title"] == row.title and i["category"] == row.category and i["shop"] == row.shop
        assert i["price_yuan"] == round(row.price / 100, 2)
        assert i["brand_id"] == row.brand_id and i["brand"] == brands.get(row.brand_id)
        assert {"score", "found_by", "reasons"} <= set(i)


def test_tables_fold_at_80_columns_without_breaking_ids(trained: tuple[Store, TrainedModel, Path]) -> None:
    store, model, root = trained
    user = _users(model, 1)[0]
    common = ["--db", store.url, "--models-dir", str(root / "models")]
    out = _at_80_columns("recommend", user, "-n", "8", *common)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(cell_len(x) for x in lines) <= 80
    items = json.loads(xingqu("recommend", user, "-n", "8", "--json", *common).stdout)["items"]
    for i in items:  # ids and prices whole on a line
        assert any(i["product"] in x and f"¥{i['price_yuan']:,.2f}" in x for x in lines), i["product"]
    assert any(f"Feed of {user}" in x for x in lines)
    # a long path that still fits a line (70 characters, whatever the temporary folder's own length)
    base = Path(tempfile.mkdtemp(prefix="xq-"))
    out = base / ("a-long-folder-name-" + "x" * (70 - len(str(base)) - 20))
    try:
        sim = _at_80_columns("simulate", "--preset", "tiny", "--days", "1", "--out", str(out))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    assert sim.returncode == 0, sim.stderr
    lines = sim.stdout.splitlines()
    assert max(cell_len(x) for x in lines) <= 80
    assert any("Simulated marketplace" in x for x in lines)
    assert len(str(out)) == 70 and any(str(out) in x.replace(" ", "") for x in lines)


def test_the_category_browsed_in_this_visit_is_exempt_from_the_category_cap(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    """A click a minute ago opens a visit in its category: that category may fill more of the list
    than the cap allows, every other one stays under it; after the visit, or with the sequence-aware
    parts off, the cap holds for it too."""
    store, model, _ = trained
    m = model.feed
    assert m is not None
    level, cap = m.cat.level1, 2  # 10 % of 20
    config = FeedConfig(max_category_share=0.1, price_band_z=None, new_share=0.0)
    feed = Feed(m, store.servable_products, config)
    plain = feed.with_config(config.without_sequence())
    t0 = m.trained_until_ms + 60_000
    later = t0 + 2 * 3_600_000  # the visit has ended
    over = 0
    for k, user in enumerate(_users(model, 20)):
        first = feed.recommend(user, 20, now_ms=t0)
        c = int(level[m.cat.items.index[first[0].product_id]])
        row = {"event_id": f"t-open-{k}", "event_type": "click", "ts": t0, "user_id": user}
        row |= {"surface": "feed", "product_id": first[0].product_id}
        feed.observe(pa.Table.from_pylist([row], schema=arrow_schema("events")))

        def counts(f: Feed, now: int, user: str = user) -> Counter[int]:
            return Counter(
                int(level[m.cat.items.index[i.product_id]]) for i in f.recommend(user, 20, now_ms=now)
            )

        during = counts(feed, t0 + 60_000)
        assert all(n <= cap for cat_, n in during.items() if cat_ != c), during
        over += during[c] > cap
        assert max(counts(plain, t0 + 60_000).values()) <= cap
        assert max(counts(feed, later).values()) <= cap
    assert over >= 5, over


def test_the_served_score_adds_the_value_weight_times_log_price(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    store, model, _ = trained
    m = model.feed
    assert m is not None
    relevance = _feed(store, model, value_weight=0.0, price_band_z=None)
    valued = _feed(store, model, value_weight=0.5, price_band_z=None)
    checked = 0
    for user in _users(model, 5):
        a = {i.product_id: i.score for i in relevance.recommend(user, 20, explain=False)}
        b = {i.product_id: i.score for i in valued.recommend(user, 20, explain=False)}
        for p in a.keys() & b.keys():
            want = a[p] + 0.5 * float(m.cat.log_price[m.cat.items.index[p]])
            assert math.isclose(b[p], want, rel_tol=1e-5, abs_tol=1e-5), (p, a[p], b[p])
            checked += 1
        # dearer goods move up: the valued list's mean log price is at least the plain one's
        lp = m.cat.log_price
        assert np.mean([lp[m.cat.items.index[p]] for p in b]) >= np.mean(
            [lp[m.cat.items.index[p]] for p in a]
        )
    assert checked >= 20


def test_the_compiled_ranker_serves_the_feed_lightgbm_serves(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    """The ranker's trees compiled to native code score as LightGBM does: each user gets the same
    items, scores and reasons, alone and in a batch."""
    store, model, _ = trained
    assert model.feed is not None and model.feed.ranker is not None
    ranker = model.feed.ranker
    feed = _feed(store, model)
    users = _users(model, 40)
    now = store.event_time_range()[1]  # type: ignore[index]

    def serve() -> tuple[list[list[FeedItem]], list[list[FeedItem]]]:
        alone = [feed.recommend(u, 20, now_ms=now) for u in users[:15]]
        return alone, feed.recommend_many(users, 20, now_ms=now, explain=True)

    try:
        ranker.native = False
        lightgbm = serve()
        ranker.native = True
        compiled = serve()
        assert ranker.compiled() is not None
    finally:
        ranker.native = True
    assert compiled == lightgbm
    assert sum(len(f) for f in lightgbm[1]) >= 20 * 35 and any(i.reasons for f in lightgbm[1] for i in f)


def test_cli_batch_scoring_in_worker_processes_writes_the_same_lines(
    trained: tuple[Store, TrainedModel, Path],
) -> None:
    store, model, root = trained
    common = ["--db", store.url, "--models-dir", str(root / "models"), "--json"]
    one, two = root / "one.jsonl", root / "two.jsonl"
    first = xingqu("recommend", "--all-users", "-n", "8", "--max-price", "200", "--out", str(one), *common)
    assert first.returncode == 0, first.stderr
    second = xingqu(
        "recommend",
        "--all-users",
        "-n",
        "8",
        "--max-price",
        "200",
        "--workers",
        "2",
        "--out",
        str(two),
        *common,
    )
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["users"] == len(model.feed.profiles.users) > 100  # type: ignore[union-attr]
    lines = one.read_text(encoding="utf-8").splitlines()
    assert two.read_text(encoding="utf-8").splitlines() == lines  # same feeds, in the users' order
    assert [json.loads(x)["user"] for x in lines] == model.feed.profiles.users.ids.tolist()  # type: ignore[union-attr]
    assert sum(len(json.loads(x)["items"]) == 8 for x in lines) >= 0.9 * len(lines)


def test_batch_scoring_names_a_worker_that_died(trained: tuple[Store, TrainedModel, Path]) -> None:
    from xingqu.errors import UserError
    from xingqu.runtime import Runtime
    from xingqu.services.batch import feed_lines

    store, model, root = trained
    assert model.feed is not None
    runtime = Runtime(db=store.url, models_dir=str(root / "models"))
    users = model.feed.profiles.users.ids.tolist()
    omp_before = os.environ.get("OMP_NUM_THREADS")
    lines = feed_lines(runtime, users, 5, workers=2, block=1)  # one user per task: most still queued
    assert json.loads(next(lines))["user"] == users[0]
    workers = [pid for pid, command in descendants() if "spawn_main" in command]
    assert len(workers) == 2
    for pid in workers:  # numeric libraries on one thread in each worker, as in Spark's; not in this process
        with open(f"/proc/{pid}/environ", "rb") as fh:
            assert b"OMP_NUM_THREADS=1" in fh.read().split(b"\0")
    assert os.environ.get("OMP_NUM_THREADS") == omp_before
    os.kill(workers[0], 9)
    with pytest.raises(UserError, match="fewer --workers"):
        list(lines)
