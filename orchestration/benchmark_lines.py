"""`python -m orchestration.benchmark --lines 2GB`: exact line numbers at scale (issue 12, item 2).

Generates an Online-Retail-II-style CSV of the requested size (streamed in chunks from a fixed
seed: bounded memory, the same bytes every time) in which 1 % of the lines are bad, of every
kind the loader numbers:

- `few`: too few fields (DuckDB rejects it: MISSING COLUMNS), quarantined;
- `many`: too many fields (TOO MANY COLUMNS), quarantined;
- `quantity` / `date`: a value that does not parse, quarantined with a type reason;
- `bytes`: a Latin-1 byte in the description of a UTF-8 file, recovered and loaded (flagged);
- `multiline`: a quoted description holding a line break (one record on two lines), loaded;
- `multiline_many`: the same with an extra field, quarantined (it starts a rejected record on
  the line before the break);
- `blank`: an empty line (no record; every later record moves down a line).

Every record carries its own physical starting line in its Invoice (returns: C<line>), so each
loaded row's `_row_number` is checked against it in SQL, all rows, no sample. The physical line
and kind of each bad line are kept in a small side file (NumPy, 9 bytes a bad line), and the
quarantined rows' `row_number`s must be exactly the lines of the quarantined kinds, each with
its kind's reason. Then `landing.reconcile` must find nothing.

The file is loaded with `landing.load_source` into a file-backed DuckDB warehouse (as the
platform does), in this process; TreeSampler (orchestration.benchmark) samples the process's RSS
meanwhile and a progress line is printed every PROGRESS_SECONDS. Prints and saves the size, rows,
bad lines, load time, rows/s, peak RSS, load average and whether every line number was exact
into benchmarks/lines-<size>.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psutil
import yaml

from landing import load_config, load_source, reconcile
from orchestration.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, DUCKDB_MEMORY_LIMIT_VARIABLE

RESULTS_PREFIX = "lines-"
SEED = 12
BAD_SHARE = 0.01
CHUNK_RECORDS = 100_000
PROGRESS_SECONDS = 15.0
HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
TABLE = "order_lines"

# Bad kinds (code = index + 1; 0 is a good record) and what the loader must do with each: the
# start of the quarantine reason, or None for a row that is loaded.
KINDS = ("few", "many", "quantity", "date", "bytes", "multiline", "multiline_many", "blank")
EXPECTED_REASON: dict[str, str | None] = {
    "few": "unreadable line (MISSING COLUMNS",
    "many": "unreadable line (TOO MANY COLUMNS",
    "quantity": "quantity: expected",
    "date": "ordered_at: expected",
    "bytes": None,
    "multiline": None,
    "multiline_many": "unreadable line (TOO MANY COLUMNS",
    "blank": None,
}
_CODE = {kind: index + 1 for index, kind in enumerate(KINDS)}
_TWO_LINES = (_CODE["multiline"], _CODE["multiline_many"])
_QUARANTINED = [_CODE[kind] for kind, reason in EXPECTED_REASON.items() if reason]

PRODUCTS = (
    "WHITE HANGING HEART T-LIGHT HOLDER",
    "REGENCY CAKESTAND 3 TIER",
    "JUMBO BAG RED RETROSPOT",
    "PARTY BUNTING",
    "ASSORTED COLOUR BIRD ORNAMENT",
    "LUNCH BAG  BLACK SKULL.",
    '"SET 2 TEA TOWELS, I LOVE LONDON"',
    "PACK OF 72 RETROSPOT CAKE CASES",
    "HEART OF WICKER SMALL",
    '"DOORMAT ""HOME SWEET HOME"""',
    "GLASS STAR FROSTED T-LIGHT HOLDER",
    "SPOTTY BUNTING",
)
COUNTRIES = ("United Kingdom",) * 9 + ("Germany", "France", "EIRE", "Netherlands", "Spain")
FIRST_DAY = "2009-12-01"
_FIRST = np.datetime64("2009-12-01T07:00", "m")
_MINUTES = int((np.datetime64("2011-12-09T20:00", "m") - _FIRST) / np.timedelta64(1, "m"))


