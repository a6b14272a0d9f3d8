"""generate(): run every stage of the shop and write the landing and truth files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
from tqdm import tqdm

from simulator.shop import _Shop
from simulator.world import LANDING_TABLES, ShopConfig

GENERATOR_VERSION = 1


def generate(
    config: ShopConfig, out_dir: Path, truth_dir: Path, progress: bool = True
) -> dict[str, int]:
    """Write landing Parquet files to out_dir and truth files to truth_dir; return row counts
    of the tables written.

    Landing tables: customers, products, order_lines, web_events, reviews, campaign_sends
    (observed data up to ``end_date`` only); products and reviews are left out when
    ``config.with_products`` is False, web_events when ``config.with_events`` is False and
    campaign_sends when no campaign was sent (its send day before the observed period or its
    audience empty), and a file of a left-out table that an earlier run left in out_dir is
    removed. Truth: customers_truth (with the hidden satisfaction), future_order_items,
    campaigns_truth (one row per campaign sent, with its true uplift; no rows if none) and
    meta.json (the row counts of every table written).
    """
    out_dir, truth_dir = Path(out_dir), Path(truth_dir)
    stages = (
        "customers",
        "products",
        "orders",
        "campaigns",
        "items",
        "reviews",
        "events",
        "writing",
    )
    if not config.with_events:
        stages = tuple(s for s in stages if s != "events")
    shop = _Shop(config)
    with tqdm(
        total=len(stages),
        desc="synthetic shop",
        unit="stage",
        file=sys.stderr,
        disable=not progress,
    ) as bar:
        for stage in stages[:-1]:
            bar.set_postfix_str(stage)
            getattr(shop, stage)()
            bar.update(1)
        bar.set_postfix_str("writing")
        out_dir.mkdir(parents=True, exist_ok=True)
        truth_dir.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        for name, table in shop.tables():
            target = out_dir if name in LANDING_TABLES else truth_dir
            pq.write_table(table, target / f"{name}.parquet", compression="zstd")
            counts[name] = table.num_rows
        for name in LANDING_TABLES:  # a left-out table must not be read from an earlier run
            if name not in counts:
                (out_dir / f"{name}.parquet").unlink(missing_ok=True)
        meta = {
            "seed": config.seed,
            "customers": config.customers,
            "products": config.products,
            "end_date": config.end_date.isoformat(),
            "history_days": config.history_days,
            "future_days": config.future_days,
            "repeat_rate": config.repeat_rate,
            "popularity_concentration": config.popularity_concentration,
            "with_products": config.with_products,
            "with_events": config.with_events,
            "generated_at_version": GENERATOR_VERSION,
            "row_counts": counts,
        }
        (truth_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        bar.update(1)
    return counts
