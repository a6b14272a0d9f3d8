"""Charts for asset metadata: PNG files saved under the report folder and embedded as Markdown."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import dagster as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def figure_metadata(fig: plt.Figure, path: Path) -> dg.MetadataValue:
    """Save `fig` to `path` and return it as an inline image for the Dagster UI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    path.write_bytes(buffer.getvalue())
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return dg.MetadataValue.md(f"![{path.stem}](data:image/png;base64,{encoded})")


def bar_chart(values: pd.Series, title: str, xlabel: str, path: Path) -> dg.MetadataValue:
    """Horizontal bars, largest on top."""
    values = values.sort_values()
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(values) + 1))
    ax.barh(values.index.astype(str), values.to_numpy(), color="#4C78A8")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    for y, value in enumerate(values.to_numpy()):
        ax.text(
            value, y, f" {value:,.3g}" if isinstance(value, float) else f" {value:,}", va="center"
        )
    return figure_metadata(fig, path)


def metric_comparison(
    metrics: dict[str, dict[str, float]], title: str, path: Path
) -> dg.MetadataValue:
    """Grouped bars: one group per metric, one bar per model (model vs baseline)."""
    frame = pd.DataFrame(metrics)
    fig, ax = plt.subplots(figsize=(6, 3))
    frame.plot.bar(ax=ax, rot=0)
    ax.set_title(title)
    ax.legend(loc="best")
    return figure_metadata(fig, path)