def parse_bytes(text: str) -> int:
    """A file size: "200MB" -> 200,000,000, "2GB", "1.5GB", "500kB"; MiB and GiB are powers of
    1024. At least 1 kB (a header and a few records)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]i?)?b?\s*", text.replace("_", "").lower())
    if not match:
        raise ValueError(f"--lines {text!r}: expected a file size such as 200MB or 2GB")
    number, unit = match.groups()
    unit = unit or ""
    base = 1024 if unit.endswith("i") else 1000
    size = float(number) * base ** {"": 0, "k": 1, "m": 2, "g": 3}[unit[:1]]
    if size < 1000:
        raise ValueError(f"--lines {text!r}: expected at least 1kB")
    return int(size)


def size_label(size: int) -> str:
    """The result file's name for a size: 2GB, 200MB, 1MB, 1500kB, or bytes."""
    for unit, factor in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


# ----------------------------------------------------------------------------------------------
# The file


@dataclass(frozen=True)
class Generated:
    """A generated file and what it should give: the physical line and kind code of every bad
    line (sorted by line), and the records the loader must read and load."""

    path: Path
    size: int
    lines: int
    records: int
    loaded: int
    bad_lines: np.ndarray  # int64, physical line of each bad line (header = line 1)
    bad_kinds: np.ndarray  # uint8, its kind's code (KINDS index + 1)

    def kind_counts(self) -> dict[str, int]:
        counts = np.bincount(self.bad_kinds, minlength=len(KINDS) + 1)
        return {kind: int(counts[_CODE[kind]]) for kind in KINDS}

    def save(self, side_file: Path) -> None:
        np.savez(
            side_file,
            bad_lines=self.bad_lines,
            bad_kinds=self.bad_kinds,
            totals=np.array([self.size, self.lines, self.records, self.loaded], dtype=np.int64),
        )

    @classmethod
    def load(cls, path: Path, side_file: Path) -> Generated:
        with np.load(side_file) as saved:
            size, lines, records, loaded = (int(value) for value in saved["totals"])
            return cls(path, size, lines, records, loaded, saved["bad_lines"], saved["bad_kinds"])


def _chunk(
    rng: np.random.Generator, count: int, first_line: int
) -> tuple[bytes, np.ndarray, np.ndarray, int]:
    """`count` slots (records or blank lines) starting at physical line `first_line`: the bytes,
    the line and kind of each bad slot, and the physical lines written."""
    kinds = np.zeros(count, dtype=np.uint8)
    bad = rng.random(count) < BAD_SHARE
    kinds[bad] = rng.integers(1, len(KINDS) + 1, size=int(bad.sum()), dtype=np.uint8)
    heights = np.where(np.isin(kinds, _TWO_LINES), 2, 1)
    starts = (first_line + np.concatenate(([0], np.cumsum(heights)[:-1]))).tolist()
    minutes = _FIRST + rng.integers(0, _MINUTES, size=count).astype("timedelta64[m]")
    when = np.datetime_as_string(minutes, unit="m").tolist()
    quantity = rng.integers(1, 25, size=count)
    returns = rng.random(count) < 0.02
    quantity = np.where(returns, -quantity, quantity).tolist()
    is_return = returns.tolist()
    cents = rng.integers(1, 2_000, size=count).tolist()
    customer = rng.integers(12_346, 18_288, size=count)
    customer = np.where(rng.random(count) < 0.2, 0, customer).tolist()
    product = rng.integers(0, len(PRODUCTS), size=count).tolist()
    stock = rng.integers(10_000, 90_000, size=count).tolist()
    country = rng.integers(0, len(COUNTRIES), size=count).tolist()
    rows = [
        f"{'C' if back else ''}{line},{code},{PRODUCTS[p]},{q},{w[:10]} {w[11:]}:00,"
        f"{c // 100}.{c % 100:02d},{cust or ''},{COUNTRIES[k]}"
        for line, code, p, q, w, c, cust, k, back in zip(
            starts,
            stock,
            product,
            quantity,
            when,
            cents,
            customer,
            country,
            is_return,
            strict=True,
        )
    ]
    for index in np.flatnonzero(kinds).tolist():
        kind = KINDS[kinds[index] - 1]
        w, c = when[index], cents[index]
        head = f"{'C' if is_return[index] else ''}{starts[index]},{stock[index]}"
        fields = [
            str(quantity[index]),
            f"{w[:10]} {w[11:]}:00",
            f"{c // 100}.{c % 100:02d}",
            str(customer[index] or ""),
            COUNTRIES[country[index]],
        ]
        tail = ",".join(fields)
        if kind == "few":
            rows[index] = f"{head},SHORT LINE,{fields[0]}"
        elif kind == "many":
            rows[index] = f"{head},EXTRA FIELD,{tail},EXTRA"
        elif kind == "quantity":
            rows[index] = f"{head},BAD QUANTITY,2 dozen,{','.join(fields[1:])}"
        elif kind == "date":
            fields[1] = "2010-02-30 10:00:00"
            rows[index] = f"{head},BAD DATE,{','.join(fields)}"
        elif kind == "bytes":  # surrogateescape writes it as the single byte 0xE9
            rows[index] = f"{head},CAF\udce9 AU LAIT MUG,{tail}"
        elif kind == "multiline":
            rows[index] = f'{head},"TWO LINES\nOF TEXT",{tail}'
        elif kind == "multiline_many":
            rows[index] = f'{head},"TWO LINES\nAND AN EXTRA FIELD",{tail},EXTRA'
        else:  # blank
            rows[index] = ""
    data = ("\n".join(rows) + "\n").encode("utf-8", "surrogateescape")
    bad_at = np.flatnonzero(kinds)
    return data, np.array(starts, dtype=np.int64)[bad_at], kinds[bad_at], int(heights.sum())


