"""Portraits (画像): the make-up of a group of people — a creator's followers, viewers or buyers, a
shop's or brand's followers and buyers (new and returning), a product's or category's buyers — as
normalised distributions over gender, age band, province, city tier, consumer crowd (八大人群),
consumption level, price band and top category, each segment with its TGI against the whole
population (share in the group ÷ share in the population × 100) and the counts behind it.

A group smaller than ``min_count`` shows its size and nothing else, so that no one in it can be
singled out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.dataset.interactions import EVENT_WEIGHTS
from xingqu.domain.records import MIN_GROUP_SIZE
from xingqu.errors import UserError, require_at_least
from xingqu.features.groups import Groups
from xingqu.features.market import MarketTables, kept_pays, strings

DIMENSIONS = (
    "gender",
    "age_band",
    "province",
    "city_tier",
    "crowd",
    "consumption_level",
    "price_band",
    "top_category",
)
#: Upper bounds (yuan) of the price bands of a user's average kept purchase.
PRICE_BANDS = ((50, "<50"), (100, "50-100"), (200, "100-200"), (500, "200-500"), (float("inf"), "500+"))
AUDIENCES = {
    "creator": ("followers", "fans", "viewers", "buyers"),
    "shop": ("followers", "buyers", "new_buyers", "returning_buyers"),
    "brand": ("followers", "buyers", "new_buyers", "returning_buyers"),
    "product": ("buyers",),
    "category": ("buyers",),
}


def group_minimum(asked: int | None = None, floor: int = MIN_GROUP_SIZE) -> int:
    """The smallest group a portrait may describe: the platform's ``floor`` (``Settings.min_group_size``),
    or ``asked`` when larger. Asking for less than the floor is refused: it is the platform's rule."""
    if asked is None:
        return floor
    require_at_least("min_count", asked)
    if asked < floor:
        raise UserError(
            f"min_count {asked} is below the platform's minimum group size of {floor} "
            "(XINGQU_MIN_GROUP_SIZE): a portrait may ask for larger groups, never smaller ones"
        )
    return asked


def price_band(yuan: float) -> str:
    for top, name in PRICE_BANDS:
        if yuan < top:
            return name
    return PRICE_BANDS[-1][1]


@dataclass
class Segment:
    value: str
    count: int
    share: float
    tgi: float


@dataclass
class Portrait:
    subject: str  # "creator c001"
    audience: str
    size: int
    min_count: int
    dimensions: dict[str, list[Segment]] = field(default_factory=dict)
    known: dict[str, int] = field(default_factory=dict)  # members with a value, per dimension
    #: size of the rest of a partition this group is one part of (new vs returning buyers): were the rest
    #: small, this portrait minus the whole's would show it, so both parts hide
    complement: int | None = None

    @property
    def hidden_because(self) -> str | None:
        """Why nothing is shown, or None when the portrait is shown."""
        if self.size < self.min_count:
            return f"fewer than {self.min_count} people"
        if self.complement is not None and self.complement < self.min_count:
            return f"the rest of the buyers are fewer than {self.min_count}, and would show by difference"
        return None

    @property
    def hidden(self) -> bool:
        return self.hidden_because is not None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "subject": self.subject,
            "audience": self.audience,
            "size": self.size,
            "min_count": self.min_count,
            "hidden": self.hidden,
        }
        if self.hidden:
            out["hidden_because"] = self.hidden_because
        else:
            out["dimensions"] = {
                d: {
                    "known": self.known[d],
                    "segments": [
                        {
                            "value": s.value,
                            "count": s.count,
                            "share": round(s.share, 4),
                            "tgi": round(s.tgi, 1),
                        }
                        for s in segs
                    ],
                }
                for d, segs in self.dimensions.items()
            }
        return out


