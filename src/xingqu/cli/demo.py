"""``xingqu demo``: the main job end to end on the embedded default store."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated

import numpy as np
import pyarrow.parquet as pq
import typer
from rich.table import Table

from xingqu.analytics import gmv_summary
from xingqu.cli import data
from xingqu.cli.common import MAX_SEED, console, err_console, file_progress
from xingqu.cli.learn import ModelsDirOption, print_trained
from xingqu.cli.report import print_gmv_summary
from xingqu.cli.serve import serve
from xingqu.cli.sim import print_sim_report, run_simulation
from xingqu.domain.vocab import ProductStatus
from xingqu.errors import UserError
from xingqu.governance import Screener
from xingqu.governance.actions import set_product_status, take_down
from xingqu.governance.context import ScreeningContext
from xingqu.governance.intake import listing_of
from xingqu.governance.monitoring import MonitorSettings, check_stores
from xingqu.governance.review import enqueue
from xingqu.governance.screening import Decision
from xingqu.ingest import import_path
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service
from xingqu.services.keys import create_key
from xingqu.sim.config import preset
from xingqu.sim.misconduct import DETECTABLE, incident_summary, planted_incidents
from xingqu.store import Store
from xingqu.training import TrainedModel, train

DEFAULT_MARKET_DIR = Path("xingqu-data/demo-market")
#: The store's metadata key that marks a store the demo wrote (and may therefore recreate).
DEMO_MARK = "written_by"


def sample_dir() -> Path:
    """The small hand-made marketplace shipped inside the package (examples and tests)."""
    return Path(str(resources.files("xingqu") / "sample"))


def fresh_demo_store(runtime: Runtime) -> Store:
    """The runtime's store, empty: a SQLite file the demo wrote before is recreated; a store holding
    anything else is refused rather than replaced."""
    db = runtime.settings.db
    if db.startswith("sqlite:///"):
        path = Path(db.removeprefix("sqlite:///"))
        if path.exists():
            probe = Store(db)
            mark = probe.meta(DEMO_MARK)
            probe.close()
            if mark != "demo":
                raise UserError(
                    f"{path} holds a store the demo did not write; give --db (and --models-dir) to run "
                    "the demo elsewhere, or move the store away"
                )
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    store = runtime.store
    store.init()
    store.set_meta(DEMO_MARK, "demo")
    return store


def demo(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store for the demo (default: the default store; recreated on SQLite)."),
    ] = None,
    models_dir: ModelsDirOption = None,
    market: Annotated[Path, typer.Option(help="Folder for the simulated marketplace.")] = DEFAULT_MARKET_DIR,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the simulated marketplace.")] = 42,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the HTTP API afterwards, until Ctrl-C.")
    ] = True,
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Port of the API.")] = 8000,
) -> None:
    """Simulate a month of a marketplace, import it into a fresh embedded store and report on it; then
    serve the API over it. The store and models are the defaults of the next commands in this folder."""
    runtime = Runtime(db=db, models_dir=str(models_dir) if models_dir else None)
    db = runtime.settings.db
    if market.exists() and not (market / "truth" / "summary.json").exists():
        raise typer.BadParameter(f"{market} exists and is not a simulation folder", param_hint="--market")
    store = fresh_demo_store(runtime)
    if market.exists():
        shutil.rmtree(market)
    console.rule("[bold]xingqu demo[/]: a simulated month of interest e-commerce")
    report = run_simulation(preset("demo", seed=seed), market, True)
    print_sim_report(report)
    with file_progress(True) as progress:
        imported = import_path(store, market, progress=progress)
    data.print_import(imported)
    data.stats(db=db, json_out=False)
    console.rule("[bold]Governance[/]: the catalogue screened, rejected listings taken down")
    screen_catalogue(store, market)
    console.rule("[bold]The month in money[/]: GMV and quality GMV")
    print_gmv_summary(gmv_summary(store))
    console.rule("[bold]Store monitoring[/]: flags against what the simulator planted")
    print_monitoring(store, market)
    console.rule("[bold]Training[/]: retrievers and their blend, tuned on a validation split")
    model = train(store, runtime.models_dir, progress=lambda msg: err_console.print(f"[dim]{msg}…[/]"))
    print_trained(model)
    console.rule("[bold]The feed[/]: candidates → LambdaRank → rules, each item with its reasons")
    print_sample_feeds(runtime)
    console.rule("[bold]Merchants and creators[/]: portraits, lookalikes, creators for goods, selection")
    print_matching(model, runtime)
    if serve_api:
        console.rule("[bold]The API[/]: what apps, merchants and operators call")
        print_api_lines(runtime, model, port)
        serve(runtime, "127.0.0.1", port)


def print_api_lines(runtime: Runtime, model: TrainedModel, port: int) -> None:
    """An admin key (shown once) and a few ``curl`` lines that work as printed against the API the demo
    is about to serve."""
    key, _ = create_key(runtime, "admin", name="demo admin")
    url = f"http://127.0.0.1:{port}"
    assert model.feed is not None
    active = np.argsort(-np.diff(model.history.indptr), kind="stable")
    user = str(model.feed.profiles.users.ids[int(active[0])])
    product = next(iter(feed_service(runtime).recommend(user, 1, explain=False).items)).product_id
    event = {
        "event_id": f"demo-{user}-click-1",
        "event_type": "click",
        "ts": datetime.now(UTC).isoformat(timespec="seconds"),
        "user_id": user,
        "product_id": product,
        "surface": "feed",
    }
    bearer = f'-H "Authorization: Bearer {key}"'
    lines = [
        f"curl -s {url}/readyz",
        f'curl -s {bearer} "{url}/v1/users/{user}/feed?n=5"',
        f'curl -s {bearer} "{url}/v1/products/{product}/similar?n=5"',
        f"curl -s {bearer} -H 'content-type: application/json' -d '{json.dumps({'events': [event]})}' "
        f"{url}/v1/events",
        f'curl -s {bearer} "{url}/v1/reports/gmv?period=week&format=csv"',
    ]
    console.print(f"Serving the API on {url} (OpenAPI: {url}/openapi.json, docs: {url}/docs).")
    console.print(f"Admin key, shown once: {key}", soft_wrap=True, highlight=False)
    console.print(
        f"Web console: {url}/console/login (sign in with the key; 中文 by default, English by its switch)",
        soft_wrap=True,
        highlight=False,
    )
    console.print("Try:")
    for line in lines:
        console.print("  " + line, soft_wrap=True, highlight=False, markup=False)
    console.print(
        f"This folder's store and models are now the defaults of the next commands: xingqu recommend {user}",
        soft_wrap=True,
    )


def screen_catalogue(store: Store, market: Path) -> None:
    """Screen every listed product as if it were submitted now: take the rejected ones down, and hold the
    ones screened to review (pending, in the review queue) until a person approves them — as an import
    does with new listings. Every change audited."""
    context = ScreeningContext.from_store(store, Screener.default())
    products = [r for batch in store.iter_records("products") for r in batch.to_pylist()]
    planted = {
        r["product_id"]: r["violation"] or "price_fraud"
        for r in pq.read_table(market / "truth" / "products.parquet").to_pylist()
        if r["violation"] or r["reference_price_fraud"]
    }
    created = {
        p["product_id"]: (p["created_at"].timestamp() if p["created_at"] else 0.0, p["product_id"])
        for p in products
    }

    def original(d: Decision) -> bool:
        """Flagged only as a near-repeat of listings that came after it: the repeats wait, not it."""
        return all(
            r.group == "duplicate" and created[d.id] < created.get(r.term, created[d.id]) for r in d.reasons
        )

    rejected, held = [], []
    for p in products:
        listing = listing_of(p)
        decision = context.screen(listing)  # already in the duplicate index: compared with the others
        if decision.decision == "reject":
            rejected.append(decision)
        elif decision.decision == "review" and not original(decision):
            held.append((decision, listing))
    for d in rejected:
        take_down(store, d.id, reason="; ".join(r.message for r in d.reasons), actor="demo:screening")
    enqueue(store, held)
    for d, _ in held:
        set_product_status(
            store,
            d.id,
            ProductStatus.PENDING.value,
            reason="; ".join(r.message for r in d.reasons),
            actor="demo:screening",
            action="hold_for_review",
        )
    caught = sum(d.id in planted for d in rejected)
    caught_held = sum(d.id in planted for d, _ in held)
    console.print(
        ", ".join(f"{k} {v:,}" for k, v in context.counts.items())
        + f"; {len(rejected):,} taken down, {caught:,} of them planted by the simulator; {len(held):,} held "
        f"for review (not shown until approved: xingqu review list), {caught_held:,} of them planted; "
        f"{context.counts['review'] - len(held):,} originals of near-repeats left listed "
        f"({len(planted):,} planted in all)"
    )
    for d in rejected[:3]:
        console.print(f"  {d.id}: " + "; ".join(f"{r.rule} {r.term or ''}".strip() for r in d.reasons))


def print_monitoring(store: Store, market: Path) -> None:
    """Shops flagged by ``xingqu stores check``, and each incident the simulator planted with its chance
    of being seen at the shop's volume: recall is judged on the incidents a test could see."""
    report = check_stores(store)
    incidents = planted_incidents(store, market, report)
    planted = {(i.shop, i.kind) for i in incidents}
    table = Table(title="Planted incidents", show_edge=False)
    for col in ("shop", "planted", "orders/day", "chance seen", "flagged"):
        table.add_column(
            col, overflow="fold", justify="right" if col in ("orders/day", "chance seen") else "left"
        )
    for i in incidents:
        table.add_row(
            i.shop, i.kind, f"{i.orders_per_day:.1f}", f"{i.chance:.0%}", "yes" if i.flagged else "no"
        )
    console.print(table if incidents else "No incident planted.")
    others = [f for f in report.flags if (f.shop, f.kind) not in planted]
    console.print(
        f"{len(others)} other shop flags"
        + (": " + ", ".join(f"{f.shop} {f.kind}" for f in others[:8]) if others else "")
    )
    for kind, s in incident_summary(incidents).items():
        recall = f"recall {s['recall_detectable']:.2f}" if s["detectable"] else "no recall to judge"
        console.print(
            f"{kind}: {s['planted']} planted, {s['detectable']} detectable (chance ≥ {DETECTABLE:.0%}), "
            f"{s['found_detectable']} of them flagged ({recall}); {s['undetectable']} undetectable at their "
            f"shops' volume; {s['found']} flagged in all, {s['expected_found']:.1f} expected"
        )
    console.print(
        f"{len(report.too_small)} of {len(report.busiest)} shops too small to judge for refund spikes "
        f"(fewer than {report.min_orders} paid orders in every {MonitorSettings().window_days}-day window)"
    )


