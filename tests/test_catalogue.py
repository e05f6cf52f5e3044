"""The simulated catalogue reads as a shopper expects: every title is made of its own leaf's words, specs
are in the units its goods are sold in, and one shop's distinct goods do not look like repeats."""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xingqu.governance.duplicates import DuplicateIndex
from xingqu.sim import text
from xingqu.sim.config import preset
from xingqu.sim.world import World, generate_world

#: The units each level-1 category's goods are sold in (what is left of a spec without its digits).
UNITS = {
    "women_apparel": {"S", "M", "L", "XL", "码", "均码"},
    "men_apparel": {"M", "L", "XL", "码"},
    "shoes_bags": {"码", "小号", "中号", "大号", "寸电脑位"},
    "beauty_skincare": {"ml", "g", "片", "盒", "SPF", "+"},
    "personal_care": {"ml", "g", "L", "×", "支"},
    "food_snacks": {"g", "袋", "箱", "盒", "袋装"},
    "fresh": {"斤装", "g", "kg", "袋", "箱", "×", "片"},
    "mother_baby": {"S", "M", "L", "XL", "码", "片", "g", "罐", "岁", "个月", "岁以上"},
    "home_living": {"m", "床", "W", "条装", "小号", "中号", "大号", "个装"},
    "appliances": {"L", "W", "寸"},
    "digital_3c": {"续航", "小时", "W", "mAh", "mm"},
    "jewelry_accessories": {"cm", "+", "号", "一对装", "两对装", "三对装"},
    "sports_outdoor": {"mm", "人", "kg", "×", "S", "M", "L", "XL", "码"},
    "health_supplements": {"片", "瓶", "粒", "条", "g", "kg", "×", "罐", "桶"},
    "books_education": {"单本", "全", "册", "上册", "下册", "A", "B", "本装"},
}


def _units(spec: str) -> set[str]:
    """A spec's units: its runs of Latin letters and of other non-digit characters."""
    return {u for u in re.findall(r"[A-Za-z]+|[^\x00-\x7f]+|\+", re.sub(r"[\d.\-/:\s]", " ", spec)) if u}


@cache
def _world(seed: int) -> World:
    return generate_world(preset("demo", seed=seed))


def _segment(body: str, words: set[str]) -> list[str] | None:
    """``body`` (spaces removed) as a sequence of ``words``, or None when it is not one."""
    body = body.replace(" ", "")
    words = {w.replace(" ", "") for w in words}
    longest = max(map(len, words))
    best: list[list[str] | None] = [None] * (len(body) + 1)
    best[0] = []
    for end in range(1, len(body) + 1):
        for start in range(max(0, end - longest), end):
            if best[start] is not None and body[start:end] in words:
                best[end] = [*best[start], body[start:end]]  # type: ignore[misc]
                break
    return best[len(body)]


def test_every_category_has_a_vocabulary_in_the_units_of_its_goods() -> None:
    cats = text.catalogue()
    configured = {c.name for c in preset("demo").categories}
    assert configured <= set(cats)
    for name, cat in cats.items():
        assert len(cat.leaves) >= 4, name
        for leaf in cat.leaves:
            assert leaf.nouns and len(leaf.materials) >= 3 and len(leaf.specs) >= 3, (name, leaf.key)
            assert len(leaf.styles) >= 4 and len(leaf.needs) >= 4, (name, leaf.key)
            med, lo, hi = leaf.price
            assert lo < med < hi, (name, leaf.key)
            for spec in leaf.specs:
                assert _units(spec) and _units(spec) <= UNITS[name], (name, leaf.key, spec, _units(spec))
            # a leaf's words are its own: no style, need or material repeats another slot's word
            slots = [
                set(leaf.nouns),
                set(leaf.materials),
                {w for w, _ in leaf.styles},
                {w for w, _ in leaf.needs},
            ]
            assert sum(map(len, slots)) == len(set().union(*slots)), (name, leaf.key)


@pytest.mark.parametrize("seed", [42, 3])
def test_every_title_is_made_of_its_own_leafs_words(seed: int) -> None:
    w = _world(seed)
    checked = 0
    for i in range(w.n_products):
        if w.p_violation[i]:
            continue
        leaf = w.cat_leaves[w.p_category[i]][w.p_leaf[i]]
        title = w.p_title[i]
        brand = w.b_name[w.p_brand[i]] if w.p_brand[i] >= 0 else ""
        if brand:
            assert title.startswith(brand + " "), (title, brand)
            title = title[len(brand) + 1 :]
        parts = _segment(title, leaf.words())
        assert parts is not None, (w.cat_names[w.p_category[i]], leaf.key, w.p_title[i])
        # the style and need it shows are the product's own (its tags say so too)
        assert {leaf.style(int(a))[0] for a in w.p_styles[i]} & set(parts), w.p_title[i]
        assert {leaf.need(int(a))[0] for a in w.p_functions[i]} & set(parts), w.p_title[i]
        # the description speaks of the same goods: its spec, and no other leaf's noun
        assert next(p for p in parts if p in {s.replace(" ", "") for s in leaf.specs}) in w.p_description[
            i
        ].replace(" ", "")
        others = {
            n
            for leaves in w.cat_leaves
            for other in leaves
            if other is not leaf
            for n in other.nouns
            if not any(n in own for own in leaf.words())
        }
        assert not [n for n in others if n in w.p_description[i]], (w.p_description[i], leaf.key)
        checked += 1
    assert checked > 0.9 * w.n_products


