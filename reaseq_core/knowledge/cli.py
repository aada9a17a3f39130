"""`reaseq knowledge ...`: build multi-agent knowledge (paper 2.1.1), inspect it, read the call log.

    reaseq knowledge build --dataset beauty --category Fragrance --then-category "Bath & Body" \
        --single-agent-limit 200 --single-agent-every 2 --single-agent-attempts 1   resumable; safe to kill
    reaseq knowledge show --dataset beauty --item B000...   one item's knowledge, both setups
    reaseq knowledge calls --dataset beauty --tail 3        the last calls of the call log
    reaseq knowledge grounding --dataset beauty             supported / beyond / contradicted shares (no LLM)
    reaseq knowledge experiment --dataset beauty --agent item_knowledge --version SHA12 --n 20
                                                            two template versions on a stratified sample
    reaseq knowledge promote --dataset beauty --agent item_knowledge --version SHA12 --who NAME
                                                            the build uses that version from now on
    reaseq knowledge build --dataset beauty --rebuild-template item_knowledge
                                                            regenerate the items made with an older version
"""
from __future__ import annotations

import json

from .. import catalogue as cat
from ..errors import ReaSeqError
from ..llm.factory import RETRY_BUDGET_S
from ..store import ArtifactStore


def _build(args) -> int:
    from ..data import load_dataset
    from ..llm.factory import make_backend
    from .pipeline import BuildConfig, build_knowledge
    store = ArtifactStore(args.home)
    ds = load_dataset(args.dataset, store)
    cats = list(dict.fromkeys((args.category or []) + (args.then_category or [])))
    ids = [i.strip() for i in args.items.split(",") if i.strip()] if args.items else None
    if args.rebuild_template:
        from .promotion import stale_items
        fmt = args.layer3_output if args.rebuild_template == "item_knowledge" else "json"
        stale = stale_items(store, args.dataset, args.rebuild_template, fmt)
        print(f"--rebuild-template {args.rebuild_template}: {len(stale)} item(s) whose knowledge came from another "
              f"template version than the build's ({fmt} answers)")
        if stale.empty:
            return 0
        if not cats:
            cats = sorted(set(stale["primary_category"].dropna()))
    if ids and not cats:
        cats = sorted(set(ds.items.loc[ds.items["item_id"].isin(ids), "primary_category"].dropna()))
    if not cats and not args.all_categories:
        raise ReaSeqError("choose what to build: --category NAME (repeatable) and/or --items ID,ID")
    if args.all_categories:
        cats = list(dict.fromkeys(cats + sorted(set(ds.items["primary_category"].dropna()))))
    backend = make_backend(args.backend, base_url=args.base_url, model=args.model, api_key=args.api_key,
                           n_threads=args.n_threads, max_concurrency=args.concurrency,
                           retry_budget_s=args.retry_budget_s, slots=args.slots)
    cfg = BuildConfig(categories=cats, item_ids=ids, limit=args.limit, single_agent_limit=args.single_agent_limit,
                      single_agent_every=args.single_agent_every, write_every=args.write_every,
                      max_attempts=args.max_attempts, single_agent_attempts=args.single_agent_attempts,
                      use_grammar=not args.no_grammar, order=args.order, rebuild_taxonomy=args.rebuild_taxonomy,
                      rebuild_template=args.rebuild_template, top_items=args.top_items,
                      min_sub_items=args.min_sub_items, taxonomy_only=args.taxonomy_only,
                      layer3_output=args.layer3_output, only_missing=args.only_missing)
    if args.rebuild_template == "single_agent":      # every stale single-agent item gets the baseline again
        cfg.single_agent_every, cfg.single_agent_limit = 1, max(cfg.single_agent_limit, 10**9)
    stop = None
    if args.max_minutes is not None:           # stop taking new items after M minutes; items in flight finish
        import time
        deadline = time.monotonic() + 60 * args.max_minutes
        stop = lambda: time.monotonic() > deadline  # noqa: E731
    out = build_knowledge(ds, store, backend, cfg, progress=not args.no_progress, should_stop=stop)
    print(json.dumps(out, indent=2))
    return 0


def _recheck(args) -> int:
    from .pipeline import recheck_rows
    out = recheck_rows(ArtifactStore(args.home), args.dataset)
    print(f"{out['rows_checked']} ok rows checked; {out['rows_failed_now']} now failed (noise rules): "
          f"{', '.join(out['items'][:20])}")
    return 0


