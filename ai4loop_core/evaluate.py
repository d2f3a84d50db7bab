"""Judge a model on a labelled dataset: metrics, ROC and PR curves (CSV + PNG)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ai4loop_core.atomic import atomic_path
from ai4loop_core.datasets import (
    Dataset,
    cell_line_of,
    dataset_from_files,
    load_dataset,
    split_indices,
)
from ai4loop_core.model import AnchorModel, load_model
from ai4loop_core.predict import encode_features


def metrics(y_true: np.ndarray, prob: np.ndarray, *, threshold: float = 0.5) -> dict[str, float]:
    """AUROC, AUPRC (average precision), accuracy, F1, MCC at ``threshold``, prevalence, n."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        matthews_corrcoef,
        roc_auc_score,
    )

    pred = (prob >= threshold).astype(int)
    return {
        "auroc": float(roc_auc_score(y_true, prob)),
        "auprc": float(average_precision_score(y_true, prob)),
        "accuracy": float(accuracy_score(y_true, pred)),
        "f1": float(f1_score(y_true, pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(y_true, pred)),
        "prevalence": float(np.mean(y_true)),
        "n": int(len(y_true)),
    }


def score_dataset(model: AnchorModel, dataset: Dataset) -> np.ndarray:
    """Model probabilities for every pair of ``dataset``."""
    left, right = encode_features(model, dataset.left), encode_features(model, dataset.right)
    return model.score(left, right, distance=dataset.distance, context=dataset.context)


def evaluate_model(
    *,
    model: str,
    dataset: str | None = None,
    split: str = "chromosome",
    seed: int = 42,
    pairs: Path | str | None = None,
    expression: Path | str | None = None,
    sample: str | None = None,
    json_out: Path | str | None = None,
) -> dict[str, Any]:
    """``ai4loop evaluate``: metrics of ``model`` on the test part of a dataset.

    The JSON holds ``test`` (auroc, auprc, accuracy, f1, mcc, prevalence, n) and notes whether the
    model may have seen test rows in training (same dataset, different split or seed, or a
    published model, which was trained on a random split). ROC/PR curves are written beside the
    JSON as ``<stem>.roc.csv``, ``<stem>.pr.csv`` and ``<stem>.curves.png``.
    """
    net = load_model(model)
    if dataset is not None:
        data = load_dataset(dataset)
    else:
        if pairs is None or expression is None or sample is None:
            from ai4loop_core.errors import BadInputError

            raise BadInputError("Give --dataset CELL, or all of --pairs, --expression, --sample.")
        data = dataset_from_files(pairs, expression, sample=sample)
    parts = split_indices(data, split=split, seed=seed)
    test = data.take(parts["test"])
    prob = score_dataset(net, test)
    card = net.card
    cross_cell, leak = overlap_with_training(card, dataset=data.name, split=split, seed=seed)
    result: dict[str, Any] = {
        "model": model,
        "model_card": card,
        "dataset": data.name,
        "pairs": data.pair_source,
        "expression": data.expression_source,
        "sample": data.sample,
        "split": split,
        "seed": seed,
        "test_chromosomes": ["chr4", "chr7", "chr8", "chr11"] if split == "chromosome" else None,
        "cross_cell": cross_cell,
        "possible_leakage": leak,
        "test": metrics(test.labels, prob),
    }
    if json_out is not None:
        json_out = Path(json_out)
        with atomic_path(json_out) as tmp:
            tmp.write_text(json.dumps(result, indent=2) + "\n")
        write_curves(test.labels, prob, json_out.with_suffix(""), title=f"{model} on {data.name}")
    return result


def overlap_with_training(
    card: dict[str, Any], *, dataset: str, split: str, seed: int
) -> tuple[bool, bool]:
    """``(cross_cell, possible_leakage)`` of scoring a model with ``card`` on ``dataset``.

    Sets of one cell line share their positives (``K562``, ``K562-rebuilt`` and ``K562-genome``
    hold the same loops), so they count as the same data, and so does every cell line a pooled
    model lists in ``trained_on``. The chromosome split's test chromosomes are the same for every
    seed; a random split's test rows differ by seed. Published models trained on a random split.
    """

    def cell(name: Any) -> str:
        return cell_line_of(name).lower()

    trained = {cell(t) for t in card.get("trained_on") or []}
    trained |= {cell(card[k]) for k in ("dataset", "cell_line") if card.get(k)}
    trained.discard("pooled")
    same = cell(dataset) in trained
    both_chromosome = split == "chromosome" and card.get("split") == "chromosome"
    other_rows = card.get("split") != split or (split == "random" and card.get("seed") != seed)
    return bool(trained) and not same, bool(same and other_rows and not both_chromosome)


def write_curves(y_true: np.ndarray, prob: np.ndarray, prefix: Path, *, title: str) -> None:
    """ROC and PR curves as CSV and one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y_true, prob)
    precision, recall, _ = precision_recall_curve(y_true, prob)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr})
    pr = pd.DataFrame({"recall": recall, "precision": precision})
    for table, suffix in ((roc, ".roc.csv"), (pr, ".pr.csv")):
        with atomic_path(prefix.with_name(prefix.name + suffix)) as tmp:
            table.to_csv(tmp, index=False)
    m = metrics(y_true, prob)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    ax1.plot(fpr, tpr)
    ax1.plot([0, 1], [0, 1], ls=":", c="grey")
    ax1.set(xlabel="False positive rate", ylabel="True positive rate")
    ax1.set_title(f"ROC (AUROC {m['auroc']:.3f})")
    ax2.plot(recall, precision)
    ax2.axhline(m["prevalence"], ls=":", c="grey")
    ax2.set(xlabel="Recall", ylabel="Precision")
    ax2.set_title(f"PR (AUPRC {m['auprc']:.3f})")
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(prefix.with_name(prefix.name + ".curves.png")) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
