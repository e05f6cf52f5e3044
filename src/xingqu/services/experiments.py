"""Online experiments as use cases: define (audited), list, show, edit before the start, stop
(audited), serve a user's feed from their arms with every response in the exposure log, and report.

Every serving process asks the store which experiments are live (at most every ``CHECK_EVERY_S``), so
a new or stopped experiment reaches all processes within seconds; assignment itself needs nothing
shared (``xingqu.experiments.assign``)."""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from xingqu.errors import ConflictError, NotFoundError, UserError, XingquError
from xingqu.experiments.analysis import analyse
from xingqu.experiments.assign import assign, assign_many, free_slice
from xingqu.experiments.attribution import DAY_MS, PRE_DAYS, Exposure, credit
from xingqu.experiments.model import Arm, Experiment, ExperimentSpec, check_name, parse_spec
from xingqu.models.rowops import MAX_LOOP_ROWS
from xingqu.pipelines.feed import ContentItem
from xingqu.runtime import Runtime
from xingqu.services.feed import FeedResult, feed_service

#: How often a serving process asks the store which experiments are live, in seconds.
CHECK_EVERY_S = 2.0
#: The audit log's subject kind of experiments.
SUBJECT = "experiment"


def now_ms() -> int:
    return int(time.time() * 1000)


def _experiment(row: dict[str, Any]) -> Experiment:
    """A stored row as an ``Experiment``."""
    return Experiment(
        spec=ExperimentSpec.model_validate(json.loads(row["spec"])),
        salt=row["salt"],
        range_lo=row["range_lo"],
        range_hi=row["range_hi"],
        start_ms=row["start_ms"],
        end_ms=row["end_ms"],
        created_ms=row["created_ms"],
        created_by=row["created_by"],
        stopped_ms=row["stopped_ms"],
        stopped_by=row["stopped_by"],
        stop_reason=row["stop_reason"],
    )


def _overlaps(a_start: int, a_end: int | None, b_start: int, b_end: int | None) -> bool:
    inf = 2**62
    return a_start < (b_end if b_end is not None else inf) and b_start < (a_end if a_end is not None else inf)


def _check_models(runtime: Runtime, arms: Iterable[Arm]) -> None:
    """Every model version an arm names is one the registry can serve."""
    known = {v.version: v.status for v in runtime.registry.list()}
    for arm in arms:
        if arm.model is not None and known.get(arm.model) != "ready":
            state = known.get(arm.model)
            why = "unknown" if state is None else f"{state}, not ready"
            raise UserError(f"arms.{arm.name}.model: model version {arm.model!r} is {why}")


def _place(
    runtime: Runtime, conn: Any, spec: ExperimentSpec, start: int, end: int | None
) -> tuple[float, float]:
    """The experiment's slice of its layer: the lowest free one among the layer's experiments that are
    live at the same time (experiments of a layer never share a user)."""
    taken = [
        (r["range_lo"], r["range_hi"])
        for r in runtime.store.experiments.live(now_ms(), conn)
        if r["layer"] == spec.layer
        and r["name"] != spec.name
        and _overlaps(start, end, r["start_ms"], r["end_ms"])
    ]
    found = free_slice(taken, spec.population.share)
    if found is None:
        free = 1.0 - sum(hi - lo for lo, hi in taken)
        raise ConflictError(
            f"layer {spec.layer!r} has {free:.0%} of its traffic free at that time, less than the "
            f"population share {spec.population.share:.0%}: use another layer or a smaller share"
        )
    return found


