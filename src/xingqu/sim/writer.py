"""World and events → files in xingqu's import formats (canonical Parquet), plus the truth folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xingqu.domain.arrow import TIMESTAMP_TYPE, arrow_schema
from xingqu.sim import text
from xingqu.sim.behaviour import DAY_MS, EVENT_TYPES, REFUND_REASONS, SURFACES, Events
from xingqu.sim.intent import LIFE_EVENTS, Intent
from xingqu.sim.world import (
    AGE_BANDS,
    BRAND_TIERS,
    CITIES,
    CROWDS,
    LEVELS,
    MISCONDUCT,
    SHOP_TYPES,
    TIERS,
    World,
)

PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True}


def _ids(prefix: str, n: int) -> pa.Array:
    width = max(len(str(max(n - 1, 0))), 1)
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(n)], type=pa.string())


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """values[idx], null where idx < 0."""
    mask = idx < 0
    return values.take(pa.array(np.where(mask, 0, idx), mask=mask if mask.any() else None))


class Ids:
    """External ids of every entity of a world: u…, p…, c…, s…, b…, v… (video) and l… (live)."""

    def __init__(self, w: World) -> None:
        self.users = _ids("u", w.n_users)
        self.products = _ids("p", w.n_products)
        self.creators = _ids("c", len(w.k_kind))
        self.shops = _ids("s", len(w.s_type))
        self.brands = _ids("b", len(w.b_name))
        width = max(len(str(max(len(w.v_creator) - 1, 0))), 1)
        self.content = pa.array(
            [f"{'l' if live else 'v'}{i:0{width}d}" for i, live in enumerate(w.v_live)], type=pa.string()
        )


def _table(kind: str, cols: dict[str, object], n: int) -> pa.Table:
    schema = arrow_schema(kind)
    arrays = []
    for f in schema:
        v = cols.get(f.name)
        if v is None:
            arrays.append(pa.nulls(n, f.type))
        elif isinstance(v, pa.Array | pa.ChunkedArray):
            arrays.append(v.cast(f.type))
        else:
            arrays.append(pa.array(v, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _ms(day: np.ndarray, start_ms: int) -> pa.Array:
    return pa.array(start_ms + np.asarray(day, dtype=np.int64) * DAY_MS, type=pa.int64()).cast(TIMESTAMP_TYPE)


def write_catalog(w: World, ids: Ids, out: Path) -> dict[str, int]:
    """brands, shops, creators, users, products, content and relations as Parquet files."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for kind, table in catalog_tables(w, ids).items():
        pq.write_table(table, out / f"{kind}.parquet", **PARQUET_OPTIONS)
        counts[kind] = table.num_rows
    return counts


