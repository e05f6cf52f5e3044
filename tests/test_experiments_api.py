"""Online experiments end to end through a real uvicorn server: defined over the API, simulated users'
feeds and events sent by ``xingqu sim live`` through the same API, the exposure log and attribution
read back in the report; a stopped experiment serves the control; roles and bad definitions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apiserver import ROOT, World, make_key, serving
from xingqu.cli.app import run
from xingqu.client import ApiError, Client
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service


@pytest.fixture(scope="module")
def api(api_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Client, Runtime]]:
    db, models = api_world.copy(tmp_path_factory.mktemp("exp-api"))
    runtime = Runtime(db=db, models_dir=str(models))
    with serving(runtime) as url, Client(url, make_key(runtime, "admin")) as client:
        yield url, client, runtime


def _definition(name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "arms": [{"name": "control", "share": 0.5}, {"name": "popular", "share": 0.5, "feed": "popular"}],
        "planned_users": 100,
        **extra,
    }


def test_sim_live_through_the_api_reaches_the_report(api: tuple[str, Client, Runtime]) -> None:
    url, client, runtime = api
    created = client.experiment_create(_definition("e2e", layer="e2e"))
    assert created["status"] == "running" and created["population_kind"] == "all"
    app_key = make_key(runtime, "app")
    env = {"PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "xingqu.cli.app", "sim", "live", "--url", url, "--key", app_key]
    command += ["--experiment", "e2e", "--preset", "tiny", "--users", "400", "--days", "12"]
    command += ["--rounds", "2", "--per-round", "150", "--json"]
    out = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    sent = json.loads(out.stdout)
    assert sent["requests"] == 300 and sent["events"] > 300
    assert set(sent["responses_per_arm"]) == {"control", "popular"}
    shown = client.experiment("e2e")
    users = {x["arm"]: x["users"] for x in shown["exposure"]}
    responses = {x["arm"]: x["responses"] for x in shown["exposure"]}
    assert responses == sent["responses_per_arm"]
    report = client.experiment_report("e2e")
    arms = {a["arm"]: a for a in report["arms"]}
    assert {a: arms[a]["users"] for a in arms} == users
    # impressions are the app's logged events credited by request id: one per listed product
    assert arms["control"]["impressions"] > 0 and arms["popular"]["impressions"] > 0
    assert arms["control"]["metrics"]["ctr"]["value"] > 0
    assert report["srm"]["p"] is not None and "fixed horizon" in report["method"]
    assert report["verdict"]["code"] in {
        "winner",
        "loser",
        "no_difference",
        "guardrail_breached",
        "collecting",
    }
    # the definition and its stop are in the hash-chained audit log
    client.experiment_stop("e2e", "done")
    trail = [e["action"] for e in client.audit(subject="e2e")]
    assert trail == ["experiment_stop", "experiment_create"]
    assert client.audit_verify()["ok"] is True


def test_a_stopped_experiment_serves_the_control(api: tuple[str, Client, Runtime], api_world: World) -> None:
    _, client, runtime = api
    client.experiment_create(_definition("stopme", layer="stop"))
    users = [u for u in api_world.model.feed.profiles.users.ids[:40]]  # type: ignore[union-attr]
    arms = {}
    for u in users:
        feed = client.recommend(str(u), 10)
        arm = next(a["arm"] for a in feed["experiments"] if a["experiment"] == "stopme")
        arms[str(u)] = (arm, [i["product"] for i in feed["items"]])
    treated = [u for u, (arm, _) in arms.items() if arm == "popular"]
    assert treated and len(treated) < len(users)
    popular = [i.product_id for i in feed_service(runtime).recommend(treated[0], 10, feed="popular").items]
    assert arms[treated[0]][1] == popular
    client.experiment_stop("stopme", "guardrail breached")
    for u in treated[:5]:
        feed = client.recommend(u, 10)
        assert all(a["experiment"] != "stopme" for a in feed["experiments"])
        control = [i.product_id for i in feed_service(runtime).recommend(u, 10).items]
        assert [i["product"] for i in feed["items"]] == control
    with pytest.raises(ApiError) as err:
        client.experiment_stop("stopme", "again")
    assert err.value.status == 409


def test_bad_definitions_are_named_and_running_ones_cannot_be_edited(
    api: tuple[str, Client, Runtime],
) -> None:
    _, client, _ = api
    bad = _definition("bad", layer="bad")
    bad["arms"] = [{"name": "a", "share": 0.7}, {"name": "b", "share": 0.7}]
    with pytest.raises(ApiError) as err:
        client.experiment_create(bad)
    assert err.value.status == 422 and "add up" in str(err.value)
    with pytest.raises(ApiError) as err:
        client.experiment_create(
            _definition("m", arms=[{"name": "a", "share": 1.0}, {"name": "b", "share": 0.0}])
        )
    assert err.value.status == 422
    client.experiment_create(_definition("half", layer="full", population={"share": 0.6}))
    with pytest.raises(ApiError) as err:
        client.experiment_create(_definition("half2", layer="full", population={"share": 0.6}))
    assert err.value.status == 409 and "layer" in str(err.value)
    with pytest.raises(ApiError) as err:
        client.request("PUT", "/v1/experiments/half", json=_definition("half", layer="full"))
    assert err.value.status == 409 and "only stopped" in str(err.value)
    with pytest.raises(ApiError) as err:
        client.experiment("nope")
    assert err.value.status == 404


def test_batch_scoring_gives_the_arms_the_api_serves(
    api: tuple[str, Client, Runtime], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, client, runtime = api
    client.experiment_create(_definition("batch", layer="batch", population={"share": 0.5}))
    out = tmp_path / "recs.jsonl"
    argv = ["recommend", "--all-users", "-n", "3", "--out", str(out), "--db", runtime.settings.db]
    assert run([*argv, "--models-dir", str(runtime.models_dir)]) == 0
    capsys.readouterr()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    batch = {x["user"]: [a for a in x.get("experiments", []) if a["experiment"] == "batch"] for x in lines}
    assert {len(v) for v in batch.values()} == {0, 1}  # half the users are in its slice of the layer
    for user in list(batch)[:40]:
        served = [a for a in client.recommend(user, 3)["experiments"] if a["experiment"] == "batch"]
        assert served == batch[user]


@pytest.fixture
def alone(api_world: World, tmp_path: Path) -> Iterator[tuple[Client, Runtime]]:
    """A server over a fresh copy of the world: no experiment but the test's own."""
    db, models = api_world.copy(tmp_path / "alone")
    runtime = Runtime(db=db, models_dir=str(models))
    with serving(runtime) as url, Client(url, make_key(runtime, "admin")) as client:
        yield client, runtime


