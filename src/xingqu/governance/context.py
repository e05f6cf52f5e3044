"""What screening a stream of listings needs besides the rules: the shops' authorised brands, the
registered brand names, the listings already there (for duplicates), and price facts; built once from
the store, then each screened listing joins the duplicate index so that later listings of the same
stream are compared with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xingqu.governance.brands import BrandNames
from xingqu.governance.duplicates import DuplicateIndex
from xingqu.governance.prices import PriceFacts
from xingqu.governance.screening import Decision, Screener
from xingqu.store import Connection, Store


@dataclass
class ScreeningContext:
    """One screening session's facts; ``authorised`` is None when nothing is known about shops, ``brands``
    None when no brand names are known besides the rules' well-known ones."""

    screener: Screener
    duplicates: DuplicateIndex
    authorised: dict[str, list[str]] | None = None
    prices: PriceFacts | None = None
    brands: BrandNames | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"approve": 0, "review": 0, "reject": 0})

    @classmethod
    def empty(cls, screener: Screener) -> ScreeningContext:
        """No store: term, category, vague-title, in-stream duplicate and listing-given price rules."""
        return cls(screener, screener.duplicate_index())

    @classmethod
    def from_store(cls, store: Store, screener: Screener) -> ScreeningContext:
        """From the store's shops, products and sales (an empty context when it has no schema)."""
        if store.schema_version() is None:
            return cls.empty(screener)
        with store.reading() as conn:
            return cls.from_conn(store, conn, screener)

    @classmethod
    def from_conn(cls, store: Store, conn: Connection, screener: Screener) -> ScreeningContext:
        """``from_store`` inside an open transaction (an import sees the shops it has just written)."""
        names = store.catalogue.brand_names(conn)
        brands = store.catalogue.shop_brands(conn)
        return cls(
            screener,
            DuplicateIndex.of(
                store.catalogue.listings(conn),
                screener.duplicate_threshold,
                screener.duplicate_max_changes,
                screener.duplicate_max_changed_chars,
                screener.duplicate_min_kept_share,
                screener.duplicate_min_head_chars,
            ),
            brands,
            PriceFacts.from_store(
                store, conn, window_days=screener.price_window_days, min_samples=screener.floor_min_samples
            ),
            screener.brands.with_brands((brand, name) for brand, name in names if name),
        )

    def screen(self, listing: dict[str, Any]) -> Decision:
        """Decide a listing, then index it for the listings after it."""
        shop = listing.get("shop") or listing.get("shop_id")
        allowed = (
            self.authorised.get(shop) if self.authorised is not None and shop in self.authorised else None
        )
        decision = self.screener.screen(listing, allowed, self.duplicates, self.prices, self.brands)
        if shop:
            self.duplicates.add(
                decision.id,
                str(shop),
                str(listing.get("title") or ""),
                listing.get("brand") or listing.get("brand_id"),
                listing.get("category"),
            )
        self.counts[decision.decision] += 1
        return decision
