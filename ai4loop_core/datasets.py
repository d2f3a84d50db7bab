"""Benchmark datasets: labelled anchor pairs of a cell line with that cell line's RNA-seq.

``load_dataset("K562")`` is the upstream benchmark pair set of K562 with the K562 column of
``allRNAseq.tsv``; cell lines added by ``preprocess`` (``datasets/<CELL>.csv`` in the repo) load
the same way. Explicit pair files and expression files work too (:func:`dataset_from_files`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.errors import BadInputError
from ai4loop_core.features import build_operator
from ai4loop_core.pairs import Pairs

UPSTREAM_SETS = {
    "K562": "ai4loop-upstream/datasets/K562_ctcf_distance_matched.csv",
    "GM12878": "ai4loop-upstream/datasets/GM12878_ctcf_distance_matched.csv",
    "HeLaS3": "ai4loop-upstream/datasets/HeLaS3_ctcf_distance_matched.csv",
    "IMR90": "ai4loop-upstream/datasets/IMR90_ctcf_distance_matched.csv",
}
ALL_RNASEQ = "ai4loop-upstream/data/allRNAseq.tsv"
LOCAL_SETS = Path(__file__).resolve().parent.parent / "datasets"
TEST_CHROMOSOMES = ("chr4", "chr7", "chr8", "chr11")


@dataclass(frozen=True)
class Dataset:
    """Labelled pairs with their features, ready for training or evaluation."""

    name: str
    pairs: pd.DataFrame  # chrom1,start1,end1,chrom2,start2,end2
    labels: np.ndarray  # int 0/1
    left: np.ndarray  # (n, 155) float32
    right: np.ndarray  # (n, 155) float32
    context: np.ndarray  # (n, 271) float32: ai4loop_core.context
    sample: str
    pair_source: str
    expression_source: str

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def distance(self) -> np.ndarray:
        """Distance in bp between anchor midpoints (-1 across chromosomes)."""
        from ai4loop_core.pairs import pair_distance

        cols = ["chrom", "start", "end"]
        ends = [self.pairs[[f"{c}{i}" for c in cols]].set_axis(cols, axis=1) for i in (1, 2)]
        n = len(self.pairs)
        return pair_distance(pd.concat(ends, ignore_index=True), np.arange(n), np.arange(n, 2 * n))

    def take(self, index: np.ndarray) -> Dataset:
        """The rows ``index`` as a new dataset."""
        return Dataset(
            name=self.name,
            pairs=self.pairs.iloc[index].reset_index(drop=True),
            labels=self.labels[index],
            left=self.left[index],
            right=self.right[index],
            context=self.context[index],
            sample=self.sample,
            pair_source=self.pair_source,
            expression_source=self.expression_source,
        )


def known_datasets() -> list[str]:
    """Cell lines ``--dataset`` accepts.

    The upstream sets keep their names; sets made here by ``preprocess``
    (``datasets/<CELL>_pairs.csv``) add the other cell lines, ``<CELL>-rebuilt`` names our
    rebuild of an upstream set, and ``<CELL>-<variant>`` (``datasets/<CELL>-<variant>_pairs.csv``,
    e.g. ``K562-genome``) a variant set of that cell line, scored with its RNA-seq.
    """
    local = sorted(p.name.removesuffix("_pairs.csv") for p in LOCAL_SETS.glob("*_pairs.csv"))
    return list(UPSTREAM_SETS) + [c if c not in UPSTREAM_SETS else f"{c}-rebuilt" for c in local]


def cell_line_of(dataset: str) -> str:
    """The cell line a dataset name belongs to: ``K562-genome`` and ``K562-rebuilt`` -> ``K562``.

    Sets of one cell line share their positives and are scored with that cell line's RNA-seq.
    """
    return str(dataset).split("-")[0]


def negative_design(dataset: str) -> str:
    """How a named pair set's negatives were drawn: sets that share it can be pooled for training.

    ``published`` for the upstream sets (AI4Loop's own negatives, off the Hi-C bin grid); for sets
    made by ``preprocess``, its ``--negative-regions`` (``genes``: gene sites and loop anchors on
    the bin grid; ``genome``: anywhere, off the grid) with ``+ctcf`` where CTCF-pair negatives
    were added. A name with no report is its own design. Positives are Hi-C loops in every set;
    negatives drawn differently teach different shortcuts, so pooling across designs is not done.
    """
    import json

    name = str(dataset)
    if name in UPSTREAM_SETS:
        return "published"
    report = LOCAL_SETS / f"{name.removesuffix('-rebuilt')}_report.json"
    if not report.exists():
        return f"own:{name}"
    content = json.loads(report.read_text())
    design = str(content["parameters"]["negative_regions"])
    return design + ("+ctcf" if content.get("inputs", {}).get("ctcf") else "")


def load_dataset(cell: str, *, data_dir: Path | None = None) -> Dataset:
    """The benchmark pair set of ``cell`` with its RNA-seq column of ``allRNAseq.tsv``."""
    from ai4loop_core.data import ensure_file

    match = {c.lower(): c for c in known_datasets()}.get(cell.lower())
    if match is None:
        raise BadInputError(
            f"Unknown dataset {cell!r}; known: {', '.join(known_datasets())}. "
            "Use --pairs/--expression/--sample for your own files."
        )
    if match in UPSTREAM_SETS:
        pairs_path = ensure_file(UPSTREAM_SETS[match], data_dir=data_dir)
    else:
        pairs_path = LOCAL_SETS / f"{match.removesuffix('-rebuilt')}_pairs.csv"
    expression_path = ensure_file(ALL_RNASEQ, data_dir=data_dir)
    sample = cell_line_of(match)
    return dataset_from_files(pairs_path, expression_path, sample=sample, name=match)


def dataset_from_files(
    pairs: Path | str,
    expression: Path | str,
    *,
    sample: str,
    name: str | None = None,
    columns: Path | str | None = None,
) -> Dataset:
    """A dataset from a labelled pair file and one sample of an expression file."""
    from ai4loop_core.expression import read_expression
    from ai4loop_core.pairs import read_pairs

    pair_set = read_pairs(pairs)
    if "label" not in pair_set.table.columns:
        raise BadInputError(f"{pairs}: no 'label' column; training and evaluation need 0/1 labels.")
    labels = pd.to_numeric(pair_set.table["label"], errors="coerce")
    if not labels.isin([0, 1]).all():
        bad = int(np.flatnonzero(~labels.isin([0, 1]).to_numpy())[0])
        raise BadInputError(f"{pairs}, line {bad + 2}, column label: labels must be 0 or 1.")
    expr = read_expression(expression, columns=columns, samples=[sample])
    left, right, context = featurise_pairs(pair_set, expr.genes, expr.values)
    return Dataset(
        name=name or Path(pairs).stem,
        pairs=pair_set.anchors,
        labels=labels.to_numpy(np.int64),
        left=left[:, :, 0],
        right=right[:, :, 0],
        context=context[:, :, 0],
        sample=sample,
        pair_source=str(pairs),
        expression_source=str(expression),
    )


def featurise_pairs(
    pair_set: Pairs, genes: pd.DataFrame, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every model input of each pair for each sample of ``values`` (genes x samples, TPM).

    Returns float32 ``left``, ``right`` ``(n_pairs, 155, n_samples)`` (the AI4Loop bins of the
    two anchors) and ``context`` ``(n_pairs, 271, n_samples)`` (:mod:`ai4loop_core.context`).
    """
    from ai4loop_core.context import build_context

    anchors, left, right = pair_set.unique_anchors()
    op = build_operator(anchors, genes)
    feats = op.apply(values).astype(np.float32)
    context = build_context(anchors, genes, left=left, right=right, operator=op).apply(values)
    return feats[left], feats[right], context


def split_indices(
    dataset: Dataset,
    *,
    split: str,
    seed: int = 42,
    test_size: float = 0.2,
    val_size: float = 0.1,
    test_chromosomes: tuple[str, ...] = TEST_CHROMOSOMES,
) -> dict[str, np.ndarray]:
    """Train/validation/test row indices.

    ``random``: stratified, seeded (test ``test_size``, validation ``val_size`` of all rows).
    ``chromosome``: test = pairs with an anchor on ``test_chromosomes`` (chr4, 7, 8, 11);
    validation = a stratified ``val_size`` share of the remaining rows (training chromosomes only).
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(dataset))
    y = dataset.labels
    if split == "random":
        rest, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=y)
        frac = val_size / (1.0 - test_size)
    elif split == "chromosome":
        on_test = dataset.pairs["chrom1"].isin(test_chromosomes) | dataset.pairs["chrom2"].isin(
            test_chromosomes
        )
        test, rest = idx[on_test.to_numpy()], idx[~on_test.to_numpy()]
        if len(test) == 0:
            raise BadInputError(f"{dataset.name}: no pair lies on the test chromosomes.")
        frac = val_size
    else:
        raise BadInputError(f"Unknown split {split!r}; use 'random' or 'chromosome'.")
    train, val = train_test_split(rest, test_size=frac, random_state=seed, stratify=y[rest])
    return {"train": np.sort(train), "validation": np.sort(val), "test": np.sort(test)}
