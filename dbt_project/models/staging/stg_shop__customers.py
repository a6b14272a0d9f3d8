"""Customers as the source has them: country and channel normalised, e-mail and name
pseudonymized. Customers seen only on order lines are added in int_customers.

A Python model, not SQL, so that the secret salt never appears in SQL text: it is read from the
environment when the model runs (orchestration.settings: PII_SALT or PII_SALT_FILE; the
synthetic shop's public dev salt otherwise, and a config with real data refuses to run without
one) and bound to the query as a parameter. dbt's compiled and run files, its manifest and the
warehouse catalog hold this code and `CREATE TABLE` statements, never the salt. It is a table,
not a view: a view would have to carry the salt in its definition.
"""

# The salt is concatenated before the trimmed, lower-cased value; null or blank values stay null.
PSEUDONYMIZE = (
    "case when {value} is null or trim({value}) = '' then null "
    "else sha256($salt || lower(trim({value}))) end"
)

SELECT = """
select
    customer_id,
    signup_at,
    upper(trim(country)) as country,
    lower(trim(acquisition_channel)) as acquisition_channel,
    {email} as email_hash,
    {name} as name_hash,
    lower(split_part(trim(email), '@', 2)) as email_domain
from ({source}) as source
"""

BATCH_ROWS = 100_000  # rows per Arrow batch streamed into the table


def model(dbt, session):
    dbt.config(materialized="table")
    # Imported here: dbt parses this file without the platform's settings.
    from orchestration.settings import get_settings

    salt = get_settings().pii_salt
    source = dbt.source("raw", "customers")
    query = SELECT.format(
        email=PSEUDONYMIZE.format(value="email"),
        name=PSEUDONYMIZE.format(
            value="(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))"
        ),
        source=source.sql_query(),
    )
    # A relation with a bound parameter, streamed to Arrow: never registered as a view, so the
    # salt is in no catalog entry; dbt-duckdb writes the batches with `create table as select`.
    return session.sql(query, params={"salt": salt}).to_arrow_reader(BATCH_ROWS)