def generate(path: Path, size: int, seed: int = SEED, progress: bool = True) -> Generated:
    """Write an Online-Retail-II-style CSV of at least `size` bytes (whole records; the last
    chunk is cut to the first record boundary past `size`) with BAD_SHARE bad lines (see the
    module docstring), in chunks of CHUNK_RECORDS: memory is bounded by a chunk and the bad
    lines' arrays. The same `seed` and `size` give the same bytes."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines, written = 1, 0  # the header is line 1
    bad_lines: list[np.ndarray] = []
    bad_kinds: list[np.ndarray] = []
    next_report = size // 10
    chunk = min(CHUNK_RECORDS, max(1_000, size // 60))  # a small file: a small chunk
    with open(path, "wb") as handle:
        written += handle.write((HEADER + "\n").encode())
        while written < size:
            data, chunk_lines, chunk_kinds, height = _chunk(rng, chunk, lines + 1)
            if written + len(data) > size:  # keep the slots up to the first line end past size
                cut = data.index(b"\n", size - written - 1) + 1
                # Never cut inside a quoted line break: move on to the end of that record.
                while data[:cut].count(b'"') % 2:
                    cut = data.index(b"\n", cut) + 1
                height = data[:cut].count(b"\n")
                data = data[:cut]
                keep = chunk_lines <= lines + height
                chunk_lines, chunk_kinds = chunk_lines[keep], chunk_kinds[keep]
            written += handle.write(data)
            lines += height
            bad_lines.append(chunk_lines)
            bad_kinds.append(chunk_kinds)
            if progress and written >= next_report:
                print(f"    generated {written / 1e9:.2f} GB, {lines:,} lines", flush=True)
                next_report += size // 10
    all_lines = np.concatenate(bad_lines) if bad_lines else np.zeros(0, np.int64)
    all_kinds = np.concatenate(bad_kinds) if bad_kinds else np.zeros(0, np.uint8)
    counts = np.bincount(all_kinds, minlength=len(KINDS) + 1)
    extra_lines = int(sum(counts[code] for code in _TWO_LINES))
    blanks = int(counts[_CODE["blank"]])
    records = lines - 1 - extra_lines - blanks
    quarantined = int(sum(counts[code] for code in _QUARANTINED))
    return Generated(path, written, lines, records, records - quarantined, all_lines, all_kinds)


# ----------------------------------------------------------------------------------------------
# The load and the check


def write_config(folder: Path) -> Path:
    """The deployment config for the generated file: configs/online_retail_ii.yml's source."""
    config = {
        "name": "lines_benchmark",
        "data_dir": ".",
        "timezone": "Europe/London",
        "currency": "GBP",
        "first_day": FIRST_DAY,
        "sources": {
            TABLE: {
                "path": "landing/*.csv",
                "format": "csv",
                "delimiter": ",",
                "encoding": "utf-8",
                "timestamp_format": "%Y-%m-%d %H:%M:%S",
                "returns": {"order_id_prefix": "C"},
                "columns": {
                    "order_id": "Invoice",
                    "product_id": "StockCode",
                    "product_name": "Description",
                    "quantity": "Quantity",
                    "ordered_at": "InvoiceDate",
                    "unit_price": "Price",
                    "customer_id": "Customer ID",
                    "country": "Country",
                },
            }
        },
    }
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def check(conn: duckdb.DuckDBPyConnection, generated: Generated) -> dict[str, Any]:
    """Whether every line number is exact: the quarantined rows' `row_number`s are exactly the
    lines of the quarantined bad kinds, each with its kind's reason; every loaded row's
    `_row_number` is the line written into its Invoice (all rows, in SQL); the rows with
    invalid bytes and with line breaks are the ones written; and reconcile() finds nothing.
    Returns the counts and up to 10 problems (an empty list: exact)."""
    problems: list[str] = []
    quarantined = conn.execute(
        "select row_number, reason from raw.quarantine where source_table = ? order by row_number",
        [TABLE],
    ).fetchall()
    wanted = np.isin(generated.bad_kinds, _QUARANTINED)
    expected_lines = generated.bad_lines[wanted]
    expected_kinds = generated.bad_kinds[wanted]
    got_lines = np.array([line for line, _ in quarantined], dtype=np.int64)
    if len(got_lines) != len(expected_lines) or not np.array_equal(got_lines, expected_lines):
        missing = np.setdiff1d(expected_lines, got_lines)[:5].tolist()
        extra = np.setdiff1d(got_lines, expected_lines)[:5].tolist()
        problems.append(
            f"quarantine: {len(got_lines):,} rows, expected {len(expected_lines):,}; lines "
            f"expected but not quarantined {missing}, quarantined but not expected {extra}"
        )
    else:
        for (line, reason), code in zip(quarantined, expected_kinds.tolist(), strict=True):
            prefix = EXPECTED_REASON[KINDS[code - 1]]
            if not reason.startswith(prefix):
                problems.append(f"quarantine line {line}: reason {reason!r}, expected {prefix!r}")
                if len(problems) >= 10:
                    break
    rows, wrong, distinct, replaced, broken = conn.execute(
        f"""
        select count(*),
            count(*) filter (where _row_number is distinct from
                try_cast(ltrim(order_id, 'C') as bigint)),
            count(distinct _row_number),
            count(*) filter (where contains(product_name, chr(65533))),
            count(*) filter (where contains(product_name, chr(10)))
        from raw.{TABLE}
        """
    ).fetchone()
    kinds = generated.kind_counts()
    if rows != generated.loaded or distinct != rows:
        problems.append(
            f"raw.{TABLE}: {rows:,} rows ({distinct:,} distinct line numbers), "
            f"expected {generated.loaded:,}"
        )
    if wrong:
        examples = conn.execute(
            f"select order_id, _row_number from raw.{TABLE} where _row_number is distinct from "
            "try_cast(ltrim(order_id, 'C') as bigint) order by _row_number limit 5"
        ).fetchall()
        problems.append(
            f"raw.{TABLE}: {wrong:,} rows whose _row_number is not the line in their Invoice, "
            f"e.g. (Invoice, _row_number) {examples}"
        )
    if (replaced, broken) != (kinds["bytes"], kinds["multiline"]):
        problems.append(
            f"raw.{TABLE}: {replaced:,} rows with U+FFFD and {broken:,} with a line break, "
            f"expected {kinds['bytes']:,} and {kinds['multiline']:,}"
        )
    problems += [f"reconcile: {problem}" for problem in reconcile(conn, TABLE)]
    return {
        "exact": not problems,
        "quarantined_rows": len(quarantined),
        "loaded_rows": rows,
        "loaded_rows_checked": rows,  # every loaded row, not a sample
        "problems": problems[:10],
    }


