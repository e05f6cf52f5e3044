"""Charts of a metric over periods (PNG or SVG by file suffix), one line per series."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed

import matplotlib.pyplot as plt

from xingqu.outputs import check_output_file, replacing

#: The file types a chart can be written as.
CHART_SUFFIXES = (".png", ".svg")


def line_chart(
    path: Path | str, title: str, periods: Sequence[str], series: dict[str, Sequence[float]], ylabel: str
) -> Path:
    """Write a line chart of each series over ``periods`` to ``path`` (.png or .svg)."""
    path = Path(path)
    check_output_file(path, "chart", CHART_SUFFIXES)
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    for name, values in series.items():
        ax.plot(list(periods), list(values), marker="o", linewidth=1.6, markersize=3, label=name)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    step = max(1, len(periods) // 12)
    ax.set_xticks(
        range(0, len(periods), step),
        [periods[i] for i in range(0, len(periods), step)],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    fig.tight_layout()
    with replacing(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lower().lstrip("."))
    plt.close(fig)
    return path
