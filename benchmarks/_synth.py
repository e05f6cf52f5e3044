"""Synthetic catalog and event files for benchmarks (not the simulator: uniform, fast, streamed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from xingqu.domain.arrow import arrow_schema

EVENT_TYPES = np.array(["impression", "click", "add_to_cart", "video_play", "live_enter", "order", "pay"])
EVENT_P = np.array([0.70, 0.12, 0.04, 0.07, 0.04, 0.015, 0.015])


def write_catalog(folder: Path, users: int, products: int, creators: int = 100, shops: int = 50) -> None:
    """Shops, creators, users and products named s0…, c0…, u0…, p0… as Parquet files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)

    def write(kind: str, cols: dict[str, object]) -> None:
        schema = arrow_schema(kind)
        n = len(next(iter(cols.values())))  # type: ignore[arg-type]
        arrays = [
            pa.array(cols[f.name], type=f.type) if f.name in cols else pa.nulls(n, f.type) for f in schema
        ]
        pq.write_table(pa.Table.from_arrays(arrays, schema=schema), folder / f"{kind}.parquet")

    write(
        "shops",
        {
            "shop_id": [f"s{i}" for i in range(shops)],
            "name": [f"店铺{i}" for i in range(shops)],
            "shop_type": ["ordinary"] * shops,
            "status": ["active"] * shops,
        },
    )
    write(
        "creators",
        {
            "creator_id": [f"c{i}" for i in range(creators)],
            "name": [f"达人{i}" for i in range(creators)],
            "kind": ["creator"] * creators,
            "follower_count": [1000] * creators,
        },
    )
    write(
        "users",
        {"user_id": [f"u{i}" for i in range(users)], "gender": rng.choice(["F", "M"], users).tolist()},
    )
    write(
        "products",
        {
            "product_id": [f"p{i}" for i in range(products)],
            "shop_id": [f"s{i % shops}" for i in range(products)],
            "category": ["food_snacks>snacks>nuts"] * products,
            "title": [f"商品{i}" for i in range(products)],
            "price": rng.integers(990, 99900, products).tolist(),
            "stock": [100] * products,
            "status": ["listed"] * products,
        },
    )


def write_events(
    path: Path, n: int, users: int, products: int, creators: int = 100, batch: int = 200_000, seed: int = 2
) -> None:
    """``n`` events in one Parquet file, written batch by batch (bounded memory)."""
    rng = np.random.default_rng(seed)
    schema = arrow_schema("events")
    t0 = 1_777_593_600_000  # 2026-05-01T00:00:00Z
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for start in range(0, n, batch):
            m = min(batch, n - start)
            types = rng.choice(EVENT_TYPES, m, p=EVENT_P)
            is_content = np.isin(types, ["video_play", "live_enter"])
            is_order = np.isin(types, ["order", "pay"])
            ids = np.arange(start, start + m)
            cols = {
                "event_id": pa.array(np.char.add("e", ids.astype(str))),
                "event_type": pa.array(types),
                "ts": pa.array(
                    t0 + np.sort(rng.integers(0, 30 * 86_400_000, m)), type=pa.timestamp("ms", "UTC")
                ),
                "user_id": pa.array(np.char.add("u", rng.integers(0, users, m).astype(str))),
                "surface": pa.array(rng.choice(["feed", "live_room", "video", "mall"], m)),
                "product_id": pa.array(
                    np.char.add("p", rng.integers(0, products, m).astype(str)), mask=is_content
                ),
                "creator_id": pa.array(
                    np.char.add("c", rng.integers(0, creators, m).astype(str)), mask=~is_content
                ),
                "order_id": pa.array(np.char.add("o", ids.astype(str)), mask=~is_order),
                "quantity": pa.array(np.ones(m, dtype=np.int64), mask=~is_order),
                "amount": pa.array(rng.integers(990, 99900, m), mask=~is_order),
                "position": pa.array(rng.integers(0, 50, m), mask=types != "impression"),
                "watch_s": pa.array(rng.uniform(1, 300, m), mask=~is_content),
            }
            # content ids are required for plays and room entries: use creator-scoped content
            cols["content_id"] = pa.array(
                np.char.add("v", rng.integers(0, creators, m).astype(str)), mask=~is_content
            )
            arrays = [cols.get(f.name, pa.nulls(m, f.type)) for f in schema]
            writer.write_table(
                pa.Table.from_arrays(
                    [a.cast(f.type) for a, f in zip(arrays, schema, strict=True)], schema=schema
                )
            )


def write_content(folder: Path, creators: int = 100) -> None:
    """One video per creator (v0…), referenced by synthetic plays and room entries."""
    schema = arrow_schema("content")
    cols = {
        "content_id": [f"v{i}" for i in range(creators)],
        "kind": ["video"] * creators,
        "creator_id": [f"c{i}" for i in range(creators)],
        "published_at": pa.array([1_777_593_600_000] * creators, type=pa.timestamp("ms", "UTC")),
    }
    arrays = [
        pa.array(cols[f.name], type=f.type) if f.name in cols else pa.nulls(creators, f.type) for f in schema
    ]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), folder / "content.parquet")