def test_one_shops_distinct_goods_are_not_near_repeats() -> None:
    """Screening's duplicate check (same shop, brand and leaf; similar title words) finds only the
    planted near-duplicates."""
    w = _world(42)
    index = DuplicateIndex()
    false, planted, found = [], 0, 0
    for i in range(w.n_products):
        shop, brand = f"s{w.p_shop[i]}", f"b{w.p_brand[i]}" if w.p_brand[i] >= 0 else None
        category = f"{w.cat_names[w.p_category[i]]}>{w.cat_leaves[w.p_category[i]][w.p_leaf[i]].key}"
        matches = index.find(shop, w.p_title[i], brand, category)
        if w.p_violation[i] == "duplicate":
            planted += 1
            found += bool(matches)
        elif matches:
            false.append((w.p_title[i], matches[0].listing_id))
        index.add(f"p{i}", shop, w.p_title[i], brand, category)
    assert planted >= 10 and found == planted
    assert not false, false[:5]


def test_prices_follow_each_leafs_range() -> None:
    w = _world(42)
    clean = np.array([v == "" for v in w.p_violation])
    for c, leaves in enumerate(w.cat_leaves):
        for k, leaf in enumerate(leaves):
            m = clean & (w.p_category == c) & (w.p_leaf == k)
            if m.sum() < 5:
                continue
            yuan = w.p_price[m] / 100
            _med, lo, hi = leaf.price
            assert yuan.min() >= lo - 1 and yuan.max() <= hi + 1, (leaf.key, yuan.min(), yuan.max())
    fans = [
        i for i in range(w.n_products) if clean[i] and w.cat_leaves[w.p_category[i]][w.p_leaf[i]].key == "fan"
    ]
    cookers = [
        i
        for i in range(w.n_products)
        if clean[i] and w.cat_leaves[w.p_category[i]][w.p_leaf[i]].key == "vacuum"
    ]
    assert np.median(w.p_price[fans]) < np.median(w.p_price[cookers])  # a fan costs less than a vacuum


def test_print_a_sample_of_titles_per_category(capsys: pytest.CaptureFixture[str]) -> None:
    """A sample per leaf for a person to read (``pytest -s`` shows it)."""
    w = _world(42)
    lines = []
    for c, leaves in enumerate(w.cat_leaves):
        lines.append(f"== {w.cat_names[c]}")
        for k, leaf in enumerate(leaves):
            idx = [i for i in range(w.n_products) if w.p_category[i] == c and w.p_leaf[i] == k][:3]
            for i in idx:
                lines.append(f"  {leaf.key:<18} ¥{w.p_price[i] / 100:>8.2f}  {w.p_title[i]}")
        first = next(i for i in range(w.n_products) if w.p_category[i] == c and not w.p_violation[i])
        lines.append(f"  description: {w.p_description[first]}")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(lines) > 3 * len(w.cat_leaves)


def test_one_taste_shows_as_the_same_style_in_every_category() -> None:
    """A latent style axis is written as its own tag wherever a leaf sells that style, so a shopper's
    taste for 简约 clothes is the taste for 简约 furniture; leaves without it use their other styles."""
    axes = tuple(text.vocabulary()["style_axes"])  # type: ignore[arg-type]
    assert preset("demo").styles == len(axes)  # every axis of the simulated taste has its word
    shared = 0
    for name, cat in text.catalogue().items():
        for leaf in cat.leaves:
            tags = {tag for _, tag in leaf.styles}
            others = tags - set(axes)
            for k, axis in enumerate(axes):
                shown = leaf.style(k)[1]
                if axis in tags:
                    assert shown == axis, (name, leaf.key, axis)
                    shared += 1
                else:
                    assert shown in (others or tags), (name, leaf.key, axis)
    assert shared > 100  # most fashion, home and accessory leaves sell several of the axes' styles


@given(
    st.lists(
        st.sampled_from(["minimal", "vintage", "cute", "rich", "ins", "niche"]),
        min_size=1,
        max_size=6,
        unique=True,
    ),
    st.lists(
        st.sampled_from(["minimal", "vintage", "french", "ins", "sweet"]), min_size=1, max_size=5, unique=True
    ),
)
def test_align_styles_keeps_each_axis_word_and_only_the_leafs_words(tags: list[str], axes: list[str]) -> None:
    styles = tuple((f"w_{t}", t) for t in tags)
    aligned = text.align_styles(styles, tuple(axes))
    assert len(aligned) == len(axes)
    assert set(aligned) <= set(styles)  # never a word the leaf does not have
    for k, axis in enumerate(axes):
        if axis in tags:
            assert aligned[k] == (f"w_{axis}", axis)
        elif set(tags) - set(axes):  # an axis the leaf lacks shows as a style no axis claims
            assert aligned[k][1] not in axes
