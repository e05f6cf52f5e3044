"""Screening catches a listed term however it is written (traditional characters, full-width, look-alike
letters, pinyin, digits, symbols between the characters), lets a term inside a brand name pass, and gives
one reason per rule and term."""

from __future__ import annotations

from pathlib import Path

import opencc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers import write_rows
from xingqu.governance import Screener
from xingqu.governance.context import ScreeningContext
from xingqu.governance.normalise import (
    has_tone_marks,
    normalise_term,
    screening_text,
    term_variants,
    whole_pinyin,
)
from xingqu.store import Store

S = Screener.default()


def reasons(title: str, **listing: object) -> tuple[str, list[tuple[str, str | None, str]]]:
    """(decision, [(group, listed term, text the span points at)])."""
    d = S.screen({"id": "x", "title": title, **listing})
    return d.decision, [(r.group, r.term, title[r.span[0] : r.span[1]]) for r in d.reasons if r.span]


@pytest.mark.parametrize(
    ("title", "decision", "group", "term", "written"),
    [
        # traditional characters
        ("頂級牛排 西冷", "reject", "absolute_level", "顶级", "頂級"),
        ("國家級工藝 茶具", "reject", "absolute_level", "国家级", "國家級"),
        ("極品大紅袍", "reject", "absolute_level", "极品", "極品"),
        ("獨家配方面膜", "review", "relative_rank", "独家", "獨家"),
        # full-width
        ("ＴＯＰ１ 口红", "reject", "unscoped_first", "top1", "ＴＯＰ１"),
        ("加ＶＸ领券", "review", "diversion", "加vx", "加ＶＸ"),
        # look-alike letters of other scripts, boxed letters, variant characters
        ("ТОР1 口红", "reject", "unscoped_first", "top1", "ТОР1"),  # Cyrillic Т О Р
        ("Α货 名表", "reject", "counterfeit", "a货", "Α货"),  # Greek Alpha
        ("🅰货 手表", "reject", "counterfeit", "a货", "🅰货"),
        ("冣好的面霜", "reject", "absolute_superlative", "最好", "冣好"),
        ("唯壹的配方", "reject", "unscoped_first", "唯一", "唯壹"),
        # pinyin for a character, spelled out whole, initial, digits for numerals
        ("zui好用的面霜", "reject", "absolute_superlative", "最好", "zui好"),
        ("ZUI佳拍档", "reject", "absolute_superlative", "最佳", "ZUI佳"),
        ("di一名的精华", "reject", "unscoped_first", "第一名", "di一名"),
        ("guo家级工艺", "reject", "absolute_level", "国家级", "guo家级"),
        ("zuihao的精华", "reject", "absolute_superlative", "最好", "zuihao"),
        ("国j级工艺", "reject", "absolute_level", "国家级", "国j级"),
        ("销量第1的面膜", "review", "relative_rank", "销量第一", "销量第1"),
        ("行业10强品牌", "reject", "absolute_level", "十强", "10强"),
        # symbols, emoji and spaces between the characters
        ("最🔥好的面霜", "reject", "absolute_superlative", "最好", "最🔥好"),
        ("顶·级 工艺", "reject", "absolute_level", "顶级", "顶·级"),
        ("高 ✨ 仿 名牌包", "reject", "counterfeit", "高仿", "高 ✨ 仿"),
        ("1〇〇%有效", "reject", "efficacy", "100%有效", "1〇〇%有效"),
        # terms the lists gained from the public compilations
        ("最耐穿的袜子", "reject", "absolute_superlative", "最", "最"),
        ("极致性价比 吹风机", "reject", "absolute_level", "极致", "极致"),
        ("国货天花板 口红", "reject", "absolute_level", "国货天花板", "国货天花板"),
        ("三天根治脚气", "reject", "disease_claim", "根治脚气", "根治脚气"),
        ("针孔摄像头 家用", "reject", "prohibited", "针孔摄像", "针孔摄像"),
        ("性价比之王 电饭煲", "review", "relative_rank", "之王", "之王"),
        ("手慢无 坚果", "review", "false_urgency", "手慢无", "手慢无"),
        ("国货 TOP 1 口红", "reject", "unscoped_first", "top1", "TOP 1"),
        ("加vxabc123 领券", "review", "diversion", "加vx", "加vx"),  # a WeChat id straight after
    ],
)
def test_each_way_of_writing_a_term_is_caught(
    title: str, decision: str, group: str, term: str, written: str
) -> None:
    got, found = reasons(title)
    assert got == decision
    assert (group, term, written) in found


