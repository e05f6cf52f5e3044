"""The same training on a standalone Spark cluster on this machine: one master and two one-core workers
started from the pyspark distribution's ``spark-class``, then ``xingqu train --engine spark --master
spark://127.0.0.1:7077`` beside the one-machine ``xingqu train`` on the same simulated world, and their
outputs compared (interactions, history and bought-together matrices exactly; validation NDCG@10 and
Recall@20 within 3 %), with the wall time and peak memory of each (the cluster's processes counted
with the Spark run). The cluster is stopped at the end.

    python benchmarks/spark_cluster.py [--preset tiny] [--users 600] [--days 14]
    python benchmarks/spark_cluster.py --world DIR --reference DIR/models-spark --worker-memory 4g

The second form trains on a world ``benchmarks/scale.py --keep DIR`` left (the large preset's 30
days) and compares with a model already trained on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _procs import run

MASTER_PORT = 7077


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def wait_port(port: int, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {seconds:.0f} s")


def start_cluster(env: dict[str, str], work: Path, worker_memory: str) -> list[subprocess.Popen[bytes]]:
    """One master and two one-core workers of ``worker_memory`` each, logging to ``work``."""
    cls = str(spark_home() / "bin" / "spark-class")
    log = (work / "cluster.log").open("wb")
    procs = [
        subprocess.Popen(
            [
                cls,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(MASTER_PORT),
                "--webui-port",
                "18080",
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
    ]
    wait_port(MASTER_PORT)
    for k in range(2):
        procs.append(
            subprocess.Popen(
                [
                    cls,
                    "org.apache.spark.deploy.worker.Worker",
                    f"spark://127.0.0.1:{MASTER_PORT}",
                    "--cores",
                    "1",
                    "--memory",
                    worker_memory,
                    "--webui-port",
                    str(18081 + k),
                    "--work-dir",
                    str(work / f"worker{k}"),
                ],
                env=env,
                stdout=log,
                stderr=log,
            )
        )
    time.sleep(15)  # workers register with the master
    return procs


def simulated_world(args: argparse.Namespace, work: Path, env: dict[str, str]) -> tuple[str, str]:
    """A small simulated world imported into a SQLite store and a lake: (store URL, lake folder)."""
    db, lake = f"sqlite:///{work / 's.db'}", str(work / "lake")
    sim = ["simulate", "--preset", args.preset, "--users", str(args.users), "--days", str(args.days)]
    run([*sim, "--out", str(work / "m"), "-q"], env)
    run(["init", "--db", db, "-q"], env)
    run(["import", str(work / "m"), "--db", db, "--events", lake, "-q"], env)
    return db, lake


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--users", type=int, default=600)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument(
        "--world",
        type=Path,
        default=None,
        help="a folder kept by 'benchmarks/scale.py --keep' (lake.db and lake/) instead of a simulated one",
    )
    ap.add_argument(
        "--reference",
        type=Path,
        default=None,
        help="a models folder trained on the same world to compare with, instead of training on one machine",
    )
    ap.add_argument("--worker-memory", default="1g", help="memory of each of the two workers")
    ap.add_argument(
        "--driver-memory", default=None, help="the driver's Java heap (XINGQU_SPARK_DRIVER_MEMORY)"
    )
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINGQU_")}
    env |= {
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    if args.driver_memory:
        env["XINGQU_SPARK_DRIVER_MEMORY"] = args.driver_memory
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Spark's own settings file: each application asks its executors for all a worker offers
        (work / "conf").mkdir()
        (work / "conf" / "spark-defaults.conf").write_text(f"spark.executor.memory {args.worker_memory}\n")
        env["SPARK_CONF_DIR"] = str(work / "conf")
        try:
            procs = start_cluster(env, work, args.worker_memory)
            if args.world:
                db, lake = f"sqlite:///{args.world / 'lake.db'}", str(args.world / "lake")
            else:
                db, lake = simulated_world(args, work, env)
            runs = {}
            todo = [("spark cluster", ["--engine", "spark", "--master", f"spark://127.0.0.1:{MASTER_PORT}"])]
            if args.reference is None:
                todo.insert(0, ("one machine", []))
            for name, extra in todo:
                cmd = [
                    "train",
                    "--db",
                    db,
                    "--events",
                    lake,
                    "--models-dir",
                    str(work / name),
                    "--json",
                    *extra,
                ]
                seconds, peak, out = run(cmd, env, also=lambda: [p.pid for p in procs])
                meta = json.loads(out)
                runs[name] = (meta, seconds)
                v = meta["validation"]
                print(
                    f"{name}: {meta['engine']} trained in {seconds:.0f} s, peak {peak / 2**30:.2f} GB "
                    f"(the command's processes{' and the cluster' if extra else ''}); validation "
                    f"NDCG@10 {v['ndcg@10']:.4f}, Recall@20 {v['recall@20']:.4f}",
                    flush=True,
                )
            compare(args.reference or work / "one machine", work / "spark cluster")
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


def compare(a: Path, b: Path) -> None:
    """The two trained models side by side: equal matrices, validation within 3 %."""
    from xingqu.training import load_trained

    ma, mb = load_trained(a), load_trained(b)
    same = {
        "interactions": ma.meta["interactions"] == mb.meta["interactions"],
        "history": (ma.history != mb.history).nnz == 0,
        "bought together": (ma.cobuy_support != mb.cobuy_support).nnz == 0
        and (ma.cobuy_lift != mb.cobuy_lift).nnz == 0,
    }
    va, vb = ma.meta["validation"], mb.meta["validation"]
    for metric in ("ndcg@10", "recall@20"):
        rel = abs(va[metric] - vb[metric]) / va[metric] if va[metric] else 0.0
        same[f"{metric} within 3 % ({rel:.1%})"] = rel <= 0.03
    for what, ok in same.items():
        print(f"  {'same' if ok else 'DIFFERENT'}: {what}")


if __name__ == "__main__":
    main()
