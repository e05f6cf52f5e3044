"""The merchant and creator tools as one function API over a market: portraits, audiences and
lookalikes, creators for goods, goods for creators. Governance applies at every call: goods that may
not be shown now (not listed, out of stock, shop suspended) get no audience and no creators, and are
never selected for a creator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xingqu.domain.records import MIN_GROUP_SIZE
from xingqu.errors import UserError
from xingqu.features.creators import MatchStats
from xingqu.features.groups import Groups
from xingqu.features.market import MarketTables, market_dataset
from xingqu.features.portraits import Portrait, Portraits
from xingqu.features.profiles import Catalogue, build_profiles
from xingqu.models import ALS, Recommender
from xingqu.pipelines.audience import MIN_SEEDS, AudienceIndex, Lookalike, lookalike, private_domain, seed_of
from xingqu.pipelines.creators import CreatorMatch, CreatorMatcher
from xingqu.pipelines.selection import Selection, Selector
from xingqu.store import Store

DEFAULT_ALS = {"factors": 64, "reg": 0.1, "alpha": 4.0}


class NotServableError(UserError):
    """The goods asked about may not be shown now (governance)."""


@dataclass
class Matching:
    groups: Groups
    portraits: Portraits
    index: AudienceIndex
    creators: CreatorMatcher
    selector: Selector
    servable: Callable[[list[str]], set[str]]

    @classmethod
    def build(
        cls,
        market: MarketTables,
        servable: Callable[[list[str]], set[str]],
        embedding: Recommender | None = None,
        min_group_size: int = MIN_GROUP_SIZE,
    ) -> Matching:
        """Indexes over the market; user embeddings from a fitted factor model, else ALS fitted here;
        portraits of groups under ``min_group_size`` show nothing."""
        groups = Groups.build(market)
        portraits = Portraits.build(market, groups, min_group_size)
        if embedding is None or getattr(embedding, "user_factors", None) is None:
            data = market_dataset(market)
            embedding = ALS(**DEFAULT_ALS).fit(data)
        assert embedding.users is not None
        stats = MatchStats.build(market, groups)
        cat = Catalogue.build(market, groups.items)
        profiles, _ = build_profiles(market, groups.users, cat)
        index = AudienceIndex.build(portraits, embedding.user_factors, embedding.users, profiles)  # type: ignore[attr-defined]
        return cls(
            groups,
            portraits,
            index,
            CreatorMatcher(index, stats, profiles, cat),
            Selector(portraits, stats),
            servable,
        )

    @classmethod
    def from_store(
        cls, store: Store, embedding: Recommender | None = None, min_group_size: int = MIN_GROUP_SIZE
    ) -> Matching:
        """``build`` over the store's market, servability asked of the store."""
        return cls.build(
            MarketTables.from_store(store), store.catalogue.servable_products, embedding, min_group_size
        )

    # -- governance ---------------------------------------------------------------------------

    def _require_servable(self, kind: str, key: str) -> None:
        g = self.groups
        if kind == "product":
            ids = [key]
            g.item(key)
        elif kind == "shop":
            ids = g.items.ids[g.items_of(shop=g.shop(key))].tolist()
        elif kind == "brand":
            ids = g.items.ids[g.items_of(brand=g.brand(key))].tolist()
        else:
            raise UserError(f"audiences are for a product, shop or brand, not {kind!r}")
        if ids and not self.servable(ids):  # a shop with no goods yet still has its followers
            what = "product" if kind == "product" else f"{kind}'s goods"
            raise NotServableError(
                f"{kind} {key!r}: the {what} may not be shown now "
                "(not listed, out of stock or shop suspended)"
            )

    # -- the tools ----------------------------------------------------------------------------

    def portrait(
        self, kind: str, key: str, audience: str | None = None, min_count: int | None = None
    ) -> Portrait:
        return self.portraits.portrait(kind, key, audience, min_count)

    def private_domain(self, kind: str, key: str) -> dict[str, list[str]]:
        self._require_servable(kind, key)
        ids = self.groups.users.ids
        return {name: ids[users].tolist() for name, users in private_domain(self.groups, kind, key).items()}

    def lookalike(
        self,
        kind: str,
        key: str,
        *,
        n: int | None = None,
        top_share: float | None = None,
        seed_users: list[str] | None = None,
        exclude_private: bool = False,
        exclude_users: list[str] | None = None,
    ) -> Lookalike:
        """Users like the buyers of a product, shop or brand (or like an uploaded list of users); the
        audience is for that product, shop or brand, so governance applies either way. Ids in
        ``exclude_users`` the store does not know are ignored (they cannot be in the audience)."""
        g = self.groups
        if n is not None and top_share is not None:
            raise UserError("give n or top_share, not both")
        self._require_servable(kind, key)
        if seed_users is not None:
            seeds = g.users.lookup(np.array(seed_users, dtype=object))
            unknown = [u for u, i in zip(seed_users, seeds.tolist(), strict=True) if i < 0]
            if unknown:
                raise UserError(
                    f"unknown seed users: {', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}"
                )
        else:
            seeds = seed_of(g, kind, key)
            if len(seeds) < MIN_SEEDS:
                raise UserError(
                    f"{kind} {key!r} has {len(seeds)} buyers; a lookalike needs at least {MIN_SEEDS} "
                    "seed users (seed from its shop or brand, or upload a list of users)"
                )
        exclude = []
        if exclude_private:
            exclude += [v for v in private_domain(g, kind, key).values()]
        if exclude_users:
            idx = g.users.lookup(np.array(exclude_users, dtype=object))
            exclude.append(idx[idx >= 0])
        return lookalike(
            self.index, seeds, n=n, top_share=top_share, exclude=np.concatenate(exclude) if exclude else None
        )

    def creators_for(self, product_id: str, **kwargs: object) -> list[CreatorMatch]:
        self._require_servable("product", product_id)
        return self.creators.for_product(product_id, **kwargs)  # type: ignore[arg-type]

    def similar_creators(self, creator_id: str, n: int = 10) -> list[tuple[str, float]]:
        return self.creators.similar(creator_id, n)

    def selection(self, creator_id: str, n_categories: int = 3, n_products: int = 10) -> Selection:
        """Categories and products for a creator; goods that may not be shown now are left out."""
        sel = self.selector.select(creator_id, n_categories, n_products * 3)
        ok = self.servable([p.product_id for p in sel.products])
        sel.products = [p for p in sel.products if p.product_id in ok][:n_products]
        return sel
