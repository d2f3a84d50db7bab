"""The dashboard's query layer on the test atlases: answers, safety, and speed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.errors import BadInputError
from dashboard.fixtures import atlases_for_tests
from dashboard.query import (
    AtlasStore,
    benchmark_summary,
    cluster_order,
    evaluations,
    find_atlases,
    model_cards,
    page_queries,
    time_queries,
)

P95_LIMIT_S = 0.5


@pytest.fixture(scope="session")
def dashboard_data(request):
    t = time.monotonic()
    root, models = atlases_for_tests(request.config.cache.mkdir("dashboard"))
    print(f"\ndashboard test atlases ready in {time.monotonic() - t:.1f} s")
    return root, models


@pytest.fixture(scope="module")
def store(dashboard_data):
    return AtlasStore([dashboard_data[0]])


def test_atlases_are_found_with_provenance_and_synthetic_last(store):
    assert store.names() == ["tcga-fixture", "published", "lincs-synthetic"]
    assert store.atlas("published").published
    drug = store.atlas("lincs-synthetic")
    assert drug.synthetic and "SYNTHETIC" in drug.label and drug.kind == "drug"
    assert store.names(needs=("differential",)) == ["tcga-fixture"]
    with pytest.raises(BadInputError, match="No atlas named"):
        store.atlas("nope")


def test_missing_atlas_directory_is_a_clear_error(tmp_path):
    with pytest.raises(BadInputError, match="build-demo"):
        find_atlases([tmp_path / "missing"])


def test_fixture_summaries_agree_with_the_scores(store):
    """group_summary and sample_burden are what the stored scores say (score >= 0.5)."""
    scores = store.sql("tcga-fixture", "SELECT * FROM {scores}")
    samples = store.sql("tcga-fixture", 'SELECT sample_id, "group" FROM {samples}')
    merged = scores.merge(samples, on="sample_id")
    fraction = merged.assign(hit=merged["score"] >= 0.5).groupby(["group", "ggi_id"])["hit"].mean()
    summary = store.sql("tcga-fixture", "SELECT * FROM {group_summary}")
    summary = summary.set_index(["group", "ggi_id"])["fraction"]
    np.testing.assert_allclose(summary.loc[fraction.index], fraction, atol=1e-9)
    burden = store.burden("tcga-fixture").set_index("sample_id")["n_ggi"]
    counted = merged[merged["score"] >= 0.5].groupby("sample_id").size()
    assert (burden.loc[counted.index] == counted).all()


def test_heatmap_takes_the_most_variable_ggis(store):
    long = store.heatmap("published", n_top=12)
    assert long["ggi_id"].nunique() == 12
    assert long["group"].nunique() == 33  # 32 cancer types + Healthy
    spread = long.groupby("ggi_id")["value"].var(ddof=0).min()
    every = store.sql(
        "published", "SELECT ggi_id, var_pop(fraction) AS v FROM {group_summary} GROUP BY ggi_id"
    )
    assert (every["v"] > spread + 1e-12).sum() < 12
    m = long.pivot_table(index="group", columns="ggi", values="value")
    rows, cols = cluster_order(m)
    assert sorted(rows) == sorted(m.index) and sorted(cols) == sorted(m.columns)


def test_differential_filters_and_volcano_keep_every_passing_ggi(store):
    table = store.differential("tcga-fixture", "CHOL", min_abs_delta=0.3, max_q=0.05)
    assert (
        len(table) and (table["delta_fraction"].abs() >= 0.3).all() and (table["q"] <= 0.05).all()
    )
    assert set(table["reference"]) == {"CHOL normal"}
    points = store.volcano("tcga-fixture", "CHOL", min_abs_delta=0.3, max_q=0.05, max_points=10)
    assert set(points.loc[points["passes"], "ggi_id"]) == set(table["ggi_id"])
    assert (~points["passes"]).sum() <= 40  # thinned


def test_gene_search_ranks_exact_symbols_and_ids_first(store):
    hits = store.search_genes("s100a10")
    assert hits.iloc[0]["symbol"] == "S100A10" and bool(hits.iloc[0]["in_catalog"])
    assert store.search_genes("ENSG00000197747.8").iloc[0]["symbol"] == "S100A10"
    assert store.search_genes("").empty


def test_user_text_never_becomes_sql(store):
    nasty = "x'); DROP TABLE samples; --"
    assert store.search_genes(nasty).empty
    assert store.compounds("lincs-synthetic", nasty) == []
    assert store.drug_ranking("lincs-synthetic", nasty).empty
    assert store.differential("tcga-fixture", nasty).empty
    assert store.compounds("lincs-synthetic", "%") == []  # no LIKE wildcards either
    assert len(store.group_counts("tcga-fixture")) == 10  # still there


def test_locus_ggi_and_expression_queries(store):
    gene = store.gene("ENSG00000197747")  # S100A10
    near = store.ggis_near(
        "tcga-fixture", gene.chrom, gene.start - 10**6, gene.end + 10**6, group="CHOL"
    )
    assert len(near) > 20 and near["mean"].between(0, 1).all()
    ggi = int(near.loc[near["symbol2"] == "S100A10", "ggi_id"].iloc[0])
    dist = store.ggi_distribution("tcga-fixture", ggi)
    assert len(dist) == 40 and dist["score"].between(0, 1).all()
    summary = store.ggi_distribution("published", ggi)
    assert set(summary.columns) >= {"group", "fraction", "tissue_type"} and len(summary) == 33
    expr = store.expression("tcga-fixture", ["ENSG00000197747"])
    assert len(expr) == 40 and (expr["tpm"] >= 0).all()
    assert store.expression("published", ["ENSG00000197747"]).empty


def test_drug_queries(store):
    sets = store.gene_sets("lincs-synthetic")
    assert "ACC specific (published)" in sets
    ranked = store.drug_ranking("lincs-synthetic", "ACC specific (published)")
    assert ranked["score"].is_monotonic_increasing and ranked["q"].between(0, 1).all()
    members = store.gene_set_members("ACC specific (published)")
    assert len(members) == 39
    name = ranked["pert_iname"].iloc[0]
    sigs = store.compound_signatures("lincs-synthetic", name, members=members)
    assert len(sigs) == 6 and (sigs["n_ggis"] == 39).all()
    changes = store.compound_ggis("lincs-synthetic", name, members=members, limit=5)
    assert set(changes["direction"]) <= {"reversed", "gained"} and len(changes) <= 10
    assert store.coverage("lincs-synthetic")["threshold"] == 0.3


def test_quantised_scores_are_returned_as_probabilities(tmp_path, store):
    src = store.atlas("tcga-fixture")
    out = tmp_path / "q16"
    out.mkdir()
    for t in ("samples", "ggis"):
        pd.read_parquet(src.tables[t][0]).to_parquet(out / f"{t}.parquet")
    scores = pd.read_parquet(src.tables["scores"][0])
    (out / "scores").mkdir()
    stored = np.rint(scores["score"].astype(float) * 65535).astype(np.uint16)
    scores.assign(score=stored).to_parquet(out / "scores" / "part-00000.parquet")
    (out / "manifest.json").write_text(json.dumps({"name": "q16", "kind": "expression"}))
    q = AtlasStore([out])
    ggi = int(scores["ggi_id"].iloc[0])
    a = q.ggi_distribution("q16", ggi).set_index("sample_id")["score"]
    b = store.ggi_distribution("tcga-fixture", ggi).set_index("sample_id")["score"]
    np.testing.assert_allclose(a.loc[b.index], b, atol=1e-4)


def test_model_cards_and_evaluations_are_read(dashboard_data, tmp_path):
    evals = evaluations(dashboard_data[1])
    assert len(evals) == 4 and set(evals["trained_on"]) == {"K562", "GM12878"}
    assert (evals["curves"] != "").all() and evals["auroc"].between(0.5, 1).all()
    card = {"cell_line": "K562", "split": "chromosome", "metrics": {"test": {"auroc": 0.8}}}
    (tmp_path / "K562.card.json").write_text(json.dumps(card))
    (tmp_path / "broken.card.json").write_text("{not json")
    member = {"cell_line": None, "name": "context-ensemble-K562", "metrics": {}}
    (tmp_path / "context-ensemble-K562.card.json").write_text(json.dumps(member))
    cards = model_cards(tmp_path)
    assert cards[["model", "auroc"]].values.tolist() == [["K562", 0.8]]
    committed = model_cards(Path(__file__).resolve().parent.parent / "models")
    best = committed[committed.model.str.startswith("best:")].set_index("model")
    cells = ["GM12878", "HMEC", "HUVEC", "HeLaS3", "IMR90", "K562", "NHEK"]
    assert sorted(best.index) == [f"best:{c}" for c in cells]
    assert best["source"].str.startswith("trained here: ").all()


@pytest.mark.parametrize("demo", [False, True], ids=["fixture atlases", "demo atlases"])
def test_page_queries_p95_under_half_a_second(request, demo):
    root, _ = atlases_for_tests(request.config.cache.mkdir("dashboard"), demo=demo)
    store = AtlasStore([root])
    worst = {}
    for atlas in store.names():
        timings = time_queries(page_queries(store, atlas))
        print(f"\n{atlas}\n" + timings.to_string(index=False))
        worst[atlas] = timings["p95_s"].max()
    assert max(worst.values()) < P95_LIMIT_S, worst


def test_benchmark_summary_is_the_own_cell_test_rows_of_the_committed_benchmark(tmp_path):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "summary.csv"
    raw = pd.read_csv(path)
    table = benchmark_summary(path)
    cells = ["K562", "GM12878", "HeLaS3", "IMR90", "HMEC", "HUVEC", "NHEK"]
    assert sorted(table["cell_line"].unique()) == sorted(cells)
    assert {"boosted", "ai4loop-recipe", "upstream"} <= set(table["model"])
    assert not table.duplicated(["model", "cell_line"]).any()
    boosted = raw[
        (raw.model == "boosted") & (raw.train_cells == "NHEK") & (raw.test_cell == "NHEK")
        & (raw.part == "test") & (raw.split == "chromosome")
    ]  # fmt: skip
    row = table[(table.model == "boosted") & (table.cell_line == "NHEK")]
    assert row["auprc_mean"].item() == boosted["auprc_mean"].item()
    assert set(table.loc[table.model == "upstream", "cell_line"]) == set(cells[:4])
    assert table.loc[table.model == "upstream", "leakage"].all()
    assert benchmark_summary(tmp_path / "none.csv").empty
    (tmp_path / "bad.csv").write_text("model,auroc\nx,1\n")
    with pytest.raises(BadInputError, match="not a benchmark summary"):
        benchmark_summary(tmp_path / "bad.csv")
