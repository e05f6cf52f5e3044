"""Property tests: malformed rows thrown at every reader always get a named error and change nothing."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from conftest import SAMPLE
from helpers import records, snapshot, write_rows
from xingqu.domain.records import KINDS, MAX_ID_LENGTH, FieldSpec, FieldType, TimeWindow
from xingqu.errors import UserError, ValidationFailed
from xingqu.ingest import import_path, validate
from xingqu.ingest.readers import records_batch
from xingqu.ingest.validate import ID_REASONS, id_verdicts, validate_batch
from xingqu.store import Store

FORMATS = [".csv", ".jsonl", ".parquet"]
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Per (kind, field) case: many cases, so fewer examples each.
PER_FIELD = settings(PROPS, max_examples=20)

#: A valid row per kind, referencing the bundled sample's catalog.
VALID: dict[str, dict[str, Any]] = {
    "brands": {"brand_id": "b-new", "name": "新牌", "tier": "emerging"},
    "shops": {
        "shop_id": "s-new",
        "name": "新店",
        "shop_type": "ordinary",
        "brand_ids": ["b-yunshan"],
        "experience_score": 4.5,
        "status": "active",
        "created_at": "2026-01-01T00:00:00Z",
    },
    "creators": {
        "creator_id": "c-new",
        "name": "新达人",
        "kind": "creator",
        "follower_count": 10,
        "main_categories": ["food_snacks"],
        "content_mode": "live",
    },
    "users": {
        "user_id": "u-new",
        "gender": "F",
        "age_band": "24-30",
        "city_tier": "T2",
        "crowd": "gen_z",
        "consumption_level": "mid",
        "is_parent": True,
        "registered_at": "2026-01-01T08:00:00+08:00",
    },
    "products": {
        "product_id": "p-new",
        "shop_id": "s-yunshan",
        "brand_id": "b-yunshan",
        "category": "beauty_skincare>skincare",
        "title": "新品精华",
        "price": 9900,
        "reference_price": 12900,
        "style_tags": ["natural"],
        "stock": 5,
        "status": "listed",
        "commission_rate": 0.1,
        "created_at": "2026-01-01T00:00:00Z",
    },
    "content": {
        "content_id": "v-new",
        "kind": "video",
        "creator_id": "c-xiaomei",
        "product_ids": ["p-serum"],
        "published_at": "2026-05-01T12:00:00Z",
        "duration_s": 30,
    },
    "relations": {
        "user_id": "u001",
        "kind": "follow",
        "target_id": "c-laozhang",
        "level": 1,
        "since": "2026-05-01T12:00:00Z",
    },
    "events": {
        "event_id": "e-new",
        "event_type": "pay",
        "ts": "2026-05-03T10:00:00Z",
        "user_id": "u001",
        "surface": "live_room",
        "product_id": "p-serum",
        "content_id": "l-yunshan-0505",
        "order_id": "o-new",
        "quantity": 1,
        "amount": 15900,
        "watch_s": 12.5,
    },
}

_store_dir = tempfile.TemporaryDirectory()
_store: Store | None = None


def shared_store() -> Store:
    """One SQLite store with the sample loaded, shared by examples: each must leave it unchanged."""
    global _store
    if _store is None:
        _store = Store(f"sqlite:///{Path(_store_dir.name) / 'prop.db'}")
        import_path(_store, SAMPLE)
    return _store


_files = count()


def _path(kind: str, suffix: str) -> Path:
    return Path(_store_dir.name) / f"{kind}-{next(_files)}{suffix}"


text = st.text(max_size=12)


def bad_values(f: FieldSpec) -> st.SearchStrategy[Any]:
    """Values a field of this type must refuse."""
    t = f.type
    if t is FieldType.ID:
        unknown = st.from_regex(r"zz[a-z0-9]{1,8}", fullmatch=True)
        shaped = st.one_of(
            st.text(min_size=129, max_size=140).filter(lambda s: s.strip() == s and s.strip()),
            st.from_regex(r"[a-z]{1,5}[\x00-\x08\x0b\x0c\x0e-\x1f][a-z]{1,5}", fullmatch=True),
            st.from_regex(r" [a-z]{1,8}", fullmatch=True),
        )
        return st.one_of(unknown, shaped) if f.ref else shaped
    if t in (FieldType.INT, FieldType.MONEY):
        nonnum = text.filter(lambda s: s.strip() and not s.strip().lstrip("+-").split(".")[0].isdigit())
        opts = [nonnum, st.from_regex(r"[0-9]{19,25}", fullmatch=True)]
        if t is FieldType.MONEY:
            opts.append(st.from_regex(r"[0-9]{1,6}\.[0-9]{1,2}", fullmatch=True))
        if f.min is not None or t is FieldType.MONEY:
            opts.append(st.integers(max_value=int(f.min or 0) - 1, min_value=-(10**9)))
        if f.max is not None:
            opts.append(st.integers(min_value=int(f.max) + 1, max_value=10**9))
        opts.append(st.integers(min_value=10**12 + 1, max_value=10**18))  # beyond the domain's maxima
        return st.one_of(*opts)
    if t is FieldType.FLOAT:
        opts = [st.sampled_from(["nan", "inf", "-inf", "1,5", "一点五", "--1"])]
        if f.min is not None:
            opts.append(st.floats(max_value=f.min - 0.01, min_value=-1e6))
        if f.max is not None:
            opts.append(st.floats(min_value=f.max + 0.01, max_value=max(1e6, f.max * 2)))
        opts.append(st.floats(min_value=1.01e12, max_value=1e300))  # beyond the domain's largest number
        return st.one_of(*opts)
    if t is FieldType.BOOL:
        return st.sampled_from(["maybe", "2", "是", "truthy", "nope"])
    if t is FieldType.TIMESTAMP:
        naive = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
            lambda d: d.isoformat()
        )
        return st.one_of(
            naive,
            st.sampled_from(
                [
                    "2026-02-30T00:00:00Z",
                    "yesterday",
                    "2026/05/01 10:00",
                    "1714000000",
                    "2026-05-01T25:00:00Z",
                    "9999-12-31T00:00:00Z",  # outside the plausible window
                    "0001-01-01T00:00:00+00:00",
                    "1999-12-31T23:59:59Z",
                    "2999-01-01T00:00:00+08:00",
                ]
            ),
        )
    if t is FieldType.ENUM:
        assert f.enum is not None
        allowed = {e.value for e in f.enum}
        return text.filter(lambda s: s.strip() != "" and s not in allowed)
    if t is FieldType.TAGS:
        return st.sampled_from(['["a", ""]', "[1, 2]", '["unclosed"', '{"a": 1}'])
    raise AssertionError(t)


def _kind_field_cases() -> list[tuple[str, str]]:
    """Every field that can hold a wrong value: all but free text."""
    return [(k, f.name) for k, spec in KINDS.items() for f in spec.fields if f.type is not FieldType.TEXT]


@pytest.mark.parametrize(("kind", "field"), _kind_field_cases())
@PER_FIELD
@given(data=st.data(), suffix=st.sampled_from(FORMATS), n_before=st.integers(0, 3), n_after=st.integers(0, 3))
def test_a_bad_value_is_named_and_nothing_changes(
    kind: str, field: str, data: st.DataObject, suffix: str, n_before: int, n_after: int
) -> None:
    spec = KINDS[kind]
    f = spec.field(field)
    value = data.draw(bad_values(f), label="bad value")
    if suffix == ".parquet" and isinstance(value, str) and "\x00" in value:
        assume(False)
    store = shared_store()
    key = spec.key[0]
    rows = []
    for i in range(n_before + 1 + n_after):
        row = dict(VALID[kind])
        if kind == "relations":
            row["target_id"] = [
                "c-laozhang",
                "c-xiaomei",
                "c-yunshan",
                "c-qingmu",
                "c-laozhang",
                "c-xiaomei",
                "c-yunshan",
            ][i]
            row["user_id"] = f"u{i + 1:03d}"
        else:
            row[key] = f"{row[key]}-{i}"
        rows.append(row)
    rows[n_before][field] = value
    path = write_rows(_path(kind, suffix), rows, list(spec.columns))
    before = snapshot(store)
    with pytest.raises(ValidationFailed) as info:
        import_path(store, path)
    assert snapshot(store) == before
    err = info.value
    assert err.total >= 1
    hit = [e for e in err.errors if field in (e.field or "").split(" or ")]
    assert hit, f"no error names {field!r}: {[str(e) for e in err.errors]}"
    assert hit[0].row == n_before + 1
    if suffix != ".parquet":
        assert hit[0].line == n_before + (2 if suffix == ".csv" else 1)
    assert str(path) in str(hit[0])


@PROPS
@given(
    suffix=st.sampled_from([".csv", ".jsonl"]),
    junk=st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=4),
)
@example(suffix=".jsonl", junk=[b"\x1c"])  # a control character Python's str.strip takes for blank
@example(suffix=".jsonl", junk=[b"\x0b\x0c"])
def test_garbage_lines_never_crash_and_change_nothing(suffix: str, junk: list[bytes]) -> None:
    store = shared_store()
    path = write_rows(_path("events", suffix), [VALID["events"]], list(KINDS["events"].columns))
    with path.open("ab") as fh:
        for j in junk:
            fh.write(j.replace(b"\n", b" ") + b"\n")
    before = snapshot(store)
    try:
        import_path(store, path)
    except UserError as exc:  # FileError (encoding, structure) or ValidationFailed: both name the file
        assert str(path) in str(exc)
        assert snapshot(store) == before
    else:  # only possible when every junk line was blank
        assert all(not j.replace(b"\n", b" ").strip() for j in junk)
        store.close()
        global _store
        _store = None


ids = st.from_regex(r"[A-Za-z0-9_\-]{1,20}", fullmatch=True)
cn_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30
).filter(lambda s: s.strip() != "")


@PROPS
@given(
    suffix=st.sampled_from(FORMATS),
    title=cn_text,
    price=st.integers(0, 10**12),
    tags=st.lists(st.from_regex(r"[a-z\u4e00-\u9fa5]{1,6}", fullmatch=True), max_size=4),
    stamp=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
    ),
    rate=st.floats(0, 1),
)
def test_valid_products_round_trip_exactly(
    suffix: str, title: str, price: int, tags: list[str], stamp: datetime, rate: float
) -> None:
    assume(not (suffix == ".csv" and title != title.strip("\r\n")))
    store = shared_store()
    pid = f"p-prop-{next(_files)}"
    stamp = stamp.replace(microsecond=stamp.microsecond // 1000 * 1000)
    row = {
        "product_id": pid,
        "shop_id": "s-qingmu",
        "category": "women_apparel",
        "title": title,
        "price": price,
        "style_tags": tags or None,
        "commission_rate": repr(rate),
        "created_at": stamp.isoformat(),
    }
    import_path(store, write_rows(_path("products", suffix), [row], list(row)))
    got = next(r for r in records(store, "products") if r["product_id"] == pid)
    assert got["title"] == title
    assert got["price"] == price
    assert got["style_tags"] == (tags or None)
    assert got["commission_rate"] == rate
    assert got["created_at"] == stamp
    assert json.dumps(got, default=str)


#: What Arrow's ``utf8_trim_whitespace`` trims (Unicode White_Space, U+FEFF not among them).
_SPACES = "".join(map(chr, [*range(9, 14), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B)]))
_SPACES += "\u2028\u2029\u202f\u205f\u3000"
#: Ids near every edge the narrowed checks test: spaces (ASCII and Unicode), control characters, byte-order
#: marks, other characters of 0xEF.., blanks, lengths around the limit, non-ASCII first and last
#: characters.
_id_chars = st.one_of(
    st.sampled_from(
        [" ", "\t", "\n", "\x1c", "\x00", "\x7f", "\ufeff", "\u3000", "\u00a0", "\u2003", "\uffe5"]
    ),
    st.sampled_from(["a", "Z", "0", "-", "_", "~", "!", "商", "品"]),
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
)
_id_values = st.one_of(
    st.none(),
    st.text(alphabet=_id_chars, max_size=8),
    st.builds(
        lambda c, n, tail: c * n + tail,
        st.sampled_from(["a", "商", " "]),
        st.integers(60, 70),
        st.text(_id_chars, max_size=2),
    ),
)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_id_values, max_size=40), start=st.integers(0, 3))
def test_narrowed_id_checks_give_the_kernels_verdicts(values: list[str | None], start: int) -> None:
    text = pa.array(["x"] * start + values, pa.string()).slice(start)  # an offset, as a sliced batch has
    fast_text, fast = id_verdicts(text)
    ref_text, ref = id_verdicts(text, narrowed=False)
    assert fast_text.to_pylist() == ref_text.to_pylist()
    assert [r for _, r in fast] == [r for _, r in ref] == list(ID_REASONS)
    for (a, _), (b, _) in zip(fast, ref, strict=True):
        assert a.tolist() == b.tolist()
    # and the kernels' verdicts are the rules themselves
    for v, length, control, spaces in zip(values, *(m for m, _ in ref), strict=True):
        if v is None or v.strip(_SPACES) == "":
            assert not (length or control or spaces)
            continue
        assert length == (len(v) > MAX_ID_LENGTH)
        assert control == any(c < " " or c in "\x7f\ufeff" for c in v)
        assert spaces == (v != v.strip(_SPACES))


_PLAIN_WINDOW = TimeWindow(
    int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000),
    int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000),
)
_KNOWN = {
    "users": ["u1", "u2", "a b"],
    "products": ["p1", "p2", " p1"],
    "content": ["v1"],
    "creators": ["c1"],
    "shops": ["s1"],
}
#: Values of event fields: plain ones (the row-by-row path may take them) and every kind of doubtful one.
_PLAIN_EVENT_VALUES: dict[str, list[Any]] = {
    "event_id": ["e1", "e2", "e3", "e-4"],
    "event_type": ["click", "impression", "share", "add_to_cart", "follow", "live_enter"],
    "ts": ["2026-05-01T20:15:00+08:00", "2026-05-01T20:15:00.1Z", "2026-05-01T20:15:00.123456-03:30"],
    "user_id": ["u1", "u2", "a b"],
    "product_id": ["p1", "p2"],
    "content_id": ["v1"],
    "creator_id": ["c1"],
    "shop_id": ["s1"],
    "surface": ["feed", "search"],
    "order_id": ["o1"],
}
_ODD_EVENT_VALUES: dict[str, list[Any]] = {
    "event_type": ["video_play", "order", "pay", "refund", "teleport", " click", ""],
    "ts": [
        "2026-05-01T20:15:00Z",
        "2026-05-01T20:15:00.1234567Z",
        "2026-05-01 20:15:00+08:00",
        "2026-05-01T20:15:00",
        "2019-12-31T23:59:59.999+00:00",
        "2030-01-01T00:00:00.001Z",
        "2026-02-30T00:00:00Z",
        "2026-05-01T23:59:60Z",
        " 2026-05-01T20:15:00Z",
        "2026-05-01T24:00:00Z",
        "yesterday",
    ],
    "user_id": ["u3"],
    "product_id": ["p9", " p1", "p\x01"],
    "content_id": ["v9"],
    "creator_id": ["c9"],
    "surface": ["nowhere"],
    "amount": ["100", 100, "1.5"],
}


#: Fields every plain event has: with them every requirement of its type is met.
_ALWAYS = ("event_id", "event_type", "ts", "user_id", "product_id", "content_id", "creator_id")
_PLAIN_EVENT = st.fixed_dictionaries(
    {k: st.sampled_from(_PLAIN_EVENT_VALUES[k]) for k in _ALWAYS},
    optional={k: st.sampled_from(v) for k, v in _PLAIN_EVENT_VALUES.items() if k not in _ALWAYS},
)


#: One doubtful (field, value): any of the listed ones, or any id near an edge of the id checks.
_ODD_EVENT_VALUE = st.one_of(
    st.sampled_from([(k, v) for k, values in _ODD_EVENT_VALUES.items() for v in [None, *values]]),
    st.tuples(st.sampled_from(["event_id", "user_id", "product_id", "order_id"]), _id_values),
)


@st.composite
def _event_items(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Up to 12 plain events, one of them perhaps with a doubtful value or a field left out."""
    items = draw(st.lists(_PLAIN_EVENT, max_size=12))
    if items and draw(st.booleans()):
        item = items[draw(st.integers(0, len(items) - 1))]
        if draw(st.booleans()):
            name, value = draw(_ODD_EVENT_VALUE)
            item[name] = value
        else:
            item.pop(draw(st.sampled_from(sorted(item))))
    return items


