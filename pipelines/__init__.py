"""The ingest: files in, validated, pseudonymized events out as Parquet in the lake (`pipelines/ingest.py`)."""

import logging

# Apache Beam warns when imported that Google Cloud clients are missing: the ingest uses none of them.
logging.getLogger().addFilter(lambda record: not record.getMessage().startswith("apitools not found"))