def _show(args) -> int:
    from ..data import load_dataset
    from .report import regrounded
    store = ArtifactStore(args.home)
    df = store.read(args.dataset, cat.ITEM_KNOWLEDGE)
    rows = df[df["item_id"] == args.item]
    if rows.empty:
        raise ReaSeqError(f"no knowledge for item '{args.item}' in dataset '{args.dataset}'")
    # today's meaning of grounding whatever the row's age: every entry re-classified against the item's fields
    rows = regrounded(rows, load_dataset(args.dataset, store).items)
    for r in rows.to_dict("records"):
        counts = " ".join(f"{c}={r[c]}" for c in ("supported", "beyond", "contradicted"))
        rate = "n/a" if r["grounding_rate"] != r["grounding_rate"] else f"{r['grounding_rate']:.2f}"
        print(f"== {r['item_id']} [{r['setup']}] status={r['status']} supported share={rate} ({counts})")
        if isinstance(r["failure_reason"], str) and r["failure_reason"]:      # NaN / None on ok rows
            print(f"   failed: {r['failure_reason']}")
        for persp in ("user_demand", "product_attribute"):
            for e in json.loads(r[persp] or "[]"):
                cls = e.get("grounding", "")
                mark = "" if cls == "supported" else f"  [{cls.upper()}: {e.get('grounding_note', '')}]"
                print(f"   {persp[:4]} {e['dimension']:<16} {e['analysis']} | {', '.join(e['keywords'])} "
                      f"| evidence: {e['evidence']}{mark}")
    return 0


def _calls(args) -> int:
    from ..llm.cache import read_call_log
    store = ArtifactStore(args.home)
    # require: no call log is an error naming the build command, not an empty listing
    for r in read_call_log(store.require(args.dataset, cat.LLM_CALLS), limit=args.tail):
        params = r.get("params") or {}
        tpl = f" template={r['template_hash'][:12]}" if r.get("template_hash") else ""
        print(f"--- {r['created']} {r['agent']}{tpl} {r.get('subject')} attempt={r.get('attempt')} status={r['status']} "
              f"temperature={r.get('temperature', params.get('temperature'))} seed={r.get('seed', params.get('seed'))} "
              f"{r['prompt_tokens']}+{r['completion_tokens']} tok {r['latency_s']} s")
        if r.get("prompt_change"):
            print(f"retry changed the prompt: {r['prompt_change']}")
        if args.prompts:
            print(r["prompt"])
        print(r["response"][:2000])
        if r.get("error"):
            print(f"error: {r['error']}")
    return 0


def _version_text(store, dataset: str, agent: str, which: str) -> tuple[str, str]:
    """(label, text) of 'build' (what the build uses), 'shipped' (prompts/<agent>.txt), a saved sha12 or a file."""
    from pathlib import Path

    from .promotion import build_template, read_version
    from .templates import load_template
    if which == "build":
        return "build", build_template(store, dataset, agent)
    if which == "shipped":
        return "shipped", load_template(agent)
    if Path(which).is_file():
        return Path(which).stem, Path(which).read_text(encoding="utf-8")
    return which, read_version(store, dataset, agent, which)


def _experiment(args) -> int:
    import time

    from ..llm.factory import make_backend
    from . import experiments as ex
    store = ArtifactStore(args.home)
    versions = [ex.Version(*_version_text(store, args.dataset, args.agent, w)) for w in (args.against, args.version)]
    if versions[0].label == versions[1].label:
        versions[1] = ex.Version(versions[1].label + " (2)", versions[1].text)
    ids = ([i.strip() for i in args.items.split(",") if i.strip()] if args.items else
           ex.stratified_sample(ex.sample_pool(store, args.dataset, args.agent), args.n, args.seed))
    backend = make_backend(args.backend, base_url=args.base_url, model=args.model, api_key=args.api_key,
                           n_threads=args.n_threads)
    t0 = time.perf_counter()

    def on_call(e):
        if args.no_progress:
            return
        if e["event"] == "call_start":
            print(f"[{e['k']}/{e['total']}] {e['version']} {e['item_id']}: call {e['call']} live ...", flush=True)
        elif e["event"] == "call_end":
            print(f"    done in {e['elapsed_s']:.1f} s, {e['prompt_tokens']}+{e['completion_tokens']} tokens, "
                  f"{e['status']} (elapsed {time.perf_counter() - t0:.0f} s)", flush=True)
        elif e["event"] == "cached":
            print(f"[{e['k']}/{e['total']}] {e['version']} {e['item_id']}: cached answer ({e['status']})", flush=True)

    deadline = t0 + 60 * args.max_minutes if args.max_minutes else None
    import signal

    def _term(signum, frame):          # `timeout` / kill: stop like Ctrl-C, so what finished is saved
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _term)
    res = ex.run_experiment(store, args.dataset, args.agent, versions, ids, backend, max_attempts=args.max_attempts,
                            generic_share=args.generic_share, reference=args.reference, on_call=on_call,
                            should_stop=(lambda: time.perf_counter() > deadline) if deadline else None,
                            sample={"n": args.n, "seed": args.seed, "stratified_by": "sub_category"}
                            if not args.items else {"items": "given"})
    rid = ex.save_experiment(store, args.dataset, res)
    if res["config"]["interrupted"]:
        print(res["config"]["interrupted"])
    elif res["config"]["stopped"]:
        print(f"stopped at the time limit after {res['config']['pairs_done']} of {res['config']['pairs_total']} "
              "item runs")
    print(ex.summary_table(res, formatted=True).to_string())
    print(f"generic rule: {res['config']['generic_rule']}")
    print(f"saved: {store.path(args.dataset, cat.PROMPT_EXPERIMENT, agent=args.agent, run_id=rid)}")
    return 0


