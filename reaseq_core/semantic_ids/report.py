"""The words of the SID table: title, split, protocol and deviations from the paper (appendix C).
build.py computes the numbers; this module says what they mean."""
from __future__ import annotations

TITLE = "Semantic IDs (appendix C): RQ-VAE vs residual k-means"
SPLIT = "all items (the tokenizer is unsupervised; no held-out split)"
PROTOCOL = ("every catalogue item tokenised; usage = share of codes used per level, perplexity = exp(entropy) "
            "of the code distribution per level, unique share = items whose full SID is unique before the "
            "collision suffix, largest bucket = most items sharing one full SID, recon_mse = mean ||h - h~||^2")
TOKENIZERS = (("rqvae", "RQ-VAE"), ("residual_kmeans", "residual k-means (no training)"))
REPORT_NOTE = ("reconstruction error = mean over items of ||h - h_tilde||^2 in the item-vector space "
               "(RQ-VAE: through the decoder; residual k-means: sum of the chosen centroids)")


def deviations(cfg: dict) -> list[str]:
    """How the SIDs differ from the paper's; `cfg` is the RQ-VAE config the reports were made with."""
    return [f"codebooks {cfg['levels']} x {cfg['codebook_size']}, latent {cfg['latent_dim']}, "
            f"beta {cfg['beta']}, {cfg['epochs']} epochs on one CPU thread (the paper does not state its sizes)",
            "item vectors h are title vectors Phi(title + brand + category) for every item; the "
            "'knowledge' rows tokenise the same catalogue with MAKR vectors substituted where an item has "
            "knowledge (items_with_knowledge); every other item keeps its title vector"]


def notes(reports: dict[str, dict]) -> str:
    return "; ".join(f"{src}: {rep['coverage']['knowledge']} of {rep['rqvae']['n_items']} items from knowledge "
                     "vectors" for src, rep in reports.items())