def print_sample_feeds(runtime: Runtime, users: int = 3, n: int = 8) -> None:
    """A few active users' feeds through the full pipeline, each item with why it is there."""
    from xingqu.cli.recommend import print_feed

    service = feed_service(runtime)
    model = service.serving().model
    active = np.argsort(-np.diff(model.history.indptr), kind="stable")[:users]
    for u in model.feed.profiles.users.ids[active].tolist():  # type: ignore[union-attr]
        print_feed(runtime.store, u, service.recommend(u, n).items)


def print_matching(model: TrainedModel, runtime: Runtime) -> None:
    """The busiest creator's fan portrait and selection; the best-selling product's audience and creators."""
    from xingqu.cli.match import print_portrait
    from xingqu.pipelines.matching import Matching

    m = Matching.from_store(runtime.store, model.member("als"), runtime.settings.min_group_size)
    g = m.groups
    creator = g.creators.ids[int(np.argmax(np.diff(g.follows.indptr)))]
    print_portrait(m.portrait("creator", creator, "followers"), top=3)
    sel = m.selection(creator, 3, 6)
    console.print(
        f"Selection for {creator}: "
        + "; ".join(f"{c.category} ({', '.join(c.reasons)})" for c in sel.categories)
        + " — products "
        + ", ".join(p.product_id for p in sel.products)
    )
    sold = np.diff(g.last_paid.indptr)
    product = next(
        g.items.ids[i]
        for i in np.argsort(-sold, kind="stable").tolist()
        if runtime.store.catalogue.servable_products([g.items.ids[i]])
    )
    domain = m.private_domain("product", product)
    console.print(f"Private domain of {product}: " + ", ".join(f"{k} {len(v):,}" for k, v in domain.items()))
    brand = g.item_brand[g.item(product)]
    if brand >= 0:
        look = m.lookalike("brand", g.brands.ids[brand], top_share=0.05)
        console.print(
            f"Lookalikes of brand {g.brands.ids[brand]}'s {look.seed_size:,} buyers: "
            f"{len(look.users):,} users (top 5 %), best {', '.join(look.users[:5])}"
        )
    table = Table(title=f"Creators for {product}", show_edge=False)
    for col in ("creator", "predicted GMV ¥", "followers", "target users reached", "category fit"):
        table.add_column(col)
    for c in m.creators_for(product, n=5):
        table.add_row(
            c.creator_id,
            f"{c.predicted_gmv_yuan:,.0f}",
            f"{c.followers:,}",
            f"{c.target_users_in_audience:,}",
            f"{c.components['category_fit']:.0%}",
        )
    console.print(table)
