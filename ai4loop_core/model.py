"""The AI4Loop network (Keras 3, any backend) and the names models are addressed by.

Per anchor input ``(155, 1)``; a shared ``Bidirectional(LSTM(16, return_sequences=True))`` then a
shared ``Bidirectional(LSTM(16))`` encode each anchor; the two 32-d codes are concatenated and go
through ``Dense(64, relu)``, ``Dropout(0.3)``, ``Dense(32, relu)``, ``Dropout(0.3)``,
``Dense(1, sigmoid)``.

Because the encoder is shared by both anchors, a model splits exactly into an :class:`AnchorModel`
``encoder`` (anchor features -> 32-d code) and a ``head`` (two codes -> probability). Prediction
encodes each distinct anchor once per sample and scores pairs with the cheap head.

Model names: ``upstream:<CELL>`` is the published ``.h5`` (CELL in K562, GM12878, HeLaS3, IMR90);
``<CELL>`` is the model we trained with the AI4Loop recipe (``models/<CELL>.keras``);
``best:<CELL>`` is the chosen model of the accuracy work when it exists; anything else is a
path to a ``.keras`` or ``.h5`` file (a card with ``"kind": "context-net"`` marks a network on
the pair context, :mod:`ai4loop_core.context_net`), or to a JSON card (boosted trees, or an
ensemble of named models: :mod:`ai4loop_core.ensemble`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ai4loop_core.errors import BadInputError
from ai4loop_core.features import FEATURE_TRANSFORM_VERSION, N_FEATURES

if TYPE_CHECKING:
    import keras

UPSTREAM_CELLS = ("K562", "GM12878", "HeLaS3", "IMR90")
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
CODE_SIZE = 32


def _keras():
    """Import Keras (and its backend) only when a network is built or loaded: it takes seconds."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def build_network(
    *, n_features: int = N_FEATURES, lstm_units: int = 16, dropout: float = 0.3
) -> keras.Model:
    """The AI4Loop Bi-LSTM, layer for layer as published (so ``.h5`` weights load in order)."""
    keras = _keras()
    layers = keras.layers
    left = keras.Input(shape=(n_features, 1), name="left_anchor")
    right = keras.Input(shape=(n_features, 1), name="right_anchor")
    lstm1 = layers.Bidirectional(layers.LSTM(lstm_units, return_sequences=True), name="bilstm_1")
    lstm2 = layers.Bidirectional(layers.LSTM(lstm_units), name="bilstm_2")
    code_left, code_right = lstm2(lstm1(left)), lstm2(lstm1(right))
    x = layers.Concatenate(name="concat")([code_left, code_right])
    x = layers.Dense(64, activation="relu", name="dense_64")(x)
    x = layers.Dropout(dropout, name="dropout_1")(x)
    x = layers.Dense(32, activation="relu", name="dense_32")(x)
    x = layers.Dropout(dropout, name="dropout_2")(x)
    out = layers.Dense(1, activation="sigmoid", name="probability")(x)
    return keras.Model([left, right], out, name="ai4loop")


