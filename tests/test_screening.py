"""Listing screening: each rule group, obfuscations, ordinary look-alike words, scope, qualifications."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLE
from test_cli import xingqu
from xingqu.errors import ConfigError
from xingqu.governance import Screener

S = Screener.default()


def decide(title: str, **listing: object) -> tuple[str, list[tuple[str, str | None]]]:
    d = S.screen({"id": "x", "title": title, **listing})
    return d.decision, [(r.group, r.term) for r in d.reasons]


@pytest.mark.parametrize(
    ("title", "decision", "group"),
    [
        ("云杉最好用的精华液", "reject", "absolute_superlative"),
        ("国家级面霜", "reject", "absolute_level"),
        ("國家級面霜", "reject", "absolute_level"),  # traditional characters
        ("顶 级 工艺", "reject", "absolute_level"),  # spaces
        ("最\u200b佳拍档", "reject", "absolute_superlative"),  # zero-width space
        ("最🔥佳拍档", "reject", "absolute_superlative"),  # emoji between characters
        ("ＮＯ．１爆款", "review", "relative_rank"),  # full-width
        ("No 1 面霜", "review", "relative_rank"),
        ("TOP1口红", "review", "relative_rank"),
        ("第①名的面膜", "review", "relative_rank"),
        ("全网销量第一", "review", "relative_rank"),
        ("国家免检奶粉", "reject", "authority"),
        ("祖传秘方去痘膏", "reject", "efficacy"),
        ("高仿名牌包", "reject", "counterfeit"),
        ("1:1复刻手表", "reject", "counterfeit"),
        ("一次性电子烟", "reject", "prohibited"),
        ("好物加微信下单", "review", "diversion"),
        ("万人疯抢 限时", "review", "false_urgency"),
    ],
)
def test_each_group_is_caught(title: str, decision: str, group: str) -> None:
    got, reasons = decide(title)
    assert got == decision
    assert group in [g for g, _ in reasons]


@pytest.mark.parametrize(
    "title",
    [
        "最近上新的保湿面霜",
        "最后一天发货",
        "第一次使用请先试用",
        "至少可用三个月",
        "甚至适合敏感肌",
        "最终解释权",
        "冬至饺子礼盒",
        "补水保湿面霜 50g",
        "第一批现货",
        "本店销量第一",
        "本品牌首发款",
    ],
)
def test_ordinary_words_and_scoped_claims_pass(title: str) -> None:
    assert decide(title) == ("approve", [])


def test_spans_point_into_the_original_text() -> None:
    d = S.screen({"id": "p1", "title": "新品 最 好 用的面霜", "description": "國家級品质"})
    by_field = {r.field: r for r in d.reasons}
    t = by_field["title"]
    assert "新品 最 好 用的面霜"[t.span[0] : t.span[1]] == "最 好"
    dsc = by_field["description"]
    assert "國家級品质"[dsc.span[0] : dsc.span[1]] == "國家級"
    assert d.ruleset == S.version and d.to_dict()["reasons"][0]["span"] == list(t.span)


def test_restricted_goods_need_their_qualification_and_brands_their_authorisation() -> None:
    assert decide("维生素片", category="health_supplements>vitamins")[0] == "review"
    assert decide(
        "维生素片", category="health_supplements>vitamins", qualifications=["health_food_permit"]
    ) == ("approve", [])
    assert decide("保湿面霜", brand="b-haixing")[0] == "approve"  # nothing known about the shop
    got = S.screen({"id": "x", "title": "保湿面霜", "brand": "b-haixing"}, authorised_brands=["b-yunshan"])
    assert got.decision == "reject" and got.reasons[0].rule == "brand:not_authorised"


def test_operators_extend_rules_without_code(tmp_path: Path) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text(
        'version = "t1"\n[[group]]\nname = "custom"\nseverity = "review"\nmessage = "m"\nterms = ["神器"]\n',
        encoding="utf-8",
    )
    mine = Screener.from_file(rules)
    assert mine.screen({"id": "1", "title": "洗碗神器"}).decision == "review"
    assert mine.screen({"id": "1", "title": "最好"}).decision == "approve"
    rules.write_text("version = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="missing 'group'"):
        Screener.from_file(rules)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_screens_without_error_and_spans_are_in_range(text: str) -> None:
    d = S.screen({"id": "h", "title": text})
    assert d.decision in ("approve", "review", "reject")
    for r in d.reasons:
        assert r.span is not None and 0 <= r.span[0] < r.span[1] <= len(text)


def test_cli_screen(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert xingqu("import", str(SAMPLE), "--quiet", db=db).returncode == 0
    listings = tmp_path / "listings.jsonl"
    rows = [
        {"id": "a", "shop": "s-yunshan", "title": "云杉补水面霜", "brand": "b-yunshan"},
        {"id": "b", "shop": "s-yunshan", "title": "云杉最佳面霜", "brand": "b-yunshan"},
        {"id": "c", "shop": "s-yunshan", "title": "海星耳机", "brand": "b-haixing"},
    ]
    listings.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    r = xingqu("screen", str(listings), "--out", str(tmp_path / "d.jsonl"), db=db)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in (tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(d["id"], d["decision"]) for d in out] == [("a", "approve"), ("b", "reject"), ("c", "reject")]
    assert out[2]["reasons"][0]["rule"] == "brand:not_authorised"
    assert "approve 1, review 0, reject 2" in r.stderr
    listings.write_text("{bad\n", encoding="utf-8")
    bad = xingqu("screen", str(listings), db=db)
    assert bad.returncode == 1 and "line 1: not valid JSON" in bad.stderr


def test_planted_near_duplicates_are_found_in_their_own_shop_only(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from xingqu.governance.duplicates import DuplicateIndex
    from xingqu.sim.config import SimConfig
    from xingqu.sim.run import simulate

    simulate(SimConfig(users=300, products=1_500, creators=20, days=1, seed=2), tmp_path)
    products = pq.read_table(tmp_path / "products.parquet").to_pylist()
    truth = {r["product_id"]: r for r in pq.read_table(tmp_path / "truth" / "products.parquet").to_pylist()}
    index = DuplicateIndex(S.duplicate_threshold)
    for r in products:
        index.add(r["product_id"], r["shop_id"], r["title"], r["brand_id"], r["category"])
    planted = [r for r in products if truth[r["product_id"]]["violation"] == "duplicate"]
    assert len(planted) >= 10
    for r in planted:
        original = f"p{int(truth[r['product_id']]['violation_term'].split(':')[1]):04d}"
        found = index.find(r["shop_id"], r["title"], r["brand_id"], r["category"], exclude=r["product_id"])
        assert original in [m.listing_id for m in found]
        assert not index.find("another-shop", r["title"], r["brand_id"], r["category"])
    d = S.screen(
        {
            "id": "new",
            "shop": planted[0]["shop_id"],
            "title": planted[0]["title"],
            "brand": planted[0]["brand_id"],
            "category": planted[0]["category"],
        },
        duplicates=index,
    )
    assert d.decision == "review" and d.reasons[0].group == "duplicate"


def test_cli_screen_catches_duplicates_within_a_file(tmp_path: Path) -> None:
    listings = tmp_path / "l.jsonl"
    rows = [
        {
            "id": "a",
            "shop": "s1",
            "title": "青木法式碎花连衣裙 夏季新款",
            "category": "women_apparel>dresses",
        },
        {
            "id": "b",
            "shop": "s1",
            "title": "青木法式碎花连衣裙 夏季新款 热卖",
            "category": "women_apparel>dresses",
        },
        {
            "id": "c",
            "shop": "s2",
            "title": "青木法式碎花连衣裙 夏季新款",
            "category": "women_apparel>dresses",
        },
    ]
    listings.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    r = xingqu("screen", str(listings), db=f"sqlite:///{tmp_path / 'none.db'}")
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [(d["id"], d["decision"]) for d in out] == [("a", "approve"), ("b", "review"), ("c", "approve")]
    assert out[1]["reasons"][0]["term"] == "a"
