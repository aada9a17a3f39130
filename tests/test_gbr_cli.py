"""`reaseq gbr` registers its steps; the status reporter reads what the stage wrote and nothing else."""
import json

from reaseq_core import catalogue as cat
from reaseq_core.cli import build_parser
from reaseq_core.gbr.status import status
from reaseq_core.results import ResultTable, write_table
from reaseq_core.store import ArtifactStore


def test_gbr_subcommands_registered():
    parser = build_parser()
    for step in ("run", "sasrec", "locate", "table5", "fills", "table6"):
        args = parser.parse_args(["gbr", step, "--small", "--seeds", "0", "1", "2"])
        assert args.small and args.seeds == [0, 1, 2] and callable(args.func)


def test_status_reports_stage_figures(tmp_path):
    store = ArtifactStore(tmp_path)
    assert status(store, "beauty") is None
    store.write("beauty", cat.SASREC_METRICS,
                {"protocol": "leave-one-out", "valid": {}, "history": [],
                 "test": {"recall@10": 0.07, "ndcg@10": 0.04}, "reference": {"recall@10": 0.074, "source": "x"}})
    store.write("beauty", cat.LOCATION_SUMMARY,
                {"variants": {"TD": {"fill_ratio": 0.1}, "CD": {"fill_ratio": 0.2}}, "users": {}, "gaps": 10,
                 "config": {}})
    write_table(store, cat.TABLE6, ResultTable(
        name="table6", title="t", dataset="beauty", dataset_hash="h", split="s", protocol="p", seeds=[0],
        deviations=[], columns=["method", "overall_auc", "overall_gauc", "cold_gauc"],
        rows=[{"method": "Base", "overall_auc": 0.7, "overall_gauc": 0.6, "cold_gauc": 0.55}]))
    # a small run lands under gbr/small/ and is not what status reports
    store.write("beauty", cat.LOCATION_SUMMARY, {"variants": {"TD": {"fill_ratio": 0.9}}, "users": {}, "gaps": 1,
                                                 "config": {}}, run=cat.SMALL_RUN)
    assert store.path("beauty", cat.LOCATION_SUMMARY, run=cat.SMALL_RUN).parent.name == cat.SMALL_RUN
    s = status(store, "beauty")
    assert s["sasrec_test"]["recall@10"] == 0.07 and s["sasrec_reference"] == {"recall@10": 0.074}
    assert s["fill_ratio"] == {"TD": 0.1, "CD": 0.2}
    assert s["table6"]["Base"]["cold_gauc"] == 0.55 and "table5" not in s
    json.dumps(s)
