"""Merchant and operator analytics over the store's rollups (``xingqu.store.rollups``)."""

from xingqu.analytics.gmv import GmvSummary, gmv_by_period, gmv_report, gmv_summary
from xingqu.analytics.orders import OrderFacts, load_orders

__all__ = ["GmvSummary", "OrderFacts", "gmv_by_period", "gmv_report", "gmv_summary", "load_orders"]