def create_experiment(runtime: Runtime, data: dict[str, Any], actor: str) -> dict[str, Any]:
    """Define an experiment (audited): checked whole, given a hash salt and a free slice of its layer."""
    spec = parse_spec(data)
    store = runtime.store
    store.require_ready()
    _check_models(runtime, spec.arms)
    at = now_ms()
    start = spec.start_ms if spec.start_ms is not None else at
    if spec.end_ms is not None and spec.end_ms <= start:
        raise UserError("end_ms: the end must be after the start (now, when no start is given)")
    salt = spec.salt or f"{spec.name}:{secrets.token_hex(4)}"
    with store.writing() as conn:
        store.dialect.lock_for_write(conn)
        if store.experiments.get(spec.name, conn) is not None:
            raise ConflictError(f"an experiment named {spec.name!r} exists already")
        lo, hi = _place(runtime, conn, spec, start, spec.end_ms)
        exp = Experiment(
            spec=spec,
            salt=salt,
            range_lo=lo,
            range_hi=hi,
            start_ms=start,
            end_ms=spec.end_ms,
            created_ms=at,
            created_by=actor,
        )
        store.experiments.insert(conn, _row(exp))
        store.append_audit(
            conn,
            actor=actor,
            action="experiment_create",
            subject_kind=SUBJECT,
            subject_id=spec.name,
            reason=spec.description or "defined",
            before=None,
            after=exp.to_dict(at),
            at_ms=at,
        )
    router(runtime).refresh()
    return exp.to_dict(at)


def _row(exp: Experiment) -> dict[str, Any]:
    return {
        "name": exp.name,
        "layer": exp.layer,
        "salt": exp.salt,
        "spec": exp.spec.model_dump_json(),
        "range_lo": exp.range_lo,
        "range_hi": exp.range_hi,
        "start_ms": exp.start_ms,
        "end_ms": exp.end_ms,
        "created_ms": exp.created_ms,
        "created_by": exp.created_by,
        "stopped_ms": exp.stopped_ms,
        "stopped_by": exp.stopped_by,
        "stop_reason": exp.stop_reason,
    }


def get_experiment(runtime: Runtime, name: str) -> Experiment:
    """One experiment; an unknown name is ``NotFoundError``."""
    runtime.store.require_ready()
    row = runtime.store.experiments.get(check_name(name))
    if row is None:
        raise NotFoundError(f"unknown experiment {name!r}")
    return _experiment(row)


def list_experiments(runtime: Runtime) -> list[dict[str, Any]]:
    """Every experiment with its state, oldest first."""
    runtime.store.require_ready()
    at = now_ms()
    return [_experiment(r).to_dict(at) for r in runtime.store.experiments.rows()]


def show_experiment(runtime: Runtime, name: str) -> dict[str, Any]:
    """One experiment with its users and responses per arm so far."""
    exp = get_experiment(runtime, name)
    counts = runtime.store.experiments.exposure_counts(exp.name)
    out = exp.to_dict(now_ms())
    out["exposure"] = [
        {"arm": a.name, "users": counts.get(a.name, (0, 0))[0], "responses": counts.get(a.name, (0, 0))[1]}
        for a in exp.spec.arms
    ]
    return out


def edit_experiment(runtime: Runtime, name: str, data: dict[str, Any], actor: str) -> dict[str, Any]:
    """Replace the definition of an experiment that has not started (audited); one that has started
    cannot be edited, only stopped (``ConflictError``)."""
    exp = get_experiment(runtime, name)
    spec = parse_spec({**data, "name": exp.name})
    at = now_ms()
    status = exp.status(at)
    if status != "scheduled":
        raise ConflictError(f"experiment {name!r} is {status}: it cannot be edited, only stopped")
    _check_models(runtime, spec.arms)
    start = spec.start_ms if spec.start_ms is not None else at
    if spec.end_ms is not None and spec.end_ms <= start:
        raise UserError("end_ms: the end must be after the start")
    store = runtime.store
    with store.writing() as conn:
        store.dialect.lock_for_write(conn)
        row = store.experiments.get(name, conn)
        if row is None or _experiment(row).status(now_ms()) != "scheduled":
            raise ConflictError(f"experiment {name!r} has started: it cannot be edited, only stopped")
        lo, hi = _place(runtime, conn, spec, start, spec.end_ms)
        new = exp.model_copy(
            update={
                "spec": spec,
                "salt": spec.salt or exp.salt,
                "range_lo": lo,
                "range_hi": hi,
                "start_ms": start,
                "end_ms": spec.end_ms,
            }
        )
        store.experiments.delete_scheduled(conn, name)
        store.experiments.insert(conn, _row(new))
        store.append_audit(
            conn,
            actor=actor,
            action="experiment_edit",
            subject_kind=SUBJECT,
            subject_id=name,
            reason=spec.description or "edited before its start",
            before=exp.to_dict(at),
            after=new.to_dict(at),
            at_ms=at,
        )
    router(runtime).refresh()
    return new.to_dict(at)


