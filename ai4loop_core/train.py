"""Train the AI4Loop network with the published recipe.

Recipe: Adam (learning rate 1e-3), binary cross-entropy, batch 30, up to 30 epochs, early stopping
on validation loss (patience 5, best weights restored). The trained model is saved as ``.keras``
with a JSON card (data, split, seed, metrics, feature-transform version, the command).
"""

from __future__ import annotations

import os
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ai4loop_core.datasets import Dataset, dataset_from_files, load_dataset, split_indices
from ai4loop_core.evaluate import metrics, score_dataset
from ai4loop_core.features import FEATURE_TRANSFORM_VERSION
from ai4loop_core.model import MODELS_DIR, AnchorModel, build_network, save_model


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and Keras (and so the backend) for a repeatable run."""
    import keras

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


def fit(
    data: Dataset,
    parts: dict[str, np.ndarray],
    *,
    epochs: int = 30,
    batch_size: int = 30,
    learning_rate: float = 1e-3,
    patience: int = 5,
    seed: int = 42,
    verbose: int = 2,
) -> tuple[AnchorModel, dict[str, list[float]]]:
    """Fit a fresh network on ``parts['train']`` with early stopping on ``parts['validation']``."""
    import keras

    set_seed(seed)
    net = build_network()
    net.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    tr, va = data.take(parts["train"]), data.take(parts["validation"])
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )
    history = net.fit(
        [tr.left[:, :, None], tr.right[:, :, None]],
        tr.labels.astype(np.float32),
        validation_data=([va.left[:, :, None], va.right[:, :, None]], va.labels.astype(np.float32)),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=[stop],
        shuffle=True,
        verbose=verbose,
    )
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return AnchorModel(net, name="trained"), hist


def train_model(
    *,
    dataset: str | None = None,
    pairs: Path | str | None = None,
    expression: Path | str | None = None,
    sample: str | None = None,
    split: str = "chromosome",
    seed: int = 42,
    epochs: int = 30,
    batch_size: int = 30,
    out: Path | str | None = None,
    verbose: int = 2,
) -> dict[str, Any]:
    """``ai4loop train``: train on a dataset, evaluate on its test part, save model and card.

    Returns the card. ``out`` defaults to ``models/<CELL>.keras`` for a named dataset.
    """
    if dataset is not None:
        data = load_dataset(dataset)
    else:
        data = dataset_from_files(pairs, expression, sample=sample)
    parts = split_indices(data, split=split, seed=seed)
    t0 = time.time()
    model, history = fit(
        data, parts, epochs=epochs, batch_size=batch_size, seed=seed, verbose=verbose
    )
    seconds = time.time() - t0
    result = {
        part: metrics(data.labels[idx], score_dataset(model, data.take(idx)))
        for part, idx in parts.items()
    }
    out = Path(out) if out is not None else MODELS_DIR / f"{data.name}.keras"
    card = {
        "name": out.stem,
        "source": "trained here (AI4Loop recipe)",
        "recipe": {
            "optimizer": "Adam",
            "learning_rate": 1e-3,
            "batch_size": batch_size,
            "max_epochs": epochs,
            "early_stopping": "val_loss, patience 5, best weights restored",
            "epochs_run": len(history["loss"]),
        },
        "dataset": data.name,
        "cell_line": data.sample,
        "pairs": Path(data.pair_source).name,
        "expression": Path(data.expression_source).name,
        "split": split,
        "seed": seed,
        "n": {k: int(len(v)) for k, v in parts.items()},
        "metrics": result,
        "input_scale": "tpm",
        "feature_transform": FEATURE_TRANSFORM_VERSION,
        "train_seconds": round(seconds, 1),
        "command": "ai4loop " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if Path(sys.argv[0]).name == "ai4loop"
        else None,
    }
    save_model(model.network, out, card=card)
    return card
