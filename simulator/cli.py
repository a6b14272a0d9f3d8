"""The command line: ``python -m simulator --customers N --seed S --out DIR --truth DIR``."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from simulator.generate import generate
from simulator.world import ShopConfig


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m simulator --customers N --seed S --out DIR --truth DIR``."""
    defaults = ShopConfig()
    parser = argparse.ArgumentParser(
        prog="python -m simulator", description="Generate a synthetic online shop."
    )
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--products", type=int, default=defaults.products)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--end-date", type=date.fromisoformat, default=defaults.end_date, help="YYYY-MM-DD"
    )
    parser.add_argument("--history-days", type=int, default=defaults.history_days)
    parser.add_argument("--future-days", type=int, default=defaults.future_days)
    parser.add_argument("--out", type=Path, default=Path("data/landing"))
    parser.add_argument("--truth", type=Path, default=Path("data/truth"))
    parser.add_argument("--no-progress", action="store_true", help="disable the progress bar")
    args = parser.parse_args(argv)
    config = ShopConfig(
        customers=args.customers,
        products=args.products,
        seed=args.seed,
        end_date=args.end_date,
        history_days=args.history_days,
        future_days=args.future_days,
    )
    counts = generate(config, args.out, args.truth, progress=not args.no_progress)
    for name, rows in counts.items():
        print(f"{name}: {rows}")
    return 0
