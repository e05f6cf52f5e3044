"""``xingqu train``, ``xingqu similar`` and ``xingqu evaluate``: retrieval models from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from xingqu.cli.common import (
    MAX_LIST,
    DbOption,
    EngineOption,
    EventsOption,
    JsonOption,
    MasterOption,
    QuietOption,
    console,
    engine_of,
    err_console,
    open_runtime,
    open_store,
    print_json,
    wide_console,
)
from xingqu.dataset import PROTOCOLS, interactions_from_store, load_dataset, protocol_split, read_interactions
from xingqu.errors import UserError
from xingqu.evaluation import DEFAULT_MODELS, EvaluationReport, evaluate
from xingqu.outputs import check_output_file, writing_text
from xingqu.services.similar import related
from xingqu.training import TrainedModel, train

ModelsDirOption = Annotated[Path | None, typer.Option("--models-dir", help="Folder of model versions.")]
VersionOption = Annotated[
    str | None, typer.Option("--model-version", help="Model version (latest by default).")
]
SHOWN = ("ndcg@10", "ndcg@20", "recall@20", "hitrate@10", "mrr", "coverage@20", "novelty@20")


def train_cmd(
    db: DbOption = None,
    events: EventsOption = None,
    models_dir: ModelsDirOption = None,
    engine: EngineOption = "local",
    master: MasterOption = "local[2]",
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Train the retrievers and their blend on the store; save a new model version. With
    ``--engine spark`` the weighted interactions, bought-together statistics and ALS run on Spark."""
    rt = open_runtime(db, models_dir, events)
    rt.store.require_ready()
    say = None if (quiet or json_out) else (lambda msg: err_console.print(f"[dim]{msg}…[/]"))
    model = train(rt.store, rt.models_dir, progress=say, engine=engine_of(engine, master))
    if json_out:
        print_json(model.meta)
    elif not quiet:
        print_trained(model)


def print_trained(model: TrainedModel) -> None:
    m = model.meta
    console.print(
        f"Model [bold]{model.version}[/] → {model.folder} ({m['seconds']} s; {m['users']:,} users, "
        f"{m['items']:,} products, {m['interactions']:,} user-product pairs)"
    )
    table = Table(title="Blend (weights fitted on a validation split)", show_edge=False)
    table.add_column("retriever")
    table.add_column("weight", justify="right")
    table.add_column("config")
    for kind, spec in m["members"].items():
        table.add_row(kind, f"{spec['weight']:.2f}", json.dumps(spec["config"]))
    console.print(table)
    v = m["validation"]
    console.print(
        f"Validation: NDCG@10 {v['ndcg@10']:.4f}, Recall@20 {v['recall@20']:.4f}, "
        f"HitRate@10 {v['hitrate@10']:.4f}"
    )


