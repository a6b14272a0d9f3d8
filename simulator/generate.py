"""generate(): run every stage of the shop and write the landing and truth files."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from simulator.shop import _Shop
from simulator.tables import IdStart
from simulator.world import LANDING_TABLES, ShopConfig

GENERATOR_VERSION = 1
# Customers per shard: a larger shop is generated (and held in memory) a shard at a time.
SHARD_CUSTOMERS = 100_000


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
    shards = shard_sizes(config.customers)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    campaigns: list[pa.Table] = []
    start = IdStart()
    with (
        tqdm(
            total=len(stages) * len(shards),
            desc="synthetic shop",
            unit="stage",
            file=sys.stderr,
            disable=not progress,
        ) as bar,
        _Writers() as writers,
    ):
        for index, customers in enumerate(shards):
            shop = _Shop(replace(config, customers=customers), shard=index)
            for stage in stages[:-1]:
                bar.set_postfix_str(
                    stage if len(shards) == 1 else f"{stage} {index + 1}/{len(shards)}"
                )
                getattr(shop, stage)()
                bar.update(1)
            bar.set_postfix_str("writing")
            used = shop.id_counts()
            for name, table in shop.tables(start):
                if name == "products" and index:  # every shard has the same catalogue
                    continue
                if name == "campaigns_truth":  # merged over the shards below
                    campaigns.append(table)
                    continue
                target = out_dir if name in LANDING_TABLES else truth_dir
                writers.write(target / f"{name}.parquet", table)
                counts[name] = counts.get(name, 0) + table.num_rows
            start += used
            del shop
            bar.update(1)
        campaigns_truth = merge_campaigns(campaigns)
        pq.write_table(campaigns_truth, truth_dir / "campaigns_truth.parquet", compression="zstd")
        counts["campaigns_truth"] = campaigns_truth.num_rows
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
    return counts


def shard_sizes(customers: int) -> list[int]:
    """Customers per shard: as even as possible, at most SHARD_CUSTOMERS each (one shard up to
    it, so a shop of that size or less is exactly the shop generated in one piece)."""
    shards = max(1, -(-customers // SHARD_CUSTOMERS))
    return [customers // shards + (index < customers % shards) for index in range(shards)]


class _Writers:
    """One Parquet file per table, written a shard's table at a time (a row group or more each)."""

    def __init__(self) -> None:
        self.open: dict[Path, pq.ParquetWriter] = {}

    def write(self, path: Path, table: pa.Table) -> None:
        writer = self.open.get(path)
        if writer is None:
            writer = self.open[path] = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table.cast(writer.schema))

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for writer in self.open.values():
            writer.close()


def merge_campaigns(tables: list[pa.Table]) -> pa.Table:
    """campaigns_truth over shards: per campaign the treated and control summed, the uplifts
    (per treated customer) weighted by each shard's treated customers."""
    sent = [table for table in tables if table.num_rows]
    if len(sent) <= 1:
        return sent[0] if sent else tables[0]
    frame = pd.concat([table.to_pandas() for table in sent], ignore_index=True)
    uplifts = ["true_conversion_uplift", "true_revenue_uplift_per_customer"]
    for column in uplifts:
        frame[column] = frame[column] * frame["treated"]
    keys = ["campaign_id", "audience", "sent_at", "window_days"]
    merged = frame.groupby(keys, sort=False, as_index=False)[["treated", "control", *uplifts]].sum()
    for column in uplifts:
        merged[column] = merged[column] / merged["treated"].clip(lower=1)
    return pa.Table.from_pandas(merged, schema=tables[0].schema, preserve_index=False)
