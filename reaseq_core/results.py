"""Result tables: one JSON shape for every table the project reports (Tables 1-6 analogues and the rest).

A table carries its own protocol: dataset + content hash, split, protocol text, seeds and the list of
deviations from the paper, so the app, the notebooks and `reaseq status` can show it as it was made.
Values that are a mean over seeds have a sibling column '<name>_std'.
"""
from __future__ import annotations

import numbers
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

    # ---- presentation (the workbench, the Markdown export and the HTML report show values the same way) ----
    @staticmethod
    def format_value(v, sd=None) -> str:
        """A cell as text: floats with 4 decimals (2 significant digits where 4 decimals would read 0),
        '± std' when a std is given; missing values as '–'; lists comma-separated."""
        if v is None or (not isinstance(v, (list, tuple, str)) and pd.isna(v)):   # None, NaN, pd.NA
            return "–"
        if isinstance(v, (list, tuple)):
            return ", ".join(ResultTable.format_value(x) for x in v)
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            return str(v)
        text = ResultTable._number(v)
        if sd is not None and not pd.isna(sd):
            text += f" ± {ResultTable._number(sd)}"
        return text

    @staticmethod
    def _number(v) -> str:
        if isinstance(v, numbers.Integral):
            return str(int(v))
        v = float(v)
        if v.is_integer() and abs(v) >= 1000:  # a count that pandas turned into a float (a column with gaps)
            return str(int(v))
        return f"{v:.4f}" if v == 0 or abs(v) >= 5e-5 else f"{v:.2g}"   # 4 decimals unless that reads 0

    def value_columns(self) -> list[str]:
        """The columns to show: every column except the '<col>_std' siblings (shown with their mean)."""
        return [c for c in self.columns if not (c.endswith("_std") and c[:-4] in self.columns)]

    def display_frame(self, all_text: bool = False) -> pd.DataFrame:
        """The table for display: a column with a '<col>_std' sibling becomes 'mean ± std' text; the other
        columns keep their values (all_text=True: they become text too, formatted like format_value)."""
        df = self.to_frame()
        out = pd.DataFrame(index=df.index)
        for c in self.value_columns():
            std = f"{c}_std"
            if std in df.columns and pd.api.types.is_numeric_dtype(df[c]):
                out[c] = [self.format_value(m, s) for m, s in zip(df[c].tolist(), df[std].tolist())]
            elif all_text:
                out[c] = [self.format_value(v) for v in df[c].tolist()]
            else:
                out[c] = df[c]
        return out

    @property
    def seeds_text(self) -> str:
        """The seeds as a reader should see them: a table without seeds is one unseeded run, not 'n/a'."""
        return ", ".join(map(str, self.seeds)) if self.seeds else "none (single run, no seeds)"

    @property
    def not_a_result(self) -> bool:
        """Whether the table says it is a smoke configuration ('not a result') in its notes or deviations."""
        return any("not a result" in t.lower() for t in [self.title, self.notes, *self.deviations])

    def to_markdown(self) -> str:
        shown = self.display_frame(all_text=True)
        cols = list(shown.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in shown.itertuples(index=False):
            lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
        meta = [f"Dataset: {self.dataset} (hash {self.dataset_hash}); split: {self.split}",
                f"Protocol: {self.protocol}", f"Seeds: {self.seeds_text}",
                "Deviations from the paper: " + ("; ".join(self.deviations) or "none stated")]
        if self.notes:
            meta.append(f"Notes: {self.notes}")
        head = f"**{self.title}**\n\n"
        if self.not_a_result:  # a smoke run's table must not reach a slide looking like a result
            head += "> **Warning: not a result** (a smoke configuration; see the deviations below)\n\n"
        return head + "\n".join(lines) + "\n\n" + "\n\n".join(meta) + "\n"


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
