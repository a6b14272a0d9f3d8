"""``python -m simulator``: generate a synthetic shop (see simulator.cli)."""

from simulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
