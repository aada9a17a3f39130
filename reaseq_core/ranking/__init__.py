"""Reasoning-enhanced CTR ranking (paper Sec. 2.2): Base GSU-ESU, Retrieval, Compression, dual path; DIN."""
