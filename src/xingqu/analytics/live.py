"""Per live session (单场直播): GMV in the session and within 7 days after it, viewers, watch time,
conversion (buyers ÷ viewers) and GPM (GMV ÷ room entries × 1000), from the session's own orders and
the ``live_viewers`` rollup."""

from __future__ import annotations

import numpy as np

from xingqu.analytics.orders import OrderFacts
from xingqu.store import Store

AFTER_MS = 7 * 86_400_000


def live_sessions(store: Store, orders: OrderFacts, shop_id: str | None = None) -> list[dict[str, object]]:
    """One row per live session, best-selling first."""
    sessions = store.catalogue.live_sessions(shop_id)
    seen = store.rollups.live_viewers([row[0] for row in sessions])
    paid = orders.paid > 0
    by_session: dict[str, np.ndarray] = {}
    idx = np.flatnonzero(paid)
    for i, cid in zip(idx, orders.content_id[idx], strict=True):
        if cid is not None:
            by_session.setdefault(cid, []).append(i)  # type: ignore[arg-type]
    rows = []
    for cid, creator, title, start, end, duration, kind in sessions:
        end = end if end is not None else start + (duration or 0) * 1000
        ids = np.array(by_session.get(cid, []), dtype=np.int64)
        ts = orders.paid_ts[ids]
        during = ids[(ts >= start) & (ts <= end)]
        after = ids[(ts >= start) & (ts <= end + AFTER_MS)]
        entries, viewers, watch = seen.get(cid, (0, 0, 0.0))
        buyers = len(set(orders.user_id[after].tolist()))
        gmv = int(orders.paid[during].sum())
        rows.append(
            {
                "session": cid,
                "creator": creator,
                "self_broadcast": kind in ("shop_official", "shop_channel"),
                "title": title,
                "start_ms": start,
                "gmv_in_session": gmv,
                "gmv_7d": int(orders.paid[after].sum()),
                "orders": len(after),
                "entries": entries,
                "viewers": viewers,
                "watch_s": round(watch, 1),
                "avg_watch_s": watch / entries if entries else 0.0,
                "conversion": buyers / viewers if viewers else 0.0,
                "gpm": gmv / 100 / entries * 1000 if entries else None,
            }
        )
    rows.sort(key=lambda r: (-int(r["gmv_7d"]), str(r["session"])))
    return rows