def _one_plain_event(**changes: Any) -> list[dict[str, Any]]:
    item = {k: _PLAIN_EVENT_VALUES[k][0] for k in _ALWAYS} | changes
    return [{k: v for k, v in item.items() if v is not ...}]


@settings(max_examples=500, deadline=None)
@given(items=_event_items())
@example(items=_one_plain_event(ts="2030-01-01T00:00:00.001Z"))  # a millisecond after the window
@example(items=_one_plain_event(ts="2019-12-31T23:59:59.999+00:00"))
@example(items=_one_plain_event(product_id=" p1"))  # a known key, but an id with a space before it
@example(items=_one_plain_event(event_id="e1 "))
@example(items=_one_plain_event(event_type="add_to_cart", product_id=...))  # its requirement unmet
def test_a_small_plain_batch_is_taken_as_full_validation_takes_it(items: list[dict[str, Any]]) -> None:
    """Small batches are first checked row by row for plain values; what that accepts, and the errors of
    what it does not, are exactly those of the full columnar validation."""
    spec = KINDS["events"]
    raw = records_batch(spec, items, "request.events")

    def known(kind: str, values: pa.Array | None = None) -> pa.Array:
        return pa.array(_KNOWN[kind], pa.string())

    def check() -> Any:
        return validate_batch(spec, raw.table, "request.events", raw.rows, raw.lines, known, _PLAIN_WINDOW)

    got = check()
    with patch.object(validate, "PLAIN_BATCH_ROWS", -1):
        want = check()
    assert got.records.schema == want.records.schema
    assert got.records.to_pylist() == want.records.to_pylist()
    assert [e.to_dict() for e in got.errors] == [e.to_dict() for e in want.errors]
    assert (got.invalid_rows, got.rejected) == (want.invalid_rows, want.rejected)


