"""Hostile input, everywhere a user can send it: every reader, ``screen``, ``evaluate`` and the CLI's
options. No input ends in exit 3 or a traceback, and a rejected input leaves every table of the store
exactly as it was (row counts and row hashes), on SQLite and PostgreSQL.

Property tests (hypothesis, bounded) throw generated input at the parsers; the corpus below keeps every
case found by hand as an explicit regression test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SAMPLE, pg_schema
from xingqu.cli.app import app, run
from xingqu.domain.records import KINDS, MAX_TEXT_LENGTH
from xingqu.errors import EXIT_INTERNAL, UserError, XingquError
from xingqu.governance.actions import take_down
from xingqu.governance.points import give_points
from xingqu.ingest import import_path
from xingqu.ingest.jsontext import JsonTextError, loads
from xingqu.ingest.listings import ListingError, check_listing, read_listings
from xingqu.store import Store
from xingqu.store.schema import daily_totals_table, metadata

FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)


# -- stores and their fingerprint ----------------------------------------------------------------


def fingerprint(store: Store) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row, in key order, of every table of the store."""
    out = {}
    with store.reading() as conn:
        for table in metadata.sorted_tables:
            key = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(sa.select(table).order_by(*key)).all()
            digest = hashlib.sha256(json.dumps([list(r) for r in rows], default=str).encode()).hexdigest()
            out[table.name] = (len(rows), digest)
    return out


def _fill(store: Store) -> Store:
    store.init()
    import_path(store, SAMPLE)
    give_points(store, "s-qingmu", "counterfeit", reason="fake labels", actor="test")
    take_down(store, "p-cream", reason="batch recalled", actor="test")
    return store


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _fill(Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'store.db'}"))


