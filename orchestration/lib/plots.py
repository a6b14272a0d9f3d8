"""Charts for asset metadata: PNG files saved under the report folder and embedded as Markdown."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import dagster as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402

from ml.base import Chart  # noqa: E402


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


def lift_curve(
    y_true: pd.Series, scores: dict[str, pd.Series], title: str, path: Path
) -> dg.MetadataValue:
    """Cumulative lift: the churn rate among the top x% by score over the overall rate."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    y = y_true.to_numpy(dtype=float)
    shares = np.linspace(0.01, 1.0, 100)
    for name, score in scores.items():
        order = np.argsort(-score.to_numpy(), kind="stable")
        hits = np.cumsum(y[order])
        counts = np.maximum(1, np.round(shares * len(y)).astype(int))
        ax.plot(shares * 100, hits[counts - 1] / counts / y.mean(), label=name)
    ax.axhline(1.0, color="grey", linestyle=":", label="random")
    ax.set_xlabel("customers targeted, highest score first (%)")
    ax.set_ylabel("lift")
    ax.set_title(title)
    ax.legend(loc="best")
    return figure_metadata(fig, path)


def calibration_plot(
    y_true: pd.Series, probabilities: dict[str, pd.Series], title: str, path: Path
) -> dg.MetadataValue:
    """Mean predicted probability against the observed rate, in ten quantile bins."""
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    for name, probability in probabilities.items():
        observed, predicted = calibration_curve(y_true, probability, n_bins=10, strategy="quantile")
        ax.plot(predicted, observed, marker="o", label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title(title)
    ax.legend(loc="best")
    return figure_metadata(fig, path)


def predicted_vs_actual(
    predicted: dict[str, pd.Series], actual: pd.Series, title: str, unit: str, path: Path
) -> dg.MetadataValue:
    """Per-customer scatter (log-log) of predicted against actual, one colour per model, and
    the totals as text."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for name, values in predicted.items():
        ax.scatter(
            actual + 1, values + 1, s=3, alpha=0.3, label=f"{name} (total {values.sum():,.0f})"
        )
    top = max(float(actual.max()), *(float(v.max()) for v in predicted.values())) + 1
    ax.plot([1, top], [1, top], color="grey", linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"actual {unit} + 1 (total {actual.sum():,.0f})")
    ax.set_ylabel(f"predicted {unit} + 1")
    ax.set_title(title)
    ax.legend(loc="upper left", markerscale=4)
    return figure_metadata(fig, path)


def render(chart: Chart, folder: Path) -> dg.MetadataValue:
    """Draw a model's chart (ml.base.Chart: its kind and data) into `folder`."""
    data, path = chart.data, folder / chart.file
    if chart.kind == "bar":
        return bar_chart(data["values"], chart.title, data["xlabel"], path)
    if chart.kind == "metrics":
        return metric_comparison(data["metrics"], chart.title, path)
    if chart.kind == "lift":
        return lift_curve(data["y_true"], data["scores"], chart.title, path)
    if chart.kind == "calibration":
        return calibration_plot(data["y_true"], data["scores"], chart.title, path)
    if chart.kind == "predicted_vs_actual":
        return predicted_vs_actual(
            data["predicted"], data["actual"], chart.title, data["unit"], path
        )
    raise ValueError(f"{chart.file}: no drawing for chart kind {chart.kind!r}")
