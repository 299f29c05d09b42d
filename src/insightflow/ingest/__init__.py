"""Ingest: land files and append them, typed, to the raw Iceberg tables."""

from insightflow.ingest.loader import IngestResult, LoadResult, ingest, land

__all__ = ["IngestResult", "LoadResult", "ingest", "land"]
