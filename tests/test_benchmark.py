"""Benchmark: the split protocol, that test rows never steer a choice, the written tables."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import ai4loop_core.benchmark as bm
from ai4loop_core.datasets import load_dataset
from ai4loop_core.errors import BadInputError


@pytest.fixture(scope="module")
def small():
    """Two cell lines cut to a few chromosomes (training, validation and test ones)."""
    keep = ["chr1", "chr2", "chr3", "chr4", "chr12", "chr17", "chr11", "chr6"]
    out = {}
    for cell in ("HeLaS3", "IMR90"):
        d = load_dataset(cell)
        out[cell] = d.take(np.flatnonzero(d.pairs["chrom1"].isin(keep).to_numpy()))
    return out


@pytest.fixture(autouse=True)
def few_trees(monkeypatch):
    monkeypatch.setattr(bm, "MAX_TREES", 40)


def test_chromosome_parts_keep_test_and_validation_chromosomes_apart(small):
    d = small["HeLaS3"]
    parts = bm.chromosome_parts(d)
    chrom = d.pairs["chrom1"].to_numpy()
    assert set(chrom[parts["test"]]) == {"chr4", "chr11"}
    assert set(chrom[parts["validation"]]) == {"chr2", "chr12", "chr17"}
    assert set(chrom[parts["train"]]) == {"chr1", "chr3", "chr6"}
    assert sorted(np.concatenate(list(parts.values()))) == list(range(len(d)))
    overlap = bm.overlap_report(d, parts)
    assert overlap["test_pairs_sharing_an_anchor_with_training"] == 0
    assert overlap["test_pairs_repeating_a_training_pair"] == 0


def _shuffle_test_labels(d):
    parts = bm.chromosome_parts(d)
    labels = d.labels.copy()
    labels[parts["test"]] = np.random.default_rng(0).permutation(labels[parts["test"]])
    return replace(d, labels=labels)


def test_test_chromosomes_never_steer_a_choice(small, tmp_path):
    """Shuffling the test labels changes nothing but the test metrics."""
    kw = dict(models=["boosted", "boosted-pooled", "logistic-pooled"], splits=["chromosome"],
              seeds=1, log=lambda _: None)  # fmt: skip
    a = bm.run_benchmark(datasets=small, out=tmp_path / "a", **kw)
    shuffled = {c: _shuffle_test_labels(d) for c, d in small.items()}
    b = bm.run_benchmark(datasets=shuffled, out=tmp_path / "b", **kw)
    va, vb = (r["results"].query("part == 'validation'") for r in (a, b))
    pd.testing.assert_frame_equal(va.reset_index(drop=True), vb.reset_index(drop=True))
    assert a["choice"] == b["choice"]
    ta, tb = (r["results"].query("part == 'test' and not cross_cell") for r in (a, b))
    assert (ta.auprc.to_numpy() != tb.auprc.to_numpy()).all()


def test_benchmark_writes_tables_curves_and_honesty_checks(small, tmp_path):
    out = tmp_path / "bench"
    result = bm.run_benchmark(
        datasets=small,
        models=["boosted", "boosted-context", "distance-only", "boosted-pooled"],
        splits=["chromosome", "random"],
        seeds=2,
        out=out,
        log=lambda _: None,
    )
    for name in ("results.csv", "summary.csv", "honesty.json", "RESULTS.md", "curves.csv.gz",
                 "curves_chromosome.png", "curves_random.png"):  # fmt: skip
        assert (out / name).stat().st_size > 100, name
    res = pd.read_csv(out / "results.csv")
    own = res[(res.part == "test") & ~res.cross_cell]
    assert set(own.seed) == {42, 43}
    assert set(own[own.split == "random"].model) == {"boosted", "boosted-context", "distance-only"}
    cross = res[res.cross_cell & (res.model == "boosted")]
    assert set(zip(cross.train_cells, cross.test_cell, strict=True)) == {
        ("HeLaS3", "IMR90"),
        ("IMR90", "HeLaS3"),
    }
    loco = res[res.cross_cell & (res.model == "boosted-pooled")]
    assert set(loco.test_cell) == {"HeLaS3", "IMR90"} and len(loco) == 2  # first seed only
    summary = result["summary"]
    row = summary[(summary.model == "boosted") & (summary.split == "chromosome")
                  & (summary.part == "test") & (summary.test_cell == "HeLaS3")
                  & ~summary.cross_cell]  # fmt: skip
    assert int(row.n_seeds.iloc[0]) == 2
    dist = own[(own.model == "distance-only") & (own.split == "chromosome")]
    assert (dist.auroc.between(0.3, 0.7)).all()  # matched negatives: distance alone ~ chance
    honesty = result["honesty"]["per_cell"]["HeLaS3"]
    assert honesty["positives_bin_aligned_share"] == 1.0
    assert honesty["distance_multiple_of_1kb_rule_auprc"] > 0.5  # the artefact is real
    assert honesty["overlap"]["random"]["test_pairs_sharing_an_anchor_with_training"] > 0
    rna = result["honesty"]["boosted_pooled_with_another_cell_lines_rna"]["cells"]["IMR90"]
    assert len(rna["other_rna_auprc"]) == 6
    context = result["honesty"]["boosted_context_with_another_cell_lines_rna"]["cells"]["HeLaS3"]
    assert context["own_rna_auprc"] > 0 and len(context["other_rna_auprc"]) == 6
    report = (out / "RESULTS.md").read_text()
    assert "## Chromosome split, test" in report and "leave-one-cell-out" in report
    assert result["choice"]["model"] in {"boosted", "boosted-context", "boosted-pooled"}
    assert "boosted-context" in result["choice"]["validation_mean_auprc"]


def test_bad_options(small, tmp_path):
    with pytest.raises(BadInputError, match="Unknown model"):
        bm.run_benchmark(datasets=small, models=["lstm9"], out=tmp_path)
    with pytest.raises(BadInputError, match="Unknown split"):
        bm.run_benchmark(datasets=small, splits=["time"], out=tmp_path)
    with pytest.raises(BadInputError, match="save-best"):
        bm.run_benchmark(datasets=small, models=["distance-only"], save_best=True, out=tmp_path)


def test_cli_runs_a_small_benchmark(tmp_path):
    from click.testing import CliRunner

    from ai4loop_core.cli import cli

    out = tmp_path / "b"
    args = ["benchmark", "--cells", "HeLaS3", "--models", "distance-only", "--splits",
            "chromosome", "--seeds", "1", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "distance-only" in result.output and (out / "results.csv").exists()


def test_negative_design_groups_the_sets_that_may_be_pooled():
    from ai4loop_core.datasets import negative_design

    assert negative_design("K562") == "published"
    assert negative_design("K562-rebuilt") == "genes+ctcf"  # CTCF-pair negatives added
    assert negative_design("K562-genes") == "genes"
    assert negative_design("HMEC-genome") == "genome"
    assert negative_design("my-set") == "own:my-set"
    cells = ["HeLaS3", "HMEC", "IMR90", "HUVEC-genome", "NHEK"]
    assert bm.design_groups(cells) == [["HeLaS3", "IMR90"], ["HMEC", "NHEK"], ["HUVEC-genome"]]


def test_context_pooled_is_chosen_per_cell_and_saved_once(small, tmp_path, monkeypatch):
    import ai4loop_core.model as model_module
    from ai4loop_core.evaluate import metrics, score_dataset

    monkeypatch.setattr(model_module, "MODELS_DIR", tmp_path / "models")
    choose = bm.choose_best

    def forced(summary, cells):
        """The real choice, then one cell line forced onto each kind so both paths are saved."""
        real = choose(summary, cells)
        for cell, scores in real["per_cell_validation_auprc"].items():
            assert set(scores) == {"boosted-context", "context-pooled"}
            assert real["per_cell"][cell] == max(scores, key=scores.get)
        return {**real, "per_cell": {"HeLaS3": "context-pooled", "IMR90": "boosted-context"}}

    monkeypatch.setattr(bm, "choose_best", forced)
    result = bm.run_benchmark(datasets=small, models=["boosted-context", "context-pooled"],
                              splits=["chromosome"], seeds=1, out=tmp_path / "b",
                              save_best=True, log=lambda _: None)  # fmt: skip
    res = result["results"]
    pooled = res[res.model == "context-pooled"]
    assert set(pooled.train_cells) == {"HeLaS3+IMR90"} and not pooled.cross_cell.any()
    assert sorted(zip(pooled.part, pooled.test_cell, strict=True)) == [
        ("test", "HeLaS3"), ("test", "IMR90"), ("validation", "HeLaS3"), ("validation", "IMR90")
    ]  # fmt: skip
    assert sorted(result["choice"]["saved"]) == sorted(
        ["context-pooled-HeLaS3+IMR90.boosted.json", "HeLaS3.card.json", "IMR90.boosted.json"]
    )
    best = tmp_path / "models" / "best"
    assert not (best / "HeLaS3.boosted.json").exists()
    for cell, kind, trained_on in (("HeLaS3", "context-pooled", ["HeLaS3", "IMR90"]),
                                   ("IMR90", "boosted-context", ["IMR90"])):  # fmt: skip
        model = model_module.load_model(f"best:{cell}")
        assert model.card["trained_on"] == trained_on and model.uses_context
        test = small[cell].take(bm.chromosome_parts(small[cell])["test"])
        row = res[(res.model == kind) & (res.part == "test") & (res.test_cell == cell)
                  & (res.train_cells == "+".join(trained_on))]  # fmt: skip
        got = metrics(test.labels, score_dataset(model, test))["auprc"]
        assert got == pytest.approx(float(row.auprc.iloc[0]), abs=1e-6)
        assert model.card["metrics"]["test"]["auprc"] == pytest.approx(got, abs=1e-6)
    report = (tmp_path / "b" / "RESULTS.md").read_text()
    assert "| HeLaS3 | `context-pooled` |" in report


def test_context_ensembles_are_chosen_per_cell_saved_and_reloaded(small, tmp_path, monkeypatch):
    import ai4loop_core.context_net as cn
    import ai4loop_core.model as model_module
    from ai4loop_core.boosted import BoostedModel
    from ai4loop_core.ensemble import EnsembleModel
    from ai4loop_core.evaluate import metrics, score_dataset

    monkeypatch.setattr(model_module, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setattr(cn, "EPOCHS", 3)
    choose = bm.choose_best
    kinds = ["boosted-context", "context-pooled", "context-ensemble", "context-pooled-ensemble"]

    def forced(summary, cells):
        """The real choice, then each cell line forced onto one ensemble kind."""
        real = choose(summary, cells)
        for cell, scores in real["per_cell_validation_auprc"].items():
            assert set(scores) == set(kinds)
            assert real["per_cell"][cell] == max(scores, key=scores.get)
        return {**real, "per_cell": {"HeLaS3": "context-pooled-ensemble",
                                     "IMR90": "context-ensemble"}}  # fmt: skip

    monkeypatch.setattr(bm, "choose_best", forced)
    result = bm.run_benchmark(datasets=small, models=kinds, splits=["chromosome"], seeds=1,
                              out=tmp_path / "b", save_best=True, log=lambda _: None)  # fmt: skip
    res = result["results"]
    assert sorted(result["choice"]["saved"]) == sorted([
        "context-pooled-ensemble-HeLaS3+IMR90.boosted.json",
        "context-pooled-ensemble-HeLaS3+IMR90.net.keras", "HeLaS3.card.json",
        "context-ensemble-IMR90.boosted.json", "context-ensemble-IMR90.net.keras",
        "IMR90.card.json",
    ])  # fmt: skip
    for cell, kind, trained_on in (("HeLaS3", "context-pooled-ensemble", ["HeLaS3", "IMR90"]),
                                   ("IMR90", "context-ensemble", ["IMR90"])):  # fmt: skip
        model = model_module.load_model(f"best:{cell}")
        assert isinstance(model, EnsembleModel) and model.card["trained_on"] == trained_on
        trees, net = model.members
        assert isinstance(trees, BoostedModel) and isinstance(net, cn.ContextNetModel)
        test = small[cell].take(bm.chromosome_parts(small[cell])["test"])
        prob = score_dataset(model, test)
        mean = (score_dataset(trees, test) + score_dataset(net, test)) / 2
        np.testing.assert_allclose(prob, mean, atol=1e-6)
        row = res[(res.model == kind) & (res.part == "test") & (res.test_cell == cell)
                  & (res.train_cells == "+".join(trained_on))]  # fmt: skip
        got = metrics(test.labels, prob)["auprc"]
        assert got == pytest.approx(float(row.auprc.iloc[0]), abs=1e-6)
        assert model.card["metrics"]["test"]["auprc"] == pytest.approx(got, abs=1e-6)
        trees_alone = res[
            (res.model == bm.CONTEXT_ENSEMBLES[kind])
            & (res.part == "test")
            & (res.test_cell == cell)
            & (res.train_cells == "+".join(trained_on))
        ]
        assert metrics(test.labels, score_dataset(trees, test))["auprc"] == pytest.approx(
            float(trees_alone.auprc.iloc[0]), abs=1e-6)  # fmt: skip
    cross = res[(res.model == "context-ensemble") & res.cross_cell]
    assert sorted(zip(cross.train_cells, cross.test_cell, strict=True)) == [
        ("HeLaS3", "IMR90"), ("IMR90", "HeLaS3")]  # fmt: skip
