"""The context network: a bag of perceptrons on the pair context, saved and reloaded exactly."""

from __future__ import annotations

import numpy as np
import pytest

from ai4loop_core.benchmark import chromosome_parts
from ai4loop_core.context_net import (
    ContextNetModel,
    context_net_card,
    fit_context_net,
)
from ai4loop_core.datasets import load_dataset
from ai4loop_core.errors import BadInputError
from ai4loop_core.evaluate import metrics, score_dataset
from ai4loop_core.model import load_model, run_batched, save_model


@pytest.fixture(scope="module")
def hela():
    data = load_dataset("HeLaS3")
    return data, chromosome_parts(data)


def test_the_network_is_the_mean_of_its_members_and_reloads_exactly(hela, tmp_path):
    data, parts = hela
    train, val = data.take(parts["train"]), data.take(parts["validation"])
    net = fit_context_net(train.context, train.labels, seed=42, members=2, epochs=3)
    model = ContextNetModel(net, card=context_net_card())
    prob = score_dataset(model, val)
    members = [layer for layer in net.layers if layer.name.startswith("member_")]
    assert len(members) == 2
    each = [run_batched(m, [val.context], batch_size=4096)[:, 0] for m in members]
    np.testing.assert_allclose(prob, np.mean(each, axis=0), atol=1e-6)
    # the pair's distance plays no part; the context alone decides
    np.testing.assert_array_equal(
        model.score(np.zeros((len(val), 0)), np.zeros((len(val), 0)), context=val.context),
        model.score(
            np.zeros((len(val), 0)),
            np.zeros((len(val), 0)),
            context=val.context,
            distance=np.zeros(len(val)),
        ),  # fmt: skip
    )
    m = metrics(val.labels, prob)
    assert m["auprc"] > 2 * m["prevalence"]  # learns, on chromosomes it never saw

    path = tmp_path / "hela.net.keras"
    save_model(net, path, card={**context_net_card(), "trained_on": ["HeLaS3"]})
    again = load_model(str(path))
    assert isinstance(again, ContextNetModel) and again.uses_context
    assert again.card["context_net"] == "context-net-v1" and again.code_size == 0
    np.testing.assert_allclose(score_dataset(again, val), prob, atol=1e-6)


def test_bad_training_input_says_what_is_wrong(hela):
    data, _ = hela
    with pytest.raises(BadInputError, match=r"\(n, 271\) context rows .* got \(10, 5\)"):
        fit_context_net(np.zeros((10, 5)), np.zeros(10))
    with pytest.raises(BadInputError, match="positive and negative"):
        fit_context_net(data.context[:20], np.zeros(20))
    model = ContextNetModel(network=None, name="ctx")
    with pytest.raises(BadInputError, match="ctx scores pairs from their expression context"):
        model.score(np.zeros((3, 0)), np.zeros((3, 0)))
