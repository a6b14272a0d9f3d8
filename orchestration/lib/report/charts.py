"""Charts: matplotlib figures inlined in the page as SVG, one palette and style for all,
and the chart of each section."""

from __future__ import annotations

import io
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from markupsafe import Markup  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from orchestration.lib.report.formats import Formats  # noqa: E402

# Colours (one palette for every chart).
BLUE, ORANGE, GREY, GREEN, RED = "#2F6690", "#E07A1F", "#9AA5B1", "#3A7D44", "#B23A48"


_CHART_STYLE = {
    "svg.fonttype": "none",  # text stays text: crisp, selectable, small
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8A94A0",
    "axes.labelcolor": "#33404D",
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "xtick.color": "#55606B",
    "ytick.color": "#55606B",
    "axes.grid": True,
    "grid.color": "#E3E7EB",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "legend.frameon": False,
}
_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_REF = re.compile(r'(url\(#|href="#)([^)"]+)')


class _Charts:
    """Gives each chart's SVG element ids a unique prefix: many SVGs share one HTML page, and
    matplotlib names its elements the same way in every figure (figure_1, patch_1, ...)."""

    def __init__(self) -> None:
        self.count = 0

    def svg(self, fig: plt.Figure, label: str) -> Markup:
        self.count += 1
        prefix = f"c{self.count}"
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        text = buffer.getvalue()
        text = text[text.index("<svg") :]  # drop the XML declaration and DOCTYPE
        text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
        text = _SVG_ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', text)
        text = _SVG_REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
        text = text.replace("<svg ", f'<svg role="img" aria-label="{_attr(label)}" ', 1)
        return Markup(text)  # noqa: S704 - matplotlib escapes the text it writes


def _attr(text: str) -> str:
    return str(Markup.escape(text))


_thousands = FuncFormatter(lambda value, _: f"{value:,.0f}" if abs(value) >= 10 else f"{value:g}")


_compact = FuncFormatter(
    lambda value, _: (
        f"{value / 1e6:g}M"
        if abs(value) >= 1e6
        else (f"{value / 1e3:g}k" if abs(value) >= 1e3 else f"{value:g}")
    )
)


def _figure(width: float, height: float) -> tuple[plt.Figure, plt.Axes]:
    return plt.subplots(figsize=(width, height))


def _segment_chart(frame: pd.DataFrame, charts: _Charts) -> Markup:
    frame = frame.sort_values("customer_share")
    y = np.arange(len(frame))
    with plt.rc_context(_CHART_STYLE):
        fig, (ax, risk) = plt.subplots(
            1,
            2,
            figsize=(9, 0.42 * len(frame) + 1.3),
            sharey=True,
            gridspec_kw={"width_ratios": [3, 1.3]},
        )
        ax.barh(y + 0.2, frame["customer_share"] * 100, 0.4, color=BLUE, label="customers")
        ax.barh(y - 0.2, frame["revenue_share"] * 100, 0.4, color=ORANGE, label="revenue")
        ax.set_yticks(y, frame["segment"])
        ax.set_xlabel("share (%)")
        ax.set_title("Share of customers and of revenue")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1.06), ncol=2, fontsize=9)
        ax.grid(axis="y", visible=False)
        risk.barh(y, frame["mean_churn_probability"].fillna(0) * 100, 0.6, color=RED)
        risk.set_xlabel("mean churn risk (%)")
        risk.set_title("Churn risk")
        risk.set_xlim(0, 100)
        risk.grid(axis="y", visible=False)
        fig.tight_layout()
        return charts.svg(fig, "Share of customers and revenue, and churn risk, per segment")


def _audience_chart(summary: pd.DataFrame, charts: _Charts) -> Markup:
    frame = summary.iloc[::-1]
    y = np.arange(len(frame))
    contacted = (frame["customers"] - frame["control"]).to_numpy()
    control = frame["control"].to_numpy()
    with plt.rc_context(_CHART_STYLE):
        fig, ax = _figure(8, 0.45 * len(frame) + 1.2)
        ax.barh(y, contacted, 0.6, color=BLUE, label="to contact")
        ax.barh(y, control, 0.6, left=contacted, color=GREY, label="control group")
        for yy, total in zip(y, contacted + control, strict=True):
            ax.text(total, yy, f" {int(total):,}", va="center", fontsize=9)
        ax.set_yticks(y, frame["audience"])
        ax.set_xlabel("customers")
        ax.set_title("Customers per audience")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1.0), ncol=2, fontsize=9)
        ax.xaxis.set_major_formatter(_thousands)
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.12)
        fig.tight_layout()
        return charts.svg(fig, "Customers per audience, with the control group")


