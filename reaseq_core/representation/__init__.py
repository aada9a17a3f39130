"""Representations: the sentence encoder Phi, title vectors, knowledge-enhanced vectors (paper 2.1.2)."""