def test_batch_scoring_serves_each_user_the_feed_of_their_arm(
    alone: tuple[Client, Runtime], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client, runtime = alone
    arms = [
        {"name": "control", "share": 0.4},
        {"name": "blend", "share": 0.3, "feed": "blend"},
        {"name": "popular", "share": 0.3, "feed": "popular"},
    ]
    client.experiment_create(_definition("perarm", arms=arms))
    out = tmp_path / "recs.jsonl"
    argv = ["recommend", "--all-users", "-n", "6", "--max-price", "300", "--out", str(out)]
    assert run([*argv, "--db", runtime.settings.db, "--models-dir", str(runtime.models_dir)]) == 0
    capsys.readouterr()
    lines = {x["user"]: x for x in map(json.loads, out.read_text().splitlines())}
    of_arm: dict[str, list[str]] = {"control": [], "blend": [], "popular": []}
    for user, line in lines.items():
        assert [a["experiment"] for a in line["experiments"]] == ["perarm"]
        of_arm[line["experiments"][0]["arm"]].append(user)
    assert all(len(users) >= 60 for users in of_arm.values())
    service = feed_service(runtime)
    feed_of = {"control": "default", "blend": "blend", "popular": "popular"}
    for arm, users in of_arm.items():
        for user in users[:15]:
            served = client.recommend(user, 6, max_price=300)
            assert served["experiments"] == [{"experiment": "perarm", "arm": arm}]
            api_items = [i["product"] for i in served["items"]]
            assert lines[user]["items"] == api_items, (arm, user)
            alone_items = service.recommend(user, 6, max_price=30_000, feed=feed_of[arm]).items
            assert api_items == [i.product_id for i in alone_items]
    # the arms differ visibly: the popular arm's list is everyone's best-sellers, the others' are not
    popular_lists = {tuple(lines[u]["items"]) for u in of_arm["popular"]}
    assert len(popular_lists) == 1
    control = of_arm["control"]
    assert sum(tuple(lines[u]["items"]) in popular_lists for u in control) < len(control) // 10
    ranked = {
        u: [i.product_id for i in service.recommend(u, 6, max_price=30_000).items] for u in of_arm["blend"]
    }
    assert sum(lines[u]["items"] != ranked[u] for u in ranked) > len(ranked) // 4


def test_the_content_feed_is_served_from_the_arms_and_its_events_credited(
    alone: tuple[Client, Runtime], api_world: World
) -> None:
    client, runtime = alone
    client.experiment_create(_definition("shows", planned_users=10))
    service = feed_service(runtime)
    users = [str(u) for u in api_world.model.feed.profiles.users.ids[:60]]  # type: ignore[union-attr]
    served = {u: client.recommend(u, 6, content=True) for u in users}
    arm_of = {}
    for u, body in served.items():
        assert len(body["experiments"]) == 1 and body["experiments"][0]["experiment"] == "shows"
        arm_of[u] = body["experiments"][0]["arm"]
        feed = "popular" if arm_of[u] == "popular" else "default"
        version, items = service.content(u, 6, feed=feed)
        assert body["model"] == version and body["items"] and len(body["request_id"]) == 32
        assert [c["content"] for c in body["items"]] == [c.content_id for c in items]
    treated = [u for u in users if arm_of[u] == "popular"]
    assert 10 <= len(treated) <= 50
    # the popular arm's order is the best-sellers', not the user's
    differs = 0
    for u in treated:
        sales = [c["score"] for c in served[u]["items"]]
        assert sales == sorted(sales, reverse=True)
        mine = [c.content_id for c in service.content(u, 6)[1]]
        differs += mine != [c["content"] for c in served[u]["items"]]
    assert differs > len(treated) // 2
    # every response is in the exposure log under its arm
    exposure = {x["arm"]: x for x in client.experiment("shows")["exposure"]}
    for arm in ("control", "popular"):
        assert exposure[arm]["responses"] == sum(a == arm for a in arm_of.values())
    # events sent with a response's request id count for the arm that served it
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    events, paid = [], {"control": 0, "popular": 0}
    for k, (u, body) in enumerate(served.items()):
        rid = body["request_id"]
        for c in body["items"]:
            events.append(
                _event(f"imp-{k}-{c['content']}", "impression", u, now, rid, content_id=c["content"])
            )
        first = body["items"][0]
        events.append(_event(f"clk-{k}", "click", u, now, rid, content_id=first["content"]))
        if k % 3 == 0:
            order = {"product_id": first["products"][0], "order_id": f"o-shows-{k}", "amount": 5000 + k}
            events.append(_event(f"pay-{k}", "pay", u, now, rid, **order))
            paid[arm_of[u]] += 5000 + k
    assert client.events(events)["written"] == len(events)
    report = {a["arm"]: a for a in client.experiment_report("shows")["arms"]}
    for arm in ("control", "popular"):
        shown = sum(len(b["items"]) for u, b in served.items() if arm_of[u] == arm)
        assert report[arm]["impressions"] == shown
        assert report[arm]["metrics"]["ctr"]["value"] == pytest.approx(
            sum(arm_of[u] == arm for u in users) / shown
        )
        gpm = report[arm]["metrics"]["gpm"]["value"]
        assert gpm == pytest.approx(paid[arm] / 100 / shown * 1000)


def _event(
    event_id: str, kind: str, user: str, ts: str, request_id: str, **fields: object
) -> dict[str, object]:
    return {
        "event_id": event_id,
        "event_type": kind,
        "ts": ts,
        "user_id": user,
        "request_id": request_id,
        **fields,
    }
