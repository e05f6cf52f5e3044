"""What the log says about each creator (达人) and each product, for matching goods and creators:
the categories and prices of the goods a creator carries, plays, clicks, GMV and refunds through the
creator (performance and reputation), and each product's price, commission, shop score, funnel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.features.groups import DAY_MS, Groups
from xingqu.features.market import MarketTables, carried_pairs, kept_pays, strings

REFUND_PRIOR = 10.0


def reach_prior(followers: np.ndarray) -> np.ndarray:
    """Expected share of a creator's followers that one piece of content reaches, by size: engagement
    rates fall from nano to mid-tier accounts (domain §8.5: 8–15 %, 5–10 %, 3–6 %)."""
    return np.clip(0.11 * (np.maximum(followers, 1) / 5_000) ** -0.2, 0.02, 0.15)


@dataclass
class MatchStats:
    """By creator index: carried-goods category shares and prices, funnel and money in the window;
    by item index: price, commission, status, shop score, funnel."""

    followers: np.ndarray  # declared follower count (the creators table), else counted follows
    is_creator: np.ndarray  # bool: a creator (达人), not a shop's own account
    category_share: np.ndarray  # (K, C) share of carried goods per level-1 category
    log_price: np.ndarray  # (K,) mean log-yuan price of carried goods, nan none
    plays: np.ndarray  # (K,) plays and room visits in the window
    clicks: np.ndarray  # (K,) product clicks through the creator's content
    gmv: np.ndarray  # (K,) paid fen through the creator
    refunded: np.ndarray  # (K,) refunded fen
    orders: np.ndarray  # (K,) paid orders
    refund_orders: np.ndarray  # (K,) refunded orders
    creator_gmv_by_category: np.ndarray  # (K, C) paid fen through the creator per category
    item_price: np.ndarray  # fen
    item_commission: np.ndarray
    item_listed: np.ndarray  # bool: listed and in stock
    item_shop_score: np.ndarray
    item_impressions: np.ndarray
    item_paid: np.ndarray  # fen, kept
    category_recent: np.ndarray  # (C,) weighted interest in the last week
    category_before: np.ndarray  # (C,) in the three weeks before

    @property
    def reputation(self) -> np.ndarray:
        """1 − shrunk refund rate of the creator's orders."""
        base = self.refund_orders.sum() / max(self.orders.sum(), 1)
        return 1 - (self.refund_orders + REFUND_PRIOR * base) / (self.orders + REFUND_PRIOR)

    @property
    def gpm(self) -> np.ndarray:
        """Yuan paid per 1,000 plays of the creator's content."""
        return self.gmv / 100 / np.maximum(self.plays, 1) * 1000

    @property
    def engagement(self) -> np.ndarray:
        return self.clicks / np.maximum(self.plays, 1)

    @classmethod
    def build(cls, market: MarketTables, groups: Groups) -> MatchStats:
        g = groups
        n_k, n_c, n_i = len(g.creators), len(g.categories), len(g.items)
        ck, ci = carried_pairs(market.content, g.creators, g.items)
        p = market.products
        pi = g.items.lookup(p["product_id"].to_numpy(zero_copy_only=False))
        price = np.full(n_i, np.nan)
        price[pi] = pc.cast(p["price"], pa.float64()).to_numpy(zero_copy_only=False)
        commission = np.zeros(n_i)
        commission[pi] = pc.fill_null(p["commission_rate"], 0.0).to_numpy(zero_copy_only=False)
        listed = np.zeros(n_i, bool)
        listed[pi] = (strings(p, "status") == "listed") & (pc.fill_null(p["stock"], 0).to_numpy() > 0)
        score = np.full(len(g.shops), np.nan)
        s = market.shops
        score[g.shops.lookup(s["shop_id"].to_numpy(zero_copy_only=False))] = pc.fill_null(
            pc.cast(s["experience_score"], pa.float64()), np.nan
        ).to_numpy(zero_copy_only=False)
        score = np.where(np.isnan(score), np.nanmedian(score) if np.isfinite(score).any() else 4.5, score)
        shop_score = np.where(g.item_shop >= 0, score[np.maximum(g.item_shop, 0)], np.nanmedian(score))
        cat = g.item_category
        share = np.zeros((n_k, n_c))
        ok = cat[ci] >= 0 if len(ci) else np.zeros(0, bool)
        np.add.at(share, (ck[ok], cat[ci][ok]), 1.0)
        share /= np.maximum(share.sum(axis=1, keepdims=True), 1)
        logp = np.log(np.maximum(price[ci], 1) / 100) if len(ci) else np.zeros(0)
        sums = np.bincount(ck, weights=np.nan_to_num(logp), minlength=n_k)
        cnt = np.bincount(ck, minlength=n_k)
        log_price = np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)

        e = market.events
        kind = strings(e, "event_type")
        ts = pc.cast(e["ts"], pa.int64()).to_numpy() if e.num_rows else np.zeros(0, np.int64)
        recent = ts >= g.now_ms - g.window_days * DAY_MS
        ek = g.creators.lookup_arrow(e["creator_id"])
        ei = g.items.lookup_arrow(e["product_id"])
        amount = pc.fill_null(e["amount"], 0).to_numpy(zero_copy_only=False).astype(float)

        def per_creator(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
            m = mask & recent & (ek >= 0)
            return np.bincount(ek[m], weights=None if weights is None else weights[m], minlength=n_k).astype(
                float
            )

        plays = per_creator(np.isin(kind, ["video_play", "live_enter"]))
        clicks = per_creator(kind == "click")
        pay = kind == "pay"
        gmv = per_creator(pay, amount)
        orders = per_creator(pay)
        refunded = per_creator(kind == "refund", amount)
        refund_orders = per_creator(kind == "refund")
        by_cat = np.zeros((n_k, n_c))
        m = pay & recent & (ek >= 0) & (ei >= 0)
        ok = cat[ei[m]] >= 0
        np.add.at(by_cat, (ek[m][ok], cat[ei[m]][ok]), amount[m][ok])
        imp = (kind == "impression") & (ei >= 0)
        item_impressions = np.bincount(ei[imp], minlength=n_i).astype(float)
        kept = kept_pays(e) & (ei >= 0)
        item_paid = np.bincount(ei[kept], weights=amount[kept], minlength=n_i)
        engaged = np.isin(kind, ["click", "add_to_cart", "pay"]) & (ei >= 0)
        ec = np.where(engaged, cat[np.maximum(ei, 0)], -1)
        week = ts >= g.now_ms - 7 * DAY_MS
        before = (ts >= g.now_ms - 28 * DAY_MS) & ~week
        category_recent = np.bincount(ec[week & (ec >= 0)], minlength=n_c).astype(float)
        category_before = np.bincount(ec[before & (ec >= 0)], minlength=n_c).astype(float)
        declared = np.zeros(n_k)
        cr = market.creators
        declared[g.creators.lookup(cr["creator_id"].to_numpy(zero_copy_only=False))] = pc.fill_null(
            cr["follower_count"], 0
        ).to_numpy(zero_copy_only=False)
        counted = np.diff(g.follows.indptr).astype(float)
        followers = np.where(declared > 0, declared, counted)
        is_creator = np.ones(n_k, bool)
        kinds = strings(cr, "kind")
        is_creator[g.creators.lookup(cr["creator_id"].to_numpy(zero_copy_only=False))] = (
            kinds == "creator"
        ) | (kinds == "")
        return cls(
            followers,
            is_creator,
            share,
            log_price,
            plays,
            clicks,
            gmv,
            refunded,
            orders,
            refund_orders,
            by_cat,
            price,
            commission,
            listed,
            shop_score,
            item_impressions,
            item_paid,
            category_recent,
            category_before,
        )