@pytest.mark.parametrize(
    "title",
    [
        "zui近上新的保湿面霜",  # an ordinary word is ordinary in pinyin too
        "第1次使用请先试用",
        "最佳赏味期30天 手工曲奇",  # a consumer tip (SAMR 2023)
        "国家级非物质文化遗产 龙泉青瓷茶杯",  # a title given under state rules
        "万能胶 强力粘合剂 30ml",  # a generic product name
        "最大功率2000W 电水壶",
        "手工曲奇 开封后最好冷藏保存",  # advice, not a claim
        "本店最新款 碎花连衣裙",  # 最新 is a relative claim, scoped here; bare 最 does not fire inside it
        "防偷拍检测器 便携",
        "新一级能效 变频空调 1.5匹",
        "特级初榨橄榄油 500ml",
        "英特尔第12代酷睿 笔记本",  # 第1 runs on into 第12: a whole number
        "丝绒口红 色号No.12",
        "Nano1 无线耳机",  # no1 inside a word
    ],
)
def test_ordinary_words_stay_ordinary(title: str) -> None:
    assert reasons(title) == ("approve", [])


def test_a_longer_term_wins_over_one_it_contains() -> None:
    assert reasons("2025最新款连衣裙") == ("review", [("relative_rank", "最新", "最新")])
    assert reasons("最新鲜的草莓")[1] == [("absolute_superlative", "最新鲜", "最新鲜")]


def test_a_term_inside_a_well_known_brand_is_no_claim() -> None:
    assert reasons("绝对伏特加 700ml 洋酒") == ("approve", [])
    assert reasons("ABSOLUT 绝对伏特加 原味")[0] == "approve"
    assert reasons("VXE R1 无线鼠标") == ("approve", [])
    assert reasons("上海永久 26寸山地自行车") == ("approve", [])
    # the bare name, as long as the term, is no claim only on the brand's own listings
    assert reasons("永久 26寸自行车", brand="永久") == ("approve", [])
    assert reasons("永久 26寸自行车", brand="b-other")[0] == "reject"
    # the same words outside the name are claims
    assert reasons("绝对好用的鼠标")[0] == "reject"
    assert reasons("永久保修 吹风机")[1] == [("absolute_level", "永久", "永久")]
    assert reasons("加VX领券")[0] == "review"


def test_a_term_inside_a_registered_brand_is_no_claim(store: Store, tmp_path: Path) -> None:
    from xingqu.ingest import import_path

    brands = [
        {"brand_id": "b-zhen", "name": "臻品", "tier": "emerging", "owner": "臻品食品有限公司"},
        {"brand_id": "b-jiguang", "name": "极致光学", "tier": "emerging", "owner": "极致光学科技"},
    ]
    import_path(store, write_rows(tmp_path / "brands.csv", brands, ["brand_id", "name", "tier", "owner"]))
    plain = ScreeningContext.empty(S)
    ctx = ScreeningContext.from_store(store, S)

    def decide(context: ScreeningContext, title: str, brand: str | None) -> str:
        return context.screen({"id": title, "title": title, "brand": brand}).decision

    # 极致 inside the longer name 极致光学: a name, whoever lists it
    assert decide(plain, "极致光学 防蓝光眼镜", None) == "reject"
    assert decide(ctx, "极致光学 防蓝光眼镜", None) == "approve"
    assert decide(ctx, "极致光学 防蓝光眼镜", "b-other") == "approve"
    # 臻品 is the whole name: a name on the brand's own listings (by id), a claim on others'
    assert decide(ctx, "臻品 手工挂面 1kg", "b-zhen") == "approve"
    assert decide(ctx, "臻品 手工挂面 1kg", "b-other") == "reject"
    assert decide(ctx, "极致轻薄 防蓝光眼镜", "b-jiguang") == "reject"


