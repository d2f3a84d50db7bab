"""The LINCS drug atlas: connectivity scores, signatures, gene-set matching, a small real build."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.errors import BadInputError
from atlas import drugs, lincs

SIGNATURE_COLUMNS = [
    "signature_id", "pert_iname", "pert_dose", "pert_time", "cell_id", "plate", "ggi_id",
    "delta_score", "n_treated", "n_vehicle",
]  # fmt: skip
RANKING_COLUMNS = [
    "gene_set", "pert_iname", "cell_id", "pert_dose", "pert_time", "score", "p", "q",
    "n_ggis_in_set", "n_signatures",
]  # fmt: skip


def _running_sum_es(delta: np.ndarray, members: np.ndarray) -> float:
    """The GSEA running sum walked step by step: the obviously-correct reference."""
    order = np.argsort(-delta, kind="stable")
    hit = np.isin(order, members)
    w = np.abs(delta[order]) * hit
    step = np.where(hit, w / w.sum(), -1.0 / (len(delta) - hit.sum()))
    walk = np.cumsum(step)
    walk = np.concatenate([[0.0], walk])
    return walk[np.argmax(np.abs(walk))]


def test_connectivity_equals_the_running_sum_and_has_the_right_sign():
    rng = np.random.default_rng(1)
    deltas = rng.normal(size=(60, 4))
    members = np.array([3, 17, 22, 40, 41])
    deltas[members, 1] += 3.0  # signature 1 raises the set
    deltas[members, 2] -= 3.0  # signature 2 lowers it (reverses a cancer-gain set)
    score, p = drugs.connectivity(deltas, members, n_permutations=500, seed=0)
    want = [_running_sum_es(deltas[:, k], members) for k in range(4)]
    np.testing.assert_allclose(score, want, atol=1e-12)
    assert score[1] > 0.8 and score[2] < -0.8
    assert p[1] < 0.05 and p[2] < 0.05 and p[0] > 0.05
    assert ((p > 0) & (p <= 1)).all()
    empty = drugs.connectivity(deltas, np.array([], dtype=int))
    assert np.isnan(empty[0]).all() and np.isnan(empty[1]).all()


def test_benjamini_hochberg_matches_r():
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.2), "BH") -> 0.04 0.05333 0.05333 0.2
    q = drugs.benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.2, np.nan]))
    np.testing.assert_allclose(q[:4], [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    assert np.isnan(q[4])


def test_signatures_are_treated_minus_same_plate_vehicles():
    samples = pd.DataFrame(
        {
            "plate": ["P1", "P1", "P1", "P1", "P2", "P2"],
            "cell_id": ["A375"] * 6,
            "tissue_type": ["vehicle", "vehicle", "treated", "treated", "treated", "vehicle"],
            "pert_iname": ["DMSO", "DMSO", "drugA", "drugA", "drugA", "DMSO"],
            "pert_dose": [np.nan, np.nan, 1.0, 1.0, 1.0, np.nan],
            "pert_dose_unit": ["", "", "uM", "uM", "uM", ""],
            "pert_time": [24.0] * 6,
            "pert_type": ["ctl_vehicle"] * 2 + ["trt_cp"] * 3 + ["ctl_vehicle"],
        }
    )
    scores = np.array([[0.1, 0.3, 0.6, 0.8, 0.5, 0.4], [0.5, 0.5, 0.5, 0.5, 0.9, 0.1]])
    table, deltas = drugs.signatures_level3(samples, scores)
    assert list(table["signature_id"]) == ["P1:A375:drugA:1uM:24h", "P2:A375:drugA:1uM:24h"]
    assert table["n_treated"].tolist() == [2, 1] and table["n_vehicle"].tolist() == [2, 1]
    np.testing.assert_allclose(deltas, [[0.5, 0.1], [0.0, 0.8]], atol=1e-6)
    alone = samples.iloc[2:5]  # no vehicle on either plate
    assert drugs.signatures_level3(alone, scores[:, 2:5])[0].empty


def test_gene_sets_match_by_ordered_pair_first():
    ggis = pd.DataFrame({"gene_id1": ["A", "B", "C", "E"], "gene_id2": ["B", "A", "D", "F"]})
    sets = pd.DataFrame(
        {"gene_set": ["s1", "s1", "s2"], "gene_id1": ["A", "D", "F"], "gene_id2": ["B", "C", "E"]}
    )
    got = drugs._match_sets(sets, ggis)
    assert got["s1"].tolist() == [0, 2]  # A-B as ordered (not B-A); D-C only reversed
    assert got["s2"].tolist() == [3]


@pytest.fixture(scope="module")
def plate(reg, tmp_path_factory):
    """A small Level 3 plate from the real one: 6 DMSO wells and 2 drugs x 2 doses."""
    full = lincs.read_gct(reg(drugs.DEFAULT_LEVEL3))
    meta = full.col_meta
    vehicles = list(meta.index[meta["pert_type"] == "ctl_vehicle"][:6])
    treated = list(
        meta.index[meta["pert_iname"].isin(["vemurafenib", "trametinib"])
                   & meta["pert_dose"].isin(["10", "0.37"])]
    )  # fmt: skip
    path = tmp_path_factory.mktemp("lincs") / "plate.gct"
    return lincs.write_gct(full.select(vehicles + treated), path)


@pytest.fixture(scope="module")
def built(plate, tmp_path_factory):
    from ai4loop_core.genes import load_annotation

    genes, _ = drugs.measured_genes(lincs.read_gct(plate), annotation=load_annotation())
    candidates = drugs.candidate_ggis(genes)
    published = candidates[candidates["published_table"] == "CESC specific"]
    landmark = candidates[candidates["origin"] == "landmark-pairs"].iloc[:40]
    catalog = pd.concat([published, landmark], ignore_index=True)
    out = tmp_path_factory.mktemp("atlases") / "lincs"
    drugs.build_drug_atlas(out, catalog=catalog, level3=plate, n_permutations=200)
    return out, catalog


def test_small_build_writes_every_table_and_says_its_limits(built):
    out, catalog = built
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "drug" and manifest["source"] == "built here"
    assert manifest["coverage_threshold"] == drugs.COVERAGE_THRESHOLD
    assert any("978 landmark genes" in c for c in manifest["caveats"])
    assert any("TPM-like" in c and "approximation" in c for c in manifest["caveats"])
    assert manifest["gene_sets"]["CESC specific (published)"] == {"published": 325, "in_atlas": 5}
    assert manifest["gene_sets"]["LUAD specific (published)"]["in_atlas"] == 0
    assert manifest["cohorts"][1]["cell_lines_scored"] == ["A375"]
    assert manifest["cohorts"][1]["signatures_skipped"] == 272 - 17

    ggis = pd.read_parquet(out / "ggis.parquet")
    assert ggis[["coverage1", "coverage2"]].min().min() >= drugs.COVERAGE_THRESHOLD
    assert len(ggis) == manifest["catalog"]["size"] < len(catalog)
    samples = pd.read_parquet(out / "samples.parquet")
    assert len(samples) == 6 + 4 + 17 + 1  # plate wells, A375 Level 5 signatures, baseline
    scores = pd.read_parquet(out / "scores.parquet")
    assert len(scores) == len(samples) * len(ggis) and scores["score"].dtype == np.float16

    sig = pd.read_parquet(out / "signatures.parquet")
    assert list(sig.columns[: len(SIGNATURE_COLUMNS)]) == SIGNATURE_COLUMNS
    level3 = sig[sig["level"] == 3]
    assert level3["signature_id"].nunique() == 4 and (level3["n_vehicle"] == 6).all()
    # delta = treated minus mean vehicle score, recomputed from the scores table
    wide = scores.pivot(index="ggi_id", columns="sample_id", values="score").astype(np.float64)
    veh = samples.loc[samples["tissue_type"].eq("vehicle") & samples["cohort"].str.contains(
        "Level 3"), "sample_id"]  # fmt: skip
    one = samples[(samples["pert_iname"] == "vemurafenib") & (samples["pert_dose"] == 10)
                  & samples["cohort"].str.contains("Level 3")]["sample_id"].item()  # fmt: skip
    want = (wide[one] - wide[veh].mean(axis=1)).sort_index()
    got = level3[(level3["pert_iname"] == "vemurafenib") & (level3["pert_dose"] == 10)]
    np.testing.assert_allclose(got.set_index("ggi_id")["delta_score"].sort_index(), want,
                               atol=2e-3)  # float16 scores  # fmt: skip

    ranking = pd.read_parquet(out / "drug_ranking.parquet")
    assert list(ranking.columns[: len(RANKING_COLUMNS)]) == RANKING_COLUMNS
    assert set(ranking["gene_set"]) == {"CESC specific (published)"}
    assert (ranking["n_ggis_in_set"] == 5).all()
    assert set(ranking["cell_id"]) == {"A375", "all"}
    assert ranking["score"].between(-1, 1).all() and ranking["q"].between(0, 1).all()


def test_build_refuses_z_scores_as_level3_and_bad_thresholds(reg, tmp_path):
    with pytest.raises(BadInputError, match="Level 4 data .* needs a Level 3 plate"):
        drugs.build_drug_atlas(tmp_path / "x", level3=reg("lincs/test_l1000_highprecision.gctx"))
    with pytest.raises(BadInputError, match=r"coverage_threshold=1.5"):
        drugs.build_drug_atlas(tmp_path / "x", coverage_threshold=1.5)