def _promote(args) -> int:
    from .promotion import promote, stale_items
    store = ArtifactStore(args.home)
    label, text = _version_text(store, args.dataset, args.agent, args.version)
    rec = promote(store, args.dataset, args.agent, text, who=args.who, note=args.note or "")
    print(json.dumps(rec, indent=2))
    n = len(stale_items(store, args.dataset, args.agent)) if args.agent in ("item_knowledge", "single_agent") else 0
    if n:
        print(f"{n} item(s) have knowledge from another version: `reaseq knowledge build --dataset {args.dataset} "
              f"--rebuild-template {args.agent}` regenerates them")
    return 0


def register(sub) -> None:
    p = sub.add_parser("knowledge", help="multi-agent knowledge reasoning (paper 2.1.1)")
    s = p.add_subparsers(dest="knowledge_command", metavar="SUBCOMMAND", required=True)
    b = s.add_parser("build", help="Layer 1-3 knowledge (+ single-agent baseline) for selected items; resumable")
    b.add_argument("--dataset", required=True)
    b.add_argument("--category", action="append", help="primary category (repeatable)")
    b.add_argument("--then-category", action="append", help="further categories, processed after --category")
    b.add_argument("--items", default=None, help="comma-separated item ids (restricts the selection)")
    b.add_argument("--all-categories", action="store_true", help="every primary category of the dataset")
    b.add_argument("--top-items", type=int, default=None,
                   help="only the N most-interacted items of the dataset, across categories (coverage of behaviour)")
    b.add_argument("--min-sub-items", type=int, default=1,
                   help="only subcategories with at least this many selected items (the others wait)")
    b.add_argument("--taxonomy-only", action="store_true", help="Layers 1-2 only, no item knowledge")
    b.add_argument("--max-minutes", type=float, default=None,
                   help="take no new item after this many minutes (items in flight finish and are written)")
    b.add_argument("--only-missing", action="store_true",
                   help="skip items that already have ok multi-agent knowledge (from any template version)")
    b.add_argument("--layer3-output", default="json", choices=["json", "lines"],
                   help="Layer 3's answer: one JSON object (default) or one line per dimension (fewer tokens; with "
                        "the embedded backend labels and separators are inserted and --slots items decode together)")
    b.add_argument("--slots", type=int, default=1,
                   help="embedded backend: sequences decoded in parallel for --layer3-output lines (e.g. 4)")
    b.add_argument("--limit", type=int, default=None, help="at most this many items per category")
    b.add_argument("--order", default="popular", choices=["popular", "id"],
                   help="inside a subcategory: most-interacted items first (default) or by item id")
    b.add_argument("--single-agent-limit", type=int, default=0, help="items that also get the single-agent baseline")
    b.add_argument("--single-agent-every", type=int, default=4, help="every k-th item gets the baseline")
    b.add_argument("--backend", default="embedded", choices=["embedded", "openai"])
    b.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint (backend openai)")
    b.add_argument("--model", default=None, help="served model name (openai) or a .gguf path (embedded)")
    b.add_argument("--api-key", default=None)
    b.add_argument("--concurrency", type=int, default=1, help="requests in flight (openai backend)")
    b.add_argument("--n-threads", type=int, default=None,
                   help="CPU threads of the embedded model (default $REASEQ_LLM_THREADS or 2)")
    b.add_argument("--write-every", type=int, default=10, help="rewrite the artifacts every N items")
    b.add_argument("--max-attempts", type=int, default=3, help="attempts per agent call before the item fails")
    b.add_argument("--single-agent-attempts", type=int, default=None,
                   help="attempts of the single-agent baseline before its item fails (default: --max-attempts)")
    b.add_argument("--retry-budget-s", type=float, default=RETRY_BUDGET_S,
                   help="seconds of exponential back-off while the endpoint is unreachable (refused, timeout, 5xx) "
                        "before the build stops with an error naming it (openai backend; default %(default)s)")
    b.add_argument("--rebuild-taxonomy", action="store_true",
                   help="ask Layers 1-2 again even for categories / subcategories whose taxonomy is stored ok "
                        "(their items' Layer-3 prompts then change)")
    b.add_argument("--rebuild-template", default=None, metavar="AGENT",
                   choices=["item_knowledge", "single_agent"],
                   help="regenerate only the items whose knowledge came from another version of AGENT's template "
                        "than the one the build uses (the promoted version, else the shipped file); with no "
                        "--category, the categories of those items")
    b.add_argument("--no-grammar", action="store_true", help="do not send JSON schemas (prompt-only JSON)")
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=_build)
    rc = s.add_parser("recheck", help="apply today's noise rules to the stored rows (no LLM); a row that breaks one "
                                      "becomes failed, with the rule as its reason")
    rc.add_argument("--dataset", required=True)
    rc.set_defaults(func=_recheck)
    sh = s.add_parser("show", help="one item's knowledge")
    sh.add_argument("--dataset", required=True)
    sh.add_argument("--item", required=True)
    sh.set_defaults(func=_show)
    c = s.add_parser("calls", help="the last calls of the LLM call log")
    c.add_argument("--dataset", required=True)
    c.add_argument("--tail", type=int, default=5)
    c.add_argument("--prompts", action="store_true", help="print the prompts too")
    c.set_defaults(func=_calls)
    DEFAULT_N, GENERIC_SHARE, REFERENCES = 20, 0.30, ("sample", "stored")   # as in experiments.py (not imported here:
    # the parser is built for every command, and experiments.py loads pandas)
    e = s.add_parser("experiment", help="two template versions of an item-level agent on a stratified sample")
    e.add_argument("--dataset", required=True)
    e.add_argument("--agent", required=True, choices=["item_knowledge", "single_agent"])
    e.add_argument("--version", default="build",
                   help="the version under test: a saved sha12, a template file, 'build' or 'shipped'")
    e.add_argument("--against", default="build", help="the version to compare with (default: what the build uses)")
    e.add_argument("--n", type=int, default=DEFAULT_N, help="items, stratified by subcategory (default %(default)s)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--items", default=None, help="comma-separated item ids instead of a sample")
    e.add_argument("--generic-share", type=float, default=GENERIC_SHARE,
                   help="a keyword in more than this share of its subcategory's items is generic (default %(default)s)")
    e.add_argument("--reference", default="sample", choices=list(REFERENCES),
                   help="items the generic rule counts over: the version's sampled answers or the stored knowledge")
    e.add_argument("--max-attempts", type=int, default=3)
    e.add_argument("--backend", default="embedded", choices=["embedded", "openai"])
    e.add_argument("--base-url", default=None)
    e.add_argument("--model", default=None)
    e.add_argument("--api-key", default=None)
    e.add_argument("--n-threads", type=int, default=None)
    e.add_argument("--max-minutes", type=float, default=None,
                   help="start no item after this many minutes (the item in flight finishes); what finished is saved")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=_experiment)
    pr = s.add_parser("promote", help="make a saved template version the one the build uses (the old one is kept)")
    pr.add_argument("--dataset", required=True)
    pr.add_argument("--agent", required=True, choices=["demand_taxonomy", "attribute_taxonomy", "dimension_refinement",
                                                        "item_knowledge", "single_agent"])
    pr.add_argument("--version", required=True, help="a saved sha12, a template file, or 'shipped'")
    pr.add_argument("--who", default=None, help="who promotes (default: the login name)")
    pr.add_argument("--note", default=None)
    pr.set_defaults(func=_promote)
    from . import grounding_cli           # `reaseq knowledge grounding`: supported / beyond / contradicted shares
    grounding_cli.add_parser(s)