def catalog_tables(w: World, ids: Ids) -> dict[str, pa.Table]:
    """The world's catalog and relations as canonical tables, in import order."""
    tables: dict[str, pa.Table] = {}
    N, P, K, S, B, V = w.n_users, w.n_products, len(w.k_kind), len(w.s_type), len(w.b_name), len(w.v_creator)
    cats = w.cat_names
    tables["brands"] = _table(
        "brands",
        {
            "brand_id": ids.brands,
            "name": w.b_name,
            "tier": [BRAND_TIERS[t] for t in w.b_tier],
            "owner": [f"{n}有限公司" for n in w.b_name],
        },
        B,
    )
    tables["shops"] = _table(
        "shops",
        {
            "shop_id": ids.shops,
            "name": w.s_name,
            "shop_type": [SHOP_TYPES[t] for t in w.s_type],
            "brand_ids": [[ids.brands[b].as_py() for b in bs] for bs in w.s_brands],
            "official_account_id": _take(ids.creators, w.s_official),
            "experience_score": w.s_score,
            "status": ["active"] * S,
            "created_at": _ms(-(np.arange(S) % 700) - 30, w.start_ms),  # before the start
        },
        S,
    )
    tables["creators"] = _table(
        "creators",
        {
            "creator_id": ids.creators,
            "name": w.k_name,
            "kind": ["shop_official" if k == 1 else "creator" for k in w.k_kind],
            "shop_id": _take(ids.shops, w.k_shop),
            "follower_count": w.k_followers,
            "main_categories": [[cats[c] for c in cs] for cs in w.k_categories],
            "content_mode": [["live", "short_video", "both"][m] for m in w.k_mode],
            "created_at": _ms(-(np.arange(K) % 500) - 10, w.start_ms),  # before the start
        },
        K,
    )
    tables["users"] = _table(
        "users",
        {
            "user_id": ids.users,
            "gender": np.array(["F", "M"])[w.u_gender],
            "age_band": np.array(AGE_BANDS)[w.u_age],
            "province": np.array([c[0] for c in CITIES])[w.u_city],
            "city": np.array([c[1] for c in CITIES])[w.u_city],
            "city_tier": np.array(TIERS)[w.u_tier],
            "crowd": np.array(CROWDS)[w.u_crowd],
            "consumption_level": np.array(LEVELS)[w.u_level],
            "is_parent": w.u_parent,
            "registered_at": _ms(w.u_registered_day, w.start_ms),
        },
        N,
    )
    leaves = [w.cat_leaves[c][lf] for c, lf in zip(w.p_category, w.p_leaf, strict=True)]
    leaf = [f"{cats[c]}>{lf.key}" for c, lf in zip(w.p_category, leaves, strict=True)]
    tables["products"] = _table(
        "products",
        {
            "product_id": ids.products,
            "shop_id": _take(ids.shops, w.p_shop),
            "brand_id": _take(ids.brands, w.p_brand),
            "category": leaf,
            "title": w.p_title,
            "description": w.p_description,
            "price": w.p_price,
            "reference_price": pa.array(w.p_reference, mask=w.p_reference < 0),
            "style_tags": [
                sorted({lf.style(s)[1] for s in row})
                for lf, row in zip(leaves, w.p_styles.tolist(), strict=True)
            ],
            "function_tags": [
                sorted({lf.need(f)[1] for f in row})
                for lf, row in zip(leaves, w.p_functions.tolist(), strict=True)
            ],
            "stock": w.p_stock,
            "status": ["listed"] * P,
            "commission_rate": w.p_commission,
            "qualifications": [
                [
                    q
                    for scope, q in text.QUALIFICATIONS.items()
                    if path == scope or path.startswith(scope + ">")
                ]
                or None
                for path in leaf
            ],
            "created_at": _ms(w.p_created_day, w.start_ms),
        },
        P,
    )
    tables["content"] = _table(
        "content",
        {
            "content_id": ids.content,
            "kind": np.where(w.v_live, "live", "video"),
            "creator_id": _take(ids.creators, w.v_creator),
            "title": [
                f"{w.k_name[k]}的{'直播' if live else '好物分享'}"
                for k, live in zip(w.v_creator, w.v_live, strict=True)
            ],
            "category": [cats[w.k_categories[k][0]] for k in w.v_creator],
            "product_ids": [[ids.products[p].as_py() for p in items] for items in w.v_products],
            "published_at": pa.array(w.v_published_ms, type=pa.int64()).cast(TIMESTAMP_TYPE),
            "ended_at": pa.array(w.v_published_ms + w.v_duration_s * 1000, mask=~w.v_live).cast(
                TIMESTAMP_TYPE
            ),
            "duration_s": w.v_duration_s,
        },
        V,
    )
    rel_kind = (
        (["follow"] * len(w.follows))
        + (["fan_group"] * len(w.fan_groups))
        + (["membership"] * len(w.memberships))
    )
    rel_user = np.concatenate([w.follows[:, 0], w.fan_groups[:, 0], w.memberships[:, 0]]).astype(np.int64)
    rel_target = pa.concat_arrays(
        [
            _take(ids.creators, w.follows[:, 1].astype(np.int64)),
            _take(ids.creators, w.fan_groups[:, 1].astype(np.int64)),
            _take(ids.shops, w.memberships[:, 1].astype(np.int64)),
        ]
    )
    n_rel = len(rel_kind)
    tables["relations"] = _table(
        "relations",
        {
            "user_id": _take(ids.users, rel_user),
            "kind": rel_kind,
            "target_id": rel_target,
            "level": np.where(np.array(rel_kind) == "fan_group", 1 + rel_user % 5, 0) if n_rel else [],
            "since": _ms(np.full(n_rel, -30), w.start_ms),
        },
        n_rel,
    )
    return tables