def _coverage_chart(coverage: dict[str, float], fmt: Formats, charts: _Charts) -> Markup:
    labels = ["retention list\n(by value at risk)", "same number by\nchurn risk alone"]
    values = [coverage["covered"], coverage["by_churn"]]
    with plt.rc_context(_CHART_STYLE):
        fig, ax = _figure(6.5, 2.2)
        y = np.arange(2)[::-1]
        ax.barh(y, values, 0.55, color=[BLUE, GREY])
        for yy, value in zip(y, values, strict=True):
            ax.text(value, yy, f" {fmt.money(value)}", va="center", fontsize=9)
        if coverage["total"]:
            ax.axvline(coverage["total"], color=RED, linestyle=":", linewidth=1.2)
            ax.text(
                coverage["total"],
                1.45,
                f"all value at risk {fmt.money(coverage['total'])}",
                ha="right",
                va="bottom",
                fontsize=8.5,
                color=RED,
            )
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.6, 1.8)
        ax.set_xlabel(f"value at risk covered ({fmt.currency})")
        ax.xaxis.set_major_formatter(_compact)
        ax.set_title(f"Value at risk covered by {fmt.count(coverage['list_size'])} customers")
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.18)
        fig.tight_layout()
        return charts.svg(fig, "Value at risk covered by the retention list")


def _value_chart(values: np.ndarray, top_share: float, fmt: Formats, charts: _Charts) -> Markup:
    """The histogram of `values`, with the threshold of the top `top_share` marked."""
    low, high = float(values.min()), float(values.max())
    bins = np.geomspace(low, high * 1.0001, 40) if high > low else 10
    top_cut = float(np.quantile(values, 1 - top_share))
    with plt.rc_context(_CHART_STYLE):
        fig, ax = _figure(8, 3.2)
        ax.hist(values, bins=bins, color=BLUE, edgecolor="white", linewidth=0.5)
        if high > low:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.money(v, 0)))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axvline(top_cut, color=ORANGE, linestyle="--", linewidth=1.2)
        ax.text(
            top_cut,
            ax.get_ylim()[1] * 0.95,
            f" top 10 % from {fmt.money(top_cut)}",
            color=ORANGE,
            va="top",
            fontsize=9,
        )
        ax.set_xlabel(f"expected revenue per customer ({fmt.currency}, log scale)")
        ax.set_ylabel("customers")
        ax.set_title("How expected revenue is spread across customers")
        ax.grid(axis="x", visible=False)
        fig.tight_layout()
        return charts.svg(fig, "Histogram of expected revenue per customer, log scale")


def _campaign_chart(frame: pd.DataFrame, fmt: Formats, charts: _Charts) -> Markup:
    frame = frame.iloc[::-1]
    labels = [f"{c}\n({a})" for c, a in zip(frame["campaign_id"], frame["audience"], strict=True)]
    y = np.arange(len(frame))
    with plt.rc_context(_CHART_STYLE):
        fig, (conv, rev) = plt.subplots(1, 2, figsize=(10, 0.55 * len(frame) + 1.5), sharey=True)
        for ax, column, scale, title, xlabel in (
            (conv, "conversion_uplift", 100, "Conversion uplift", "percentage points"),
            (rev, "revenue_uplift_per_customer", 1, "Revenue uplift per customer", fmt.currency),
        ):
            centre = frame[column].to_numpy(dtype=float) * scale
            low = frame[f"{column.removesuffix('_per_customer')}_ci_low"].to_numpy(float) * scale
            high = frame[f"{column.removesuffix('_per_customer')}_ci_high"].to_numpy(float) * scale
            errors = np.vstack([np.clip(centre - low, 0, None), np.clip(high - centre, 0, None)])
            proven = (low > 0) | (high < 0)  # the 95 % interval excludes zero
            colors = [GREEN if p else GREY for p in proven]
            for yy, c, lo, hi, color in zip(y, centre, errors[0], errors[1], colors, strict=True):
                ax.errorbar(
                    c,
                    yy,
                    xerr=[[lo], [hi]],
                    fmt="o",
                    color=color,
                    ecolor=color,
                    elinewidth=2,
                    capsize=4,
                    markersize=6,
                )
            ax.axvline(0, color="#55606B", linewidth=1)
            ax.xaxis.set_major_formatter(_thousands)
            ax.set_title(title)
            ax.set_xlabel(xlabel)
            ax.grid(axis="y", visible=False)
        conv.set_yticks(y, labels)
        conv.set_ylim(-0.7, len(frame) - 0.3)
        fig.text(
            0.99,
            0.005,
            "green: effect proven (95 % CI above or below zero); grey: not proven",
            ha="right",
            va="bottom",
            fontsize=8.5,
            color="#55606B",
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        return charts.svg(fig, "Uplift per campaign with its 95 % confidence interval")
