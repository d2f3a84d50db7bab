"""Boosted model kind: exact export of scikit-learn's trees, JSON save/load, the model protocol."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.boosted import (
    CODE_SIZE,
    BoostedModel,
    TreeEnsemble,
    anchor_codes,
    coarse_log_distance,
    fit_boosted,
    load_boosted,
    pair_features,
    save_boosted,
)
from ai4loop_core.errors import BadInputError
from ai4loop_core.model import MODELS_DIR, load_model


def _toy(n: int = 400, seed: int = 0):
    """Anchors whose central expression decides the label (positives: both anchors expressed)."""
    rng = np.random.default_rng(seed)
    left = rng.gamma(0.3, 20, size=(n, 155)).astype(np.float32)
    right = rng.gamma(0.3, 20, size=(n, 155)).astype(np.float32)
    left[rng.random(n) < 0.5] = 0
    y = ((left[:, 30] > 1) & (right[:, 30] > 1)).astype(int)
    distance = rng.integers(20_000, 2_000_000, size=n)
    return left, right, distance, y


@pytest.fixture(scope="module")
def fitted():
    left, right, distance, y = _toy()
    model, est = fit_boosted(
        left, right, distance=distance, labels=y, seed=1, params={"max_iter": 30}
    )
    return model, est, (left, right, distance, y)


def test_exported_trees_equal_scikit_learn_including_missing_distance(fitted):
    model, est, (left, right, distance, _) = fitted
    codes_l = model.encode(left).astype(np.float64)
    codes_r = model.encode(right).astype(np.float64)
    x = pair_features(codes_l, codes_r, distance)
    x[::7, -1] = np.nan  # missing values follow the exported missing_left rule
    np.testing.assert_allclose(model.scorer.raw(x), est.decision_function(x), rtol=0, atol=1e-9)


def test_protocol_codes_scores_symmetry_and_learning(fitted):
    model, _, (left, right, distance, y) = fitted
    codes_l, codes_r = model.encode(left), model.encode(right)
    assert codes_l.shape == (len(left), CODE_SIZE) == (len(left), 88)
    p = model.score(codes_l, codes_r, distance=distance)
    assert p.shape == (len(left),) and p.dtype == np.float32 and ((p > 0) & (p < 1)).all()
    np.testing.assert_allclose(p, model.score(codes_r, codes_l, distance=distance), atol=1e-6)
    assert p[y == 1].mean() > p[y == 0].mean() + 0.3
    assert model.input_scale == "tpm"
    np.testing.assert_array_equal(p, model.score(codes_l, codes_r))  # distance is not used
    only_distance, _ = fit_boosted(left, right, distance=distance, labels=y, feature_set="distance")
    with pytest.raises(BadInputError, match="needs the pair distance"):
        only_distance.score(codes_l, codes_r)
    with pytest.raises(BadInputError, match=r"shape \(n, 155\)"):
        model.encode(left[:, :60])


def test_distance_is_rounded_to_10kb_so_last_digits_carry_nothing():
    d = np.array([150_000, 151_234, 148_766, 155_000, -1])
    out = coarse_log_distance(d)
    assert out[0] == out[1] == out[2] == np.log10(160_000)
    assert out[3] == np.log10(170_000)
    assert np.isnan(out[4])


def test_anchor_codes_follow_the_spec():
    x = np.zeros((2, 155), np.float32)
    x[1, :60] = np.e - 1  # every 1 kb bin at log1p = 1
    codes = anchor_codes(x)
    assert (codes[0] == 0).all()
    np.testing.assert_allclose(codes[1, :60], 1.0)
    np.testing.assert_allclose(codes[1, 60:64], [1.0, 1.0, 1.0, 1.0])  # max, mean, share, centre


def test_save_load_roundtrip_and_card_pointing_at_a_shared_file(fitted, tmp_path):
    model, _, (left, right, distance, _) = fitted
    card_file = save_boosted(model, tmp_path / "m.boosted.json", card={"name": "m", "seed": 1})
    assert card_file.name == "m.card.json"
    assert json.loads(card_file.read_text())["model_file"] == "m.boosted.json"
    again = load_model(str(tmp_path / "m.boosted.json"))
    assert isinstance(again, BoostedModel) and again.card["seed"] == 1
    cl, cr = model.encode(left), model.encode(right)
    np.testing.assert_array_equal(
        model.score(cl, cr, distance=distance), again.score(cl, cr, distance=distance)
    )
    shared = tmp_path / "K562.card.json"
    shared.write_text(json.dumps({"kind": "boosted", "model_file": "m.boosted.json", "x": 2}))
    via_card = load_boosted(shared, name="best:K562")
    assert via_card.card["x"] == 2 and via_card.name == "best:K562"
    linear, _ = fit_boosted(left, right, distance=distance, labels=fitted[2][3], scorer="linear")
    save_boosted(linear, tmp_path / "lin.boosted.json", card={})
    lin2 = load_boosted(tmp_path / "lin.boosted.json")
    np.testing.assert_allclose(
        linear.score(cl, cr, distance=distance), lin2.score(cl, cr, distance=distance)
    )


def test_bad_model_files_are_refused(fitted, tmp_path):
    model, *_ = fitted
    content = model.to_dict()
    broken = json.loads(json.dumps(content))
    broken["scorer"]["left"][0] = 0  # a cycle: the root's left child is itself
    path = tmp_path / "bad.boosted.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(BadInputError, match="child indices"):
        load_boosted(path)
    old = {**content, "codes": "boost-codes-v1"}
    path.write_text(json.dumps(old))
    with pytest.raises(BadInputError, match="codes"):
        load_boosted(path)
    path.write_text("[1, 2]")
    with pytest.raises(BadInputError, match="JSON object"):
        load_boosted(path)
    with pytest.raises(BadInputError, match="named <name>.boosted.json"):
        save_boosted(model, tmp_path / "x.json", card={})


def test_tree_export_refuses_what_it_cannot_represent():
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.random.default_rng(0).random((60, 2))
    multi = HistGradientBoostingClassifier(max_iter=2).fit(x, np.arange(60) % 3)
    with pytest.raises(ValueError, match="binary"):
        TreeEnsemble.from_sklearn(multi)


def test_predict_scores_runs_a_boosted_model_through_the_factorised_path(fitted):
    from ai4loop_core.predict import predict_scores

    model, *_ = fitted
    anchors = pd.DataFrame(
        {"chrom": ["chr1", "chr1", "chr1"], "start": [100_000, 300_000, 900_000],
         "end": [110_000, 310_000, 910_000]}
    )  # fmt: skip
    genes = pd.DataFrame(
        {"chrom": ["chr1"] * 3, "start": [95_000, 301_000, 890_000], "end": [120_000, 305_000, 0]}
    )
    genes.loc[2, "end"] = 905_000
    values = np.array([[5.0, 0.0], [30.0, 2.0], [1.0, 1.0]])
    left, right = np.array([0, 0, 1]), np.array([1, 2, 2])
    scores = predict_scores(
        model, anchors=anchors, left=left, right=right, genes=genes, values=values, progress=False
    )
    assert scores.shape == (3, 2)
    from ai4loop_core.features import build_operator

    feats = build_operator(anchors, genes).apply(values)
    mids = (anchors.start + anchors.end).to_numpy() // 2
    for s in range(2):
        codes = model.encode(feats[:, :, s])
        want = model.score(codes[left], codes[right], distance=np.abs(mids[right] - mids[left]))
        np.testing.assert_allclose(scores[:, s], want, atol=1e-6)


@pytest.mark.skipif(
    not (MODELS_DIR / "best" / "K562.card.json").exists(), reason="no committed best models"
)
def test_committed_best_model_loads_and_reproduces_its_card():
    from ai4loop_core.evaluate import evaluate_model

    model = load_model("best:K562")
    assert isinstance(model, BoostedModel) and model.input_scale == "tpm"
    card = model.card
    assert card["split"] == "chromosome" and card["seed"] == 42
    assert "K562" in card["trained_on"]
    result = evaluate_model(model="best:K562", dataset="K562", split="chromosome", seed=42)
    assert result["possible_leakage"] is False
    assert result["test"]["auprc"] == pytest.approx(card["metrics"]["test"]["auprc"], abs=1e-6)