@dataclass
class Portraits:
    """Every user's value of every dimension, coded, and the population's distribution."""

    groups: Groups
    codes: dict[str, np.ndarray]  # per dimension: (users,) int, -1 unknown
    values: dict[str, list[str]]
    population: dict[str, np.ndarray]  # counts per value
    min_group_size: int = MIN_GROUP_SIZE  # the platform's floor (``Settings.min_group_size``)

    @classmethod
    def build(cls, market: MarketTables, groups: Groups, min_group_size: int = MIN_GROUP_SIZE) -> Portraits:
        """Every user's dimensions over ``market``; groups under ``min_group_size`` show nothing."""
        n = len(groups.users)
        codes: dict[str, np.ndarray] = {}
        values: dict[str, list[str]] = {}
        u = market.users
        idx = groups.users.lookup(u["user_id"].to_numpy(zero_copy_only=False))
        for dim in DIMENSIONS[:6]:
            raw = np.full(n, "", dtype=object)
            raw[idx] = [x or "" for x in u[dim].to_pylist()]
            codes[dim], values[dim] = _code(raw)
        band, top = _behaviour_dimensions(market, groups)
        codes["price_band"], values["price_band"] = _code(band, [name for _, name in PRICE_BANDS])
        codes["top_category"], values["top_category"] = _code(top)
        population = {d: np.bincount(c[c >= 0], minlength=len(values[d])) for d, c in codes.items()}
        return cls(groups, codes, values, population, min_group_size)

    def members(self, kind: str, key: str, audience: str) -> np.ndarray:
        """User indices of a group: ``kind`` creator|shop|brand|product|category, ``audience`` one of
        ``AUDIENCES[kind]``."""
        g = self.groups
        if kind not in AUDIENCES:
            raise UserError(f"portraits are of {', '.join(AUDIENCES)}, not {kind!r}")
        if audience not in AUDIENCES[kind]:
            raise UserError(f"a {kind}'s audiences are {', '.join(AUDIENCES[kind])}, not {audience!r}")
        if kind == "creator":
            c = g.creator(key)
            matrix = {
                "followers": g.follows,
                "fans": g.fan_groups,
                "viewers": g.viewers,
                "buyers": g.creator_buyers,
            }
            return g.row(matrix[audience], c)
        if kind in ("shop", "brand"):
            shops = np.array([g.shop(key)]) if kind == "shop" else g.brand_shops(g.brand(key))
            items = g.items_of(shop=int(shops[0])) if kind == "shop" else g.items_of(brand=g.brand(key))
            if audience == "followers":
                return g.shop_followers(shops)
            buyers = g.buyers(items)
            if audience == "buyers":
                return buyers
            new = g.buyer_split(items)["new"]
            return np.intersect1d(buyers, new) if audience == "new_buyers" else np.setdiff1d(buyers, new)
        items = np.array([g.item(key)]) if kind == "product" else g.items_of(category=g.category(key))
        return g.buyers(items)

    def portrait(
        self, kind: str, key: str, audience: str | None = None, min_count: int | None = None
    ) -> Portrait:
        if audience is None:
            audience = AUDIENCES.get(kind, ("",))[0]
        min_count = group_minimum(min_count, self.min_group_size)
        users = self.members(kind, key, audience)
        complement = None
        if audience in ("new_buyers", "returning_buyers"):
            other = "returning_buyers" if audience == "new_buyers" else "new_buyers"
            complement = len(self.members(kind, key, other))
        return self.of_users(users, f"{kind} {key}", audience, min_count, complement)

    def of_users(
        self,
        users: np.ndarray,
        subject: str,
        audience: str,
        min_count: int | None = None,
        complement: int | None = None,
    ) -> Portrait:
        """The portrait of any set of user indices (a lookalike audience, an uploaded list…)."""
        min_count = group_minimum(min_count, self.min_group_size)
        out = Portrait(subject, audience, len(users), min_count, complement=complement)
        if out.hidden:
            return out
        for dim, codes in self.codes.items():
            c = codes[users]
            c = c[c >= 0]
            counts = np.bincount(c, minlength=len(self.values[dim]))
            pop = self.population[dim]
            known = int(counts.sum())
            out.known[dim] = known
            share = counts / max(known, 1)
            pop_share = pop / max(int(pop.sum()), 1)
            tgi = np.where(pop_share > 0, share / np.where(pop_share > 0, pop_share, 1) * 100, 0.0)
            order = np.argsort(-counts, kind="stable")
            out.dimensions[dim] = [
                Segment(self.values[dim][v], int(counts[v]), float(share[v]), float(tgi[v]))
                for v in order
                if counts[v] > 0
            ]
        return out


def _code(raw: np.ndarray, order: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Codes of string values ("" → -1), values in the given order or sorted."""
    names = order or sorted(set(raw.tolist()) - {""})
    lookup = {v: k for k, v in enumerate(names)}
    return np.array([lookup.get(x, -1) for x in raw.tolist()], dtype=np.int64), names


def _behaviour_dimensions(market: MarketTables, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
    """Each user's price band (average unit price of kept purchases) and top category (by weighted
    interactions), "" when they have none."""
    n = len(groups.users)
    e = market.events
    band = np.full(n, "", dtype=object)
    top = np.full(n, "", dtype=object)
    if e.num_rows == 0:
        return band, top
    kind = strings(e, "event_type")
    user = groups.users.lookup_arrow(e["user_id"])
    item = groups.items.lookup_arrow(e["product_id"])
    kept = kept_pays(e) & (user >= 0)
    amount = pc.fill_null(e["amount"], 0).to_numpy().astype(float)
    qty = pc.fill_null(pc.cast(e["quantity"], pa.float64()), 1.0).to_numpy()
    spent = np.bincount(user[kept], weights=amount[kept] / 100.0, minlength=n)
    units = np.bincount(user[kept], weights=qty[kept], minlength=n)
    has = units > 0
    band[has] = [price_band(v) for v in (spent[has] / units[has]).tolist()]
    w = np.zeros(len(kind))
    for k, v in EVENT_WEIGHTS.items():
        w[kind == k] = max(v, 0.0)
    cat = np.where(item >= 0, groups.item_category[np.maximum(item, 0)], -1)
    ok = (w > 0) & (user >= 0) & (cat >= 0)
    if ok.any():
        n_cat = len(groups.categories)
        mat = np.bincount(user[ok] * n_cat + cat[ok], weights=w[ok], minlength=n * n_cat).reshape(n, n_cat)
        any_ = mat.sum(axis=1) > 0
        best = mat.argmax(axis=1)
        top[any_] = groups.categories.ids[best[any_]]
    return band, top