class _Progress(threading.Thread):
    """Prints the load's elapsed time, RSS (now and peak), the warehouse's size on disk (with
    DuckDB's spill folder) and the load average every PROGRESS_SECONDS; keeps the highest
    1-minute load average seen."""

    def __init__(self, sampler: Any, warehouse: Path) -> None:
        super().__init__(daemon=True)
        self.sampler, self.warehouse = sampler, warehouse
        self.stop = threading.Event()
        self.started = time.perf_counter()
        self.max_load = os.getloadavg()[0]

    def run(self) -> None:
        from orchestration.benchmark import format_bytes

        while not self.stop.wait(PROGRESS_SECONDS):
            samples = self.sampler.samples
            now = samples[-1][1] if samples else 0
            peak = max((rss for _, rss in samples), default=0)
            spill = self.warehouse.with_name(self.warehouse.name + ".tmp")
            on_disk = sum(
                path.stat().st_size
                for path in [self.warehouse, *(spill.rglob("*") if spill.is_dir() else [])]
                if path.is_file()
            )
            load = os.getloadavg()[0]
            self.max_load = max(self.max_load, load)
            print(
                f"    loading: {time.perf_counter() - self.started:,.0f} s, RSS "
                f"{format_bytes(now)} (peak {format_bytes(peak)}), warehouse and spill "
                f"{format_bytes(on_disk)}, load average {load:.1f}",
                flush=True,
            )