def similar_cmd(
    product: Annotated[str, typer.Argument(help="Product id.")],
    n: Annotated[int, typer.Option("-n", min=1, max=MAX_LIST, help="How many.")] = 10,
    version: VersionOption = None,
    db: DbOption = None,
    models_dir: ModelsDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Products similar to PRODUCT, and products bought together with it."""
    runtime = open_runtime(db, models_dir)
    found = related(runtime, product, n, version)
    sim, together = found.similar, found.bought_together
    if json_out:
        print_json(
            {
                "product": product,
                "model": found.version,
                "similar": [r.__dict__ for r in sim],
                "bought_together": [r.__dict__ for r in together],
            }
        )
        return
    for title, rows in (("Similar products", sim), ("Bought together", together)):
        table = Table(title=f"{title} to {product}", show_edge=False)
        for col in ("product", "score", "why"):
            table.add_column(col)
        for r in rows:
            table.add_row(r.product_id, f"{r.score:.3f}", r.reason)
        console.print(table if rows else f"{title}: none")


def evaluate_cmd(
    data: Annotated[Path | None, typer.Argument(help="Interactions CSV/TSV; the store when omitted.")] = None,
    train_file: Annotated[Path | None, typer.Option("--train", help="Use this training file…")] = None,
    test_file: Annotated[
        Path | None, typer.Option("--test", help="…and this test file instead of a split.")
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Models to compare (repeatable).")
    ] = None,
    user_col: Annotated[str, typer.Option(help="User column.")] = "user",
    item_col: Annotated[str, typer.Option(help="Item column.")] = "item",
    time_col: Annotated[str, typer.Option(help="Timestamp column.")] = "timestamp",
    rating_col: Annotated[
        str | None, typer.Option(help="Rating/weight column (default: all rows weigh 1).")
    ] = None,
    event_col: Annotated[
        str | None, typer.Option(help="Event-type column, weighted like the store's.")
    ] = None,
    save_recs: Annotated[
        Path | None, typer.Option(help="Write top-100 per test user of one model (JSON lines).")
    ] = None,
    recs_model: Annotated[
        str, typer.Option("--recs-model", help="Model whose lists --save-recs writes.")
    ] = "blend",
    protocol: Annotated[
        str,
        typer.Option(
            help="Hold-out per user: temporal (last 20 %), next-item (last interaction) or "
            "next-session (last session, 30-minute gaps)."
        ),
    ] = "temporal",
    out: Annotated[Path | None, typer.Option(help="Write the report as JSON here.")] = None,
    blend_with: Annotated[
        list[str] | None,
        typer.Option("--blend-with", help="Add a retriever to the blend's members (repeatable)."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Compare models on a per-user hold-out by time, each tuned on a validation split cut the same way."""
    if protocol not in PROTOCOLS:
        raise UserError(f"--protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    cols = {"user": user_col, "item": item_col, "time": time_col, "weight": rating_col, "event": event_col}
    for path, option in ((save_recs, "--save-recs"), (out, "--out")):
        if path is not None:
            check_output_file(path, option)
    base = None
    if train_file or test_file:
        if not (train_file and test_file) or data:
            raise UserError("--train and --test go together, without DATA")
        train_i, test_i = read_interactions(train_file, **cols), read_interactions(test_file, **cols)
    elif data is not None:
        train_i, test_i = protocol_split(read_interactions(data, **cols), protocol)
    else:
        store = open_store(db)
        store.require_ready()
        base = load_dataset(store)
        train_i, test_i = protocol_split(interactions_from_store(store), protocol)
    names = model or list(DEFAULT_MODELS)
    recs_model = recs_model or (names[0] if len(names) == 1 else "blend")
    if save_recs is not None and recs_model not in names:
        names.append(recs_model)
    say = None if json_out else (lambda msg: err_console.print(f"[dim]{msg}…[/]"))
    report = evaluate(
        train_i,
        test_i,
        names,
        progress=say,
        base=base,
        protocol=protocol,
        blend_with=blend_with or (),
        leave_out_unfit=not model,  # the default peers: those this catalogue allows
    )
    if save_recs is not None:
        if recs_model in report.left_out:
            raise UserError(f"--recs-model {recs_model}: left out, {report.left_out[recs_model]}")
        write_recs(report, recs_model, test_i.users, save_recs)
    if out is not None:
        with writing_text(out) as fh:
            fh.write(json.dumps(report.to_dict(), indent=1))
    if json_out:
        print_json(report.to_dict())
    else:
        print_report(report)


def write_recs(report: EvaluationReport, name: str, test_users: np.ndarray, path: Path) -> None:
    """Top 100 (train items excluded) for every user of the test data seen in training, as JSON lines."""
    assert report.split is not None
    data = report.split.data
    users = np.array(sorted(set(test_users.tolist())), dtype=object)
    idx = data.users.lookup(users)
    users, idx = users[idx >= 0], idx[idx >= 0]
    model = report.models[name]
    recs = model.recommend(idx, data.history(model.history_half_life)[idx], 100)
    with writing_text(path) as fh:
        for u, row in zip(users, recs, strict=True):
            fh.write(
                json.dumps({"user": u, "items": data.items.ids[row].tolist()}, ensure_ascii=False) + "\n"
            )


def print_report(report: EvaluationReport) -> None:
    table = Table(
        title=f"Evaluation ({report.protocol}): {report.n_train:,} train / {report.n_test:,} test "
        f"interactions, {report.seconds:.1f} s",
        show_edge=False,
    )
    table.add_column("model")
    for m in SHOWN:
        table.add_column(m, justify="right")
    for name, r in report.results.items():
        table.add_row(name, *(f"{r.metrics[m]:.4f}" for m in SHOWN))
    wide_console(110).print(table)
    for name, why in report.left_out.items():
        wide_console(110).print(f"left out: {name} ({why}; --model {name} to ask for it anyway)")
