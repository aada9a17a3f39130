"""Semantic item IDs (ReaSeq appendix C): RQ-VAE tokenizer, residual k-means baseline, SID report."""