def stop_experiment(runtime: Runtime, name: str, reason: str, actor: str) -> dict[str, Any]:
    """Stop an experiment (audited): from the next request of every process its users get what the
    platform serves without it (the control, when the control is the production feed)."""
    if not reason.strip():
        raise UserError("stop: a reason is required")
    exp = get_experiment(runtime, name)
    at = now_ms()
    store = runtime.store
    with store.writing() as conn:
        if not store.experiments.stop(conn, exp.name, at, actor, reason):
            raise ConflictError(f"experiment {name!r} is stopped already")
        store.append_audit(
            conn,
            actor=actor,
            action="experiment_stop",
            subject_kind=SUBJECT,
            subject_id=exp.name,
            reason=reason,
            before={"status": exp.status(at)},
            after={"status": "stopped"},
            at_ms=at,
        )
    router(runtime).refresh()
    return get_experiment(runtime, name).to_dict(now_ms())


# -- serving ------------------------------------------------------------------------------------------


@dataclass
class Router:
    """Which live experiments a user is in, from the store's list refreshed every ``CHECK_EVERY_S``."""

    runtime: Runtime
    _live: list[Experiment] = field(default_factory=list)
    _checked: float = -1e9
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self) -> None:
        """Ask the store again at the next request (after a change made by this process)."""
        self._checked = -1e9

    def live(self) -> list[Experiment]:
        if time.monotonic() - self._checked >= CHECK_EVERY_S:
            with self._lock:
                if time.monotonic() - self._checked >= CHECK_EVERY_S:
                    rows = self.runtime.store.experiments.live(now_ms())
                    self._live = [_experiment(r) for r in rows]
                    self._checked = time.monotonic()
        return self._live

    def route(self, user: str, at_ms: int) -> list[tuple[Experiment, Arm]]:
        """The running experiments ``user`` is in and their arm in each (one per layer)."""
        running = [e for e in self.live() if e.status(at_ms) == "running"]
        if not running:
            return []
        profile = None
        if any(e.spec.population.segment for e in running):
            profile = self.runtime.store.catalogue.user_profile(user)
        out = []
        for e in running:
            arm = assign(e, user, profile)
            if arm is not None:
                out.append((e, next(a for a in e.spec.arms if a.name == arm)))
        return out

    def route_many(self, users: Sequence[str], at_ms: int) -> list[list[tuple[Experiment, Arm]]]:
        """``route`` of many users at once (batch scoring): the same experiments and arms, in the same
        order, as one by one (``assign_many`` is ``assign`` vectorised)."""
        out: list[list[tuple[Experiment, Arm]]] = [[] for _ in users]
        for e in (e for e in self.live() if e.status(at_ms) == "running"):
            profiles = None
            if e.spec.population.segment:
                catalogue = self.runtime.store.catalogue
                profiles = {u: p for u in users if (p := catalogue.user_profile(u)) is not None}
            arms = {a.name: a for a in e.spec.arms}
            for k, arm in enumerate(assign_many(e, users, profiles)):
                if arm is not None:
                    out[k].append((e, arms[arm]))
        return out


def router(runtime: Runtime) -> Router:
    """The runtime's experiment router (one per runtime)."""
    return runtime.shared(("experiments-router",), lambda: Router(runtime))


@dataclass(frozen=True)
class Treatment:
    """What a user's arms serve them: a model version (None: the current one) and a named feed
    configuration (``xingqu.experiments.model.FEEDS``)."""

    model: str | None
    feed: str


def treatment(routed: Sequence[tuple[Experiment, Arm]], version: str | None = None) -> Treatment:
    """The treatment of a user in the ``routed`` experiments: the first arm, by the order the
    experiments were made, that names a model decides the model (else ``version``), and the first that
    names a feed configuration other than the default decides the configuration."""
    model = next((a.model for _, a in routed if a.model is not None), version)
    feed = next((a.feed for _, a in routed if a.feed != "default"), "default")
    return Treatment(model, feed)