def test_a_plain_batch_skips_the_columnar_checks() -> None:
    """The row-by-row path is the one a plain batch takes (so the property above compares two paths)."""
    spec = KINDS["events"]
    items = [
        {
            "event_id": "e1",
            "event_type": "click",
            "ts": "2026-05-01T20:15:00.123456Z",
            "user_id": "u1",
            "product_id": "p1",
        },
        {
            "event_id": "e2",
            "event_type": "follow",
            "ts": "2026-05-01T20:15:00+08:00",
            "user_id": "a b",
            "creator_id": "c1",
            "surface": "feed",
        },
    ]
    raw = records_batch(spec, items, "request.events")
    known = lambda kind, values=None: pa.array(_KNOWN[kind], pa.string())  # noqa: E731
    records = validate._plain_records(spec, raw.table, known, _PLAIN_WINDOW)
    assert records is not None
    assert records.column("ts").cast(pa.int64()).to_pylist() == [1777666500123, 1777637700000]
    assert records.column("user_id").to_pylist() == ["u1", "a b"]
    assert records.column("surface").to_pylist() == [None, "feed"]
    items[1]["creator_id"] = "c9"  # unknown: not plain; the full validation names it
    raw = records_batch(spec, items, "request.events")
    assert validate._plain_records(spec, raw.table, known, _PLAIN_WINDOW) is None


