"""Computations behind the workbench's views that are too slow to redo on every page load: the UMAP
projection of item and [FILL] tokens (computed once per input, stored as the viz stage's cat.UMAP under a
key of reproducible input facts) and exact cosine neighbour lists in the original vector space (never in
the projection)."""
from .neighbours import exact_cosine_neighbours
from .umap_cache import (build_embedding_projection, current_projection_key, inputs_key, latest_projection,
                         read_projection, stale_inputs)

__all__ = ["exact_cosine_neighbours", "build_embedding_projection", "current_projection_key", "inputs_key",
           "latest_projection", "read_projection", "stale_inputs"]
