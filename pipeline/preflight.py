"""Before a run: the dataset's tables and their `<table>_current` views exist.

Tables are created from the Avro schemas (partitioned by civil_date,
clustered by user_key) when missing, and given the columns a newer schema
adds (NULLABLE and REPEATED columns, which BigQuery lets an existing table
gain); then every view is created or replaced (`schemas.views`, then the study's
`schemas.study_views`, which read them). It runs
through the BigQuery API, so it works wherever the run's credentials can
create tables; `BIGQUERY_EMULATOR_HOST` points it at a local emulator.
"""

from __future__ import annotations

import logging

from google.cloud import bigquery

from schemas import bigquery as bq_schemas
from schemas import study_views, views

_LOGGER = logging.getLogger(__name__)


def _table(project: str, dataset: str, name: str) -> bigquery.Table:
    schema = [
        bigquery.SchemaField.from_api_repr(f)
        for f in bq_schemas.bigquery_table_schema(name)["fields"]
    ]
    table = bigquery.Table(f"{project}.{dataset}.{name}", schema=schema)
    table.time_partitioning = bigquery.TimePartitioning(field=bq_schemas.PARTITION_FIELD)
    table.clustering_fields = list(bq_schemas.CLUSTERING_FIELDS)
    table.description = bq_schemas.table_description(name)
    return table


def prepare_dataset(dataset: str, client: bigquery.Client | None = None) -> None:
    """Creates or extends every table of `project:dataset`, then its views.

    A view whose definition has not changed is left alone: its description
    carries a fingerprint of the SQL it was made from.

    Raises:
        google.api_core.exceptions.GoogleAPICallError: BigQuery refused (the
            dataset is missing, or the credentials may not create tables).
    """
    project, dataset_id = dataset.split(":", 1)
    client = client or bigquery.Client(project=project)
    existing = {t.table_id for t in client.list_tables(f"{project}.{dataset_id}")}
    for name in bq_schemas.ALL_TABLES:
        wanted = _table(project, dataset_id, name)
        if name not in existing:
            client.create_table(wanted, exists_ok=True)
            continue
        table = client.get_table(wanted.reference)
        have = {field.name for field in table.schema}
        added = [f for f in wanted.schema if f.name not in have]
        if added:
            _LOGGER.info("adding columns %s to %s", [f.name for f in added], name)
            table.schema = [*table.schema, *added]
            client.update_table(table, ["schema"])
    for statement in study_views.all_views_sql(project, dataset_id):
        name = statement.split("`", 2)[1].rsplit(".", 1)[1]
        fingerprint = views.fingerprint(statement)
        if name in existing:
            description = client.get_table(f"{project}.{dataset_id}.{name}").description or ""
            if fingerprint in description:
                continue
        client.query(views.fingerprinted(statement)).result()


def settings_time_zone(dataset: str, user_key: str, client: bigquery.Client | None = None) -> str:
    """The time zone of the user's latest settings the API returned (`user_settings_current`).

    An import of local times without an offset reads them in it when `--time_zone`
    is not given.

    Raises:
        OptionsError: no settings of the user are loaded, or they hold no zone.
    """
    from pipeline.options import OptionsError

    project, dataset_id = dataset.split(":", 1)
    client = client or bigquery.Client(project=project)
    # The dataset was checked (pipeline.options); the user key is a parameter.
    view = f"`{project}.{dataset_id}.{views.view_name('user_settings')}`"
    job = client.query(
        f"SELECT time_zone FROM {view} WHERE user_key = @user_key "  # noqa: S608
        "AND time_zone IS NOT NULL LIMIT 1",
        job_config=bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("user_key", "STRING", user_key)]
        ),
    )
    zones = [row["time_zone"] for row in job.result()]
    if not zones:
        raise OptionsError(
            "time_zone",
            "",
            f"is needed: {dataset} holds no user_settings of {user_key} (fitbeam run loads them) "
            "to read the zone of local times from",
            "America/New_York",
        )
    return zones[0]
