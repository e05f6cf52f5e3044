"""Merchants' and creators' tools as use cases: portraits, audiences and lookalikes, creators for
goods, selection for creators — over indexes built once per model version (user embeddings from its
factor model) and kept by the runtime, with servability from the online state."""

from __future__ import annotations

from xingqu.errors import UserError
from xingqu.features.market import MarketTables
from xingqu.pipelines.audience import Lookalike, seed_of
from xingqu.pipelines.matching import Matching
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service


def matching(runtime: Runtime, version: str | None = None) -> Matching:
    """The matching indexes for a model version (the current one by default; with no trained model
    the user embeddings are fitted on the spot), built on first use, then shared."""
    runtime.store.require_ready()
    chosen = version or runtime.registry.current()

    def build() -> Matching:
        embedding = None
        if chosen:
            served = feed_service(runtime).serving()  # the version already loaded to serve, when it is
            model = (
                served.model if served.version == chosen else feed_service(runtime, chosen).serving().model
            )
            embedding = model.member("als")
        market = MarketTables.from_store(runtime.store)
        found = Matching.build(
            market, runtime.online.servability.servable, embedding, runtime.settings.min_group_size
        )
        runtime.forget(("matching", chosen), "matching")  # the indexes of a version no longer served
        return found

    return runtime.shared(("matching", chosen), build)


def audience(runtime: Runtime, kind: str, key: str) -> dict[str, int | None]:
    """How many people a product, shop or brand already reaches, per private-domain group; a group
    smaller than the platform's minimum group size shows no count (None), as a portrait would not."""
    floor = runtime.settings.min_group_size
    domain = matching(runtime).private_domain(kind, key)
    return {name: (len(users) if len(users) >= floor else None) for name, users in domain.items()}


def lookalike(
    runtime: Runtime,
    kind: str,
    key: str,
    *,
    n: int | None = None,
    top_share: float | None = None,
    seed_users: list[str] | None = None,
    exclude_private: bool = False,
) -> Lookalike:
    """Users most like the buyers of a product, shop or brand (or like ``seed_users``); a seed smaller
    than the platform's minimum group size is refused, so that an audience never stands for a handful
    of people."""
    m = matching(runtime)
    floor = runtime.settings.min_group_size
    seeds = len(set(seed_users)) if seed_users is not None else None
    if seeds is None:
        m.private_domain(kind, key)  # unknown or not servable: refused first, by the same rules
        seeds = len(seed_of(m.groups, kind, key))
    if seeds < floor:
        raise UserError(
            f"{kind} {key!r}: a lookalike needs a seed of at least {floor} people (the platform's minimum "
            f"group size), not {seeds}"
        )
    return m.lookalike(
        kind, key, n=n, top_share=top_share, seed_users=seed_users, exclude_private=exclude_private
    )


def parse_target(specs: list[str]) -> dict[str, list[str]]:
    """``["gender=female", "age_band=18-23,24-30"]`` → ``{"gender": ["female"], "age_band": [...]}``; a
    dimension given twice takes the values of both."""
    out: dict[str, list[str]] = {}
    for spec in specs:
        dim, sep, values = spec.partition("=")
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not dim.strip() or not parts:
            raise UserError(f"--target {spec!r}: expected DIMENSION=VALUE[,VALUE…]")
        out.setdefault(dim.strip(), []).extend(v for v in parts if v not in out.get(dim.strip(), []))
    return out
