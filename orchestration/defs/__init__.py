"""Asset, check, schedule and resource definitions, one module per concern."""
