"""Result tables: one JSON shape for every table the project reports (Tables 1-6 analogues and the rest).

A table carries its own protocol: dataset + content hash, split, protocol text, seeds and the list of
deviations from the paper, so the app, the notebooks and `reaseq status` can show it as it was made.
Values that are a mean over seeds have a sibling column '<name>_std'.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

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


def write_table(store: ArtifactStore, stage: str, table: ResultTable, provenance: dict | None = None) -> None:
    store.write_json(table.dataset, stage, f"{table.name}.json", asdict(table),
                     {"seeds": table.seeds, **(provenance or {})})


def read_table(store: ArtifactStore, dataset: str, stage: str, name: str) -> ResultTable:
    return ResultTable(**store.read_json(dataset, stage, f"{name}.json"))


TABLE_KEYS = {"name", "title", "columns", "rows", "protocol", "seeds", "deviations"}


def list_tables(store: ArtifactStore, dataset: str) -> list[tuple[str, str]]:
    """(stage, name) of every result table stored for a dataset: any JSON artifact with a ResultTable's shape
    (per-run records such as table5_runs.json sit beside the tables and do not count)."""
    import json
    out = []
    for info in store.list(dataset):
        if not info.name.endswith(".json") or info.size_bytes > 8 << 20:
            continue
        try:
            obj = json.loads(info.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(obj, dict) and TABLE_KEYS <= obj.keys():
            out.append((info.stage, info.name[:-5]))
    return out