@pytest.fixture(scope="module")
def pg_store() -> Iterator[Store]:
    with pg_schema("fz") as url:
        store = _fill(Store(url))
        try:
            yield store
        finally:
            store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest) -> Store:
    """The filled store of each backend (shared by a module's tests: each must leave it unchanged)."""
    return request.getfixturevalue("sqlite_store" if request.param == "sqlite" else "pg_store")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: exit code, stdout, stderr. Never an internal error or a traceback."""
    code = run(list(args))
    out, err = capsys.readouterr()
    assert code != EXIT_INTERNAL and "Traceback" not in err and "internal error" not in err, (args, err)
    return code, out, err


def refused(capsys: pytest.CaptureFixture[str], store: Store, *args: str) -> str:
    """Run a command that must be refused (exit 1) and leave the store exactly as it was; its stderr."""
    before = fingerprint(store)
    db = [] if args[0] == "simulate" else ["--db", store.url]  # simulate writes files, never a store
    code, _out, err = cli(capsys, *args, *db)
    assert code == 1, (args, err)
    assert fingerprint(store) == before
    return err


# -- property tests ------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_bounded_json_raises_only_its_own_error(text: str) -> None:
    with contextlib.suppress(JsonTextError):
        loads(text)


@FUZZ
@given(value=json_values)
def test_listing_check_names_the_field_or_accepts(value: Any) -> None:
    listing = {"id": "x", "title": value, "price": value, "qualifications": value}
    try:
        checked = check_listing(listing, "listings.jsonl, line 1")
    except ListingError as exc:
        assert "listings.jsonl, line 1, field '" in str(exc)
    else:
        assert checked["title"] is None or isinstance(checked["title"], str)


_SUFFIXES = (".csv", ".jsonl", ".parquet")


def _hostile_bytes() -> st.SearchStrategy[bytes]:
    header = b"event_id,event_type,ts,user_id,product_id,amount,order_id\n"
    row = st.text(alphabet=st.characters(codec="utf-8"), max_size=60).map(lambda s: s.encode())
    return st.one_of(
        st.binary(max_size=300),
        st.lists(row, max_size=5).map(lambda rows: header + b"\n".join(rows)),
        st.lists(json_values.map(lambda v: json.dumps(v).encode()), max_size=4).map(b"\n".join),
        st.just(b"\xef\xbb\xbf" + header + b"\xef\xbb\xbfe1,click,2026-05-01T00:00:00Z,u001,p-serum,,\n"),
    )


@FUZZ
@given(content=_hostile_bytes(), suffix=st.sampled_from(_SUFFIXES), skip=st.booleans())
def test_any_file_is_imported_or_refused_by_name(
    sqlite_store: Store, tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str, skip: bool
) -> None:
    path = tmp_path_factory.mktemp("in") / f"events{suffix}"
    path.write_bytes(content)
    before = fingerprint(sqlite_store)
    try:
        report = import_path(sqlite_store, path, skip_invalid=skip)
    except XingquError as exc:
        assert exc.exit_code == 1, exc
        assert fingerprint(sqlite_store) == before
    else:
        assert report.written == 0 or skip or report.rejected == 0


@FUZZ
@given(
    field=st.sampled_from([f.name for f in KINDS["products"].fields]),
    value=json_values,
    suffix=st.sampled_from(_SUFFIXES[:2]),
)
def test_any_value_of_any_product_field_is_stored_or_named(
    sqlite_store: Store, tmp_path_factory: pytest.TempPathFactory, field: str, value: Any, suffix: str
) -> None:
    row: dict[str, Any] = {
        "product_id": "p-fuzz",
        "shop_id": "s-yunshan",
        "category": "beauty_skincare",
        "title": "新品",
        "price": 100,
    }
    row[field] = value
    path = tmp_path_factory.mktemp("in") / f"products{suffix}"
    if suffix == ".jsonl":
        path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        cells = ["" if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in row.values()]
        path.write_text(
            ",".join(row) + "\n" + ",".join(json.dumps(c) for c in cells) + "\n", encoding="utf-8"
        )
    before = fingerprint(sqlite_store)
    try:
        report = import_path(sqlite_store, path)  # a valid value updates the one fuzz product
    except XingquError as exc:
        assert exc.exit_code == 1
        assert fingerprint(sqlite_store) == before
    else:
        assert report.written == 1


@FUZZ
@given(content=_hostile_bytes())
def test_screen_reads_any_file_or_names_the_line(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("in") / "listings.jsonl"
    path.write_bytes(content)
    try:
        for _line, listing in read_listings(path):
            assert isinstance(listing, dict)
    except UserError as exc:
        assert str(path) in str(exc)


@FUZZ
@given(content=_hostile_bytes())
def test_evaluate_reads_any_file_or_names_it(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    from xingqu.dataset.interactions import read_interactions

    path = tmp_path_factory.mktemp("in") / "inter.csv"
    path.write_bytes(
        content.replace(b"event_id", b"user").replace(b"event_type", b"item").replace(b",ts,", b",timestamp,")
    )
    try:
        read_interactions(path)
    except UserError as exc:
        assert str(path) in str(exc)


# -- every numeric CLI option is range-checked -----------------------------------------------------


def _numeric_options() -> list[tuple[list[str], str, type, float | None, float | None]]:
    found = []

    def walk(cmd: Any, prefix: list[str]) -> None:
        if hasattr(cmd, "list_commands"):  # a group: its commands as the command line finds them
            for name in cmd.list_commands(None):
                walk(cmd.get_command(None, name), [*prefix, name])
            return
        for p in cmd.params:
            kind = p.type_descriptor.annotation
            if kind in (int, float):
                found.append((prefix, p.opts[0], kind, p.min, p.max))

    walk(typer.main.get_command(app), [])
    return found


NUMERIC_OPTIONS = _numeric_options()
COMMAND = typer.main.get_command(app)


def test_every_numeric_option_has_both_bounds() -> None:
    assert len(NUMERIC_OPTIONS) >= 25
    unbounded = [(" ".join(c), o) for c, o, _k, lo, hi in NUMERIC_OPTIONS if lo is None or hi is None]
    assert unbounded == []


_ARGS = {  # the arguments a command needs to get as far as its options
    ("recommend",): ["u001"],
    ("similar",): ["p-serum"],
    ("portrait",): ["product", "p-serum"],
    ("audience",): ["p-serum"],
    ("creators",): ["p-serum"],
    ("selection",): ["c-xiaomei"],
    ("points", "give"): ["s-qingmu", "counterfeit", "--reason", "x"],
    ("report", "shop"): ["s-yunshan"],
    ("simulate",): ["--out", "never-written"],
}


@pytest.mark.parametrize(("command", "option", "kind", "low", "high"), NUMERIC_OPTIONS, ids=lambda v: str(v))
def test_out_of_range_option_values_are_usage_errors(
    capsys: pytest.CaptureFixture[str],
    sqlite_store: Store,
    command: list[str],
    option: str,
    kind: type,
    low: float,
    high: float,
) -> None:
    hostile = ["abc", "99999999999999999999", "-9223372036854775809"]
    hostile += ["nan", "inf", "-inf", "1e400"] if kind is float else ["1.5"]
    hostile += [str(kind(low) - 1), str(kind(high) + 1)]
    for value in hostile:  # parsing only: the command itself never starts
        db = [] if command[0] in ("simulate", "sim") else ["--db", sqlite_store.url]  # these take no store
        args = [*command, *_ARGS.get(tuple(command), []), option, value, *db]
        with pytest.raises(typer.BadParameter) as refusal:
            COMMAND.main(args=args, prog_name="xingqu", standalone_mode=False)
        assert refusal.value.exit_code == 2, (command, option, value)


# -- the corpus: each case found by hand, kept ------------------------------------------------------


def _events_file(tmp_path: Path, suffix: str, rows: list[dict[str, Any]]) -> Path:
    path = tmp_path / f"events{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif suffix == ".csv":
        cols = list(rows[0])
        lines = [",".join(cols)] + [",".join("" if r[c] is None else str(r[c]) for c in cols) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _click(ts: Any, **kw: Any) -> dict[str, Any]:
    return {
        "event_id": f"z-{uuid.uuid4().hex[:8]}",
        "event_type": "click",
        "ts": ts,
        "user_id": "u001",
        "product_id": "p-serum",
        **kw,
    }


@pytest.mark.parametrize("suffix", _SUFFIXES)
@pytest.mark.parametrize(
    "ts",
    [
        "9999-12-31T00:00:00Z",
        "0001-01-01T00:00:00+00:00",
        "2999-05-01T00:00:00+08:00",
        "1999-12-31T23:59:59Z",
    ],
)
def test_implausible_times_are_refused(
    capsys: pytest.CaptureFixture[str], any_store: Store, tmp_path: Path, suffix: str, ts: str
) -> None:
    err = refused(capsys, any_store, "import", str(_events_file(tmp_path, suffix, [_click(ts)])))
    assert "field 'ts': must lie between 2000-01-01" in err


def test_parquet_timestamps_far_out_are_refused_before_they_overflow(
    capsys: pytest.CaptureFixture[str], any_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "events.parquet"
    ts = pa.array([10**16, 2**62], pa.timestamp("ms", tz="UTC"))  # 10^13 seconds; 2^62 ms
    pq.write_table(
        pa.table(
            {
                "event_id": ["t1", "t2"],
                "event_type": ["click"] * 2,
                "ts": ts,
                "user_id": ["u001"] * 2,
                "product_id": ["p-serum"] * 2,
            }
        ),
        path,
    )
    err = refused(capsys, any_store, "import", str(path))
    assert "row 1, field 'ts': must lie between" in err and "row 2, field 'ts'" in err


@pytest.mark.parametrize("amount", ["999999999999999999", "1000000000001"])
def test_money_beyond_the_domain_maximum_is_refused(
    capsys: pytest.CaptureFixture[str], any_store: Store, tmp_path: Path, amount: str
) -> None:
    row = {
        "event_id": "z-big",
        "event_type": "pay",
        "ts": "2026-05-03T10:00:00Z",
        "user_id": "u001",
        "product_id": "p-serum",
        "order_id": "o-big",
        "amount": amount,
    }
    err = refused(capsys, any_store, "import", str(_events_file(tmp_path, ".csv", [row])))
    assert "line 2, field 'amount': must be at most 1000000000000" in err


def test_a_parquet_uint64_price_of_2_64_minus_1_is_named(
    capsys: pytest.CaptureFixture[str], any_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "products.parquet"
    pq.write_table(
        pa.table(
            {
                "product_id": ["p-u64"],
                "shop_id": ["s-yunshan"],
                "category": ["x"],
                "title": ["t"],
                "price": pa.array([2**64 - 1], pa.uint64()),
            }
        ),
        path,
    )
    assert "row 1, field 'price': must be at most" in refused(capsys, any_store, "import", str(path))


@pytest.mark.parametrize("suffix", _SUFFIXES)
def test_nul_and_control_characters_in_text_are_refused(
    capsys: pytest.CaptureFixture[str], any_store: Store, tmp_path: Path, suffix: str
) -> None:
    row = {"product_id": "p-nul", "shop_id": "s-yunshan", "category": "x", "title": "a\x00b", "price": "100"}
    path = tmp_path / f"products{suffix}"
    if suffix == ".csv":
        path.write_text(
            "product_id,shop_id,category,title,price\np-nul,s-yunshan,x,a\x01b,100\n", encoding="utf-8"
        )
    elif suffix == ".jsonl":
        path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist([row]), path)
    assert "field 'title': text must not contain control characters" in refused(
        capsys, any_store, "import", str(path)
    )


def test_a_long_title_is_refused_alike_in_every_format(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, tmp_path: Path
) -> None:
    row = {
        "product_id": "p-long",
        "shop_id": "s-yunshan",
        "category": "x",
        "title": "长" * (MAX_TEXT_LENGTH + 1),
        "price": "100",
    }
    messages = set()
    for suffix in _SUFFIXES:
        path = tmp_path / f"products{suffix}"
        if suffix == ".csv":
            path.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n", encoding="utf-8")
        elif suffix == ".jsonl":
            path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            pq.write_table(pa.Table.from_pylist([row]), path)
        err = refused(capsys, sqlite_store, "import", str(path))
        messages.add(err.split("field 'title': ")[1].split(" (got")[0])
    assert messages == {f"text is at most {MAX_TEXT_LENGTH:,} characters"}


def test_a_line_past_the_record_limit_is_refused_unparsed(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "products.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        fh.write('{"product_id": "p-huge", "title": "' + "x" * (5 * 1024 * 1024) + '"}\n')
    assert "line 1: line of 5,242,9" in refused(capsys, sqlite_store, "import", str(path))


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize(
    ("line", "reason"),
    [("[" * 100_000, "nested more than"), ('{"price": ' + "9" * 5000 + "}", "5000 digits is too large")],
)
def test_deep_and_huge_json_is_a_row_error(
    capsys: pytest.CaptureFixture[str], any_store: Store, tmp_path: Path, line: str, reason: str, skip: bool
) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    before = fingerprint(any_store)
    code, out, err = cli(
        capsys, "import", str(path), *(["--skip-invalid", "--json"] if skip else []), "--db", any_store.url
    )
    assert fingerprint(any_store) == before
    if skip:
        assert code == 0 and json.loads(out)["rejected"] == 1
        rejects = (tmp_path / "products.jsonl.rejects.jsonl").read_text(encoding="utf-8")
        assert reason in rejects
    else:
        assert code == 1 and "line 1: " in err and reason in err


def test_an_unknown_kind_is_not_found(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, tmp_path: Path
) -> None:
    path = _events_file(tmp_path, ".csv", [_click("2026-05-01T00:00:00Z")])
    assert "unknown kind 'planets'" in refused(capsys, sqlite_store, "import", str(path), "--kind", "planets")


def test_a_bom_inside_a_file_never_becomes_part_of_an_id(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,event_type,ts,user_id,product_id\n\ufeffz-bom,click,2026-05-01T00:00:00Z,u001,p-serum\n",
        encoding="utf-8",
    )
    assert "line 2, field 'event_id': ids must not contain control characters" in refused(
        capsys, sqlite_store, "import", str(path)
    )


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_an_empty_file_is_refused_in_every_text_format(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"events{suffix}"
    path.write_text("\n" if suffix == ".jsonl" else "", encoding="utf-8")
    assert "the file is empty" in refused(capsys, sqlite_store, "import", str(path))


def test_repeated_keys_within_a_file_are_reported_as_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "brands.csv"
    path.write_text("brand_id,name\nb-dup,First\nb-dup,Second\n", encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    report = import_path(store, path)
    assert report.files[0].duplicates == 1 and report.files[0].written == 1
    with store.reading() as conn:  # the last of the file wins, as it always did; now it is counted
        assert conn.exec_driver_sql("SELECT name FROM brands").scalars().all() == ["Second"]


# screen and evaluate


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8" + bytes(range(256)) * 4, "not valid UTF-8 at byte"),
        (b'{"id": "x", "title": "t", "price": NaN}\n', "NaN is not a number JSON allows"),
        (b'{"id": "x", "title": ["a"], "price": 1}\n', "field 'title': expected text"),
        (b'{"id": ["x"], "title": "t"}\n', "field 'id': expected an id"),
        (b'{"id": "x", "qualifications": [1, 2]}\n', "field 'qualifications': expected a list of strings"),
        (b'{"id": "x", "price": 1e999}\n', "out of range"),
        (b"[" * 100_000 + b"\n", "nested more than"),
    ],
)
def test_screen_names_bad_input_and_never_truncates_the_output(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, tmp_path: Path, content: bytes, reason: str
) -> None:
    (tmp_path / "listings.jsonl").write_bytes(content)
    kept = tmp_path / "decisions.jsonl"
    kept.write_text("yesterday's decisions\n", encoding="utf-8")
    before = fingerprint(sqlite_store)
    code, _out, err = cli(
        capsys, "screen", str(tmp_path / "listings.jsonl"), "--out", str(kept), "--db", sqlite_store.url
    )
    assert code == 1 and "listings.jsonl, line 1" in err and reason in err
    assert kept.read_text(encoding="utf-8") == "yesterday's decisions\n"  # the user's file, untouched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    assert fingerprint(sqlite_store) == before


def test_evaluate_names_a_binary_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "inter.csv"
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8)
    code, _out, err = cli(capsys, "evaluate", str(path))
    assert code == 1 and "not valid UTF-8" in err


# output paths


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["report", "gmv", "--csv", "{missing}/r.csv"], "does not exist"),
        (["report", "gmv", "--csv", "{file}/r.csv"], "is a file, not a folder"),
        (["report", "gmv", "--chart", "{tmp}/g.txt"], "must end in .png or .svg"),
        (["report", "gmv", "--chart", "{tmp}/folder.png"], "is a folder"),
        (["export", "--out", "{file}"], "is a file, not a folder"),
        (["export", "--out", "{missing}/deeper"], "does not exist"),
        (["screen", "{listings}", "--out", "{missing}/d.jsonl"], "does not exist"),
        (
            ["import", "{listings}", "--kind", "products", "--skip-invalid", "--rejects", "{file}/r"],
            "not a folder",
        ),
        (["simulate", "--out", "{file}"], "is a file, not a folder"),
        (["audience", "p-serum", "--lookalike", "5", "--out", "{missing}/a.jsonl"], "does not exist"),
        (["recommend", "--all-users", "--out", "{file}/x"], "not a folder"),
        (["evaluate", "{listings}", "--out", "{missing}/e.json"], "does not exist"),
    ],
)
def test_unwritable_outputs_are_refused_before_work(
    capsys: pytest.CaptureFixture[str], sqlite_store: Store, tmp_path: Path, args: list[str], reason: str
) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("keep me", encoding="utf-8")
    (tmp_path / "folder.png").mkdir()
    listings = tmp_path / "listings.jsonl"
    listings.write_text('{"id": "x", "title": "云杉面霜", "price": 100}\n', encoding="utf-8")
    where = {"missing": tmp_path / "missing", "file": plain, "tmp": tmp_path, "listings": listings}
    err = refused(capsys, sqlite_store, *(a.format(**where) for a in args))
    assert reason in err
    assert plain.read_text(encoding="utf-8") == "keep me" and not (tmp_path / "missing").exists()


def test_a_failed_write_leaves_the_previous_file(tmp_path: Path) -> None:
    from xingqu.outputs import writing_text

    target = tmp_path / "report.csv"
    target.write_text("old,report\n", encoding="utf-8")
    with pytest.raises(RuntimeError), writing_text(target) as fh:
        fh.write("half of a new")
        raise RuntimeError("the report failed")
    assert target.read_text(encoding="utf-8") == "old,report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]
    with writing_text(target) as fh:
        fh.write("new,report\n")
    assert target.read_text(encoding="utf-8") == "new,report\n"


# store URLs


def test_store_urls_are_checked_before_anything_is_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    notdb = tmp_path / "notes.txt"
    notdb.write_text("not a database", encoding="utf-8")
    cases = [
        (f"sqlite:///{notdb}", "is not a SQLite database"),
        ("mysql://user@localhost/x", "unsupported database URL"),
        ("nonsense", "not a database URL"),
        (f"sqlite:///{tmp_path / 'typo' / 'deeper' / 'store.db'}", "run 'xingqu init'"),
    ]
    for url in cases:
        for command in (["stats"], ["recommend", "u001"], ["report", "gmv"], ["audit", "verify"]):
            code, _out, err = cli(capsys, *command, "--db", url[0])
            assert code == 1 and url[1] in err, (command, url, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no folder, no empty database


@pytest.mark.parametrize("version", ["abc", "999", "-1", "7.5"])
def test_a_bad_or_newer_schema_version_is_refused_by_every_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, version: str
) -> None:
    db = tmp_path / "s.db"
    Store(f"sqlite:///{db}").init()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE xingqu_meta SET value = ? WHERE key = 'schema_version'", (version,))
    for command in (["stats"], ["recommend", "u001"], ["import", str(SAMPLE)], ["init"], ["audit"]):
        code, _out, err = cli(capsys, *command, "--db", f"sqlite:///{db}")
        assert code == 1 and "schema version" in err, (command, err)


# numbers and ids


@pytest.mark.parametrize(
    "args",
    [
        ["recommend", "u001", "--max-price", "inf"],
        ["points", "give", "s-qingmu", "counterfeit", "--reason", "x", "--points", "99999999999999999999"],
        ["points", "give", "s-qingmu", "counterfeit", "--reason", "x", "--points", "9223372036854775807"],
        ["report", "shop", "s-yunshan", "--days", "-5"],
        ["report", "gmv", "--by", "shop", "--top", "-1"],
        ["stores", "check", "--window-days", "0"],
    ],
)
def test_numbers_out_of_range_are_usage_errors(
    capsys: pytest.CaptureFixture[str], any_store: Store, args: list[str]
) -> None:
    before = fingerprint(any_store)
    code, _out, err = cli(capsys, *args, "--db", any_store.url)
    assert code == 2, err
    assert fingerprint(any_store) == before


@pytest.mark.parametrize(
    "args",
    [
        ["report", "shop", "nosuch"],
        ["report", "gmv", "--shop", "nosuch"],
        ["points", "show", "nosuch"],
        ["report", "funnel", "--shop", "nosuch"],
        ["portrait", "product", "nosuch"],
    ],
)
def test_unknown_subjects_are_not_found(
    capsys: pytest.CaptureFixture[str], any_store: Store, args: list[str]
) -> None:
    err = refused(capsys, any_store, *args)
    assert "unknown" in err and "nosuch" in err


# rollups stay exact


def test_an_integer_rollup_that_would_overflow_fails_instead_of_turning_real(any_store: Store) -> None:
    big = 2**62
    row = pa.table(
        {
            "day": pa.array([1], pa.int32()),
            "surface": ["feed"],
            "channel": ["self"],
            "event_type": ["click"],
            "n": pa.array([big], pa.int64()),
        }
    )
    row = row.select([c.name for c in daily_totals_table.columns])
    before = fingerprint(any_store)
    with pytest.raises(XingquError, match="exact 64-bit integer range"), any_store.writing() as conn:
        for _ in range(3):  # 3 × 2^62 > 2^63 - 1
            any_store.dialect.merge(conn, daily_totals_table, row, {"n": _add("n")})
    assert fingerprint(any_store) == before


def _add(column: str) -> str:
    from xingqu.store.dialects import Add

    return Add(column)


# history cannot be rewritten unnoticed


def test_sqlite_refuses_replace_update_and_delete_of_history(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = _fill(Store(f"sqlite:///{db}"))
    with sqlite3.connect(db) as conn:
        for sql in (
            "INSERT OR REPLACE INTO audit_log (seq, at, actor, action, subject_kind, subject_id, reason) "
            "VALUES (1, 1, 'x', 'x', 'x', 'x', 'x')",
            "REPLACE INTO penalties (seq, shop_id, at, violation, points, reason, actor, ruleset) "
            "VALUES (1, 's-qingmu', 1, 'v', 0, 'r', 'a', 'x')",
            "UPDATE penalties SET points = 0",
            "DELETE FROM audit_log",
            "INSERT INTO audit_log (seq, at, actor, action, subject_kind, subject_id, reason) "
            "VALUES (1, 1, 'x', 'x', 'x', 'x', 'x') ON CONFLICT (seq) DO UPDATE SET reason = 'y'",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)
    assert all(r.ok for r in store.verify_chains())


@pytest.mark.parametrize(
    ("tamper", "table", "seq"),
    [
        ("UPDATE penalties SET points = 0 WHERE seq = 1", "penalties", 1),
        ("DELETE FROM audit_log WHERE seq = 1", "audit_log", 2),
        ("UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 2", "audit_log", 2),
    ],
)
def test_audit_verify_names_the_first_rewritten_entry(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tamper: str, table: str, seq: int
) -> None:
    db = tmp_path / "s.db"
    store = _fill(Store(f"sqlite:///{db}"))
    store.require_ready()
    code, out, _err = cli(capsys, "audit", "verify", "--db", store.url)
    assert code == 0 and "audit_log: 2 entries checked, intact" in out
    with sqlite3.connect(db) as conn:  # one with the file in hand drops the triggers and rewrites
        for name in ("audit_log", "penalties"):
            for trigger in ("no_update", "no_delete", "no_replace"):
                conn.execute(f"DROP TRIGGER {name}_{trigger}")
        conn.execute(tamper)
    code, out, err = cli(capsys, "audit", "verify", "--json", "--db", store.url)
    doc = json.loads(out)
    broken = next(t for t in doc["tables"] if t["table"] == table)
    assert code == 1 and not doc["ok"] and broken["broken_seq"] == seq
    assert f"{table} entry seq {seq} does not match the hash chain" in err


def test_an_older_store_gets_its_history_chained(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = _fill(Store(f"sqlite:///{db}"))
    with sqlite3.connect(db) as conn:  # as a version-7 store was: no chain columns, no replace trigger
        for name in ("audit_log", "penalties"):
            for trigger in ("no_update", "no_delete", "no_replace"):
                conn.execute(f"DROP TRIGGER {name}_{trigger}")
            conn.execute(f"ALTER TABLE {name} DROP COLUMN hash")
            conn.execute(f"ALTER TABLE {name} DROP COLUMN prev_hash")
        conn.execute("UPDATE xingqu_meta SET value = '7' WHERE key = 'schema_version'")
    code, _out, err = cli(capsys, "init", "--db", store.url)
    assert code == 0, err
    reports = store.verify_chains()
    assert [(r.table, r.entries, r.ok) for r in reports] == [("audit_log", 2, True), ("penalties", 1, True)]
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET reason = 'x'")


@pytest.mark.postgres
def test_postgres_history_cannot_be_changed_by_the_app_role_and_a_superuser_rewrite_shows(
    capsys: pytest.CaptureFixture[str], pg_store: Store
) -> None:
    role = f"xq_app_{uuid.uuid4().hex[:8]}"
    code, out, err = cli(capsys, "init", "--create-role", role, "--json", "--db", pg_store.url)
    assert code == 0, err
    assert any(g.startswith("GRANT INSERT ON audit_log, penalties") for g in json.loads(out)["grants"])
    engine = sa.create_engine(pg_store.url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"SET ROLE {role}")
            for sql in (
                "UPDATE audit_log SET reason = 'x'",
                "DELETE FROM penalties",
                "ALTER TABLE audit_log DISABLE TRIGGER ALL",
                "DROP TRIGGER audit_log_no_change ON audit_log",
            ):
                with pytest.raises(sa.exc.DBAPIError, match=r"permission denied|must be owner"):
                    conn.exec_driver_sql(sql)
                conn.rollback()
                conn.exec_driver_sql(f"SET ROLE {role}")
        before = fingerprint(pg_store)
        with engine.begin() as conn:  # a superuser can switch the protection off: the chain shows it
            conn.exec_driver_sql("ALTER TABLE penalties DISABLE TRIGGER ALL")
            conn.exec_driver_sql("UPDATE penalties SET points = 0")
        code, _out, err = cli(capsys, "audit", "verify", "--db", pg_store.url)
        assert code == 1 and "penalties entry seq 1 does not match the hash chain" in err
    finally:
        with engine.begin() as conn:  # put the shared store back as it was
            conn.exec_driver_sql("UPDATE penalties SET points = 12")
            conn.exec_driver_sql("ALTER TABLE penalties ENABLE TRIGGER ALL")
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")
        engine.dispose()
    assert fingerprint(pg_store) == before


# a few real processes: what a user sees


def _xingqu(*args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XINGQU_DB"} | {"COLUMNS": "200"}
    if db:
        env["XINGQU_DB"] = db
    return subprocess.run(
        [sys.executable, "-m", "xingqu.cli.app", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_real_processes_print_one_error_line_and_no_traceback(sqlite_store: Store, tmp_path: Path) -> None:
    deep = tmp_path / "products.jsonl"
    deep.write_text("[" * 100_000 + "\n", encoding="utf-8")
    for args, code in (  # each run starts a Python of its own: two runs only
        (["import", str(deep)], 1),
        (["stats", "--db", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2"], 3),
    ):
        r = _xingqu(*args, db=sqlite_store.url)
        assert r.returncode == code, (args, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr
        assert r.stderr.count("error:") == 1, r.stderr
    assert "does not answer" in r.stderr and "Connection refused" in r.stderr
