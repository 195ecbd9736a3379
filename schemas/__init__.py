"""fitbeam's table contract: one Avro schema per BigQuery table (*.avsc) and its mappings.

`schemas.bigquery` derives BigQuery schemas and DDL from the .avsc files; `schemas.docs` renders
docs/tables.md from their docs.
"""
