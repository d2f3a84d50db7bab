"""Ensembles: the recipe and boosted trees as one model, by object, by card and in the benchmark."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import ai4loop_core.benchmark as bm
from ai4loop_core.datasets import load_dataset, split_indices
from ai4loop_core.ensemble import EnsembleModel
from ai4loop_core.errors import BadInputError
from ai4loop_core.evaluate import metrics, score_dataset
from ai4loop_core.model import load_model


@pytest.fixture(scope="module")
def hela_test():
    data = load_dataset("HeLaS3")
    return data.take(split_indices(data, split="chromosome", seed=42)["test"])


def test_ensemble_scores_are_the_mean_of_its_members(hela_test):
    recipe, boosted = load_model("HeLaS3"), load_model("best:HeLaS3")
    ensemble = EnsembleModel([recipe, boosted])
    assert ensemble.code_size == recipe.code_size + boosted.code_size == 32 + 88
    both = score_dataset(ensemble, hela_test)
    mean = (score_dataset(recipe, hela_test) + score_dataset(boosted, hela_test)) / 2
    np.testing.assert_allclose(both, mean, atol=1e-6)
    auprc = {
        name: metrics(hela_test.labels, p)["auprc"]
        for name, p in (("recipe", score_dataset(recipe, hela_test)), ("ensemble", both))
    }
    assert auprc["ensemble"] > auprc["recipe"]


def test_an_ensemble_card_loads_by_path(tmp_path, hela_test):
    card = tmp_path / "hela_pair.json"
    card.write_text(json.dumps({"kind": "ensemble", "members": ["HeLaS3", "best:HeLaS3"]}))
    model = load_model(str(card))
    assert isinstance(model, EnsembleModel) and model.input_scale == "tpm"
    direct = EnsembleModel([load_model("HeLaS3"), load_model("best:HeLaS3")])
    np.testing.assert_allclose(
        score_dataset(model, hela_test), score_dataset(direct, hela_test), atol=1e-6
    )


def test_bad_ensembles_say_what_is_wrong(tmp_path):
    card = tmp_path / "one.json"
    card.write_text(json.dumps({"kind": "ensemble", "members": ["HeLaS3"]}))
    with pytest.raises(BadInputError, match="at least two model names"):
        load_model(str(card))
    with pytest.raises(BadInputError, match="at least two member models"):
        EnsembleModel([load_model("best:HeLaS3")])
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"kind": "ensemble", "members": ["HeLaS3", "MCF7"]}))
    with pytest.raises(BadInputError, match="MCF7"):
        load_model(str(missing))


def test_benchmark_scores_the_ensemble_of_the_same_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(bm, "MAX_TREES", 40)
    result = bm.run_benchmark(
        cells=["HeLaS3"],
        models=["boosted-context", "ai4loop-recipe", "ensemble"],
        splits=["chromosome"],
        seeds=1,
        out=tmp_path,
    )
    rows = pd.read_csv(tmp_path / "results.csv")
    test = rows[(rows.part == "test") & (rows.test_cell == "HeLaS3")].set_index("model")
    assert set(test.index) == {"boosted-context", "ai4loop-recipe", "ensemble"}
    assert test.loc["ensemble", "n"] == test.loc["boosted-context", "n"] == 906
    assert not test.loc["ensemble", "leakage"]
    assert test.loc["ensemble", "auprc"] > test.loc["ai4loop-recipe", "auprc"]
    assert "| ensemble | 1 |" in (tmp_path / "RESULTS.md").read_text()
    assert "ensemble" not in str(result["choice"].get("validation_mean_auprc", {}))