_ids = st.text(alphabet="ab一二", max_size=4)


@given(
    keys=st.lists(_ids, max_size=40, unique=True),
    values=st.lists(st.one_of(st.none(), _ids), max_size=40),
    weak=st.booleans(),
    distinct=st.booleans(),
)
@settings(PROPS, max_examples=200)
def test_key_index_answers_exactly_as_arrow_index_in(
    keys: list[str], values: list[str | None], weak: bool, distinct: bool
) -> None:
    """Positions through the hash-sorted index equal Arrow's own, nulls absent, whether a batch is
    looked up whole or by its distinct values; with a hash of only four values (``weak``) nearly
    every lookup collides, and the answer is still exact."""
    from xingqu.store import keyset

    key_array, value_array = pa.array(keys, pa.string()), pa.array(values, pa.string())
    expected = [v is not None and v in set(keys) for v in values]
    strong = keyset.id_hashes
    hashes = (lambda a: strong(a) % 4) if weak else strong
    with (
        patch.object(keyset, "id_hashes", hashes),
        patch.object(keyset, "DISTINCT_FIRST", 0 if distinct else 10**9),
    ):
        found = keyset.index_in(value_array, key_array, large=0).to_pylist()
        known = keyset.is_known(value_array, key_array, large=0).tolist()
    assert found == pc.index_in(value_array, value_set=key_array).to_pylist()
    assert known == expected == [i is not None for i in found]


def test_a_key_index_is_dropped_with_its_keys() -> None:
    """The index kept for a key array goes when the array does (a server reloading models, or one
    import after another, would otherwise keep every large vocabulary it ever looked up in)."""
    import gc

    from xingqu.store import keyset

    keys = pa.array([f"u{k}" for k in range(50)], pa.string())
    assert keyset.is_known(pa.array(["u3", "x"], pa.string()), keys, large=0).tolist() == [True, False]
    held = id(keys)
    assert held in keyset._built
    del keys
    gc.collect()
    assert held not in keyset._built
