"""Portraits, audiences and lookalikes, creators for goods, goods for creators — and governance on all."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_cli import xingqu
from xingqu.cli.match import parse_target
from xingqu.errors import UserError
from xingqu.features.groups import Groups
from xingqu.features.market import MarketTables
from xingqu.features.portraits import DIMENSIONS, Portraits
from xingqu.governance.actions import take_down
from xingqu.ingest import import_path
from xingqu.pipelines.matching import Matching, NotServableError
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Matching, Path]:
    root = tmp_path_factory.mktemp("matching")
    simulate(preset("tiny", users=800, days=14), root / "m")
    store = Store(f"sqlite:///{root / 's.db'}")
    import_path(store, root / "m")
    return store, Matching.from_store(store), root


def _events(root: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted((root / "m").glob("events*.parquet"))])


def _direct_counts(root: Path, members: set[str]) -> dict[str, Counter[str]]:
    users = pq.read_table(root / "m" / "users.parquet").to_pylist()
    return {
        dim: Counter(u[dim] for u in users if u["user_id"] in members and u[dim] is not None)
        for dim in DIMENSIONS[:6]
    }


def _portrait_counts(p: object) -> dict[str, Counter[str]]:
    return {d: Counter({s.value: s.count for s in segs}) for d, segs in p.dimensions.items()}  # type: ignore[attr-defined]


def test_creator_follower_portrait_equals_the_simulators_files(world: tuple[Store, Matching, Path]) -> None:
    _, m, root = world
    rel = pq.read_table(root / "m" / "relations.parquet").to_pylist()
    ev = _events(root).filter(pc.is_in(pc.field("event_type"), pa.array(["follow", "join_fan_group"])))
    followers: dict[str, set[str]] = {}
    for r in rel:
        if r["kind"] in ("follow", "fan_group"):
            followers.setdefault(r["target_id"], set()).add(r["user_id"])
    for r in ev.to_pylist():
        followers.setdefault(r["creator_id"], set()).add(r["user_id"])
    creator = max(followers, key=lambda c: len(followers[c]))
    p = m.portrait("creator", creator, "followers")
    assert p.size == len(followers[creator]) and not p.hidden
    got = _portrait_counts(p)
    for dim, counts in _direct_counts(root, followers[creator]).items():
        assert got[dim] == counts, dim
        assert p.known[dim] == sum(counts.values())
    # TGI: the segment's share in the group over its share in the population, × 100
    population = Counter(
        u["crowd"] for u in pq.read_table(root / "m" / "users.parquet").to_pylist() if u["crowd"]
    )
    for s in p.dimensions["crowd"]:
        expected = s.count / p.known["crowd"] / (population[s.value] / sum(population.values())) * 100
        assert s.tgi == pytest.approx(expected)
        assert s.share == pytest.approx(s.count / p.known["crowd"])


def test_product_buyer_portrait_equals_kept_purchases_in_the_window(
    world: tuple[Store, Matching, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XINGQU_MIN_GROUP_SIZE", "1")  # the floor is the operator's: lowered here
    _, m, root = world
    monkeypatch.setattr(m.portraits, "min_group_size", 1)  # as a runtime with that setting builds it
    ev = _events(root)
    ts = pc.cast(ev["ts"], pa.int64()).to_numpy()
    since = ts.max() - 30 * 86_400_000
    refunded = set(ev.filter(pc.equal(ev["event_type"], "refund"))["order_id"].to_pylist())
    buyers: dict[str, set[str]] = {}
    is_pay = np.asarray(pc.equal(ev["event_type"], "pay"))
    for r, t in zip(ev.filter(pa.array(is_pay)).to_pylist(), ts[is_pay], strict=True):
        if r["order_id"] not in refunded and t >= since:
            buyers.setdefault(r["product_id"], set()).add(r["user_id"])
    products = pq.read_table(root / "m" / "products.parquet").to_pylist()
    level1 = {p["product_id"]: p["category"].split(">")[0] for p in products}
    name = "women_apparel" if "women_apparel" in set(level1.values()) else sorted(set(level1.values()))[0]
    members = set().union(*(u for pid, u in buyers.items() if level1[pid] == name))
    p = m.portrait("category", name, "buyers", min_count=1)
    assert p.size == len(members)
    got = _portrait_counts(p)
    for dim, counts in _direct_counts(root, members).items():
        assert got[dim] == counts, dim


def test_small_groups_reveal_nothing(
    world: tuple[Store, Matching, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XINGQU_MIN_GROUP_SIZE", "1")  # the floor is the operator's: lowered here
    store, m, _root = world
    monkeypatch.setattr(m.portraits, "min_group_size", 1)  # as a runtime with that setting builds it
    creator = m.groups.creators.ids[int(np.argmax(np.diff(m.groups.follows.indptr)))]
    size = m.portrait("creator", creator, "followers").size
    hidden = m.portrait("creator", creator, "followers", min_count=size + 1)
    assert hidden.hidden and hidden.dimensions == {} and "dimensions" not in hidden.to_dict()
    out = xingqu("portrait", "creator", creator, "--min-count", str(size + 1), "--json", "--db", store.url)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc == {
        "subject": f"creator {creator}",
        "audience": "followers",
        "size": size,
        "min_count": size + 1,
        "hidden": True,
        "hidden_because": f"fewer than {size + 1} people",
    }
    shown = json.loads(xingqu("portrait", "creator", creator, "--json", "--db", store.url).stdout)
    assert set(shown["dimensions"]) == set(DIMENSIONS)
    bad = xingqu("portrait", "creator", creator, "--audience", "neighbours", "--db", store.url)
    assert bad.returncode != 0 and "neighbours" in bad.stderr


@pytest.fixture(scope="module")
def week_window(world: tuple[Store, Matching, Path]) -> Portraits:
    """The world's portraits with a 7-day window, so that some buyers are new and some returning."""
    market = MarketTables.from_store(world[0])
    return Portraits.build(market, Groups.build(market, window_days=7))


