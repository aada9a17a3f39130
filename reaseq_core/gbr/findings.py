"""Why the first LLaDA lost to the context mean, measured one piece at a time (`reaseq gbr findings`).

Every step trains GBR-C-0 (CD location, InfoNCE-cos) on the same users with seed 0 and scores it on the same
held-out batches and negatives as Table 5 (every P_L position masked, K = batch size - 1). The first row is
the model as first shipped (the paper's reading, 3 epochs); "converged" trains the same model with early
stopping; every later row changes ONE piece of that converged model; then the configuration Table 5 uses,
and levers tried on top of it (AFTER_TABLE5). The references (context mean, previous item, most popular
item) are scored on the same batches. Output: the result table cat.GBR_FINDINGS.
"""
from __future__ import annotations

import time

from .. import catalogue as cat
from ..results import ResultTable, write_table
from . import report
from .labels import build_corpus
from .llada import LLaDAConfig, evaluate_ib, popular_item, train_llada

SHIPPED = {"lr": 3e-3, "epochs": 3, "patience": 0, "normaliser": "t_pl", "mask_scope": "p_l", "head": "linear",
           "residual": False}
CONVERGED = {**SHIPPED, "lr": 1e-3, "epochs": 20, "patience": 3}
# (step, what changes, overrides on top of CONVERGED; None = the configuration Table 5 uses)
STEPS = [
    ("shipped", "the first model: lr 3e-3, 3 epochs, loss normaliser 1/(t |P_L|), only P_L masked, linear head",
     SHIPPED),
    ("lr 3e-3, converged", "the same trained to convergence (early stopping, patience 3) at lr 3e-3",
     {**CONVERGED, "lr": 3e-3}),
    ("converged", "lr 1e-3, early stopping on validation IB-ACC[MASK] (patience 3, at most 20 epochs)", {}),
    ("+ masked-token normaliser", "loss = mean over masked tokens instead of 1/(t |P_L|) per sequence",
     {"normaliser": "masked"}),
    ("+ mask every item", "training masks every observed item with probability t, not only P_L positions",
     {"mask_scope": "all"}),
    ("+ context-mean residual", "output = linear head + the mean of the visible item vectors",
     {"residual": True}),
    ("+ all-token negatives", "training negatives: every item token of the other sequences (eval unchanged)",
     {"train_negatives": "all_tokens"}),
    ("+ item-id embedding", "a trainable item-id embedding added to the frozen content vector (input only)",
     {"id_embedding": True}),
    ("+ cosine term", "InfoNCE + 1 x (1 - cos) on the positive", {"cos_weight": 1.0}),
    ("+ context head", "output = attention over the visible items' vectors (starts as the context mean)",
     {"head": "context"}),
    ("+ context head, every item maskable, masked-token normaliser",
     "the context head with both changes above (Table 5's configuration in the run of 67c055a)",
     {"head": "context", "mask_scope": "all", "normaliser": "masked"}),
    ("Table 5 configuration", "the configuration GBRConfig.llada uses for Table 5", None),
]
# (step, what changes, overrides on top of the Table 5 configuration): levers tried after it
AFTER_TABLE5 = [
    ("Table 5 configuration + weight averaging", "the weights are an exponential moving average (decay 0.99 per "
     "step); validation and the kept model use the average", {"ema": 0.99}),
]


