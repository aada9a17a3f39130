"""Computations behind the workbench's views that are too slow to redo on every page load: the UMAP
projection of item and [FILL] tokens (computed once per input, stored as gbr/umap_<hash>.parquet) and
exact cosine neighbour lists in the original vector space (never in the projection)."""
from .neighbours import exact_cosine_neighbours
from .umap_cache import build_embedding_projection, input_hash, latest_projection, project

__all__ = ["exact_cosine_neighbours", "build_embedding_projection", "input_hash", "latest_projection", "project"]