@dataclass
class AnchorModel:
    """A trained network split into its shared anchor encoder and its pair head."""

    network: keras.Model
    name: str
    card: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keras = _keras()
        net = self.network
        n_features = net.inputs[0].shape[1]
        anchor = keras.Input(shape=(n_features, 1))
        code = net.get_layer("bilstm_2")(net.get_layer("bilstm_1")(anchor))
        self.encoder = keras.Model(anchor, code, name="encoder")
        code_size = code.shape[-1]
        a, b = keras.Input(shape=(code_size,)), keras.Input(shape=(code_size,))
        x = net.get_layer("concat")([a, b])
        for name in ("dense_64", "dense_32", "probability"):
            x = net.get_layer(name)(x)
        self.head = keras.Model([a, b], x, name="head")
        self.code_size = int(code_size)
        self.n_features = int(n_features)

    def encode(self, features: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
        """Codes ``(n, code_size)`` of anchor feature vectors ``(n, n_features)``."""
        x = np.asarray(features, dtype=np.float32)[:, :, None]
        return run_batched(self.encoder, [x], batch_size=batch_size)

    def score(
        self,
        left: np.ndarray,
        right: np.ndarray,
        *,
        distance: np.ndarray | None = None,
        context: np.ndarray | None = None,
        batch_size: int = 65536,
    ) -> np.ndarray:
        """Pair probabilities from the two anchors' codes (the network reads neither
        ``distance`` nor ``context``)."""
        return run_batched(self.head, [left, right], batch_size=batch_size).ravel()

    uses_context = False

    @property
    def input_scale(self) -> str:
        """The expression scale the model expects (``tpm`` for the AI4Loop recipe)."""
        return str(self.card.get("input_scale", "tpm"))


def run_batched(net: keras.Model, inputs: list[np.ndarray], *, batch_size: int) -> np.ndarray:
    """``net`` over ``inputs`` in batches, as float32; works on any Keras backend."""
    n = len(inputs[0])
    if n == 0:
        return np.zeros((0, *net.outputs[0].shape[1:]), dtype=np.float32)
    out = [
        np.asarray(net.predict_on_batch(_batch(inputs, lo, min(n, lo + batch_size), batch_size)))
        for lo in range(0, n, batch_size)
    ]
    return np.concatenate(out)[:n].astype(np.float32, copy=False)


def _batch(inputs: list[np.ndarray], lo: int, hi: int, batch_size: int):
    """Rows ``lo:hi`` zero-padded to 1024 or ``batch_size`` rows: only 2 shapes to compile."""
    size = min(batch_size, 1024) if hi - lo <= 1024 else batch_size
    parts = []
    for x in inputs:
        part = x[lo:hi]
        if len(part) < size:
            part = np.concatenate([part, np.zeros((size - len(part), *x.shape[1:]), x.dtype)])
        parts.append(part)
    return parts[0] if len(parts) == 1 else parts


def upstream_path(cell: str, *, data_dir: Path | None = None) -> Path:
    """Where the registry keeps the published model of ``cell``."""
    from ai4loop_core.data import ensure_file

    return ensure_file(f"ai4loop-upstream/models/{cell}_RandomSplit.model.h5", data_dir=data_dir)


def load_model(name: str, *, data_dir: Path | None = None) -> AnchorModel:
    """Load a model by name (see the module docstring) as an :class:`AnchorModel`."""
    if name.startswith("upstream:"):
        cell = _match_cell(name.split(":", 1)[1], UPSTREAM_CELLS, name)
        net = build_network()
        net.load_weights(upstream_path(cell, data_dir=data_dir))
        card = {
            "name": name,
            "source": "AI4Loop (published)",
            "cell_line": cell,
            "split": "random",
            "input_scale": "tpm",
            "feature_transform": FEATURE_TRANSFORM_VERSION,
        }
        return AnchorModel(net, name=name, card=card)
    if name.startswith("best:"):
        path = MODELS_DIR / "best" / f"{name.split(':', 1)[1]}.keras"
    elif "/" not in name and not name.endswith((".keras", ".h5", ".json")):
        path = MODELS_DIR / f"{name}.keras"
    else:
        path = Path(name)
    if path.suffix == ".json" or (not path.exists() and card_path(path).exists()):
        from ai4loop_core.boosted import load_boosted, read_model_json

        described = path if path.suffix == ".json" else card_path(path)
        content = read_model_json(described)
        if content.get("kind") == "ensemble":
            from ai4loop_core.ensemble import ensemble_from_card  # a card naming member models

            return ensemble_from_card(content, source=described, name=name)
        return load_boosted(described, name=name, content=content)  # JSON trees + card
    if not path.exists():
        known = ", ".join(available_models())
        raise BadInputError(
            f"Model {name!r} not found (looked for {path}). Known models: {known}. "
            "Give upstream:<CELL>, a trained cell line name, or a path to a .keras/.h5 file."
        )
    if path.suffix == ".h5":
        net = build_network()
        net.load_weights(path)
        card: dict[str, Any] = {"name": name, "input_scale": "tpm"}
    else:
        net = _keras().saving.load_model(path, compile=False)
        card = read_card(path)
        if card.get("kind") == "context-net":
            from ai4loop_core.context_net import ContextNetModel  # context in, no anchor code

            return ContextNetModel(net, name=name, card=card)
    return AnchorModel(net, name=name, card=card)


def _match_cell(cell: str, known: tuple[str, ...], name: str) -> str:
    for k in known:
        if cell.lower().replace("-", "") == k.lower():
            return k
    raise BadInputError(f"Unknown cell line in model name {name!r}; use one of {', '.join(known)}.")


def card_path(model_path: Path) -> Path:
    """The model card lives beside the model: ``X.keras`` -> ``X.card.json``."""
    return model_path.with_suffix(".card.json")


def read_card(model_path: Path) -> dict[str, Any]:
    """The JSON model card of a saved model (empty when there is none)."""
    path = card_path(Path(model_path))
    return json.loads(path.read_text()) if path.exists() else {}


def save_model(network: keras.Model, path: Path, *, card: dict[str, Any]) -> None:
    """Save ``network`` as ``.keras`` plus its JSON card, each written atomically."""
    from ai4loop_core.atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        network.save(tmp.with_suffix(".keras"))
        tmp.with_suffix(".keras").replace(tmp)
    card = {"feature_transform": FEATURE_TRANSFORM_VERSION, **card}
    with atomic_path(card_path(path)) as tmp:
        tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")


def available_models(*, models_dir: Path = MODELS_DIR) -> list[str]:
    """The model names to offer (no Keras import): upstream, trained here, and ``best:<CELL>``.

    Files that a ``best:<CELL>`` card names (a pooled model's trees, an ensemble's members) load
    by name too but are not listed: their cards have no cell line.
    """
    models_dir = Path(models_dir)
    names = [f"upstream:{c}" for c in UPSTREAM_CELLS]
    names += sorted(p.stem for p in models_dir.glob("*.keras"))
    for card in sorted((models_dir / "best").glob("*.card.json")):
        if not is_member_card(json.loads(card.read_text())):
            names.append(f"best:{card.name[:-10]}")
    return names


def is_member_card(card: dict[str, Any]) -> bool:
    """Whether a card is that of a file a ``best:<CELL>`` card names (a pooled model's trees, an
    ensemble's members): such cards have ``"cell_line": null``."""
    return "cell_line" in card and card["cell_line"] is None
