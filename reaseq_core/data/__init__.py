"""Data layer: canonical schema, adapters (Amazon 2014 RecBole, Amazon 2018 raw, generic), ingest, splits."""
from .ingest import KNOWN, Dataset, ensure_dataset, ingest, load_dataset

__all__ = ["KNOWN", "Dataset", "ensure_dataset", "ingest", "load_dataset"]