def test_new_and_returning_buyers_hide_together_so_neither_shows_by_difference(
    week_window: Portraits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XINGQU_MIN_GROUP_SIZE", "1")  # the floor is the operator's: lowered here
    p = week_window
    monkeypatch.setattr(p, "min_group_size", 1)  # as a runtime with that setting builds it
    g = p.groups

    def halves(b: int) -> tuple[int, int]:
        key = g.brands.ids[b]
        return len(p.members("brand", key, "new_buyers")), len(p.members("brand", key, "returning_buyers"))

    brand = next(b for b in range(len(g.brands)) if 0 < min(halves(b)) < max(halves(b)))
    key, small = g.brands.ids[brand], min(halves(brand))
    for audience in ("new_buyers", "returning_buyers"):
        part = p.portrait("brand", key, audience, min_count=small + 1)
        assert part.hidden and part.dimensions == {} and "dimensions" not in part.to_dict()
        if part.size > small:  # the bigger half hides because of the smaller one
            assert "would show by difference" in part.to_dict()["hidden_because"]
        assert not p.portrait("brand", key, audience, min_count=small).hidden
    assert not p.portrait("brand", key, "buyers", min_count=small + 1).hidden
    with pytest.raises(UserError, match="min_count must be at least 1, not 0"):
        p.portrait("brand", key, "buyers", min_count=0)


def test_buyers_first_buying_inside_the_window_are_new_to_the_day(
    world: tuple[Store, Matching, Path],
) -> None:
    store, _, _ = world
    g = Groups.build(MarketTables.from_store(store), window_days=7)
    start = g.window_start_day
    on_boundary = 0
    for s in range(len(g.shops)):
        items = g.items_of(shop=s)
        if not len(items):
            continue
        first = _first_days(g, items)
        new = set(g.buyer_split(items)["new"].tolist())
        for u in g.buyers(items).tolist():
            assert (u in new) == (first[u] >= start), (g.shops.ids[s], g.users.ids[u], first[u], start)
            on_boundary += first[u] == start
    assert on_boundary > 0  # the day the two windows used to disagree on is in the data


def _first_days(g: Groups, items: np.ndarray) -> dict[int, int]:
    rows = g.first_paid[items].tocoo()
    out: dict[int, int] = {}
    for u, day in zip(rows.col.tolist(), rows.data.tolist(), strict=True):
        out[u] = min(out.get(u, day), day)
    return out


def test_private_domain_splits_buyers_and_counts_followers(world: tuple[Store, Matching, Path]) -> None:
    _, m, _ = world
    g = m.groups
    officials = [s for s in range(len(g.shops)) if g.shop_official[s] >= 0]
    s = max(officials, key=lambda s: len(g.buyers(g.items_of(shop=s), window=False)))  # the most buyers
    assert len(g.buyers(g.items_of(shop=s), window=False)) >= 2  # a tiny world: 800 users, ~120 orders
    shop = g.shops.ids[s]
    domain = m.private_domain("shop", shop)
    assert set(domain["followers"]) == set(g.users.ids[g.row(g.follows, int(g.shop_official[s]))])
    assert domain["followers"]
    split = [set(domain[f"buyers_{k}"]) for k in ("new", "active", "lapsed")]
    everyone = set(g.users.ids[g.buyers(g.items_of(shop=s), window=False)])
    assert set().union(*split) == everyone and sum(len(x) for x in split) == len(everyone)


def test_lookalike_leaves_out_seeds_and_exclusions_and_estimates_sizes(
    world: tuple[Store, Matching, Path],
) -> None:
    _, m, _ = world
    g = m.groups
    brand = max(range(len(g.brands)), key=lambda b: len(g.buyers(g.items_of(brand=b), window=False)))
    key = g.brands.ids[brand]
    seeds = set(g.users.ids[g.buyers(g.items_of(brand=brand), window=False)])
    look = m.lookalike("brand", key, n=50)
    assert len(look.users) == 50 and not (set(look.users) & seeds)
    assert look.scores == sorted(look.scores, reverse=True)
    assert all(0 <= p <= 1 for p in look.propensity)
    assert [s["top_share"] for s in look.sizes if "top_share" in s] == [0.01, 0.02, 0.05, 0.10]
    private = set().union(*map(set, m.private_domain("brand", key).values()))
    fenced = m.lookalike("brand", key, n=50, exclude_private=True)
    assert not (set(fenced.users) & (private | seeds))
    share = m.lookalike("brand", key, top_share=0.05)
    assert len(share.users) == round(0.05 * (len(g.users) - share.seed_size))
    with pytest.raises(UserError, match="u-ghost"):
        m.lookalike("brand", key, seed_users=[*list(seeds)[:10], "u-ghost"])
    with pytest.raises(UserError, match="at least 10"):
        m.lookalike("brand", key, seed_users=list(seeds)[:3])
    uploaded = m.lookalike("brand", key, n=50, seed_users=sorted(seeds), exclude_private=True)
    assert uploaded.excluded > 0 and not (set(uploaded.users) & (private | seeds))
    with pytest.raises(UserError, match="not 'planet'"):
        m.lookalike("planet", "x", n=5, seed_users=sorted(seeds))
    with pytest.raises(UserError, match="n or top_share, not both"):
        m.lookalike("brand", key, n=5, top_share=0.05)
    with pytest.raises(UserError, match="n must be at least 1, not -3"):
        m.lookalike("brand", key, n=-3)


def test_counts_below_one_are_refused_by_name(world: tuple[Store, Matching, Path]) -> None:
    _, m, _ = world
    g = m.groups
    product = g.items.ids[int(np.argmax(np.diff(g.last_paid.indptr)))]
    creator = g.creators.ids[int(np.argmax(np.diff(g.follows.indptr)))]
    with pytest.raises(UserError, match="n must be at least 1, not -1"):
        m.creators_for(product, n=-1)
    with pytest.raises(UserError, match="n must be at least 1, not 0"):
        m.similar_creators(creator, 0)
    with pytest.raises(UserError, match="n_categories must be at least 1, not -1"):
        m.selection(creator, -1, 5)
    with pytest.raises(UserError, match="n_products must be at least 1, not 0"):
        m.selection(creator, 3, 0)


def test_a_shop_without_goods_still_has_its_private_domain(
    world: tuple[Store, Matching, Path], tmp_path: Path
) -> None:
    store, m, _ = world
    # a copy of the market with one more shop: no goods yet, its official account the most followed one
    g = m.groups
    account = g.creators.ids[int(np.argmax(np.diff(g.follows.indptr)))]
    copy = tmp_path / "copy.db"
    with sqlite3.connect(store.url.removeprefix("sqlite:///")) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)  # the write-ahead log included: a plain file copy of a live store misses it
    shop = {"shop_id": "s-empty", "name": "空店", "shop_type": "ordinary", "official_account_id": account}
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "shops.jsonl").write_text(
        json.dumps(shop, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    other = Store(f"sqlite:///{copy}")
    assert import_path(other, tmp_path / "new").rejected == 0
    m = Matching.from_store(other)
    g = m.groups
    empty = g.shops.index["s-empty"]
    assert not len(g.items_of(shop=empty)) and g.shop_official[empty] >= 0
    domain = m.private_domain("shop", "s-empty")
    assert set(domain["followers"]) == set(g.users.ids[g.row(g.follows, int(g.shop_official[empty]))])
    assert domain["buyers_new"] == domain["buyers_active"] == domain["buyers_lapsed"] == []


def test_creators_for_goods_score_filter_and_explain(world: tuple[Store, Matching, Path]) -> None:
    _, m, _ = world
    g = m.groups
    product = g.items.ids[int(np.argmax(np.diff(g.last_paid.indptr)))]
    ranked = m.creators_for(product, n=5)
    assert len(ranked) == 5 and [c.score for c in ranked] == sorted((c.score for c in ranked), reverse=True)
    assert all(
        set(c.components) >= {"audience_match", "category_fit", "price_fit", "reputation", "cost"}
        for c in ranked
    )
    assert all(c.predicted_gmv_yuan > 0 for c in ranked)
    floor = sorted(c.followers for c in ranked)[2]
    assert all(c.followers >= floor for c in m.creators_for(product, n=10, min_followers=floor))
    level1 = g.categories.ids[g.item_category[g.item(product)]]
    in_cat = m.creators_for(product, n=10, category=level1)
    assert all(
        m.creators.stats.category_share[g.creator(c.creator_id), g.category(level1)] > 0 for c in in_cat
    )
    assert all(c.components["reputation"] >= 0.99 for c in m.creators_for(product, n=10, min_reputation=0.99))
    assert [c.creator_id for c in m.creators_for(product, n=5, goal="brand")] != [
        c.creator_id for c in ranked
    ]
    similar = m.similar_creators(ranked[0].creator_id, 3)
    assert len(similar) == 3 and ranked[0].creator_id not in [c for c, _ in similar]
    with pytest.raises(UserError, match="goal"):
        m.creators_for(product, goal="fame")


def test_creators_for_a_target_portrait_count_its_members_in_each_audience(
    world: tuple[Store, Matching, Path],
) -> None:
    _, m, _ = world
    g, p = m.groups, m.creators.index.portraits
    product = g.items.ids[int(np.argmax(np.diff(g.last_paid.indptr)))]
    female = p.codes["gender"] == p.values["gender"].index("F")
    young = np.isin(p.codes["age_band"], [p.values["age_band"].index(v) for v in ("18-23", "24-30")])
    target = {"gender": ["F"], "age_band": ["18-23", "24-30"]}
    audience = m.creators.audience_matrix()
    ranked = m.creators_for(product, n=5, target=target)
    assert len(ranked) == 5
    for c in ranked:
        members = audience[g.creator(c.creator_id)].indices
        assert c.target_users_in_audience == int((female & young)[members].sum())
    with pytest.raises(UserError, match=r"unknown gender value\(s\) 'robot'"):
        m.creators_for(product, target={"gender": ["robot"]})
    with pytest.raises(UserError, match="unknown portrait dimension 'star_sign'"):
        m.creators_for(product, target={"star_sign": ["leo"]})


@given(
    st.dictionaries(
        st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
        st.lists(
            st.text("abcdefghij0123456789-+<>", min_size=1, max_size=8), min_size=1, max_size=4, unique=True
        ),
        min_size=1,
        max_size=4,
    )
)
def test_target_specs_parse_back_to_the_portrait_they_name(target: dict[str, list[str]]) -> None:
    specs = [f"{dim}={','.join(values)}" for dim, values in target.items()]
    assert parse_target(specs) == target


@pytest.mark.parametrize("spec", ["gender", "=female", "gender=", "gender=,,", " =x"])
def test_malformed_target_specs_are_named(spec: str) -> None:
    with pytest.raises(UserError, match=re.escape(f"--target {spec!r}")):
        parse_target([spec])


def test_selection_for_a_creator_gives_reasons(world: tuple[Store, Matching, Path]) -> None:
    _, m, _ = world
    g = m.groups
    creator = g.creators.ids[int(np.argmax(np.diff(g.follows.indptr)))]
    sel = m.selection(creator, 3, 9)
    assert len(sel.categories) == 3 and all(c.reasons for c in sel.categories)
    assert len({c.category for c in sel.categories}) == 3
    assert len(sel.products) == 9 and {p.category for p in sel.products} <= {
        c.category for c in sel.categories
    }
    assert len({p.category for p in sel.products}) >= 2


def test_taken_down_goods_leave_audience_creator_and_selection_outputs(
    world: tuple[Store, Matching, Path],
) -> None:
    store, m, _ = world
    g = m.groups
    creator = g.creators.ids[int(np.argmax(np.diff(g.follows.indptr)))]
    picked = m.selection(creator, 3, 9).products[0].product_id
    product = g.items.ids[int(np.argmax(np.diff(g.last_paid.indptr)))]
    for pid in (picked, product):
        take_down(store, pid, reason="test: prohibited goods", actor="test")
    assert picked not in {p.product_id for p in m.selection(creator, 3, 9).products}
    with pytest.raises(NotServableError):
        m.creators_for(product)
    with pytest.raises(NotServableError):
        m.private_domain("product", product)
    with pytest.raises(NotServableError):
        m.lookalike("product", product, n=10)


def test_cli_audience_creators_selection_json(
    world: tuple[Store, Matching, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, m, root = world
    monkeypatch.setenv("XINGQU_MIN_GROUP_SIZE", "5")  # this small world's brands have 14 buyers at most
    g = m.groups
    common = ["--db", store.url, "--models-dir", str(root / "no-models")]
    brand = max(range(len(g.brands)), key=lambda b: len(g.buyers(g.items_of(brand=b), window=False)))
    out = xingqu("audience", "--brand", g.brands.ids[brand], "--lookalike", "20", "--json", *common)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc["private_domain"]) == {
        "followers",
        "fan_group",
        "members",
        "buyers_new",
        "buyers_active",
        "buyers_lapsed",
    }
    assert len(doc["lookalike"]["users"]) == 20
    listed = [
        p
        for p in np.argsort(-np.diff(g.last_paid.indptr)).tolist()
        if store.servable_products([g.items.ids[p]])
    ]
    product = g.items.ids[listed[0]]
    out = xingqu("creators", product, "-n", "3", "--json", *common)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["creators"]) == 3
    out = xingqu("creators", product, "-n", "3", "--target", "gender=F", "--json", *common)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["target"] == {"gender": ["F"]}
    assert [c["target_users_in_audience"] for c in doc["creators"]] == [
        c.target_users_in_audience for c in m.creators_for(product, n=3, target={"gender": ["F"]})
    ]
    bad = xingqu("creators", product, "--target", "gender:female", *common)
    assert bad.returncode == 1 and "--target 'gender:female'" in bad.stderr
    creator = g.creators.ids[int(np.argmax(np.diff(g.follows.indptr)))]
    out = xingqu("selection", creator, "-n", "4", "--json", *common)
    assert out.returncode == 0, out.stderr
    sel = json.loads(out.stdout)
    assert len(sel["categories"]) == 3 and len(sel["products"]) == 4
    both = xingqu("audience", product, "--shop", "s000", *common)
    assert both.returncode != 0 and "exactly one" in both.stderr


def test_cli_audience_and_creators_name_bad_options(world: tuple[Store, Matching, Path]) -> None:
    store, m, root = world
    g = m.groups
    common = ["--db", store.url, "--models-dir", str(root / "no-models")]
    brand = g.brands.ids[
        max(range(len(g.brands)), key=lambda b: len(g.buyers(g.items_of(brand=b), window=False)))
    ]
    missing = xingqu("audience", "--brand", brand, "--seeds", str(root / "nope.txt"), *common)
    assert missing.returncode == 2 and "nope.txt" in missing.stderr
    latin = root / "latin.txt"
    latin.write_bytes("u00001\nJosé\n".encode("latin-1"))
    unreadable = xingqu("audience", "--brand", brand, "--seeds", str(latin), *common)
    assert unreadable.returncode == 1 and f"--seeds {latin}" in unreadable.stderr
    nowhere = root / "no-such-folder" / "users.jsonl"
    lost = xingqu("audience", "--brand", brand, "--lookalike", "5", "--out", str(nowhere), *common)
    assert lost.returncode == 1 and "does not exist" in lost.stderr and not nowhere.parent.exists()
    twice = xingqu("audience", "--brand", brand, "--lookalike", "5", "--top-pct", "1", *common)
    assert twice.returncode == 1 and "not both" in twice.stderr
    creator = g.creators.ids[0]
    mixed = xingqu("creators", "--similar", creator, "--goal", "brand", "--min-followers", "5", *common)
    assert mixed.returncode == 1 and "--goal, --min-followers" in mixed.stderr


def test_the_group_minimum_is_a_floor_a_caller_cannot_lower(
    world: tuple[Store, Matching, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, m, _root = world
    monkeypatch.setenv("XINGQU_MIN_GROUP_SIZE", "40")
    monkeypatch.setattr(m.portraits, "min_group_size", 40)  # as a runtime with that setting builds it
    product = m.groups.items.ids[0]
    with pytest.raises(UserError, match="below the platform's minimum group size of 40"):
        m.portrait("product", product, min_count=1)
    assert m.portrait("product", product).min_count == 40  # the floor is the default
    assert m.portrait("product", product, min_count=41).min_count == 41  # raising it is allowed
    out = xingqu("portrait", "product", product, "--min-count", "1", "--json", "--db", store.url)
    assert out.returncode == 1 and "minimum group size of 40" in out.stderr and out.stdout == ""


def test_cli_audience_keeps_the_privacy_floor(
    world: tuple[Store, Matching, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As over HTTP: private-domain groups under the minimum group size show no count, and a lookalike
    of a seed under it is refused."""
    store, m, root = world
    g = m.groups
    common = ["--db", store.url, "--models-dir", str(root / "no-models")]
    brand = g.brands.ids[
        max(range(len(g.brands)), key=lambda b: len(g.buyers(g.items_of(brand=b), window=False)))
    ]
    sizes = {k: len(v) for k, v in m.private_domain("brand", brand).items()}
    floor = max(sizes.values())
    assert min(sizes.values()) < floor  # some groups are shown, some hidden
    monkeypatch.setenv("XINGQU_MIN_GROUP_SIZE", str(floor))
    out = xingqu("audience", "--brand", brand, "--json", *common)
    assert out.returncode == 0, out.stderr
    shown = {k: (v if v >= floor else None) for k, v in sizes.items()}
    assert json.loads(out.stdout)["private_domain"] == shown
    table = xingqu("audience", "--brand", brand, *common)
    assert table.returncode == 0 and f"under {floor}" in table.stdout
    monkeypatch.setenv("XINGQU_MIN_GROUP_SIZE", "1000000")
    refused = xingqu("audience", "--brand", brand, "--lookalike", "20", *common)
    assert refused.returncode == 1 and "at least 1000000 people" in refused.stderr
