"""The command line: ``python -m simulator --customers N --seed S --out DIR --truth DIR``, or
``python -m simulator --archetype NAME`` for one of the small named shops (simulator.archetypes).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import date
from pathlib import Path

from simulator.archetypes import ARCHETYPES, DESCRIPTIONS
from simulator.generate import generate
from simulator.world import ShopConfig


def _parser() -> argparse.ArgumentParser:
    defaults = ShopConfig()
    width = max(len(name) for name in ARCHETYPES)
    listing = "\n".join(f"  {name:<{width}}  {DESCRIPTIONS[name]}" for name in ARCHETYPES)
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Generate a synthetic online shop.",
        epilog=f"archetypes (--archetype NAME; explicit flags override its settings):\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def shop_flag(flag: str, help_text: str, **kwargs: object) -> None:
        # default None: only flags given on the command line override the archetype/defaults
        field = flag.removeprefix("--").replace("-", "_")
        default = getattr(defaults, field)
        parser.add_argument(
            flag, default=None, help=f"{help_text} (default shop: {default})", **kwargs
        )

    parser.add_argument(
        "--archetype",
        choices=list(ARCHETYPES),
        metavar="NAME",
        help="start from a named small shop (listed below) instead of the default shop",
    )
    shop_flag("--customers", "number of customers", type=int)
    shop_flag("--products", "catalogue size (>= 1)", type=int)
    shop_flag("--seed", "random seed", type=int)
    shop_flag("--end-date", "last observed day, YYYY-MM-DD", type=date.fromisoformat)
    shop_flag("--history-days", "length of the observed period in days", type=int)
    shop_flag("--future-days", "length of the hidden truth window in days", type=int)
    shop_flag("--repeat-rate", "repeat buying multiplier, 0 = nobody orders twice", type=float)
    shop_flag(
        "--popularity-concentration",
        "multiplier on the product popularity exponent, higher = fewer best-sellers",
        type=float,
    )
    for field, what in (
        ("products", "the products table and product ids"),
        ("events", "web_events"),
    ):
        group = parser.add_mutually_exclusive_group()
        dest = f"with_{field}"
        group.add_argument(
            f"--with-{field}",
            dest=dest,
            action="store_const",
            const=True,
            default=None,
            help=f"write {what} (default shop: yes)",
        )
        group.add_argument(
            f"--no-{field}", dest=dest, action="store_const", const=False, help=f"leave out {what}"
        )
    parser.add_argument("--out", type=Path, default=Path("data/landing"))
    parser.add_argument("--truth", type=Path, default=Path("data/truth"))
    parser.add_argument("--no-progress", action="store_true", help="disable the progress bar")
    return parser


_FIELDS = (
    "customers",
    "products",
    "seed",
    "end_date",
    "history_days",
    "future_days",
    "repeat_rate",
    "popularity_concentration",
    "with_products",
    "with_events",
)


def config_from_args(args: argparse.Namespace) -> ShopConfig:
    """The archetype's (or the default) ShopConfig with the explicitly given flags applied."""
    base = ARCHETYPES[args.archetype] if args.archetype else ShopConfig()
    given = {field: getattr(args, field) for field in _FIELDS if getattr(args, field) is not None}
    return replace(base, **given)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m simulator --customers N --seed S --out DIR --truth DIR``."""
    args = _parser().parse_args(argv)
    config = config_from_args(args)
    counts = generate(config, args.out, args.truth, progress=not args.no_progress)
    for name, rows in counts.items():
        print(f"{name}: {rows}")
    return 0