def _arms(routed: Sequence[tuple[Experiment, Arm]]) -> list[dict[str, str]]:
    return [{"experiment": e.name, "arm": a.name} for e, a in routed]


@dataclass
class ServedFeed:
    """A feed served under the user's experiments, with its request id for attribution (None: scored
    in a batch, not served, so nothing was logged)."""

    result: FeedResult
    request_id: str | None
    arms: list[dict[str, str]]


@dataclass
class ServedContent:
    """Videos and live rooms served under the user's experiments, with the request id for attribution."""

    version: str
    items: list[ContentItem]
    request_id: str
    arms: list[dict[str, str]]


def _log_exposure(
    runtime: Runtime, routed: Sequence[tuple[Experiment, Arm]], user: str, at: int, t0: float
) -> str:
    """A new request id, with the response logged under it for each experiment that served it (arm,
    time, latency): events sent with that id are credited to those arms."""
    request_id = uuid.uuid4().hex
    if routed:
        latency = (time.perf_counter() - t0) * 1000
        runtime.store.experiments.log_exposures(
            [
                {
                    "request_id": request_id,
                    "experiment": e.name,
                    "arm": a.name,
                    "user_id": user,
                    "ts": at,
                    "latency_ms": latency,
                }
                for e, a in routed
            ]
        )
    return request_id


@dataclass(frozen=True)
class FeedAsk:
    """One user's feed request: how many products, the filters (``max_price`` in fen), and whether
    to say why each product is there."""

    user: str
    n: int = 20
    max_price: int | None = None
    categories: tuple[str, ...] | None = None
    brands: tuple[str, ...] | None = None
    explain: bool = True


def serve_feeds(
    runtime: Runtime,
    asks: Sequence[FeedAsk],
    *,
    log: bool = True,
    version: str | None = None,
    at_ms: int | None = None,
) -> list[ServedFeed | XingquError]:
    """The feeds of several requests served at once, each exactly the feed ``serve_feed`` gives it
    alone: users under the same treatment and asking the same way are scored together, up to the
    batch size whose scores do not depend on who else is in it (``MAX_LOOP_ROWS``); each response
    logged per experiment as ``serve_feed`` logs it (unless ``log`` is off: batch scoring, where
    ``version`` stands for the current model where no arm names one). A request that fails (an
    unknown user) gets its error in its place; the others are served."""
    t0 = time.perf_counter()
    at = now_ms() if at_ms is None else at_ms
    routes = router(runtime).route_many([a.user for a in asks], at)
    groups: dict[tuple[Treatment, FeedAsk], list[int]] = {}
    for k, (ask, routed) in enumerate(zip(asks, routes, strict=True)):
        groups.setdefault((treatment(routed, version), replace(ask, user="")), []).append(k)
    out: list[ServedFeed | XingquError] = [XingquError("not served")] * len(asks)
    for (how, way), members in groups.items():
        service = feed_service(runtime, how.model)
        serving = service.serving()
        ok = []
        for k in members:
            try:
                service.segments(serving, asks[k].user)  # an unknown user fails alone
                ok.append(k)
            except XingquError as exc:
                out[k] = exc
        for lo in range(0, len(ok), MAX_LOOP_ROWS):
            chunk = ok[lo : lo + MAX_LOOP_ROWS]
            try:
                found = service.recommend_many(
                    [asks[k].user for k in chunk],
                    way.n,
                    max_price=way.max_price,
                    categories=way.categories,
                    brands=way.brands,
                    explain=way.explain,
                    feed=how.feed,
                )
            except XingquError as exc:  # what they asked (a filter) fails them, not the others
                for k in chunk:
                    out[k] = exc
                continue
            for k, result in zip(chunk, found, strict=True):
                request_id = _log_exposure(runtime, routes[k], asks[k].user, at, t0) if log else None
                out[k] = ServedFeed(result, request_id, _arms(routes[k]))
    return out


