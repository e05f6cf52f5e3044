"""Training on the store, versioned model folders, similar products and bought together."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import SAMPLE
from test_cli import xingqu
from xingqu.cli.app import run
from xingqu.errors import NotFoundError
from xingqu.ingest import import_path
from xingqu.models.artifacts import ArtifactError, write_manifest
from xingqu.pipelines.similar import bought_together, similar_products
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.store.schema import TABLES
from xingqu.training import load_trained, train, validation_users, versions


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path]:
    root = tmp_path_factory.mktemp("market")
    simulate(preset("tiny", days=10), root / "m")
    store = Store(f"sqlite:///{root / 's.db'}")
    import_path(store, root / "m")
    return store, root


def test_train_saves_a_loadable_version(market: tuple[Store, Path]) -> None:
    store, root = market
    model = train(store, root / "models")
    assert versions(root / "models") == [model.version]
    meta = model.meta
    assert set(meta["members"]) == {
        "ease",
        "als",
        "itemknn",
        "popular",
        "content",
        "trending",
        "recentknn",
        "transition",
    }
    assert 0 <= meta["validation"]["ndcg@10"] <= 1
    loaded = load_trained(root / "models")
    assert loaded.version == model.version
    assert (loaded.history != model.history).nnz == 0
    users = loaded.blend.users.lookup(loaded.blend.users.ids[:20])
    assert (
        loaded.blend.recommend(users, loaded.history[users], 10)
        == model.blend.recommend(users, model.history[users], 10)
    ).all()
    with pytest.raises(NotFoundError, match="versions: " + model.version):
        load_trained(root / "models", "19990101T000000Z-deadbeef")
    with pytest.raises(NotFoundError, match="run 'xingqu train' first"):
        load_trained(root / "empty")


def test_similar_products_follow_governance_without_retraining(market: tuple[Store, Path]) -> None:
    store, root = market
    model = load_trained(root / "models") if versions(root / "models") else train(store, root / "models")
    product = "p000"
    first = similar_products(model, store.servable_products, product, 5)
    assert len(first) == 5 and product not in {r.product_id for r in first}
    assert all(r.score > 0 for r in first)
    gone = first[0].product_id
    products = TABLES["products"]
    with store.writing() as conn:
        conn.execute(sa.update(products).where(products.c.product_id == gone).values(status="taken_down"))
    after = similar_products(model, store.servable_products, product, 5)
    assert gone not in {r.product_id for r in after}
    assert [r.product_id for r in after][:4] == [r.product_id for r in first][1:5]
    with store.writing() as conn:
        conn.execute(sa.update(products).where(products.c.product_id == gone).values(status="listed"))
    with pytest.raises(NotFoundError, match="unknown product"):
        similar_products(model, store.servable_products, "p-nope")
    assert isinstance(bought_together(model, store.servable_products, product, 5), list)


def test_a_product_without_interactions_is_matched_by_content(market: tuple[Store, Path]) -> None:
    store, root = market
    model = load_trained(root / "models") if versions(root / "models") else train(store, root / "models")
    counts = model.history.getnnz(axis=0)
    cold = [int(j) for j in range(len(counts)) if counts[j] == 0]
    assert cold, "the tiny market has products nobody touched"
    pid = model.blend.items.ids[cold[0]]
    related = similar_products(model, store.servable_products, pid, 5)
    assert related and all(r.reason == "content" for r in related)


def test_cli_train_and_similar(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert xingqu("import", str(SAMPLE), "--quiet", db=db).returncode == 0
    r = xingqu("train", "--models-dir", str(tmp_path / "models"), "--json", db=db)
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    assert meta["items"] == 12 and meta["users"] == 24
    r = xingqu("similar", "p-serum", "-n", "3", "--models-dir", str(tmp_path / "models"), "--json", db=db)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == meta["version"]
    assert len(out["similar"]) == 3 and "p-serum" not in [x["product_id"] for x in out["similar"]]
    assert xingqu("similar", "p-nope", "--models-dir", str(tmp_path / "models"), db=db).returncode == 1


@pytest.mark.parametrize(
    ("file", "damage"),
    [
        ("manifest.json", "delete"),
        ("extras.npz", "flip"),
        ("feed/feed.npz", "flip"),
        ("feed/feed.json", "edit"),
        ("meta.json", "delete"),
        ("feed/content.parquet", "flip"),
        ("blend/model.json", "list"),
        ("feed/feed.json", "list"),
        ("feed/ranker/ranker.json", "list"),
        ("extras.npz", "list"),
        ("feed/ranker/ranker.txt", "delete"),
        ("blend/stray.bin", "add"),
    ],
)
def test_any_damage_to_a_model_version_is_named(
    market: tuple[Store, Path], tmp_path: Path, file: str, damage: str
) -> None:
    store, root = market
    if not versions(root / "models"):
        train(store, root / "models")
    version = versions(root / "models")[-1]
    shutil.copytree(root / "models" / version, tmp_path / "models" / version)
    folder = tmp_path / "models" / version
    path = folder / file
    if damage == "delete":
        path.unlink()
    elif damage == "flip":
        raw = bytearray(path.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        path.write_bytes(bytes(raw))
    elif damage == "edit":  # changed weights, still valid JSON: used silently before the manifest
        meta = json.loads(path.read_text(encoding="utf-8"))
        meta["weights"] = {k: 0.0 for k in meta["weights"]}
        path.write_text(json.dumps(meta), encoding="utf-8")
    elif damage == "add":
        path.write_bytes(b"\x00")
    else:  # the wrong JSON shape, with the manifest rewritten to match: the reader still names the file
        path.write_text("[1, 2, 3]", encoding="utf-8")
        write_manifest(folder)
    expected = {
        ("manifest.json", "delete"): str(folder),  # a version never finished
        ("meta.json", "delete"): str(tmp_path / "models"),  # not a version at all
    }.get((file, damage), str(path))
    with pytest.raises((ArtifactError, NotFoundError), match=re.escape(expected)):
        load_trained(tmp_path / "models")
    code = run(["recommend", "u0001", "--models-dir", str(tmp_path / "models"), "--db", store.url])
    assert code == 1


def test_tuning_judges_as_many_users_as_a_catalogue_leaves_room_for() -> None:
    """Every validation user is ranked against every product: 500M scores per candidate config at most,
    within 2,000 and 20,000 users."""
    assert validation_users(1_682) == 20_000  # MovieLens 100K: every user the split holds, up to 20,000
    assert validation_users(25_000) == 20_000
    assert validation_users(100_000) == 5_000  # the large preset's catalogue
    assert validation_users(10_000_000) == 2_000
