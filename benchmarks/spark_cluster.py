"""The same training on a standalone Spark cluster on this machine: one master and two one-core workers
started from the pyspark distribution's ``spark-class``, then ``xingqu train --engine spark --master
spark://127.0.0.1:7077`` beside the one-machine ``xingqu train`` on the same simulated world, and their
outputs compared (interactions, history and bought-together matrices exactly; validation NDCG@10 and
Recall@20 within 3 %). The cluster is stopped at the end.

    python benchmarks/spark_cluster.py [--preset tiny] [--users 600] [--days 14]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def xingqu(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "xingqu.cli.app", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"xingqu {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--users", type=int, default=600)
    ap.add_argument("--days", type=int, default=14)
    args = ap.parse_args()
    home = spark_home()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINGQU_")}
    env |= {
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    cls = str(home / "bin" / "spark-class")
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            log = (work / "cluster.log").open("wb")
            procs.append(
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
            )
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
                            "1g",
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
            db, lake = f"sqlite:///{work / 's.db'}", str(work / "lake")
            xingqu(
                "simulate",
                "--preset",
                args.preset,
                "--users",
                str(args.users),
                "--days",
                str(args.days),
                "--out",
                str(work / "m"),
                "-q",
                env=env,
            )
            xingqu("init", "--db", db, "-q", env=env)
            xingqu("import", str(work / "m"), "--db", db, "--events", lake, "-q", env=env)
            runs = {}
            for name, extra in (
                ("one machine", []),
                ("spark cluster", ["--engine", "spark", "--master", f"spark://127.0.0.1:{MASTER_PORT}"]),
            ):
                t = time.perf_counter()
                meta = json.loads(
                    xingqu(
                        "train",
                        "--db",
                        db,
                        "--events",
                        lake,
                        "--models-dir",
                        str(work / name),
                        "--json",
                        *extra,
                        env=env,
                    )
                )
                runs[name] = (meta, time.perf_counter() - t)
                v = meta["validation"]
                print(
                    f"{name}: {meta['engine']} trained in {runs[name][1]:.0f} s; validation "
                    f"NDCG@10 {v['ndcg@10']:.4f}, Recall@20 {v['recall@20']:.4f}",
                    flush=True,
                )
            compare(work / "one machine", work / "spark cluster", runs)
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()


def compare(a: Path, b: Path, runs: dict[str, tuple[dict[str, object], float]]) -> None:
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