def run_lines(
    size: int, folder: Path | None = None, seed: int = SEED, memory_limit: str | None = None
) -> dict[str, Any]:
    """Generate (or reuse, in `folder`, a file of the same size and seed), load, check; the
    result as saved in benchmarks/lines-<size>.json. Without `folder` a temporary folder is
    used and removed. `memory_limit` is DuckDB's for the warehouse connection (None: the
    platform's, $DUCKDB_MEMORY_LIMIT or DEFAULT_DUCKDB_MEMORY_LIMIT, as its steps open it)."""
    from orchestration.benchmark import (
        TreeSampler,
        format_bytes,
        format_seconds,
        git_commit,
        machine_info,
    )

    label = size_label(size)
    root = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="lines-benchmark-"))
    started = time.perf_counter()
    try:
        root.mkdir(parents=True, exist_ok=True)
        csv_path = root / "landing" / f"lines-{label}-seed{seed}.csv"
        side_file = root / f"lines-{label}-seed{seed}.npz"
        generate_seconds = None
        if csv_path.exists() and side_file.exists():
            generated = Generated.load(csv_path, side_file)
            print(f"[{datetime.now():%H:%M:%S}] reusing {csv_path}", flush=True)
        else:
            print(f"[{datetime.now():%H:%M:%S}] generating {label} into {csv_path}", flush=True)
            began = time.perf_counter()
            generated = generate(csv_path, size, seed)
            generated.save(side_file)
            generate_seconds = round(time.perf_counter() - began, 1)
        kinds = generated.kind_counts()
        print(
            f"[{datetime.now():%H:%M:%S}] {generated.size:,} bytes, {generated.lines:,} lines, "
            f"{generated.records:,} records, {len(generated.bad_lines):,} bad lines {kinds}",
            flush=True,
        )
        warehouse = root / "warehouse.duckdb"
        for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
            stale.unlink(missing_ok=True)
        shutil.rmtree(warehouse.with_name(warehouse.name + ".tmp"), ignore_errors=True)
        config = load_config(write_config(root))
        load_before = os.getloadavg()
        rss_before = psutil.Process().memory_info().rss
        sampler = TreeSampler(os.getpid())
        progress = _Progress(sampler, warehouse)
        print(f"[{datetime.now():%H:%M:%S}] load_source into {warehouse}", flush=True)
        sampler.start()
        progress.start()
        began = time.perf_counter()
        memory_limit = memory_limit or (
            os.environ.get(DUCKDB_MEMORY_LIMIT_VARIABLE) or DEFAULT_DUCKDB_MEMORY_LIMIT
        )
        conn = duckdb.connect(str(warehouse), config={"memory_limit": memory_limit})
        try:
            report = load_source(conn, config, TABLE)
            load_seconds = time.perf_counter() - began
        finally:
            sampler.stop.set()
            progress.stop.set()
            sampler.join()
            progress.join()
        peak = max((rss for _, rss in sampler.samples), default=rss_before)
        print(
            f"[{datetime.now():%H:%M:%S}] loaded in {format_seconds(load_seconds)}, peak RSS "
            f"{format_bytes(peak)}; checking every line number",
            flush=True,
        )
        try:
            began = time.perf_counter()
            checked = check(conn, generated)
            check_seconds = time.perf_counter() - began
        finally:
            conn.close()
        read_matches = (report.rows_read, report.rows_loaded) == (
            generated.records,
            generated.loaded,
        )
        if not read_matches:
            checked["exact"] = False
            checked["problems"].append(
                f"load_source read {report.rows_read:,} and loaded {report.rows_loaded:,}, "
                f"expected {generated.records:,} and {generated.loaded:,}"
            )
        return {
            "size": label,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "git": git_commit(),
            "machine": machine_info(),
            "duckdb": duckdb.__version__,
            "duckdb_memory_limit": memory_limit,
            "seed": seed,
            "file_bytes": generated.size,
            "lines": generated.lines,
            "records": generated.records,
            "bad_lines": len(generated.bad_lines),
            "bad_lines_by_kind": kinds,
            "generate_seconds": generate_seconds,
            "load_seconds": round(load_seconds, 1),
            "rows_per_second": round(generated.records / load_seconds),
            "peak_rss_bytes": peak,
            "rss_before_load_bytes": rss_before,
            "warehouse_bytes": warehouse.stat().st_size,
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_max": round(progress.max_load, 2),
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
            "rows_read": report.rows_read,
            "rows_loaded": report.rows_loaded,
            "rows_quarantined": report.rows_quarantined,
            "check_seconds": round(check_seconds, 1),
            **checked,
            "benchmark_seconds": round(time.perf_counter() - started, 1),
        }
    finally:
        if folder is None:
            shutil.rmtree(root, ignore_errors=True)


