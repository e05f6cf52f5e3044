"""The services the edges share: what they return is what the CLI prints, as plain data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from conftest import SAMPLE
from test_cli import xingqu
from xingqu.errors import NotFoundError, UserError
from xingqu.runtime import Runtime
from xingqu.services import monitoring, reports, screening


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    rt = Runtime(db=f"sqlite:///{tmp_path / 's.db'}", models_dir=str(tmp_path / "models"))
    report = screening.import_records(rt, SAMPLE)
    assert report.written > 0
    return rt


def test_reports_are_the_data_the_cli_prints(runtime: Runtime) -> None:
    db = runtime.settings.db
    for command, report in (
        (["funnel"], reports.funnel(runtime)),
        (["customers", "--period", "week"], reports.customers(runtime, "week")),
        (["channels"], reports.channels(runtime)),
        (["live", "--shop", "s-qingmu"], reports.live(runtime, "s-qingmu")),
    ):
        printed = json.loads(xingqu("report", *command, "--json", db=db).stdout)
        assert json.loads(json.dumps(report.to_dict())) == printed, command
    gmv = reports.gmv(runtime, "week", "channel")
    printed = json.loads(
        xingqu("report", "gmv", "--period", "week", "--by", "channel", "--json", db=db).stdout
    )
    assert json.loads(json.dumps(gmv.to_dict())) == printed and gmv.total.gmv_paid > 0
    page = reports.compass(runtime, "s-qingmu", 30)
    assert json.loads(json.dumps(page, default=str)) == json.loads(
        xingqu("report", "shop", "s-qingmu", "--json", db=db).stdout
    )
    out = io.StringIO()
    reports.write_csv(reports.funnel(runtime).rows, out)
    assert (
        out.getvalue().splitlines()[0]
        == "surface,impressions,clicks,orders,paid_orders,ctr,click_to_order,order_to_pay,impression_to_pay"
    )
    with pytest.raises(UserError, match="fortnight"):
        reports.customers(runtime, "fortnight")
    with pytest.raises(NotFoundError, match="unknown shop 's-nope'"):
        reports.funnel(runtime, "s-nope")


def test_screening_sessions_queue_what_needs_a_person(runtime: Runtime) -> None:
    listings = [
        {"id": "a", "shop": "s-yunshan", "title": "云杉补水面霜", "brand": "b-yunshan"},
        {"id": "c", "shop": "s-yunshan", "title": "海星耳机", "brand": "b-haixing"},
        {"id": "e", "shop": "s-yunshan", "title": "云杉补水面霜 套装", "brand": "b-yunshan"},
    ]
    decisions, summary = screening.screen_listings(runtime, listings, queue=True)
    assert [d.decision for d in decisions] == ["approve", "reject", "review"]
    assert summary.counts == {"approve": 1, "review": 1, "reject": 1} and summary.queued == 1
    queued = screening.review_queue(runtime)
    assert [e["listing_id"] for e in queued] == ["e"] and queued[0]["reasons"][0]["group"] == "duplicate"


def test_store_checks_return_the_report_and_write_scores_only_when_asked(runtime: Runtime) -> None:
    run = monitoring.check(runtime, window_days=7)
    assert run.scores_written == 0 and run.settings.window_days == 7
    assert set(run.to_dict()) == {
        "flags",
        "scores",
        "judged",
        "too_small",
        "too_small_below_orders",
        "scores_written",
    }
