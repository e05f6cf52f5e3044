"""One SparkSession per process, local or on a cluster, configured for xingqu's jobs."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from xingqu.errors import MissingDependencyError, UserError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: The master a Spark job runs on unless told otherwise: two local cores.
DEFAULT_MASTER = "local[2]"
#: The share of the machine's memory a local-mode driver's heap takes unless told otherwise.
LOCAL_HEAP_SHARE = 0.35

_lock = threading.Lock()


def require_pyspark() -> Any:
    """The ``pyspark`` module, or a clear error naming the extra to install."""
    try:
        import pyspark
    except ImportError:
        raise MissingDependencyError("pyspark", "spark", "The Spark engine") from None
    return pyspark


def check_master(master: str) -> str:
    """``local``, ``local[N]``, ``local[*]``, ``spark://host:port``, ``yarn`` or ``k8s://…``; else a
    clear error."""
    ok = (
        master == "local"
        or (master.startswith("local[") and master.endswith("]"))
        or master.startswith(("spark://", "k8s://"))
        or master == "yarn"
    )
    if not ok:
        raise UserError(f"--master {master!r}: use local[2], local[*], spark://HOST:PORT, yarn or k8s://…")
    return master


def spark_session(master: str = DEFAULT_MASTER, app_name: str = "xingqu") -> SparkSession:
    """The process's SparkSession on ``master`` (made on first use; a later call with another master
    gets the same session). The driver binds to 127.0.0.1 in local mode unless ``SPARK_LOCAL_IP`` says
    otherwise, and executors run this very Python."""
    require_pyspark()
    from pyspark.sql import SparkSession

    check_master(master)
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise UserError(
            "the Spark engine needs Java 17 or newer: install it (Debian: apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )
    with _lock:
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(_partitions(master)))
            .config("spark.default.parallelism", str(_partitions(master)))
            .config("spark.driver.extraJavaOptions", "-Xss16m")  # ALS's long lineages recurse deeply
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.memory", driver_memory(master))
            .config("spark.driver.maxResultSize", "0")
        )
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        if spark.sparkContext.getCheckpointDir() is None and master.startswith("local"):
            spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="xingqu-spark-"))
        return spark


def driver_memory(master: str) -> str:
    """The driver's Java heap: ``XINGQU_SPARK_DRIVER_MEMORY``, else in local mode, where the driver is
    the only executor and holds the cached log, 35 % of the machine's memory (2g at least); else 2g
    (on a cluster the driver only gathers results)."""
    given = os.environ.get("XINGQU_SPARK_DRIVER_MEMORY")
    if given:
        return given
    if not master.startswith("local"):
        return "2g"
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2g"
    return f"{max(2, int(physical * LOCAL_HEAP_SHARE / 2**30))}g"


def java_failure(exc: BaseException) -> UserError | None:
    """A clear error for a Spark job that failed for want of Java heap (the JVM's ``OutOfMemoryError``
    arrives as a Py4J or PySpark error with a long Java trace), naming the setting to raise; None for
    any other failure."""
    module = type(exc).__module__ or ""
    if not module.startswith(("py4j", "pyspark")) or "java.lang.OutOfMemoryError" not in str(exc):
        return None
    used = os.environ.get("XINGQU_SPARK_DRIVER_MEMORY")
    heap = f"{used} (XINGQU_SPARK_DRIVER_MEMORY)" if used else "its default"
    return UserError(
        f"Spark ran out of Java heap space with a driver heap of {heap}. In local mode the driver is "
        "the only executor: raise XINGQU_SPARK_DRIVER_MEMORY (e.g. 16g) or run on a cluster with "
        "--master spark://HOST:PORT and more executor memory."
    )


def _partitions(master: str) -> int:
    """Shuffle partitions: ``XINGQU_SPARK_PARTITIONS``, else the local cores (a cluster: 64)."""
    given = os.environ.get("XINGQU_SPARK_PARTITIONS")
    if given:
        return max(int(given), 1)
    if master == "local":
        return 1
    if master.startswith("local["):
        inner = master[6:-1].split(",")[0]
        return os.cpu_count() or 2 if inner == "*" else max(int(inner) if inner.isdigit() else 2, 1)
    return 64
