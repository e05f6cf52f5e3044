"""The offline work on Apache Spark over the Parquet event lake: training's heavy parts, batch scoring
and rollups, writing the same artifacts and tables as the one-machine path. PySpark is an optional
extra (``pip install 'xingqu[spark]'``), imported only here and only when asked for."""
