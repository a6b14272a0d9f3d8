"""The project's own dbt-score rules (loaded from the namespace dbt_score_rules; see pyproject.toml here)."""