def run_findings(ctx, steps=STEPS, after=AFTER_TABLE5, log=print) -> ResultTable:
    """ctx: a pipeline.Context. Trains one model per step (seed 0) and writes cat.GBR_FINDINGS."""
    from .pipeline import MODELS, REFERENCE_NAMES, _gbr_only, _sequences_for_gbr, _split_users
    cfg = ctx.cfg
    variant = dict((m, v) for m, v, _ in MODELS)["GBR-C-0"]
    loc = _gbr_only(ctx.read(cat.LOCATION))
    seq = _sequences_for_gbr(ctx, loc)
    corpus = build_corpus(seq, loc[loc["variant"] == variant], ctx.item_index)
    train_idx, eval_idx = _split_users(cfg, corpus.users)
    held_out = corpus.subset(eval_idx)
    bs = cfg.llada.batch_size

    def score(model=None, reference="context_mean", popular=None):
        return evaluate_ib(model, held_out, bs, item_vectors=ctx.item_vectors, temperature=cfg.llada.temperature,
                           reference=reference, popular=popular, nearest=True)

    rows = []
    popular = popular_item(corpus.subset(train_idx))
    for ref, label in REFERENCE_NAMES.items():
        ev = score(None, ref, popular)
        rows.append(_row(label, "untrained reference", ev, {}))
    base = {**cfg.llada.as_dict(), "seed": 0, "loss": "infonce", "train_negatives": "one_per_sequence",
            "id_embedding": False, "cos_weight": 0.0, "mask_rate": 0.0}
    table5 = cfg.llada.as_dict()
    plan = [(step, what, table5 if over is None else {**base, **CONVERGED, **over}) for step, what, over in steps]
    plan += [(step, what, {**table5, **over}) for step, what, over in after]
    done = {}      # a configuration met again (e.g. Table 5's = an earlier step) is not trained twice
    for step, what, conf in plan:
        lcfg = LLaDAConfig(**{**conf, "seed": 0, "loss": "infonce", "threads": 1})
        lcfg.max_len = max(lcfg.max_len, corpus.tokens.shape[1])
        key = repr(sorted(lcfg.as_dict().items()))
        if key in done:
            rows.append({**done[key], "step": step, "change": f"{what} (= the row '{done[key]['step']}')"})
            log(f"findings {step}: the same configuration as '{done[key]['step']}'")
            continue
        t0 = time.time()
        model, rec = train_llada(corpus.subset(train_idx), ctx.item_vectors, lcfg, show_progress=False,
                                 log=lambda *_: None)
        ev = score(model)
        rows.append(_row(step, what, ev, rec, seconds=time.time() - t0))
        done[key] = rows[-1]
        log(f"findings {step}: IB-ACC[MASK] {100 * ev['acc_mask']:.2f}% IB-PPL[MASK] {ev['ppl_mask']:.1f} "
            f"fill nearest cos {ev['nearest_fill'].get('p50', float('nan')):.3f} "
            f"({rec['epochs_run']} epochs, best {rec['best_epoch']}, {time.time() - t0:.0f} s)")
    cols = ["step", "change", "ib_acc_mask_pct", "ib_ppl_mask", "ib_acc_fill_pct", "ib_ppl_fill",
            "nearest_item_cos_fill", "nearest_item_cos_truth", "epochs_run", "best_epoch", "train_seconds"]
    tab = ResultTable(
        name=cat.GBR_FINDINGS.key, title="GBR findings: what moved IB-ACC[MASK], one piece at a time (GBR-C-0, seed 0)",
        dataset=cfg.dataset, dataset_hash=ctx.dataset_hash,
        split="GBR users split 90/10 by user (Table 5's split); 10% of the training users validate",
        protocol=("Table 5 protocol on the CD variant: every P_L position of the held-out sequences masked, K = "
                  f"{bs - 1} in-batch negatives, cosine / {cfg.llada.temperature}; one seed (0) per step, so "
                  "differences of about 1 point are within run-to-run spread (Table 5 gives 3 seeds). Each "
                  "'+' row changes one piece of the 'converged' model; then Table 5's configuration, and levers "
                  "tried on top of it."),
        seeds=[0], deviations=report.table5_deviations(cfg, ctx.item_vectors.shape[1]), columns=cols, rows=rows,
        notes="nearest_item_cos_fill: median cosine between a [FILL] prediction and its nearest real item; "
              "nearest_item_cos_truth: the same for the real items behind the [MASK]s (nearest other item).")
    write_table(ctx.store, cat.GBR_FINDINGS, tab, ctx.prov(llada=cfg.llada.as_dict()), run=ctx.run)
    return tab


def _row(step: str, what: str, ev: dict, rec: dict, seconds: float = 0.0) -> dict:
    return {"step": step, "change": what, "ib_acc_mask_pct": 100 * ev["acc_mask"], "ib_ppl_mask": ev["ppl_mask"],
            "ib_acc_fill_pct": 100 * ev["acc_fill"], "ib_ppl_fill": ev["ppl_fill"],
            "nearest_item_cos_fill": ev["nearest_fill"].get("p50", float("nan")),
            "nearest_item_cos_truth": ev["nearest_real"].get("p50", float("nan")),
            "epochs_run": int(rec.get("epochs_run", 0)), "best_epoch": int(rec.get("best_epoch", 0)),
            "train_seconds": round(float(rec.get("train_seconds", seconds)), 1)}