def report_lines(result: dict[str, Any], path: Path) -> None:
    """The result as a table on the terminal."""
    from orchestration.benchmark import format_bytes, format_seconds, markdown_table

    rows = [
        ["file", f"{result['file_bytes'] / 1e9:.2f} GB ({result['lines']:,} lines)"],
        ["records", f"{result['records']:,}"],
        ["bad lines", f"{result['bad_lines']:,}"],
        ["loaded / quarantined", f"{result['rows_loaded']:,} / {result['rows_quarantined']:,}"],
        ["load time", format_seconds(result["load_seconds"])],
        ["rows/s", f"{result['rows_per_second']:,}"],
        ["peak RSS", format_bytes(result["peak_rss_bytes"])],
        ["DuckDB memory_limit", result["duckdb_memory_limit"]],
        ["load average (before, max)", f"{result['load_average_before'][0]:.1f}, "
         f"{result['load_average_max']:.1f}"],
        ["line numbers exact", "yes" if result["exact"] else "NO"],
    ]  # fmt: skip
    print(f"\n=== Line numbering, {result['size']} ===\n")
    print(markdown_table(["", "value"], rows))
    for problem in result["problems"]:
        print(f"  - {problem}")
    print(f"\nSaved: {path}")


def main_lines(
    text: str, folder: str | None, results_dir: Path, memory_limit: str | None = None
) -> int:
    """`--lines SIZE`: run, print, save benchmarks/lines-<size>[-mem<limit>].json; exit 1 when
    a line number was wrong."""
    size = parse_bytes(text)
    result = run_lines(size, Path(folder) if folder else None, memory_limit=memory_limit)
    results_dir.mkdir(exist_ok=True)
    suffix = f"-mem{memory_limit.replace(' ', '')}" if memory_limit else ""
    path = results_dir / f"{RESULTS_PREFIX}{result['size']}{suffix}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    report_lines(result, path)
    return 0 if result["exact"] else 1
