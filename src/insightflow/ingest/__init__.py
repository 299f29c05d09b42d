"""Ingest: land files and append them, typed, to the raw Iceberg tables."""

from insightflow.ingest.landing import Landed, land
from insightflow.ingest.loader import IngestResult, LoadResult, ingest

__all__ = ["IngestResult", "Landed", "LoadResult", "ingest", "land"]