def test_one_reason_per_rule_and_term() -> None:
    d = S.screen({"id": "x", "title": "最好的面霜 最好用", "description": "最 好 的选择"})
    assert [(r.rule, r.term, r.field) for r in d.reasons] == [
        ("absolute:absolute_superlative", "最好", "title")
    ]
    assert d.reasons[0].span == (0, 2)


TERMS = ["最佳", "最好", "国家级", "顶级", "极品", "高仿", "特供", "根治", "电子烟", "驰名商标", "无与伦比"]
SEPARATORS = ["", "", " ", "\u200b", "🔥", "·", "*", "~", "✨", "\u3000"]
_S2T = opencc.OpenCC("s2t")


@st.composite
def written_term(draw: st.DrawFn) -> tuple[str, str, int, int]:
    """(listed term, a title with the term written with traditional characters or pinyin for some of
    its characters and symbols between them, start and end of the term in the title)."""
    from xingqu.governance.normalise import readings

    term = draw(st.sampled_from(TERMS))
    pinyin = draw(st.integers(0, len(term) - 1))  # at most one character in pinyin, one stays
    parts = []
    for i, ch in enumerate(term):
        form = draw(st.sampled_from(["as is", "traditional", "pinyin" if i == pinyin else "as is"]))
        written = {"pinyin": readings()[ch], "traditional": _S2T.convert(ch)}.get(form, ch)
        parts.append(written)
        if i < len(term) - 1:
            parts.append(draw(st.sampled_from(SEPARATORS)))
    term_text = "".join(parts)
    prefix = draw(st.sampled_from(["", "云杉 ", "新款·", "【直播】"]))
    suffix = draw(st.sampled_from(["", " 面霜", "，送礼", " 30ml"]))
    return term, prefix + term_text + suffix, len(prefix), len(prefix) + len(term_text)


@settings(max_examples=150, deadline=None)
@given(written_term())
def test_variants_of_a_banned_term_are_caught_where_they_are_written(case: tuple[str, str, int, int]) -> None:
    term, title, start, end = case
    d = S.screen({"id": "v", "title": title})
    assert d.decision == "reject"
    spans = [r.span for r in d.reasons if r.term == term]
    assert spans == [(start, end)], (title, d.reasons)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
@example("DÀNI")  # 大鲵 spelled out whole with a tone mark
def test_spans_map_into_the_original_text(text: str) -> None:
    norm, index = screening_text(text)
    assert len(index) == len(norm) and index == sorted(index)
    assert all(0 <= i < len(text) for i in index)
    for r in S.screen({"id": "h", "title": text}).reasons:
        if r.group == "vague_title":
            continue
        assert r.span is not None and 0 <= r.span[0] < r.span[1] <= len(text)
        # the text the span points at reads as one of the forms of the listed term; a text with tone
        # marks is pinyin for sure, and a term spelled out whole in it counts however short (DÀNI: 大鲵)
        forms = term_variants(str(r.term)) | ({whole_pinyin(str(r.term))} if has_tone_marks(text) else set())
        assert any(v and v in normalise_term(text[r.span[0] : r.span[1]]) for v in forms)


def test_term_variants() -> None:
    assert term_variants("最好") == {"最好", "zui好", "最hao", "zuihao"}
    assert term_variants("第一") == {"第一", "第1", "di一", "第yi"}
    assert "zui" not in term_variants("最")  # too short to stand for 最 in Latin text
    assert term_variants("TOP1") == {"top1"}
    assert "国j级" in term_variants("国家级") and "国家j" not in term_variants("国家级")
