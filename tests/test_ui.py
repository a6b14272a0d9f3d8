"""`make ui`'s server on the test session's instance: the graph, its checks and model metadata are
served, and a real browser (Debian's chromium driven by Playwright) renders them."""

import os
import shutil
from pathlib import Path

import pytest
from process_helpers import graphql, start_ui, stop, wait_for_ui

# Whole pipeline runs or Dagster processes: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def ui_url(pipeline_run, tmp_path_factory):
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    process, url = start_ui(os.environ.copy(), log)
    try:
        wait_for_ui(url, process, log)
        yield url
    finally:
        stop(process)


def test_ui_serves_the_whole_graph(ui_url):
    from orchestration.definitions import defs

    served = {
        tuple(n["assetKey"]["path"])
        for n in graphql(ui_url, "{ assetNodes { assetKey { path } } }")["assetNodes"]
    }
    defined = {tuple(key.path) for key in defs().resolve_asset_graph().get_all_asset_keys()}
    assert served == defined


def test_ui_shows_blocking_checks_and_model_metrics(ui_url):
    checks = graphql(
        ui_url,
        '{ assetNodeOrError(assetKey: {path: ["raw", "order_lines"]}) { ... on AssetNode { '
        "assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } } }",
    )["assetNodeOrError"]["assetChecksOrError"]["checks"]
    assert {"name": "great_expectations_raw_order_lines", "blocking": True} in checks
    entries = graphql(
        ui_url,
        '{ assetNodeOrError(assetKey: {path: ["models", "churn"]}) { ... on AssetNode { '
        "assetMaterializations(limit: 1) { metadataEntries { label "
        "... on FloatMetadataEntry { floatValue } } } } } }",
    )["assetNodeOrError"]["assetMaterializations"][0]["metadataEntries"]
    values = {e["label"]: e.get("floatValue") for e in entries}
    assert values["holdout_value"] > values["baseline_value"] > 0.5


def test_browser_renders_lineage_and_model_metadata(ui_url, tmp_path):
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (make browser installs it; CI does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{ui_url}/asset-groups")
        for group in ("raw", "staging", "marts", "models", "scores"):
            page.get_by_text(group, exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=tmp_path / "lineage.png")
        page.goto(f"{ui_url}/assets/models/churn")
        page.get_by_text("holdout_value").first.wait_for(timeout=30_000)
        page.get_by_text("recency only").first.wait_for(timeout=30_000)
        page.screenshot(path=tmp_path / "churn.png")
        browser.close()