_EVENT_NAMES = pa.array(EVENT_TYPES)
_SURFACES = pa.array(SURFACES)
_REASONS = pa.array(REFUND_REASONS)


def events_table(ev: Events, ids: Ids, day: int, first_seq: int = 0) -> pa.Table:
    """Events of one day as a canonical events table, sorted by time, with ids ``e<day>-<seq>``."""
    order = np.lexsort((ev.product, ev.user, ev.etype, ev.ts))
    ev = ev.take(order)
    n = len(ev)
    seq = pa.array(np.arange(first_seq, first_seq + n), type=pa.int64()).cast(pa.string())
    event_id = pc.binary_join_element_wise(f"e{day:03d}-", seq, "")
    order_id = pc.binary_join_element_wise("o", pa.array(ev.order, mask=ev.order < 0).cast(pa.string()), "")
    cols = {
        "event_id": event_id,
        "event_type": _take(_EVENT_NAMES, ev.etype.astype(np.int64)),
        "ts": pa.array(ev.ts, type=pa.int64()).cast(TIMESTAMP_TYPE),
        "user_id": _take(ids.users, ev.user),
        "surface": _take(_SURFACES, ev.surface.astype(np.int64)),
        "product_id": _take(ids.products, ev.product),
        "content_id": _take(ids.content, ev.content),
        "creator_id": _take(ids.creators, ev.creator),
        "order_id": order_id,
        "quantity": pa.array(ev.quantity, mask=ev.quantity < 0),
        "amount": pa.array(ev.amount, mask=ev.amount < 0),
        "position": pa.array(ev.position, mask=ev.position < 0),
        "watch_s": pa.array(ev.watch_s, mask=np.isnan(ev.watch_s)),
        "refund_reason": _take(_REASONS, ev.reason.astype(np.int64)),
        "rating": pa.array(ev.rating.astype(np.int64), mask=ev.rating < 0),
    }
    schema = arrow_schema("events")
    arrays = [cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_truth(w: World, ids: Ids, out: Path, summary: dict[str, object]) -> None:
    """The latent side of the world: tastes, budgets, violations. Nothing in xingqu trains on it."""
    out.mkdir(parents=True, exist_ok=True)
    C = w.n_categories
    cat_needs = [text.category(c).needs for c in w.cat_names]

    def lists(a: np.ndarray) -> pa.Array:
        return pa.FixedSizeListArray.from_arrays(pa.array(a.astype(np.float32).ravel()), a.shape[1])

    users = pa.table(
        {
            "user_id": ids.users,
            "interest": lists(w.u_interest),
            "budget_log_mu": lists(w.u_budget_mu),
            "budget_log_sd": pa.array(w.u_budget_sd),
            "style": lists(w.u_style),
            "brand_ids": pa.array(
                [[ids.brands[b].as_py() for b in row if b >= 0] for row in w.u_brands.tolist()]
            ),
            "function_needs": pa.array(
                [
                    [needs[f % len(needs)][1] for needs, f in zip(cat_needs, row, strict=True)]
                    for row in w.u_function.tolist()
                ]
            ),
            "trend_sensitivity": pa.array(w.u_trend),
            "activity": pa.array(w.u_activity),
            "shopper": pa.array(w.u_shopper),
        }
    )
    pq.write_table(users, out / "users.parquet", **PARQUET_OPTIONS)
    products = pa.table(
        {
            "product_id": ids.products,
            "category": pa.array([w.cat_names[c] for c in w.p_category]),
            "quality": pa.array(w.p_quality),
            "counterfeit": pa.array(w.p_counterfeit),
            "violation": pa.array([v or None for v in w.p_violation], type=pa.string()),
            "violation_term": pa.array([t or None for t in w.p_violation_term], type=pa.string()),
            "reference_price_fraud": pa.array(w.p_reference >= 0),
            "trend_peak_day": pa.array(w.p_trend_peak),
            "trend_width_days": pa.array(w.p_trend_width),
            "listed_day": pa.array(w.p_created_day),
        }
    )
    pq.write_table(products, out / "products.parquet", **PARQUET_OPTIONS)
    shops = pa.table(
        {
            "shop_id": ids.shops,
            "misconduct": pa.array([MISCONDUCT[m] or None for m in w.s_misconduct], type=pa.string()),
            "incident_start_day": pa.array(np.where(w.s_misconduct > 0, w.s_incident_day, -1)),
            "incident_days": pa.array(np.full(len(w.s_misconduct), w.cfg.incident_days)),
            "expected_paid_orders_per_day": pa.array(np.round(w.s_expected_orders, 3)),
            "detection_chance_at_planting": pa.array(np.where(w.s_misconduct > 0, w.s_detection, np.nan)),
            "brushing_accounts": pa.array(
                [
                    [ids.users[u].as_py() for u in w.s_ring[i].tolist()] if i in w.s_ring else None
                    for i in range(len(w.s_misconduct))
                ],
                type=pa.list_(pa.string()),
            ),
        }
    )
    pq.write_table(shops, out / "shops.parquet", **PARQUET_OPTIONS)
    creators = pa.table(
        {
            "creator_id": ids.creators,
            "fan_category": pa.array([w.cat_names[c] for c in w.k_fan_category]),
            "drifted": pa.array(w.k_drifted),
            "categories": pa.array([[w.cat_names[c] for c in cs] for cs in w.k_categories]),
        }
    )
    pq.write_table(creators, out / "creators.parquet", **PARQUET_OPTIONS)
    doc = {"categories": w.cat_names, "category_count": C, "config": w.cfg.model_dump(mode="json"), **summary}
    (out / "summary.json").write_text(
        json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


def write_motion_truth(
    w: World,
    intent: Intent,
    ids: Ids,
    out: Path,
    visits: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> dict[str, object]:
    """The moving side of tastes: life events (who, which, from which day), every visit's intent (a
    category, or none for browsing), and what the summary says of them (half-lives, seasons by day)."""
    out.mkdir(parents=True, exist_ok=True)
    has = np.flatnonzero(intent.u_life_kind >= 0)
    life = pa.table(
        {
            "user_id": ids.users.take(pa.array(has)),
            "life_event": pa.array([LIFE_EVENTS[k].name for k in intent.u_life_kind[has]], pa.string()),
            "from_day": pa.array(intent.u_life_day[has]),
            "categories": pa.array([list(LIFE_EVENTS[k].categories) for k in intent.u_life_kind[has]]),
        }
    )
    pq.write_table(life, out / "life_events.parquet", **PARQUET_OPTIONS)
    users = np.concatenate([v[0] for v in visits]) if visits else np.zeros(0, np.int64)
    cats = np.concatenate([v[1] for v in visits]) if visits else np.zeros(0, np.int64)
    start = np.concatenate([v[2] for v in visits]) if visits else np.zeros(0, np.int64)
    names = pa.array([*w.cat_names, None], pa.string())
    table = pa.table(
        {
            "user_id": ids.users.take(pa.array(users)),
            "start": pa.array(start, pa.int64()).cast(TIMESTAMP_TYPE),
            "intent": names.take(pa.array(np.where(cats >= 0, cats, len(w.cat_names)))),
        }
    )
    pq.write_table(table, out / "visits.parquet", **PARQUET_OPTIONS)
    return {
        "intent_half_life_hours": {c.name: c.intent_half_life_h for c in w.cfg.categories},
        "seasons_by_day": [intent.seasons_on(d) for d in range(w.cfg.days)],
        "life_events": {e.name: int((intent.u_life_kind == k).sum()) for k, e in enumerate(LIFE_EVENTS)},
        "visits": len(users),
        "visits_with_intent": int((cats >= 0).sum()),
    }
