"""Bring your own data: `make run CONFIG=...` on an Online-Retail-II-style CSV and on a bare
transactions file, each written here from the session's synthetic shop (its last 420 days)."""

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from orchestration.gallery import run_make_run
from orchestration.settings import REPO_ROOT

# Whole pipeline runs or Dagster processes: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

DAYS = 420


def _recent_lines(landing: Path) -> pd.DataFrame:
    lines = pd.read_parquet(landing / "order_lines.parquet")
    products = pd.read_parquet(landing / "products.parquet")[["product_id", "product_name"]]
    lines = lines[lines["status"] == "completed"]
    lines = lines[lines["ordered_at"] > lines["ordered_at"].max() - pd.Timedelta(days=DAYS)]
    return lines.merge(products, on="product_id").sort_values(["ordered_at", "order_id"])


def _config_from(example: str, folder: Path, first_day: str) -> Path:
    """A shipped example config pointed at `folder`."""
    config = yaml.safe_load((REPO_ROOT / "configs" / example).read_text())
    config["data_dir"] = str(folder)
    config["first_day"] = first_day
    config["sources"]["order_lines"]["path"] = str(folder / "*.csv")
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def online_retail(landing, tmp_path_factory):
    """Invoice lines in the Online Retail II layout: numeric customer ids, 5% of lines without a
    customer, and a cancellation invoice ("C" + invoice, negative quantities) for 3% of lines."""
    folder = tmp_path_factory.mktemp("online_retail_ii")
    lines = _recent_lines(landing)
    frame = pd.DataFrame(
        {
            "Invoice": lines["order_id"].str.replace("ORD-", "5", regex=False),
            "StockCode": lines["product_id"].str.replace("PROD-", "", regex=False),
            "Description": lines["product_name"].str.upper(),
            "Quantity": lines["quantity"],
            "InvoiceDate": lines["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Price": lines["unit_price"].round(2),
            "Customer ID": lines["customer_id"].str.replace("CUST-", "1", regex=False),
            "Country": "United Kingdom",
        }
    )
    frame.loc[frame.sample(frac=0.05, random_state=1).index, "Customer ID"] = ""
    cancelled = frame.sample(frac=0.03, random_state=2).copy()
    cancelled["Invoice"] = "C" + cancelled["Invoice"]
    cancelled["Quantity"] = -cancelled["Quantity"]
    frame = pd.concat([frame, cancelled]).sort_values("InvoiceDate", kind="stable")
    frame.to_csv(folder / "online_retail_II.csv", index=False)
    first_day = lines["ordered_at"].min().date().isoformat()
    result = run_make_run(_config_from("online_retail_ii.yml", folder, first_day), folder)
    return folder, frame, result


@pytest.fixture(scope="module")
def transactions(landing, tmp_path_factory):
    """customer,date,amount: one row per order, nothing else."""
    folder = tmp_path_factory.mktemp("transactions")
    lines = _recent_lines(landing)
    lines = lines.assign(amount=lines["quantity"] * lines["unit_price"] - lines["discount"])
    frame = (
        lines.groupby(["order_id", "customer_id"], as_index=False)
        .agg(date=("ordered_at", "min"), amount=("amount", "sum"))
        .rename(columns={"customer_id": "customer"})
    )
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    frame["amount"] = frame["amount"].round(2)
    frame[["customer", "date", "amount"]].to_csv(folder / "transactions.csv", index=False)
    first_day = lines["ordered_at"].min().date().isoformat()
    result = run_make_run(_config_from("transactions.yml", folder, first_day), folder)
    return folder, frame, result


def _query(folder: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_online_retail_export_gets_segments_churn_and_recommendations(online_retail):
    folder, frame, result = online_retail
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for table in ("customer_segments", "churn_scores", "recommendations", "customer_360"):
        assert _query(folder, f"select count(*) from scores.{table}")[0][0] > 0, table
    assert "Rows quarantined" in result.stdout and "skipped" not in result.stdout


def test_online_retail_keeps_every_line_cancellations_as_refunds(online_retail):
    folder, frame, _ = online_retail
    read, loaded, quarantined = _query(
        folder, "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from raw.load_log"
    )[0]
    assert read == len(frame) == loaded + quarantined
    refunds = _query(folder, "select count(*) from marts.fct_orders where status = 'refund'")[0][0]
    assert refunds == frame.loc[frame["Invoice"].str.startswith("C"), "Invoice"].nunique()
    # Revenue counts lines without a customer and is net of refunds.
    loaded_lines = frame.drop_duplicates()
    expected = (loaded_lines["Quantity"] * loaded_lines["Price"]).sum()
    revenue = _query(folder, "select sum(net_amount) from marts.fct_orders where is_revenue")[0][0]
    assert float(revenue) == pytest.approx(expected, rel=1e-9)  # revenue is an exact DECIMAL
    anonymous = _query(folder, "select count(*) from marts.fct_orders where customer_id is null")[
        0
    ][0]
    assert anonymous > 0
    assert (
        _query(folder, "select count(*) from marts.customer_features where customer_id is null")[0][
            0
        ]
        == 0
    )


def test_bare_transactions_score_customers_and_skip_the_recommender_with_a_reason(transactions):
    folder, frame, result = transactions
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    customers = frame["customer"].nunique()
    assert _query(folder, "select count(*) from scores.customer_segments")[0][0] == customers
    assert _query(folder, "select count(*) from scores.churn_scores")[0][0] > 0
    assert _query(folder, "select count(*) from scores.recommendations")[0][0] == 0
    assert "recommender: skipped: 0 product(s) in the order lines" in result.stdout
    # One order per customer and timestamp (here a day); revenue is every loaded row's amount.
    orders, revenue = _query(folder, "select count(*), sum(net_amount) from marts.fct_orders")[0]
    assert orders == len(frame.drop_duplicates(["customer", "date"]))
    loaded = frame.drop_duplicates(["customer", "date", "amount"])
    assert float(revenue) == pytest.approx(loaded["amount"].sum(), rel=1e-9)