def serve_feed(
    runtime: Runtime,
    user: str,
    n: int = 20,
    *,
    max_price: int | None = None,
    categories: Iterable[str] | None = None,
    brands: Iterable[str] | None = None,
    explain: bool = True,
) -> ServedFeed:
    """The feed of ``user`` from the arms of the experiments they are in (``treatment``), with the
    response logged per experiment (request id, arm, time, latency)."""
    ask = FeedAsk(
        user,
        n,
        max_price,
        tuple(categories) if categories is not None else None,
        tuple(brands) if brands is not None else None,
        explain,
    )
    served = serve_feeds(runtime, [ask])[0]
    if isinstance(served, XingquError):
        raise served
    return served


def serve_content(runtime: Runtime, user: str, n: int = 10) -> ServedContent:
    """The videos and live rooms of ``user`` from the arms of the experiments they are in, logged like
    ``serve_feed``'s responses (the content feed under the arm's model and feed configuration)."""
    t0 = time.perf_counter()
    at = now_ms()
    routed = router(runtime).route(user, at)
    how = treatment(routed)
    version, items = feed_service(runtime, how.model).content(user, n, feed=how.feed)
    return ServedContent(version, items, _log_exposure(runtime, routed, user, at, t0), _arms(routed))


def score_users(
    runtime: Runtime,
    users: Sequence[str],
    n: int = 20,
    *,
    version: str | None = None,
    max_price: int | None = None,
    categories: Iterable[str] | None = None,
    brands: Iterable[str] | None = None,
    at_ms: int | None = None,
) -> list[ServedFeed]:
    """Batch scoring: the feed of each of ``users`` under their arms' treatment, exactly as
    ``serve_feed`` serves them (``version`` stands for the current model where no arm names one);
    nothing is logged (no response was served). Users are scored together in groups of at most
    ``MAX_LOOP_ROWS``, whose float32 scores equal each user's alone (larger batches take vectorised
    paths whose sums can differ in the last bit, enough to reorder tied products)."""
    cats = tuple(categories) if categories is not None else None
    brand_ids = tuple(brands) if brands is not None else None
    asks = [FeedAsk(u, n, max_price, cats, brand_ids, explain=False) for u in users]
    out = []
    for served in serve_feeds(runtime, asks, log=False, version=version, at_ms=at_ms):
        if isinstance(served, XingquError):
            raise served
        out.append(served)
    return out


# -- report -------------------------------------------------------------------------------------------


def report(runtime: Runtime, name: str) -> dict[str, Any]:
    """The experiment's analysis (``xingqu.experiments.analysis``) over its exposure log and its users'
    logged events, with what it is and where it stands."""
    exp = get_experiment(runtime, name)
    store = runtime.store
    at = now_ms()
    rows = store.experiments.exposures(exp.name)
    exposures = [
        Exposure(r["request_id"], r["user_id"], r["arm"], int(r["ts"]), float(r["latency_ms"])) for r in rows
    ]
    users = sorted({e.user_id for e in exposures})
    events = store.events.since(-(2**62), users) if users else store.events.since(2**62)
    products = [p for p in events.column("product_id").to_pylist() if p] if events.num_rows else []
    shops = {
        pid: str(card["shop_id"] or "")
        for pid, card in store.catalogue.product_cards(sorted(set(products))).items()
    }
    until = min(exp.live_until() or at, at)
    window = int(exp.spec.attribution_window_h * 3_600_000)
    arms = credit(
        [(a.name, a.share) for a in exp.spec.arms],
        exposures,
        events,
        start_ms=exp.start_ms,
        until_ms=until,
        window_ms=window,
        violating=store.experiments.not_in_good_standing(products),
        product_shops=shops,
    )
    figures = analyse(
        arms,
        primary=exp.spec.primary_metric,
        guardrails=exp.spec.guardrails,
        planned_users=exp.spec.planned_users,
        analysis=exp.spec.analysis,
        tau2=exp.spec.sequential_tau2,
    )
    return {
        "experiment": exp.name,
        "status": exp.status(at),
        "layer": exp.layer,
        "start_ms": exp.start_ms,
        "until_ms": until,
        "as_of_ms": at,
        "attribution_window_h": exp.spec.attribution_window_h,
        "pre_period_days": PRE_DAYS,
        "pre_period_from_ms": exp.start_ms - PRE_DAYS * DAY_MS,
        **figures,
    }
