"""Result tables: one JSON shape for every table the project reports (Tables 1-6 analogues and the rest).

A table carries its own protocol: dataset + content hash, split, protocol text, seeds and the list of
deviations from the paper, so the app, the notebooks and `reaseq status` can show it as it was made.
Values that are a mean over seeds have a sibling column '<name>_std'.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

from .catalogue import RESULT_TABLES, Artifact
from .store import ArtifactStore


@dataclass
class ResultTable:
    name: str                       # e.g. "table3_ablation"
    title: str                      # e.g. "Table 3 analogue: representation integration schemes"
    dataset: str
    dataset_hash: str
    split: str
    protocol: str
    seeds: list[int]
    deviations: list[str]
    columns: list[str]
    rows: list[dict]
    notes: str = ""
    paper_reference: dict = field(default_factory=dict)   # the paper's own figures, for side-by-side display

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=self.columns)

    def to_markdown(self) -> str:
        df = self.to_frame()
        cols = [c for c in df.columns if not c.endswith("_std")]
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for _, r in df.iterrows():
            cells = []
            for c in cols:
                v, sd = r[c], r.get(f"{c}_std")
                if isinstance(v, float):
                    cells.append(f"{v:.4f}" + (f" ± {sd:.4f}" if isinstance(sd, float) and sd == sd else ""))
                else:
                    cells.append(str(v))
            lines.append("| " + " | ".join(cells) + " |")
        meta = [f"Dataset: {self.dataset} (hash {self.dataset_hash}); split: {self.split}",
                f"Protocol: {self.protocol}", f"Seeds: {', '.join(map(str, self.seeds)) or 'n/a'}",
                "Deviations from the paper: " + ("; ".join(self.deviations) or "none stated")]
        return f"**{self.title}**\n\n" + "\n".join(lines) + "\n\n" + "\n\n".join(meta) + "\n"


def write_table(store: ArtifactStore, art: Artifact, table: ResultTable, provenance: dict | None = None,
                *, run: str | None = None) -> None:
    if table.name != art.key:
        raise ValueError(f"table {table.name!r} written as catalogue entry {art.key!r}")
    store.write(table.dataset, art, asdict(table), {"seeds": table.seeds, **(provenance or {})}, run=run)


def read_table(store: ArtifactStore, dataset: str, art: Artifact, *, run: str | None = None) -> ResultTable:
    return ResultTable(**store.read(dataset, art, run=run))


def list_tables(store: ArtifactStore, dataset: str, run: str | None = None) -> list[Artifact]:
    """The catalogue's result tables that exist for a dataset and run (None: the full run; smoke runs are
    listed only when asked for by name)."""
    return [a for a in RESULT_TABLES if store.exists(dataset, a, run=run)]
