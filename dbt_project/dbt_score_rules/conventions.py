"""Conventions of this dbt project: every model tested, names by layer."""

from dbt_score import Model, RuleViolation, rule

# Folder under models/ -> the prefix its models' names start with.
LAYER_PREFIXES = {"staging": "stg_", "intermediate": "int_"}


@rule
def has_a_test(model: Model) -> RuleViolation | None:
    """A model should have at least one data test (on the model or on a column), or name in
    meta `tested_by` the model whose tests hold its rules (a view whose rows that model stores)."""
    if model.meta.get("tested_by"):
        return None
    if not model.tests and not any(column.tests for column in model.columns):
        return RuleViolation(message="Model has no data test (nor meta tested_by).")


@rule
def name_matches_layer(model: Model) -> RuleViolation | None:
    """A model's name starts with its layer's prefix: stg_ in staging, int_ in intermediate."""
    parts = model.original_file_path.split("/")
    layer = parts[1] if len(parts) > 2 and parts[0] == "models" else None
    prefix = LAYER_PREFIXES.get(layer)
    if prefix and not model.name.startswith(prefix):
        return RuleViolation(message=f"A model in models/{layer} is named {prefix}*.")
