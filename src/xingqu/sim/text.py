"""Chinese names, titles and descriptions of the simulated catalogue, from the vocabulary in
``catalogue.toml`` (per level-1 and level-2 category: nouns, materials, needs, styles, specs and units,
price ranges), and the violations planted into listings (ground truth for governance)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np


@dataclass(frozen=True)
class Leaf:
    """A level-2 category: what its products are called, made of, sized in and priced at."""

    key: str
    nouns: tuple[str, ...]
    materials: tuple[str, ...]
    specs: tuple[str, ...]  # smallest first
    price: tuple[float, float, float]  # median, lowest, highest (yuan)
    styles: tuple[tuple[str, str], ...]  # (word, tag) per latent style axis (``align_styles``)
    needs: tuple[tuple[str, str], ...]  # (word, tag) per latent need slot
    template: str
    descriptions: tuple[str, ...]
    #: Its styles include a look of the latent style axes (简约, 复古…): a shopper's lasting taste
    #: applies to its goods. Leaves whose styles are variants (scent, pack size, formula) have none.
    aesthetic: bool = True

    def style(self, axis: int) -> tuple[str, str]:
        return self.styles[axis % len(self.styles)]

    def need(self, slot: int) -> tuple[str, str]:
        return self.needs[slot % len(self.needs)]

    def words(self) -> set[str]:
        """Every word a title of this leaf may be made of (besides the brand)."""
        return {
            *self.nouns,
            *self.materials,
            *self.specs,
            *(w for w, _ in self.styles),
            *(w for w, _ in self.needs),
        }


@dataclass(frozen=True)
class Category:
    """A level-1 category: its leaves, its need slots and how its brands and shops are named."""

    name: str
    leaves: tuple[Leaf, ...]
    needs: tuple[tuple[str, str], ...]
    brand_suffixes: tuple[str, ...]
    shop_word: str


def _pairs(rows: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(w), str(t)) for w, t in rows)


@cache
def vocabulary() -> dict[str, object]:
    """The parsed ``catalogue.toml``."""
    raw = (resources.files("xingqu.sim") / "catalogue.toml").read_text(encoding="utf-8")
    return tomllib.loads(raw)


@cache
def catalogue() -> dict[str, Category]:
    """Every level-1 category of the vocabulary, by name."""
    out = {}
    axes = tuple(vocabulary()["style_axes"])  # type: ignore[arg-type]
    for name, c in vocabulary()["categories"].items():  # type: ignore[union-attr]
        leaves = []
        for key, lf in c["leaves"].items():
            med_lo_hi = tuple(float(x) for x in lf["price"])
            styles = _pairs(lf.get("styles", c["styles"]))
            leaves.append(
                Leaf(
                    key=key,
                    nouns=tuple(lf["nouns"]),
                    materials=tuple(lf["materials"]),
                    specs=tuple(lf["specs"]),
                    price=(med_lo_hi[0], med_lo_hi[1], med_lo_hi[2]),
                    styles=align_styles(styles, axes),
                    needs=_pairs(lf.get("needs", c["needs"])),
                    template=str(lf.get("template", c["template"])),
                    descriptions=tuple(lf.get("descriptions", c["descriptions"])),
                    aesthetic=any(tag in axes for _, tag in styles),
                )
            )
        out[name] = Category(
            name, tuple(leaves), _pairs(c["needs"]), tuple(c["brand_suffixes"]), str(c["shop_word"])
        )
    return out


def align_styles(styles: tuple[tuple[str, str], ...], axes: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """A leaf's styles laid out by latent axis: axis k shows as the leaf's style tagged ``axes[k]`` when
    it has one (one taste, one word, in every category), else as one of its other styles."""
    own = {tag: (word, tag) for word, tag in styles}
    others = [pair for pair in styles if pair[1] not in axes] or list(styles)
    return tuple(own[a] if a in own else others[k % len(others)] for k, a in enumerate(axes))


def category(name: str) -> Category:
    """A level-1 category of the vocabulary; a configured category without one is an error."""
    cats = catalogue()
    if name not in cats:
        raise ValueError(f"category {name!r} has no vocabulary in catalogue.toml; known: {', '.join(cats)}")
    return cats[name]


def fill(template: str, parts: dict[str, str]) -> str:
    """A template filled with ``parts``, spaces collapsed."""
    return " ".join(template.format(**parts).split())


#: Compatibility views of the vocabulary: nouns per level-1 category (leaf key, first noun), and every
#: style and need word.
NOUNS: dict[str, list[tuple[str, str]]] = {
    name: [(lf.key, lf.nouns[0]) for lf in c.leaves] for name, c in catalogue().items()
}
STYLE_WORDS = sorted({w for c in catalogue().values() for lf in c.leaves for w, _ in lf.styles})
FUNCTION_WORDS = sorted({w for c in catalogue().values() for lf in c.leaves for w, _ in lf.needs})

SHOP_SUFFIX: dict[str, str] = dict(vocabulary()["shop_suffix"])  # type: ignore[arg-type]

CREATOR_WORDS = list("小大阿老甜酷萌乐美帅")
CREATOR_TAILS = ["爱分享", "好物推荐", "的日常", "说好物", "生活记", "测评", "优选", "带你买"]
BRAND_FIRST: list[str] = list(vocabulary()["brand"]["first"])  # type: ignore[index]
BRAND_SECOND: list[str] = list(vocabulary()["brand"]["second"])  # type: ignore[index]
SYLLABLES: list[str] = list(vocabulary()["brand"]["syllables"])  # type: ignore[index]

#: Violation kinds planted in titles, with the text inserted (ground truth for governance).
ABSOLUTE_TERMS = ["全网最低价", "最好用的", "国家级", "第一品牌", "顶级", "史上最强", "销量第一", "100%有效"]
COUNTERFEIT_MARKERS = ["高仿", "精仿", "A货", "原单", "1:1复刻"]
#: Prohibited goods: the listed term, its code, and the listing's title (which names the goods).
PROHIBITED_ITEMS = [
    ("电子烟", "vape", "一次性电子烟 水果味 800口"),
    ("处方药", "prescription_drug", "处方药 免问诊 当天发货"),
    ("野生动物制品", "wildlife", "野生动物制品 手工摆件"),
    ("仿真枪", "replica_gun", "金属仿真枪 模型 1:2.05"),
]
DIVERSION_TERMS = ["加微信", "私聊下单", "VX咨询"]
#: Licences that legitimate sellers of restricted goods hold (category or leaf → qualification).
QUALIFICATIONS = {
    "health_supplements": "health_food_permit",
    "mother_baby>formula": "infant_formula_registration",
    "beauty_skincare>special_cosmetics": "special_cosmetics_permit",
}
VIOLATION_KINDS = ("absolute_term", "counterfeit", "prohibited", "duplicate", "diversion")


def brand_name(rng: np.random.Generator) -> str:
    """A two-character name, as shops without a brand of their own are called."""
    return (
        BRAND_FIRST[int(rng.integers(len(BRAND_FIRST)))] + BRAND_SECOND[int(rng.integers(len(BRAND_SECOND)))]
    )


def _latin_name(rng: np.random.Generator) -> str:
    n = 2 + int(rng.random() < 0.5)
    return "".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), n)).capitalize()


def brand_names(
    rng: np.random.Generator, categories: list[str | None], international: np.ndarray
) -> list[str]:
    """Distinct brand names: international brands by a Latin name, the others two characters with,
    sometimes, the suffix of the one level-1 category they sell in (…记, …家居; none when ``None``)."""
    seen: set[str] = set()
    out: list[str] = []
    for cat, latin in zip(categories, international.tolist(), strict=True):
        suffixes = category(cat).brand_suffixes if cat else ("",)
        for attempt in range(1000):
            if latin:
                name = _latin_name(rng)
            else:
                name = brand_name(rng) + suffixes[int(rng.integers(len(suffixes)))]
                if attempt > 50:  # the pairs are used up: a third character
                    name = BRAND_FIRST[int(rng.integers(len(BRAND_FIRST)))] + name
            if name not in seen and name[0] != name[1]:
                break
        seen.add(name)
        out.append(name)
    return out


def shop_names(
    rng: np.random.Generator, kinds: list[str], categories: list[str], brands: list[str | None]
) -> list[str]:
    """Distinct shop names as shops are called: 云屿官方旗舰店, 云屿家居专卖店, 青禾零食专营店, 南野小店."""
    seen: set[str] = set()
    out: list[str] = []
    for kind, cat, brand in zip(kinds, categories, brands, strict=True):
        word = category(cat).shop_word
        word = "" if brand and brand.endswith(word) else word
        suffix = SHOP_SUFFIX[kind]
        own = brand or brand_name(rng)
        options = {
            "flagship": [f"{own}{suffix}", f"{own}{word}旗舰店"],
            "brand_authorized": [f"{own}{word}{suffix}", f"{own}{suffix}"],
            "multi_brand": [f"{own}{word}{suffix}"],
            "ordinary": [f"{own}{word}{suffix}", f"{own}的{suffix}"],
        }[kind]
        name = next((o for o in options if o not in seen), "")
        while not name:  # taken: another name of the same kind
            other = brand_name(rng)
            name = next(
                (o.replace(own, other, 1) for o in options if o.replace(own, other, 1) not in seen), ""
            )
        seen.add(name)
        out.append(name)
    return out


def creator_name(rng: np.random.Generator, i: int) -> str:
    return (
        f"{CREATOR_WORDS[i % len(CREATOR_WORDS)]}{BRAND_FIRST[(i * 7) % len(BRAND_FIRST)]}"
        f"{CREATOR_TAILS[(i * 3) % len(CREATOR_TAILS)]}{i}"
    )
