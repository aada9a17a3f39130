"""Title texts for every real Beauty item, including the ones without a title or brand."""
from __future__ import annotations

from reaseq_core.representation.title_vectors import title_text


def test_every_item_gets_a_title_text(beauty):
    rows = beauty.items.to_dict("records")
    texts = [title_text(r) for r in rows]
    assert len(texts) == 12101 and all(isinstance(t, str) and t for t in texts)
    untitled = [t for r, t in zip(rows, texts) if not isinstance(r["title"], str)]
    assert len(untitled) == 12101 - 12094 and all(t.startswith(("Brand:", "Category:")) for t in untitled)
    item = next(r for r in rows if r["item_id"] == "9788072216")
    assert title_text(item) == ("Prada Candy By Prada Eau De Parfum Spray 1.7 Oz For Women. Brand: Prada. "
                                "Category: Beauty > Fragrance > Women's > Eau de Parfum")
