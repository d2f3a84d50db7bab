"""Prediction: anchor-factorised scores equal the full network and AI4Loop's published outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from ai4loop_core.cli import cli
from ai4loop_core.errors import BadInputError
from ai4loop_core.model import load_model
from ai4loop_core.pairs import read_pairs
from ai4loop_core.predict import PredictStats, predict_file, predict_naive, predict_scores

EXAMPLE = "ai4loop-upstream/prediction/"

# AI4Loop's published output for this example (DaoFuying/AI4Loop@6252b4f,
# prediction/Samples_RNASeqdata.bed.Pre.csv, written by AI4LoopPrediction.py with the K562 model):
# rows 0-7 and 32, 65, 83 of 1000, as (AML1, AML2). The whole file was compared once by hand
# (max |diff| 1.2e-6 over all 2000 scores; see bench/RESULTS.md).
PUBLISHED = {
    0: (0.9877138137817383, 0.7735440731048584),
    1: (0.9702386856079102, 0.9675208330154419),
    2: (0.9365746378898621, 0.7778849601745605),
    3: (0.9834582805633545, 0.9658322930335999),
    4: (0.9976379871368408, 0.996978759765625),
    5: (0.37304767966270447, 0.1347498744726181),
    6: (0.9928715825080872, 0.9821158647537231),
    7: (0.7747210264205933, 0.9208056926727295),
    32: (0.3373510241508484, 0.73898845911026),
    65: (0.0176844522356987, 0.0176844522356987),
    83: (0.9853925108909607, 0.23045337200164795),
}


@pytest.fixture(scope="module")
def k562():
    return load_model("upstream:K562")


@pytest.fixture(scope="module")
def example(reg):
    bed = pd.read_csv(
        reg(EXAMPLE + "Samples_RNASeqdata.bed"),
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "gene", "AML1", "AML2"],
    )
    pairs = read_pairs(reg(EXAMPLE + "Genepairs_1000.bedpe"))
    return bed, pairs


def test_factorised_scores_equal_full_network_and_published(k562, example):
    bed, pairs = example
    anchors, left, right = pairs.unique_anchors()
    x = bed[["AML1", "AML2"]].to_numpy()
    stats = PredictStats()
    fast = predict_scores(
        k562,
        anchors=anchors,
        left=left,
        right=right,
        genes=bed,
        values=x,
        progress=False,
        stats=stats,
    )
    naive = predict_naive(k562, anchors=anchors, left=left, right=right, genes=bed, values=x)
    assert fast.shape == (1000, 2)
    np.testing.assert_allclose(fast, naive, atol=1e-5)
    rows = sorted(PUBLISHED)
    np.testing.assert_allclose(fast[rows], np.array([PUBLISHED[r] for r in rows]), atol=1e-4)
    assert (stats.n_pairs, stats.n_samples, stats.n_anchors) == (1000, 2, 993)
    assert (stats.anchor_encodings, stats.pair_scores) == (1986, 2000)


@pytest.mark.parametrize("cell", ["GM12878", "HeLaS3", "IMR90"])
def test_every_published_model_loads_and_splits_exactly(cell, example):
    bed, pairs = example
    model = load_model(f"upstream:{cell}")
    anchors, left, right = pairs.unique_anchors()
    sub = slice(0, 100)
    x = bed[["AML1"]].to_numpy()
    fast = predict_scores(
        model,
        anchors=anchors,
        left=left[sub],
        right=right[sub],
        genes=bed,
        values=x,
        progress=False,
    )
    naive = predict_naive(
        model, anchors=anchors, left=left[sub], right=right[sub], genes=bed, values=x
    )
    np.testing.assert_allclose(fast, naive, atol=1e-5)
    assert 0.05 < fast.mean() < 0.99 and fast.std() > 0.01


def test_cli_predict_keeps_row_order_and_names_scores_by_sample(tmp_path, reg, k562):
    out = tmp_path / "scores.csv"
    args = [
        "predict", "--model", "upstream:K562",
        "--pairs", str(reg(EXAMPLE + "Genepairs_1000.bedpe")),
        "--expression", str(reg(EXAMPLE + "Samples_RNASeqdata.bed")),
        "--columns", str(reg(EXAMPLE + "Samples_RNASeqdata.bed.columns.txt")),
        "--out", str(out), "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == [
        "chrom1", "start1", "end1", "gene_id1", "gene1",
        "chrom2", "start2", "end2", "gene_id2", "gene2", "col11", "AML1", "AML2",
    ]  # fmt: skip
    assert table.iloc[0, :5].tolist() == [
        "chr10",
        123716297,
        123716613,
        "ENSG00000276742.1_7",
        "AL731566.3",
    ]
    rows = sorted(PUBLISHED)
    np.testing.assert_allclose(
        table.loc[rows, ["AML1", "AML2"]].to_numpy(), [PUBLISHED[r] for r in rows], atol=1e-4
    )

    parquet = tmp_path / "scores.parquet"
    CliRunner().invoke(cli, args[:-3] + ["--out", str(parquet), "--samples", "AML2", "--quiet"])
    back = pd.read_parquet(parquet)
    assert back.columns[-1] == "AML2" and "AML1" not in back.columns
    np.testing.assert_allclose(back["AML2"], table["AML2"], atol=1e-7)


def test_unknown_model_and_bad_output_name_are_clear(tmp_path, reg):
    with pytest.raises(BadInputError, match="upstream:K562"):
        load_model("no-such-model")
    with pytest.raises(BadInputError, match=r"\.csv or \.parquet"):
        predict_file(
            model="upstream:K562",
            pairs=reg(EXAMPLE + "Genepairs_1000.bedpe"),
            expression=reg(EXAMPLE + "Samples_RNASeqdata.bed"),
            out=tmp_path / "scores.xlsx",
        )
    assert not list(tmp_path.iterdir())


def test_cli_predict_reads_gdc_star_files_and_lincs_plates(tmp_path, reg, k562_star_text):
    star_file = tmp_path / "k562.rna_seq.augmented_star_gene_counts.tsv"
    star_file.write_text(k562_star_text)
    pairs = str(reg(EXAMPLE + "Genepairs_1000.bedpe"))
    runs = {
        "star": ["--expression", str(star_file)],
        "encode": ["--expression", str(reg("ai4loop-upstream/data/allRNAseq.tsv")),
                   "--samples", "K562"],
        "lincs": ["--expression", str(reg("lincs/test_l1000.gct"))],
    }  # fmt: skip
    tables = {}
    for name, expression in runs.items():
        out = tmp_path / f"{name}.csv"
        args = ["predict", "--model", "upstream:K562", "--pairs", pairs, *expression]
        result = CliRunner().invoke(cli, [*args, "--out", str(out), "--quiet"])
        assert result.exit_code == 0, result.output
        tables[name] = pd.read_csv(out)
    sample = "k562"  # named after the file
    assert tables["star"].columns[-1] == sample and len(tables["star"]) == 1000
    np.testing.assert_allclose(tables["star"][sample], tables["encode"]["K562"], atol=1e-6)
    loud = CliRunner().invoke(
        cli, ["predict", "--model", "upstream:K562", "--pairs", pairs, *runs["lincs"],
              "--out", str(tmp_path / "loud.csv")],
    )  # fmt: skip
    assert loud.exit_code == 0 and "format lincs-gct" in loud.output
    assert "warning: L1000 measures about 978 landmark genes" in loud.output
    plate = tables["lincs"].iloc[:, 11:]
    assert plate.shape == (1000, 377) and plate.notna().all().all()
    assert ((plate > 0) & (plate < 1)).all().all()
