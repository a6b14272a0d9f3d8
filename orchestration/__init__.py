"""Dagster definitions for the customer-analytics platform: a thin layer over dbt, ml/ and expectations/."""
