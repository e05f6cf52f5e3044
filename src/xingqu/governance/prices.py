"""Price facts the price rules judge a listing against (``domain.md`` §6.4, §6.5).

- the 7-day rule: a reference price (划线价 / 原价) may not exceed the lowest price the product actually
  sold at in the 7 days before (with no sale in those days: its last sale before them);
- a reference price with no sale of the product behind it is still supported when the brand already
  lists goods in that category (its price line there is on record), else a person checks it;
- the price floor: a price far below what the brand's goods in that category (else the category's goods)
  usually cost is a counterfeit risk. "Usually" is the median and the robust spread (1.4826 × the
  median absolute deviation of log prices) over at least ``min_samples`` listings, so a few odd prices
  cannot move either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xingqu.domain.units import DAY_MS
from xingqu.store import Connection, Store


def _usual(groups: dict[Any, list[int]], min_samples: int) -> dict[Any, tuple[float, float]]:
    out = {}
    for key, prices in groups.items():
        if len(prices) < min_samples:
            continue
        logs = np.log(np.asarray(prices, dtype=np.float64))
        mid = float(np.median(logs))
        out[key] = (float(np.exp(mid)), 1.4826 * float(np.median(np.abs(logs - mid))))
    return out


@dataclass
class PriceFacts:
    """Usual prices per (brand, category) and per category, and recent sale prices per product."""

    brand_usual: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)  # (median, σ_log)
    category_usual: dict[str, tuple[float, float]] = field(default_factory=dict)
    recent_lowest: dict[str, int] = field(default_factory=dict)  # lowest unit price paid in the window
    last_sold: dict[str, int] = field(default_factory=dict)  # last unit price paid before the window
    listed: set[tuple[str, str]] = field(default_factory=set)  # (brand, category) with goods listed

    @classmethod
    def from_catalogue(
        cls, rows: Iterable[tuple[str | None, str | None, int | None]], min_samples: int = 5
    ) -> PriceFacts:
        """Medians from (brand, category, price) rows of listed goods; groups under ``min_samples`` are
        left out of the medians, not of the brands known to list goods in a category."""
        by_brand: dict[tuple[str, str], list[int]] = defaultdict(list)
        by_cat: dict[str, list[int]] = defaultdict(list)
        for brand, category, price in rows:
            if price is None or price <= 0 or not category:
                continue
            by_cat[category].append(price)
            if brand:
                by_brand[(brand, category)].append(price)
        return cls(
            brand_usual=_usual(by_brand, min_samples),
            category_usual=_usual(by_cat, min_samples),
            listed=set(by_brand),
        )

    @classmethod
    def from_store(
        cls,
        store: Store,
        conn: Connection | None = None,
        now_ms: int | None = None,
        window_days: int = 7,
        min_samples: int = 5,
    ) -> PriceFacts:
        """Medians over the listed products, and sale prices from the order rollup up to ``now_ms``
        (default: the latest paid order), as ``conn`` sees them when given (an import sees its own
        rows)."""
        catalogue = store.catalogue.listed_prices(conn)
        if now_ms is None:
            now_ms = store.rollups.latest_payment(conn)
        sales: list[Any] = []
        if now_ms is not None:
            sales = store.rollups.unit_sales_before(now_ms, conn)
        facts = cls.from_catalogue(catalogue, min_samples)
        start = (now_ms or 0) - window_days * DAY_MS
        for product, ts, price in sales:
            price = int(price)
            if ts >= start:
                facts.recent_lowest[product] = min(price, facts.recent_lowest.get(product, price))
            else:
                facts.last_sold[product] = price  # in time order: the last one stays
        return facts

    def usual(self, brand: str | None, category: str | None) -> tuple[float, float] | None:
        """(median price, robust σ of log price) of the brand in the category, else of the category."""
        if not category:
            return None
        if brand and (brand, category) in self.brand_usual:
            return self.brand_usual[(brand, category)]
        return self.category_usual.get(category)

    def lists(self, brand: str | None, category: str | None) -> bool:
        """Whether the brand has goods listed in the category (its price line there is on record)."""
        return bool(brand and category) and (str(brand), str(category)) in self.listed

    def reference_basis(self, product_id: str) -> int | None:
        """The price a reference price may not exceed: lowest in the window, else the last sale."""
        return self.recent_lowest.get(product_id, self.last_sold.get(product_id))
