"""Training and evaluation: a short real run saves a model + card that load and evaluate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.datasets import load_dataset, split_indices
from ai4loop_core.errors import BadInputError
from ai4loop_core.evaluate import evaluate_model, metrics, overlap_with_training
from ai4loop_core.model import load_model
from ai4loop_core.train import train_model


def test_dataset_and_chromosome_split_follow_the_benchmark():
    data = load_dataset("k562")
    assert (data.name, len(data), int(data.labels.sum())) == ("K562", 7172, 1197)
    assert data.left.shape == data.right.shape == (7172, 155)
    parts = split_indices(data, split="chromosome", seed=42)
    test_chroms = set(data.pairs.loc[parts["test"], "chrom1"])
    assert test_chroms <= {"chr4", "chr7", "chr8", "chr11"}
    assert not set(data.pairs.loc[parts["train"], "chrom1"]) & test_chroms
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(7172))
    random_parts = split_indices(data, split="random", seed=1)
    assert len(random_parts["test"]) == 1435  # ceil(0.2 * 7172), as scikit-learn rounds
    assert abs(data.labels[random_parts["test"]].mean() - 1 / 6) < 0.01


def test_local_sets_load_with_their_cell_lines_rna():
    rebuilt, genome = load_dataset("K562-rebuilt"), load_dataset("k562-genome")
    assert (rebuilt.name, rebuilt.sample, len(rebuilt)) == ("K562-rebuilt", "K562", 7182)
    assert (genome.name, genome.sample, len(genome)) == ("K562-genome", "K562", 7182)
    positives = rebuilt.pairs[rebuilt.labels == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        positives, genome.pairs[genome.labels == 1].reset_index(drop=True)
    )
    assert load_dataset("HMEC").sample == "HMEC"


def test_model_trained_on_our_genome_negative_set_matches_the_upstream_trained_one():
    """Issue 4: recipe on our K562-genome set vs on the upstream set, upstream test chromosomes."""
    ours = evaluate_model(model="K562-genome", dataset="K562", split="chromosome")["test"]
    theirs = evaluate_model(model="K562", dataset="K562", split="chromosome")["test"]
    assert ours["n"] == theirs["n"] == 1308
    assert abs(ours["auprc"] - theirs["auprc"]) < 0.05
    assert ours["auprc"] == pytest.approx(0.654, abs=0.005)  # as in models/K562-genome.card.json


def test_metrics_on_a_known_ranking():
    y = np.array([0, 0, 1, 1])
    m = metrics(y, np.array([0.1, 0.6, 0.4, 0.9]))
    assert m == {
        "auroc": 0.75, "auprc": pytest.approx(0.8333333), "accuracy": 0.5, "f1": 0.5,
        "mcc": 0.0, "prevalence": 0.5, "n": 4,
    }  # fmt: skip


def test_short_training_run_saves_a_model_that_loads_and_evaluates(tmp_path, reg):
    pairs = pd.read_csv(reg("ai4loop-upstream/datasets/HeLaS3_ctcf_distance_matched.csv"))
    small = pairs[pairs["chr1"].isin([1, 2, 4, 17])]  # chr4 gives the chromosome-split test rows
    small.to_csv(tmp_path / "pairs.csv", index=False)
    out = tmp_path / "tiny.keras"
    card = train_model(
        pairs=tmp_path / "pairs.csv",
        expression=reg("ai4loop-upstream/data/allRNAseq.tsv"),
        sample="HeLaS3",
        epochs=1,
        out=out,
        verbose=0,
    )
    assert out.exists() and (tmp_path / "tiny.card.json").exists()
    assert card["split"] == "chromosome" and card["seed"] == 42
    assert card["feature_transform"] == "ai4loop-bins-v1" and card["input_scale"] == "tpm"
    assert card["n"]["test"] == int((small["chr1"] == 4).sum())
    assert set(card["metrics"]["test"]) == {
        "auroc",
        "auprc",
        "accuracy",
        "f1",
        "mcc",
        "prevalence",
        "n",
    }
    assert card["recipe"]["epochs_run"] == 1

    model = load_model(str(out))
    assert model.card["dataset"] == "pairs"
    result = evaluate_model(
        model=str(out),
        pairs=tmp_path / "pairs.csv",
        expression=reg("ai4loop-upstream/data/allRNAseq.tsv"),
        sample="HeLaS3",
        json_out=tmp_path / "m.json",
    )
    assert result["test"] == pytest.approx(card["metrics"]["test"], abs=1e-6)
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["test"]["n"] == card["n"]["test"] and saved["possible_leakage"] is False
    for suffix in ("m.roc.csv", "m.pr.csv", "m.curves.png"):
        assert (tmp_path / suffix).stat().st_size > 100
    assert list(pd.read_csv(tmp_path / "m.roc.csv").columns) == ["fpr", "tpr"]


def test_upstream_model_on_its_own_cell_line_is_flagged_as_possible_leakage():
    result = evaluate_model(model="upstream:HeLaS3", dataset="HeLaS3", split="chromosome")
    assert result["possible_leakage"] is True and result["cross_cell"] is False
    assert result["test"]["auroc"] > 0.8  # the published model saw these pairs in training


CHROM, RANDOM = {"split": "chromosome", "seed": 42}, {"split": "random", "seed": 1}
POOLED = {"dataset": "pooled", "trained_on": ["K562", "HMEC"], **RANDOM}


@pytest.mark.parametrize(
    "card, dataset, split, seed, expected",
    [
        ({"dataset": "K562", **CHROM}, "K562", "chromosome", 7, (False, False)),
        ({"dataset": "K562", **CHROM}, "K562", "random", 42, (False, True)),
        ({"dataset": "K562", **RANDOM}, "K562", "random", 2, (False, True)),
        ({"dataset": "K562", **RANDOM}, "K562", "random", 1, (False, False)),
        ({"dataset": "K562-genome", **RANDOM}, "K562", "random", 1, (False, False)),
        ({"dataset": "K562-genome", **RANDOM}, "K562-rebuilt", "random", 3, (False, True)),
        ({"dataset": "K562", **RANDOM}, "HMEC", "random", 3, (True, False)),
        (POOLED, "HMEC", "random", 3, (False, True)),
        (POOLED, "NHEK", "random", 3, (True, False)),
        ({"cell_line": "HeLaS3", "split": "random"}, "HeLaS3", "chromosome", 42, (False, True)),
        ({}, "HeLaS3", "chromosome", 42, (False, False)),
    ],
)
def test_leakage_and_cross_cell_flags(card, dataset, split, seed, expected):
    assert overlap_with_training(card, dataset=dataset, split=split, seed=seed) == expected


def test_bad_dataset_and_labels(tmp_path, reg):
    with pytest.raises(BadInputError, match="known: K562, GM12878"):
        load_dataset("MCF7")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "label,chr1,x1,x2,chr2,y1,y2\n1,1,100,200,1,5000,6000\n2,1,100,200,1,7000,8000\n"
    )
    with pytest.raises(BadInputError, match=r"bad\.csv, line 3, column label"):
        train_model(pairs=bad, expression=reg("ai4loop-upstream/data/allRNAseq.tsv"), sample="K562")
