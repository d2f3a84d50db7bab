"""A small Keras network on a pair's expression context, to average with the context trees.

The boosted-context trees (:mod:`ai4loop_core.boosted`) split the 271 context numbers of
:mod:`ai4loop_core.context` into boxes; a network on the same numbers draws smooth boundaries
instead, and the two make different mistakes. On the validation chromosomes (5 seeds) the mean of
the two ranked pairs better than the trees alone on six of the seven benchmark lines, by .005 to
.019 AUPRC, and tied on K562 (the benchmark kinds ``context-ensemble`` and
``context-pooled-ensemble``, :mod:`ai4loop_core.benchmark`).

The network is :data:`MEMBERS` multilayer perceptrons, each trained for :data:`EPOCHS` epochs
from its own seed, whose probabilities are averaged (bagging: one such network varies by about
.02 AUPRC from seed to seed, the mean of five much less). The inputs are standardised by a
``Normalization`` layer holding the training rows' mean and variance, so one ``.keras`` file is
the whole model. It reads the context only: like the trees it never sees the pair's distance
(the upstream sets' positives lie on the Hi-C bin grid, their negatives do not). Backend-agnostic
Keras 3: no TensorFlow calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ai4loop_core.context import CONTEXT_VERSION, N_CONTEXT
from ai4loop_core.errors import BadInputError
from ai4loop_core.features import N_FEATURES

if TYPE_CHECKING:
    import keras

CONTEXT_NET_VERSION = "context-net-v1"
MEMBERS = 5
EPOCHS = 12
BATCH_SIZE = 256
HIDDEN = 64
DROPOUT = 0.3


def build_member(*, mean: np.ndarray, variance: np.ndarray, name: str) -> keras.Model:
    """One perceptron: standardise, ``Dense(64, relu)`` twice, dropout, sigmoid."""
    from ai4loop_core.model import _keras

    keras = _keras()
    layers = keras.layers
    x_in = keras.Input(shape=(N_CONTEXT,), name="context")
    x = layers.Normalization(mean=mean, variance=variance, name="standardise")(x_in)
    x = layers.Dense(HIDDEN, activation="relu")(x)
    x = layers.Dense(HIDDEN, activation="relu")(x)
    x = layers.Dropout(DROPOUT)(x)
    out = layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.Model(x_in, out, name=name)


def fit_context_net(
    context: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 42,
    members: int | None = None,
    epochs: int | None = None,
) -> keras.Model:
    """Train ``members`` (default :data:`MEMBERS`) perceptrons on ``context`` ``(n, 271)`` for
    ``epochs`` (default :data:`EPOCHS`) and return their mean as one model.

    Member ``i`` starts from seed ``seed + 1000 * i``. The number of epochs is fixed (chosen on
    the validation chromosomes of HMEC, HUVEC and NHEK, not per fit), so no rows are held out.
    """
    from ai4loop_core.model import _keras

    keras = _keras()
    members = MEMBERS if members is None else members
    epochs = EPOCHS if epochs is None else epochs
    x = np.asarray(context, np.float32)
    y = np.asarray(labels, np.float32)
    if x.ndim != 2 or x.shape[1] != N_CONTEXT or len(x) != len(y):
        raise BadInputError(
            f"A context network trains on (n, {N_CONTEXT}) context rows with n labels; got "
            f"{x.shape} and {y.shape}."
        )
    if len(np.unique(y)) < 2:
        raise BadInputError("A context network needs positive and negative training pairs.")
    mean, variance = x.mean(axis=0), np.maximum(x.var(axis=0), 1e-12)
    nets = []
    for i in range(members):
        keras.utils.set_random_seed(seed + 1000 * i)
        net = build_member(mean=mean, variance=variance, name=f"member_{i}")
        net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        net.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=0)
        nets.append(net)
    x_in = keras.Input(shape=(N_CONTEXT,), name="context")
    outs = [net(x_in) for net in nets]
    mean_out = keras.layers.Average(name="probability")(outs) if members > 1 else outs[0]
    return keras.Model(x_in, mean_out, name="context_net")


@dataclass
class ContextNetModel:
    """A context network with the model protocol (``encode``/``score``); it has no anchor code."""

    network: keras.Model
    name: str = "context-net"
    card: dict[str, Any] = field(default_factory=dict)

    code_size: int = 0
    n_features: int = N_FEATURES

    def encode(self, features: np.ndarray) -> np.ndarray:
        """An empty code ``(n, 0)``: the network reads each pair's context only."""
        return np.zeros((len(features), 0), np.float32)

    def score(
        self,
        left: np.ndarray,
        right: np.ndarray,
        *,
        distance: np.ndarray | None = None,
        context: np.ndarray | None = None,
    ) -> np.ndarray:
        """Pair probabilities ``(n,)`` from ``context`` ``(n, 271)`` (codes and distance unused)."""
        from ai4loop_core.model import run_batched

        if context is None:
            raise BadInputError(f"{self.name} scores pairs from their expression context.")
        x = np.asarray(context, np.float32)
        if len(x) == 0:
            return np.zeros(0, np.float32)
        return run_batched(self.network, [x], batch_size=65536)[:, 0].astype(np.float32)

    @property
    def uses_context(self) -> bool:
        """Always: the context is the network's only input."""
        return True

    @property
    def input_scale(self) -> str:
        """The expression scale the context was computed from (TPM)."""
        return str(self.card.get("input_scale", "tpm"))


def context_net_card() -> dict[str, Any]:
    """What a saved context network's card must say for :func:`load_model` to take it."""
    return {
        "kind": "context-net",
        "context": CONTEXT_VERSION,
        "context_net": CONTEXT_NET_VERSION,
        "members": MEMBERS,
        "epochs": EPOCHS,
        "input_scale": "tpm",
    }
