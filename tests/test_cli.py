"""The real ``xingqu`` command, run as a subprocess: outputs, JSON, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE
from xingqu.governance.review import entries
from xingqu.store import Store


def xingqu(*args: str, db: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "XINGQU_DB"}
    if db:
        env["XINGQU_DB"] = db
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "xingqu.cli.app", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def test_init_import_stats_export(store_url: str, tmp_path: Path) -> None:
    r = xingqu("init", "--json", db=store_url)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["schema_version"] >= 1
    r = xingqu("import", str(SAMPLE), "--json", db=store_url)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["written"] == 829 and report["rejected"] == 0
    r = xingqu("import", str(SAMPLE / "events.csv"), "--json", db=store_url)
    assert json.loads(r.stdout)["files"][0]["duplicates"] == 758
    r = xingqu("stats", "--json", db=store_url)
    stats = json.loads(r.stdout)
    assert stats["counts"]["events"] == 758
    assert stats["events_by_type"]["pay"] == 47
    assert stats["first_event"] == "2026-05-01T10:14:00Z"
    r = xingqu("export", "--format", "parquet", "--out", str(tmp_path / "out"), "--json", db=store_url)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rows"]["products"] == 12
    assert (tmp_path / "out" / "events.parquet").exists()


def test_human_output(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'h.db'}"
    r = xingqu("import", str(SAMPLE), db=db)
    assert r.returncode == 0
    assert "events.csv" in r.stdout and "758" in r.stdout
    r = xingqu("stats", db=db)
    assert "impression" in r.stdout and "354" in r.stdout


def test_bad_input_exits_1_with_the_row_named(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"
    assert xingqu("import", str(SAMPLE), db=db).returncode == 0
    bad = tmp_path / "events.csv"
    bad.write_text(
        "event_id,event_type,ts,user_id,product_id\nx1,click,2026-05-01T00:00:00Z,u001,p-404\n",
        encoding="utf-8",
    )
    r = xingqu("import", str(bad), db=db)
    assert r.returncode == 1
    assert "events.csv, line 2, field 'product_id': unknown product id" in r.stderr.replace("\n", "")
    assert "nothing was imported" in r.stderr
    r = xingqu(
        "import", str(bad), "--skip-invalid", "--rejects", str(tmp_path / "rej.jsonl"), "--json", db=db
    )
    assert r.returncode == 0
    assert json.loads(r.stdout)["rejected"] == 1
    assert json.loads((tmp_path / "rej.jsonl").read_text(encoding="utf-8"))["record"]["event_id"] == "x1"


def test_usage_and_store_errors(tmp_path: Path) -> None:
    assert xingqu("import").returncode == 2
    assert xingqu("no-such-command").returncode == 2
    assert xingqu("export", "--format", "xml", db=f"sqlite:///{tmp_path / 'u.db'}").returncode == 2
    r = xingqu("stats", db=f"sqlite:///{tmp_path / 'empty.db'}")
    assert r.returncode == 1 and "run 'xingqu init'" in r.stderr
    r = xingqu("stats", db="oracle2://nowhere/db")
    assert r.returncode == 1 and "unsupported database URL" in r.stderr


@pytest.mark.slow
@pytest.mark.timeout(1_200)
def test_demo_runs_on_the_embedded_store_then_serves_it(tmp_path: Path) -> None:
    import shlex
    import signal
    import time

    from apiserver import free_socket, wait_ready

    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINGQU_")}
    env["COLUMNS"] = "200"
    demo = subprocess.Popen(
        [sys.executable, "-m", "xingqu.cli.app", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out: list[str] = []
    try:
        assert demo.stdout is not None
        deadline = time.monotonic() + 600
        for line in demo.stdout:
            out.append(line)
            if line.startswith("This folder's store and models") or time.monotonic() > deadline:
                break
        stdout = "".join(out)
        assert "Events by type" in stdout
        curls = [line.strip() for line in out if line.startswith("  curl ")]
        assert len(curls) == 5, stdout[-2_000:]
        wait_ready(f"http://127.0.0.1:{port}", None)
        for line in curls:  # each works as printed
            done = subprocess.run([*shlex.split(line), "--fail-with-body"], capture_output=True, text=True)
            assert done.returncode == 0 and '"error"' not in done.stdout, (line, done.stdout)
        console = next(line for line in out if line.startswith("Web console: ")).split()[2]
        page = subprocess.run(["curl", "-s", "--fail-with-body", console], capture_output=True, text=True)
        assert page.returncode == 0 and "login-form" in page.stdout, page.stdout[-500:]
        # the demo's store and models are the defaults of the next command in this folder
        user = out[-1].rsplit(" ", 1)[1].strip()
        r = xingqu("recommend", user, "-n", "3", "--json", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert len(json.loads(r.stdout)["items"]) == 3
    finally:
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0
    assert (tmp_path / "xingqu-data" / "xingqu.db").exists()
    # listings screened to review are held (pending, queued) and so in no feed the demo prints
    store = Store(f"sqlite:///{tmp_path / 'xingqu-data' / 'xingqu.db'}")
    queue = entries(store, "open", limit=10_000)
    queued = {e["listing_id"] for e in queue}
    assert len(queued) > 10
    assert not store.servable_products(sorted(queued))
    assert not any(pid in stdout for pid in queued)
    # of two near-repeats, the one listed first stays listed: no pair waits on each other
    repeats = {(e["listing_id"], x["term"]) for e in queue for x in e["reasons"] if x["group"] == "duplicate"}
    assert repeats and not any((b, a) in repeats for a, b in repeats)
    assert store.servable_products(sorted({b for _, b in repeats} - queued))
    # a store the demo did not write is never replaced by it
    other = tmp_path / "other"
    r = xingqu("init", db=f"sqlite:///{other / 'xingqu-data' / 'xingqu.db'}")
    assert r.returncode == 0, r.stderr
    r = xingqu("demo", "--no-serve", cwd=other)
    assert r.returncode == 1 and "the demo did not write" in r.stderr


def test_a_log_written_a_file_a_day_is_one_row_of_the_import_table() -> None:
    from xingqu.cli.data import _runs_of_a_kind
    from xingqu.ingest import FileReport

    files = [FileReport("users.parquet", "users", 5)]
    files += [FileReport(f"events-05-0{d}.parquet", "events", 10 * d) for d in range(1, 6)]
    files += [FileReport("relations.parquet", "relations", 2)]
    files += [FileReport(f"content-{d}.parquet", "content", 1) for d in range(3)]
    runs = _runs_of_a_kind(files)
    assert [[f.path for f in run] for run in runs] == [
        ["users.parquet"],
        [f"events-05-0{d}.parquet" for d in range(1, 6)],
        ["relations.parquet"],
        ["content-0.parquet"],
        ["content-1.parquet"],
        ["content-2.parquet"],
    ]


def test_the_command_line_starts_without_its_heavy_libraries() -> None:
    """``xingqu --help``/``--version`` import no numerical, storage or plotting library: each command
    imports what it needs when it runs."""
    heavy = (
        "numpy",
        "scipy",
        "sqlalchemy",
        "pyarrow",
        "lightgbm",
        "implicit",
        "faiss",
        "matplotlib",
        "pydantic",
    )
    probe = "import sys, xingqu.cli.app; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not loaded & set(heavy)
    r = xingqu("--help")
    assert r.returncode == 0 and all(
        name in r.stdout for name in ("recommend", "review", "report", "takedown")
    )
    r = xingqu("review", "--help")
    assert r.returncode == 0 and "approve" in r.stdout and "--install-completion" not in r.stdout
