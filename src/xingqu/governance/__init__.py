"""Governance: listing screening before go-live (more — review, takedown, store monitoring — builds on it)."""

from xingqu.governance import review
from xingqu.governance.screening import Decision, Reason, Screener

__all__ = ["Decision", "Reason", "Screener", "review"]
