"""``ai4loop benchmark``: every model x cell line x split, several seeds, with honesty checks.

Protocol
--------
- Chromosome split: test = pairs on chr4, 7, 8, 11 (never used for any choice); validation =
  pairs on :data:`VALIDATION_CHROMOSOMES` (chr2, 12, 17), taken from the training chromosomes;
  training = the rest. Models are fit on training chromosomes only; every setting (number of
  trees, regularisation, which model becomes ``best:<CELL>``) is chosen on the validation
  chromosomes; the chosen model is then judged once on the test chromosomes.
- Random split: ``split_indices(split="random", seed)`` (70/10/20, stratified), per cell line.
  Pooled models are not run on it: the cell lines share loops, so another cell line's training
  rows would hold this cell line's test pairs.
- Seeds ``first_seed, first_seed + 1, ...``: on the chromosome split the seed changes the models'
  randomness (tree column subsampling; Keras initialisation and batch order), on the random split
  the split too.
- Cross-cell: a model trained on cell line A's training chromosomes scored on cell line B's test
  chromosomes (so no pair of the test rows, nor any anchor, was seen in training); the pooled
  model's cross-cell version leaves the test cell line out entirely ("leave-one-cell-out"; run
  for the first seed only, to save CPU).

Models (:data:`MODELS`): the AI4Loop recipe retrained here (read from ``models/<CELL>.keras``
when its card has the same split and seed, or trained with ``train_recipe=True``), the published
models (flagged: they were trained on a random split that holds our test rows), the boosted
models of :mod:`ai4loop_core.boosted` (on the 60 kb bins alone, or with each pair's expression
context of :mod:`ai4loop_core.context`: ``boosted-context``), the ``ensemble`` of the recipe and
boosted-context (mean probability, :mod:`ai4loop_core.ensemble`; test rows only, never chosen as
``best:<CELL>`` because the recipe has trained on the validation chromosomes), the context
ensembles (boosted-context or context-pooled averaged with a network on the same context numbers,
:mod:`ai4loop_core.context_net`, fitted on the same training rows) and two honesty
baselines (distance only; ``genes-only``: boosted-context with every annotated gene at 1 TPM, so
gene positions and no RNA). The honesty checks also score the seed-``first_seed`` boosted-pooled
and boosted-context models with every other cell line's RNA: what the cell line's own RNA adds.

Outputs in ``out``: ``results.csv`` (one row per model x train cells x test cell x split x seed x
part), ``summary.csv`` (mean, sd over seeds), ``honesty.json``, ``RESULTS.md`` (the tables),
``curves.csv.gz`` (ROC and PR points of every own-cell test evaluation, all seeds) and
``curves_<split>.png``.
"""

from __future__ import annotations

import functools
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ai4loop_core.atomic import atomic_path
from ai4loop_core.datasets import (
    TEST_CHROMOSOMES,
    UPSTREAM_SETS,
    Dataset,
    cell_line_of,
    known_datasets,
    load_dataset,
    split_indices,
)
from ai4loop_core.errors import BadInputError

VALIDATION_CHROMOSOMES = ("chr2", "chr12", "chr17")
MODELS = {
    "ai4loop-recipe": "AI4Loop recipe (Keras Bi-LSTM) retrained here",
    "upstream": "published AI4Loop model (trained on a random split: saw test rows)",
    "boosted": "boosted trees on anchor codes, one cell line",
    "boosted-context": "boosted trees on anchor codes + expression context (genes up to 2 Mb "
    "around and between the anchors, ai4loop_core.context), one cell line",
    "boosted-pooled": "boosted trees on anchor codes, all cell lines pooled",
    "context-pooled": "boosted-context on the pooled training chromosomes of the cell lines whose "
    "negatives were drawn the same way (datasets.negative_design), each with its own RNA",
    "logistic-pooled": "logistic regression on the same codes, pooled",
    "distance-only": "boosted trees on the 10 kb-rounded distance only (honesty check)",
    "genes-only": "boosted-context on gene positions only, every gene at 1 TPM (honesty check)",
    "ensemble": "mean probability of boosted-context and ai4loop-recipe (same cell line and seed)",
    "context-ensemble": "mean probability of boosted-context and a context network (5 bagged "
    "perceptrons on the same context numbers, ai4loop_core.context_net), one cell line",
    "context-pooled-ensemble": "mean probability of context-pooled and a context network fitted "
    "on the same pool",
}
PER_CELL = ("boosted", "boosted-context")  # one model per cell line
CONTEXT_ENSEMBLES = {  # ensemble kind -> the kind of its trees
    "context-ensemble": "boosted-context",
    "context-pooled-ensemble": "context-pooled",
}
DEPLOYABLE = (  # best:<CELL> candidates
    *PER_CELL,
    "boosted-pooled",
    "logistic-pooled",
    "context-pooled",
    *CONTEXT_ENSEMBLES,
)
FEATURE_SETS = {"boosted": "full", "boosted-context": "context"}
ENSEMBLE_MEMBERS = ("ai4loop-recipe", "boosted-context")
MAX_TREES = 150
TREE_STEP = 10
LINEAR_C = (0.01, 0.1, 1.0)


@dataclass
class _Run:
    """What one benchmark run collects."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    curves: list[pd.DataFrame] = field(default_factory=list)
    models: dict[tuple[str, str, int, str], Any] = field(default_factory=dict)  # per cell line
    pools: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (kind, cell) -> fit on
    log: Callable[[str], None] = print

    def keep(self, kind: str, model: Any, pool: list[str], seed: int, split: str) -> None:
        """Record a pooled model under each cell line it was fitted on."""
        for c in pool:
            self.models[(kind, c, seed, split)] = model
            self.pools[(kind, c)] = pool


def chromosome_parts(
    data: Dataset,
    *,
    validation_chromosomes: Sequence[str] = VALIDATION_CHROMOSOMES,
    test_chromosomes: Sequence[str] = TEST_CHROMOSOMES,
) -> dict[str, np.ndarray]:
    """Train / validation / test rows by chromosome (a pair is placed by either anchor)."""
    p = data.pairs

    def on(chroms: Sequence[str]) -> np.ndarray:
        return (p["chrom1"].isin(chroms) | p["chrom2"].isin(chroms)).to_numpy()

    test = on(test_chromosomes)
    val = on(validation_chromosomes) & ~test
    if not test.any() or not val.any():
        raise BadInputError(f"{data.name}: no pair on the test or the validation chromosomes.")
    idx = np.arange(len(data))
    return {"train": idx[~test & ~val], "validation": idx[val], "test": idx[test]}


def run_benchmark(
    *,
    cells: Sequence[str] | None = None,
    models: Sequence[str] = tuple(MODELS),
    splits: Sequence[str] = ("chromosome", "random"),
    seeds: int = 5,
    first_seed: int = 42,
    out: Path | str = "benchmarks",
    train_recipe: bool = False,
    save_best: bool = False,
    datasets: dict[str, Dataset] | None = None,
    threads: int = 1,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark and write its tables, curves and report into ``out``.

    Parameters
    ----------
    cells
        Cell lines (default: the 4 upstream sets plus the cell lines ``preprocess`` added; not
        the ``<CELL>-rebuilt`` sets).
    models
        Names from :data:`MODELS`.
    seeds, first_seed
        Seeds ``first_seed .. first_seed + seeds - 1``.
    train_recipe
        Train the Keras recipe for seeds whose ``models/<CELL>.keras`` is missing (slow on CPU:
        about 15 min per cell line and seed); otherwise those rows are listed as missing.
    save_best
        Write the model chosen on validation chromosomes (seed ``first_seed``) to
        ``models/best/`` with cards, addressable as ``best:<CELL>``.
    datasets
        Preloaded datasets by cell line (tests); default :func:`load_dataset` of each cell.
    threads
        OpenMP/BLAS threads for the fits (default 1: the benchmark shares the machine).

    Returns the summary table, the honesty checks and the choice of best model.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        return _run_benchmark(
            cells=cells,
            models=models,
            splits=splits,
            seeds=seeds,
            first_seed=first_seed,
            out=out,
            train_recipe=train_recipe,
            save_best=save_best,
            datasets=datasets,
            log=log,
        )


def _run_benchmark(
    *, cells, models, splits, seeds, first_seed, out, train_recipe, save_best, datasets, log
) -> dict[str, Any]:
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise BadInputError(f"Unknown model(s) {unknown}; choose from {', '.join(MODELS)}.")
    bad_split = sorted(set(splits) - {"chromosome", "random"})
    if bad_split:
        raise BadInputError(f"Unknown split(s) {bad_split}; use chromosome and/or random.")
    if seeds < 1:
        raise BadInputError("--seeds must be at least 1.")
    if save_best and ("chromosome" not in splits or not set(DEPLOYABLE) & set(models)):
        raise BadInputError("--save-best needs the chromosome split and a boosted model kind.")
    out = Path(out)
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    t0 = time.time()
    if datasets is None:
        cells = list(cells) if cells else [c for c in known_datasets() if c == cell_line_of(c)]
        datasets = {c: load_dataset(c) for c in cells}
    else:
        cells = list(cells) if cells else list(datasets)
        datasets = {c: datasets[c] for c in cells}
    run = _Run(log=say)
    seed_list = [first_seed + i for i in range(seeds)]
    presence = _gene_presence(datasets) if "genes-only" in models else {}
    for split in splits:
        for seed in seed_list:
            say(f"[{time.time() - t0:6.0f}s] split={split} seed={seed}")
            if split == "chromosome":
                parts = {c: chromosome_parts(d) for c, d in datasets.items()}
            else:
                parts = {
                    c: split_indices(d, split="random", seed=seed) for c, d in datasets.items()
                }
            _run_split(
                run, datasets, presence, parts, split, seed, models, train_recipe, first_seed
            )
            out.mkdir(parents=True, exist_ok=True)
            _write_csv(pd.DataFrame(run.rows), out / "results.csv")  # partial, rewritten below
    results = pd.DataFrame(run.rows)
    summary = summarise(results)
    honesty = honesty_checks(datasets, results, run=run, seeds=seed_list, splits=splits)
    choice = choose_best(summary, cells)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(results, out / "results.csv")
    _write_csv(summary, out / "summary.csv")
    with atomic_path(out / "honesty.json") as tmp:
        tmp.write_text(json.dumps(honesty, indent=2, default=float) + "\n")
    curves = pd.concat(run.curves, ignore_index=True) if run.curves else pd.DataFrame()
    if len(curves):
        with atomic_path(out / "curves.csv.gz") as tmp:
            curves.to_csv(tmp, index=False, float_format="%.5g", compression="gzip")
        for split in splits:
            _plot_curves(curves, split, out / f"curves_{split}.png", first_seed)
    meta = {
        "cells": cells,
        "models": list(models),
        "splits": list(splits),
        "seeds": seed_list,
        "validation_chromosomes": list(VALIDATION_CHROMOSOMES),
        "test_chromosomes": list(TEST_CHROMOSOMES),
        "command": _command(),
        "seconds": round(time.time() - t0),
    }
    with atomic_path(out / "RESULTS.md") as tmp:
        tmp.write_text(
            render_report(summary, results=results, honesty=honesty, choice=choice, meta=meta)
        )
    if save_best and choice.get("model"):
        choice["saved"] = save_best_models(
            run, choice=choice, datasets=datasets, summary=summary, results=results, seed=first_seed
        )
    say(f"[{time.time() - t0:6.0f}s] done: {out}")
    return {"summary": summary, "results": results, "honesty": honesty, "choice": choice}


# ---------------------------------------------------------------- one split x seed


def _run_split(
    run, datasets, presence, parts, split, seed, models, train_recipe, first_seed
) -> None:
    cells = list(datasets)
    chrom = split == "chromosome"
    t0 = time.time()

    def step(what: str) -> None:
        run.log(f"    {split} seed {seed}: {what} done ({time.time() - t0:.0f}s)")

    for kind in PER_CELL:
        if kind not in models:
            continue
        for c in cells:
            model, info = fit_tuned(
                [datasets[c]], [parts[c]], seed=seed, feature_set=FEATURE_SETS[kind]
            )
            run.models[(kind, c, seed, split)] = model
            _record_validation(run, kind, [c], split, seed, info)
            targets = cells if chrom else [c]
            _score(run, model, kind, [c], datasets, parts, targets, split, seed)
        step(kind)
    if "distance-only" in models:
        for c in cells:
            model, info = fit_tuned(
                [datasets[c]], [parts[c]], seed=seed, feature_set="distance", tune=False
            )
            _score(run, model, "distance-only", [c], datasets, parts, [c], split, seed)
        step("distance-only")
    if chrom and "boosted-pooled" in models:
        model, info = fit_tuned([datasets[c] for c in cells], [parts[c] for c in cells], seed=seed)
        run.keep("boosted-pooled", model, cells, seed, split)
        _record_validation(run, "boosted-pooled", cells, split, seed, info)
        _score(run, model, "boosted-pooled", cells, datasets, parts, cells, split, seed)
        step("boosted-pooled")
        if len(cells) > 1 and seed == first_seed:  # leave-one-cell-out: first seed only (CPU)
            for c in cells:
                others = [o for o in cells if o != c]
                loco, _ = fit_tuned(
                    [datasets[o] for o in others], [parts[o] for o in others], seed=seed
                )
                _score(run, loco, "boosted-pooled", others, datasets, parts, [c], split, seed)
            step("boosted-pooled leave-one-cell-out")
    if chrom and "context-pooled" in models:
        for group in design_groups(cells):
            model, info = fit_tuned(
                [datasets[c] for c in group],
                [parts[c] for c in group],
                seed=seed,
                feature_set="context",
            )
            run.keep("context-pooled", model, group, seed, split)
            _record_validation(run, "context-pooled", group, split, seed, info)
            _score(run, model, "context-pooled", group, datasets, parts, group, split, seed)
        step("context-pooled")
    if chrom and set(CONTEXT_ENSEMBLES) & set(models):
        _context_ensembles(run, datasets, parts, split, seed, models)
        step("context ensembles")
    if chrom and "logistic-pooled" in models:
        model, info = fit_tuned(
            [datasets[c] for c in cells], [parts[c] for c in cells], seed=seed, scorer="linear"
        )
        run.keep("logistic-pooled", model, cells, seed, split)
        _record_validation(run, "logistic-pooled", cells, split, seed, info)
        _score(run, model, "logistic-pooled", cells, datasets, parts, cells, split, seed)
        step("logistic-pooled")
    if chrom and "genes-only" in models and presence and seed == first_seed:  # CPU: one seed
        for c in cells:
            model, info = fit_tuned([presence[c]], [parts[c]], seed=seed, feature_set="context")
            _record_validation(run, "genes-only", [c], split, seed, info)
            _score(run, model, "genes-only", [c], presence, parts, [c], split, seed)
        step("genes-only")
    if "ai4loop-recipe" in models:
        for c in cells:
            model, note = recipe_model(datasets[c], split=split, seed=seed, train=train_recipe)
            if model is None:
                run.rows.append(_row("ai4loop-recipe", [c], c, split, seed, "test", note=note))
                continue
            run.models[("ai4loop-recipe", c, seed, split)] = model
            targets = cells if chrom else [c]
            _score(run, model, "ai4loop-recipe", [c], datasets, parts, targets, split, seed, note)
        step("ai4loop-recipe")
    if "ensemble" in models:
        _score_ensembles(run, datasets, parts, split, seed)
        step("ensemble")
    if "upstream" in models and (not chrom or seed == first_seed):
        _score_upstream(run, datasets, parts, split, seed)
        step("upstream")


def _context_ensembles(run, datasets, parts, split, seed, models) -> None:
    """Context trees + a context network on the same training rows, probabilities averaged.

    ``context-ensemble`` per cell line (with ``boosted-context``), ``context-pooled-ensemble`` per
    group of :func:`design_groups` (with ``context-pooled``). The trees of this seed are reused
    when their kind ran too; the network's settings are fixed (:mod:`ai4loop_core.context_net`).
    """
    from ai4loop_core.context_net import ContextNetModel, context_net_card, fit_context_net
    from ai4loop_core.ensemble import EnsembleModel
    from ai4loop_core.evaluate import metrics, score_dataset

    cells = list(datasets)
    fits = [("context-ensemble", [c]) for c in cells] if "context-ensemble" in models else []
    if "context-pooled-ensemble" in models:
        fits += [("context-pooled-ensemble", group) for group in design_groups(cells)]
    for kind, group in fits:
        data, rows = [datasets[c] for c in group], [parts[c] for c in group]
        trees = run.models.get((CONTEXT_ENSEMBLES[kind], group[0], seed, split))
        if trees is None:
            trees, _ = fit_tuned(data, rows, seed=seed, feature_set="context")
        net = fit_context_net(
            np.concatenate([d.context[p["train"]] for d, p in zip(data, rows, strict=True)]),
            np.concatenate([d.labels[p["train"]] for d, p in zip(data, rows, strict=True)]),
            seed=seed,
        )
        model = EnsembleModel([trees, ContextNetModel(net, card=context_net_card())], name=kind)
        validation = {}
        for d, p in zip(data, rows, strict=True):
            val = d.take(p["validation"])
            validation[d.name] = metrics(val.labels, score_dataset(model, val))
        run.keep(kind, model, group, seed, split)
        info = {"setting": "trees chosen on validation + fixed network", "validation": validation}
        _record_validation(run, kind, group, split, seed, info)
        targets = cells if kind == "context-ensemble" else group  # as for the kinds' trees
        _score(run, model, kind, group, datasets, parts, targets, split, seed)


def design_groups(cells: Sequence[str]) -> list[list[str]]:
    """The cell lines of a run grouped by how their negatives were drawn, in run order."""
    from ai4loop_core.datasets import negative_design

    groups: dict[str, list[str]] = {}
    for c in cells:
        groups.setdefault(negative_design(c), []).append(c)
    return list(groups.values())


def _score_ensembles(run, datasets, parts, split, seed) -> None:
    """Recipe + boosted-context of each cell line, averaged; needs both kinds in the same run.

    Test rows only, never a ``best:<CELL>`` candidate: the recipe's own validation rows are a
    random part of the training chromosomes, so it has trained on the validation chromosomes
    that the choice of best model reads.
    """
    from ai4loop_core.ensemble import EnsembleModel

    cells = list(datasets)
    for c in cells:
        members = [run.models.get((kind, c, seed, split)) for kind in ENSEMBLE_MEMBERS]
        if any(m is None for m in members):
            note = f"missing: needs {' and '.join(ENSEMBLE_MEMBERS)} models for this seed"
            run.rows.append(_row("ensemble", [c], c, split, seed, "test", note=note))
            continue
        targets = cells if split == "chromosome" else [c]
        model = EnsembleModel(members, name=f"ensemble:{c}")
        _score(run, model, "ensemble", [c], datasets, parts, targets, split, seed)


def _score_upstream(run, datasets, parts, split, seed) -> None:
    """Published models (fixed weights), flagged as leaky: they were trained on these sets."""
    from ai4loop_core.model import UPSTREAM_CELLS, load_model

    chrom = split == "chromosome"
    for c in datasets:
        if c not in UPSTREAM_CELLS:
            continue
        model = load_model(f"upstream:{c}")
        targets = list(datasets) if chrom else [c]
        note = "published model trained on a random split of these pair sets: test rows seen"
        _score(run, model, "upstream", [c], datasets, parts, targets, split, seed, note, leak=True)


def _record_validation(run, name, cells, split, seed, info) -> None:
    for c, m in info["validation"].items():
        run.rows.append(
            _row(name, cells, c, split, seed, "validation", metrics_=m, note=info["setting"])
        )


def _score(
    run, model, name, train_cells, datasets, parts, targets, split, seed, note="", leak=False
) -> None:
    from ai4loop_core.evaluate import metrics, score_dataset

    for c in targets:
        test = datasets[c].take(parts[c]["test"])
        prob = score_dataset(model, test)
        cross = c not in train_cells
        run.rows.append(
            _row(name, train_cells, c, split, seed, "test", metrics(test.labels, prob), note, leak)
        )
        if not cross:
            run.curves.append(
                _curve_points(test.labels, prob, name, "+".join(train_cells), c, split, seed)
            )


def _row(
    model, train_cells, test_cell, split, seed, part, metrics_=None, note="", leak=False
) -> dict[str, Any]:
    m = metrics_ or {}
    return {
        "model": model,
        "train_cells": "+".join(train_cells),
        "test_cell": test_cell,
        "cross_cell": test_cell not in train_cells,
        "split": split,
        "seed": seed,
        "part": part,
        "auroc": m.get("auroc", np.nan),
        "auprc": m.get("auprc", np.nan),
        "n": m.get("n", 0),
        "prevalence": m.get("prevalence", np.nan),
        "leakage": bool(leak),
        "note": note,
    }


# ---------------------------------------------------------------- fitting with tuning


def fit_tuned(
    train_sets: list[Dataset],
    parts: list[dict[str, np.ndarray]],
    *,
    seed: int,
    scorer: str = "trees",
    feature_set: str = "full",
    tune: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Fit on the training rows; choose the setting on the validation rows.

    Trees: one fit of :data:`MAX_TREES` trees, cut at the number of trees (a multiple of
    :data:`TREE_STEP`) with the highest mean validation AUPRC over the given cell lines. Linear:
    ``C`` from :data:`LINEAR_C`. Validation rows are never fitted on. Returns the model and
    ``{"setting", "validation": {cell: metrics at the chosen setting}}``.
    """
    from ai4loop_core.boosted import fit_boosted
    from ai4loop_core.evaluate import metrics, score_dataset

    rows = [p["train"] for p in parts]
    fit_data = {
        a: np.concatenate([getattr(d, a)[i] for d, i in zip(train_sets, rows, strict=True)])
        for a in ("left", "right", "distance", "labels", "context")
    }
    if not tune:
        model, _ = fit_boosted(
            **fit_data, scorer=scorer, feature_set=feature_set, seed=seed, params={"max_iter": 100}
        )
        return model, {"setting": "100 trees (not tuned)", "validation": {}}
    val = [d.take(p["validation"]) for d, p in zip(train_sets, parts, strict=True)]
    if scorer == "trees":
        model, est = fit_boosted(
            **fit_data, feature_set=feature_set, seed=seed, params={"max_iter": MAX_TREES}
        )
        full = model.scorer
        candidates = list(range(TREE_STEP, full.n_trees + 1, TREE_STEP)) or [full.n_trees]
        table = {}
        for k in candidates:
            model.scorer = full.truncate(k)
            table[k] = [metrics(v.labels, score_dataset(model, v)) for v in val]
        best = max(candidates, key=lambda k: np.mean([m["auprc"] for m in table[k]]))
        model.scorer = full.truncate(best)
        setting = f"{best} trees (chosen on validation)"
    else:
        models, table = {}, {}
        for c_value in LINEAR_C:
            models[c_value], _ = fit_boosted(
                **fit_data, scorer="linear", feature_set=feature_set, params={"C": c_value}
            )
            table[c_value] = [metrics(v.labels, score_dataset(models[c_value], v)) for v in val]
        best = max(LINEAR_C, key=lambda k: np.mean([m["auprc"] for m in table[k]]))
        model, setting = models[best], f"C={best} (chosen on validation)"
    chosen = {d.name: m for d, m in zip(train_sets, table[best], strict=True)}
    return model, {"setting": setting, "validation": chosen}


# ---------------------------------------------------------------- the Keras recipe


def recipe_model(data: Dataset, *, split: str, seed: int, train: bool) -> tuple[Any, str]:
    """The AI4Loop recipe model of ``data`` for ``split`` and ``seed``.

    ``models/<CELL>.keras`` is used when its card says the same dataset, split and seed (the
    recipe's own validation rows are a random 10 % of the training chromosomes, as in
    ``ai4loop train``); with ``train`` a missing one is trained into
    ``models/recipe/<CELL>.<split>.<seed>.keras``. Returns ``(model or None, note)``.
    """
    from ai4loop_core.model import MODELS_DIR, load_model, read_card

    candidates = [
        MODELS_DIR / f"{data.name}.keras",
        MODELS_DIR / "recipe" / f"{data.name}.{split}.{seed}.keras",
    ]
    for path in candidates:
        card = read_card(path) if path.exists() else {}
        if (
            card.get("dataset") == data.name
            and card.get("split") == split
            and card.get("seed") == seed
        ):
            return load_model(str(path)), f"{path.name}, epochs run {_epochs(card)}"
    if not train:
        return None, f"missing: no recipe model for split {split}, seed {seed} (train_recipe)"
    from ai4loop_core.train import train_model

    out = candidates[1]
    train_model(
        pairs=data.pair_source,
        expression=data.expression_source,
        sample=data.sample,
        split=split,
        seed=seed,
        out=out,
        verbose=0,
    )
    return load_model(str(out)), f"{out.name}, trained by the benchmark"


def _epochs(card: dict[str, Any]) -> Any:
    return card.get("recipe", {}).get("epochs_run", "?")


# ---------------------------------------------------------------- honesty checks


def _gene_presence(datasets: dict[str, Dataset]) -> dict[str, Dataset]:
    """The same pairs with every annotated gene at 1 TPM: what gene positions alone give."""
    from dataclasses import replace

    from ai4loop_core.datasets import featurise_pairs
    from ai4loop_core.expression import read_expression
    from ai4loop_core.pairs import read_pairs

    out = {}
    for c, d in datasets.items():
        genes = read_expression(d.expression_source, samples=[d.sample]).genes
        left, right, context = featurise_pairs(
            read_pairs(d.pair_source), genes, np.ones((len(genes), 1))
        )
        out[c] = replace(
            d,
            left=left[:, :, 0],
            right=right[:, :, 0],
            context=context[:, :, 0],
            sample="gene positions only",
        )
    return out


def _other_rna(data: Dataset) -> dict[str, Dataset]:
    """The pairs of ``data`` featurised with every other sample of its expression file."""
    from dataclasses import replace

    from ai4loop_core.datasets import featurise_pairs
    from ai4loop_core.expression import read_expression
    from ai4loop_core.pairs import read_pairs

    expr = read_expression(data.expression_source)
    left, right, context = featurise_pairs(read_pairs(data.pair_source), expr.genes, expr.values)
    return {
        s: replace(
            data, left=left[:, :, j], right=right[:, :, j], context=context[:, :, j], sample=s
        )
        for j, s in enumerate(expr.samples)
        if s != data.sample
    }


def _anchor_keys(data: Dataset, rows: np.ndarray) -> tuple[set[str], set[str], pd.Series]:
    p = data.pairs.iloc[rows]
    a1 = p["chrom1"] + ":" + p["start1"].astype(str) + "-" + p["end1"].astype(str)
    a2 = p["chrom2"] + ":" + p["start2"].astype(str) + "-" + p["end2"].astype(str)
    return set(a1), set(a2), (a1 + "|" + a2)


def overlap_report(data: Dataset, parts: dict[str, np.ndarray]) -> dict[str, Any]:
    """Test pairs that repeat a training pair, or share an anchor with one (exact coordinates)."""
    fit_rows = np.concatenate([parts["train"], parts["validation"]])
    t1, t2, tpairs = _anchor_keys(data, parts["test"])
    f1, f2, fpairs = _anchor_keys(data, fit_rows)
    fit_anchors = f1 | f2
    p = data.pairs.iloc[parts["test"]]
    a1 = p["chrom1"] + ":" + p["start1"].astype(str) + "-" + p["end1"].astype(str)
    a2 = p["chrom2"] + ":" + p["start2"].astype(str) + "-" + p["end2"].astype(str)
    shared = (a1.isin(fit_anchors) | a2.isin(fit_anchors)).to_numpy()
    return {
        "test_pairs": int(len(tpairs)),
        "test_pairs_repeating_a_training_pair": int(tpairs.isin(set(fpairs)).sum()),
        "test_pairs_sharing_an_anchor_with_training": int(shared.sum()),
        "share": round(float(shared.mean()), 4) if len(shared) else 0.0,
    }


def honesty_checks(
    datasets: dict[str, Dataset],
    results: pd.DataFrame,
    *,
    run: _Run,
    seeds: list[int],
    splits: Sequence[str],
) -> dict[str, Any]:
    """Numbers that tell a real signal from an artefact of the benchmark sets (see RESULTS.md)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from ai4loop_core.evaluate import metrics, score_dataset

    out: dict[str, Any] = {"per_cell": {}}
    for c, d in datasets.items():
        p, y = d.pairs, d.labels
        aligned = ((p["start1"] % 5000 == 0) & (p["end1"] % 5000 == 0)).to_numpy()
        width = (p["end1"] - p["start1"] + p["end2"] - p["start2"]).to_numpy()
        last_digits = (d.distance % 1000 == 0).astype(float)
        entry: dict[str, Any] = {
            "n": int(len(y)),
            "positives": int(y.sum()),
            "raw_distance_auroc": float(roc_auc_score(y, d.distance)),
            "raw_distance_auprc_best_direction": float(
                max(average_precision_score(y, d.distance), average_precision_score(y, -d.distance))
            ),
            "distance_multiple_of_1kb_rule_auprc": float(average_precision_score(y, last_digits)),
            "positives_bin_aligned_share": float(aligned[y == 1].mean()),
            "negatives_bin_aligned_share": float(aligned[y == 0].mean()),
            "narrow_anchor_rule_auroc": float(roc_auc_score(y, -width)),
            "overlap": {"chromosome": overlap_report(d, chromosome_parts(d))},
        }
        if "random" in splits:
            entry["overlap"]["random"] = overlap_report(
                d, split_indices(d, split="random", seed=seeds[0])
            )
        out["per_cell"][c] = entry
    cells = list(datasets)
    shared_pairs = {}
    keys = {c: set(_anchor_keys(d, np.arange(len(d)))[2]) for c, d in datasets.items()}
    pos_keys = {
        c: set(_anchor_keys(d, np.flatnonzero(d.labels == 1))[2]) for c, d in datasets.items()
    }
    for a in cells:
        for b in cells:
            if a < b:
                shared_pairs[f"{a}&{b}"] = {
                    "identical_pairs": len(keys[a] & keys[b]),
                    "identical_positive_pairs": len(pos_keys[a] & pos_keys[b]),
                }
    out["identical_pairs_between_cell_lines"] = shared_pairs
    other_rna = {c: _other_rna(d) for c, d in datasets.items()}
    for kind in ("boosted-pooled", "boosted-context"):
        rna = {}
        for c, d in datasets.items():
            model = run.models.get((kind, c, seeds[0], "chromosome"))
            if model is None:
                continue
            test_rows = chromosome_parts(d)["test"]
            own = metrics(d.labels[test_rows], score_dataset(model, d.take(test_rows)))["auprc"]
            other = {
                s: metrics(d.labels[test_rows], score_dataset(model, o.take(test_rows)))["auprc"]
                for s, o in other_rna[c].items()
            }
            rna[c] = {
                "own_rna_auprc": own,
                "other_rna_auprc": other,
                "other_rna_mean_auprc": float(np.mean(list(other.values()))),
            }
        if rna:
            key = f"{kind.replace('-', '_')}_with_another_cell_lines_rna"
            out[key] = {"model": kind, "seed": seeds[0], "cells": rna}
    return out


# ---------------------------------------------------------------- tables and report


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds of every model x train cells x test cell x split x part."""
    keys = ["model", "train_cells", "test_cell", "cross_cell", "split", "part", "leakage"]
    ok = results.dropna(subset=["auprc"])
    if ok.empty:
        return pd.DataFrame(columns=[*keys, "auroc_mean", "auroc_sd", "auprc_mean", "auprc_sd"])
    g = ok.groupby(keys, sort=False)
    summary = g.agg(
        auroc_mean=("auroc", "mean"),
        auroc_sd=("auroc", "std"),
        auprc_mean=("auprc", "mean"),
        auprc_sd=("auprc", "std"),
        n_seeds=("seed", "nunique"),
        n=("n", "first"),
    ).reset_index()
    return summary


def _cell_mean(results: pd.DataFrame, model: str, split: str, part: str, cells) -> dict:
    """Per-seed mean over cell lines (own-cell rows), then mean and sd over seeds."""
    r = results[
        (results.model == model)
        & (results.split == split)
        & (results.part == part)
        & ~results.cross_cell
        & results.test_cell.isin(cells)
    ].dropna(subset=["auprc"])
    if r.empty or r.groupby("seed").test_cell.nunique().min() < len(cells):
        return {}
    per_seed = r.groupby("seed")[["auroc", "auprc"]].mean()
    return {
        "auroc_mean": per_seed.auroc.mean(),
        "auroc_sd": per_seed.auroc.std(),
        "auprc_mean": per_seed.auprc.mean(),
        "auprc_sd": per_seed.auprc.std(),
        "n_seeds": len(per_seed),
    }


def choose_best(summary: pd.DataFrame, cells: Sequence[str]) -> dict[str, Any]:
    """For each cell line, the deployable kind with the highest validation AUPRC (chromosome
    split, mean over seeds); also each kind's mean over the cell lines.

    Validation chromosomes only: the test chromosomes play no part in the choice. Per cell line,
    because the sets differ in how their negatives were drawn (a pooled model can win on one
    design and lose on another).
    """
    s = summary[
        (summary.split == "chromosome")
        & (summary.part == "validation")
        & ~summary.cross_cell
        & summary.test_cell.isin(cells)
        & summary.model.isin(DEPLOYABLE)
    ]
    per_cell: dict[str, dict[str, float]] = {c: {} for c in cells}
    for r in s.itertuples():
        per_cell[r.test_cell][r.model] = float(r.auprc_mean)
    means = {
        m: float(np.mean([per_cell[c][m] for c in cells]))
        for m in DEPLOYABLE
        if all(m in per_cell[c] for c in cells)
    }
    if not means:
        return {}
    return {
        "model": max(means, key=means.get),
        "validation_mean_auprc": means,
        "per_cell": {c: max(v, key=v.get) for c, v in per_cell.items() if v},
        "per_cell_validation_auprc": per_cell,
        "rule": "per cell line, the highest validation AUPRC (mean over seeds)",
    }


def _fmt(mean: float, sd: float, n: int) -> str:
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.3f}" if n < 2 or not np.isfinite(sd) else f"{mean:.3f} ± {sd:.3f}"


def _main_table(summary, results, split, part, cells, models) -> list[str]:
    s = summary[(summary.split == split) & (summary.part == part) & ~summary.cross_cell]
    head = "| model | seeds | " + " | ".join(cells) + " | mean |"
    lines = [head, "|" + "---|" * (len(cells) + 3)]
    for model in models:
        r = s[s.model == model].set_index("test_cell")
        if r.empty:
            continue
        cols = []
        for c in cells:
            if c in r.index:
                x = r.loc[c]
                cols.append(
                    f"{_fmt(x.auroc_mean, x.auroc_sd, x.n_seeds)} / "
                    f"{_fmt(x.auprc_mean, x.auprc_sd, x.n_seeds)}"
                )
            else:
                cols.append("–")
        m = _cell_mean(results, model, split, part, cells)
        mean = (
            f"{_fmt(m['auroc_mean'], m['auroc_sd'], m['n_seeds'])} / "
            f"{_fmt(m['auprc_mean'], m['auprc_sd'], m['n_seeds'])}"
            if m
            else "–"
        )
        n_seeds = int(r.n_seeds.max())
        flag = " ⚠ leaky" if r.leakage.any() else ""
        lines.append(f"| {model}{flag} | {n_seeds} | " + " | ".join(cols) + f" | {mean} |")
    return lines


def _cross_table(summary, model, cells) -> tuple[list[str], float, float]:
    """The cross-cell AUPRC matrix of ``model`` as markdown lines, with two off-diagonal means:
    over every cell line, and over the four upstream sets (the published range's footing)."""
    s = summary[
        (summary.split == "chromosome") & (summary.part == "test") & (summary.model == model)
    ]
    single = s[~s.train_cells.str.contains(r"\+", regex=True)]
    lines = ["| train \\ test | " + " | ".join(cells) + " |", "|" + "---|" * (len(cells) + 1)]
    off, off_upstream = [], []
    for a in cells:
        row = []
        for b in cells:
            x = single[(single.train_cells == a) & (single.test_cell == b)]
            if x.empty:
                row.append("–")
                continue
            v = float(x.auprc_mean.iloc[0])
            row.append(f"**{v:.3f}**" if a == b else f"{v:.3f}")
            if a != b:
                off.append(v)
                if a in UPSTREAM_SETS and b in UPSTREAM_SETS:
                    off_upstream.append(v)
        lines.append(f"| {a} | " + " | ".join(row) + " |")
    mean = float(np.mean(off)) if off else float("nan")
    return lines, mean, float(np.mean(off_upstream)) if off_upstream else float("nan")


def render_report(summary, *, results, honesty, choice, meta) -> str:
    """``RESULTS.md``: the benchmark tables, the cross-cell matrices, the honesty checks."""
    cells = meta["cells"]
    models = [m for m in MODELS if m in meta["models"]]
    out = [
        "# Benchmark: AI4Loop benchmark sets, every model x cell line x split",
        "",
        f"Written by `{meta['command']}` ({meta['seconds']} s). Cells: {', '.join(cells)}. "
        f"Seeds: {', '.join(map(str, meta['seeds']))}. Test chromosomes "
        f"{', '.join(meta['test_chromosomes'])} (never used for a choice); validation chromosomes "
        f"{', '.join(meta['validation_chromosomes'])} (all tuning and the choice of best model).",
        "",
        "Each cell: AUROC / AUPRC, mean ± sd over the seeds that ran (the *seeds* column). "
        "*mean*: mean over cell lines per seed, then mean ± sd over seeds.",
        "",
    ]
    for split in meta["splits"]:
        out += [f"## {split.capitalize()} split, test", ""]
        out += _main_table(summary, results, split, "test", cells, models) + [""]
    if "chromosome" in meta["splits"]:
        out += ["## Chromosome split, validation chromosomes (used for the choice)", ""]
        out += _main_table(summary, results, "chromosome", "validation", cells, models) + [""]
        out += [
            "## Cross-cell (train on one cell line's training chromosomes, test on another's "
            "test chromosomes), AUPRC mean over seeds",
            "",
        ]
        for model in (
            "context-ensemble",
            "boosted-context",
            "boosted",
            "ai4loop-recipe",
            "ensemble",
            "upstream",
        ):
            if model in models:
                lines, mean, mean4 = _cross_table(summary, model, cells)
                title = f"### {model}: off-diagonal mean AUPRC {mean:.3f}"
                if not np.isnan(mean4) and mean4 != mean:
                    title += f" (among K562, GM12878, HeLaS3, IMR90: {mean4:.3f})"
                out += [title, "", *lines, ""]
        s = summary[
            (summary.model == "boosted-pooled")
            & summary.cross_cell
            & (summary.split == "chromosome")
        ]
        if len(s):
            vals = " · ".join(f"{r.test_cell} {r.auprc_mean:.3f}" for r in s.itertuples())
            out += [
                f"### boosted-pooled, leave-one-cell-out: mean AUPRC {s.auprc_mean.mean():.3f}",
                "",
                f"Trained on the other cell lines only: {vals}.",
                "",
            ]
    out += ["## Honesty checks", ""]
    out += [
        "| cell | raw distance AUROC | distance%1kb rule AUPRC | bin-aligned +/− | "
        "narrow-anchor AUROC | overlap chromosome | overlap random |",
        "|---|---|---|---|---|---|---|",
    ]
    for c, e in honesty["per_cell"].items():
        cols = [
            f"{e['raw_distance_auroc']:.3f}",
            f"{e['distance_multiple_of_1kb_rule_auprc']:.3f}",
            f"{e['positives_bin_aligned_share']:.2f} / {e['negatives_bin_aligned_share']:.3f}",
            f"{e['narrow_anchor_rule_auroc']:.3f}",
        ]
        for split in ("chromosome", "random"):
            ov = e["overlap"].get(split)
            cols.append(
                f"{ov['test_pairs_sharing_an_anchor_with_training']} of {ov['test_pairs']}"
                if ov
                else "–"
            )
        out.append(f"| {c} | " + " | ".join(cols) + " |")
    out += [
        "",
        "- *raw distance*: the negatives are distance-matched, so distance alone ranks at chance.",
        "- *distance%1kb rule*: score 1 when the midpoint distance is a whole number of kb."
        " Positives are Hi-C bins (coordinates on a 5-10 kb grid), negatives almost never are, so"
        " raw coordinates leak the label. The boosted models do not see the distance at all, and"
        " anchor windows of fixed size centred on the midpoint, never the anchor width.",
        "- *narrow-anchor*: ranking pairs by how narrow their anchors are (not a model input).",
        "- *overlap*: test pairs sharing an anchor (exact coordinates) with a training pair of the"
        " same cell line. The chromosome split has none by construction.",
    ]
    for key in (
        "boosted_pooled_with_another_cell_lines_rna",
        "boosted_context_with_another_cell_lines_rna",
    ):
        rna = honesty.get(key)
        if not rna:
            continue
        out += [
            "",
            "Same {} model (seed {}) on each cell line's test pairs, with its "
            "own RNA vs another cell line's RNA (test AUPRC):".format(
                rna.get("model", "boosted-pooled"), rna["seed"]
            ),
            "",
            "| cell | own RNA | other RNA (mean) | per other sample |",
            "|---|---|---|---|",
        ]
        for c, e in rna["cells"].items():
            per = ", ".join(f"{s} {v:.3f}" for s, v in e["other_rna_auprc"].items())
            out.append(
                f"| {c} | {e['own_rna_auprc']:.3f} | {e['other_rna_mean_auprc']:.3f} | {per} |"
            )
    shared = honesty.get("identical_pairs_between_cell_lines", {})
    if shared:
        out += [
            "",
            "Identical pairs between cell lines' sets (all / positive): "
            + ", ".join(
                f"{k} {v['identical_pairs']}/{v['identical_positive_pairs']}"
                for k, v in shared.items()
            )
            + ".",
        ]
    if choice:
        kinds = list(choice["validation_mean_auprc"])
        out += [
            "",
            "## Choice of best model (`best:<CELL>`)",
            "",
            f"{choice['rule'][:1].upper()}{choice['rule'][1:]} on the validation chromosomes; the "
            "test chromosomes play no part. Validation AUPRC of each deployable kind:",
            "",
            "| cell | chosen | " + " | ".join(kinds) + " |",
            "|---|---|" + "---|" * len(kinds),
        ]
        for c, scores in choice["per_cell_validation_auprc"].items():
            cols = [f"{scores[k]:.3f}" if k in scores else "–" for k in kinds]
            out.append(f"| {c} | `{choice['per_cell'].get(c, '–')}` | " + " | ".join(cols) + " |")
        means = " · ".join(f"{k} {v:.3f}" for k, v in choice["validation_mean_auprc"].items())
        out += ["", f"Mean over cell lines: {means}."]
    return "\n".join(out) + "\n"


def _curve_points(y, prob, model, train_cells, test_cell, split, seed) -> pd.DataFrame:
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(y, prob)
    precision, recall, _ = precision_recall_curve(y, prob)
    frames = []
    for curve, x, v in (("roc", fpr, tpr), ("pr", recall, precision)):
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "train_cells": train_cells,
                    "test_cell": test_cell,
                    "split": split,
                    "seed": seed,
                    "curve": curve,
                    "x": x,
                    "y": v,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _plot_curves(curves: pd.DataFrame, split: str, path: Path, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = curves[(curves.split == split) & (curves.seed == seed)]
    if c.empty:
        return
    cells = list(dict.fromkeys(c.test_cell))
    fig, axes = plt.subplots(2, len(cells), figsize=(3.6 * len(cells), 7), squeeze=False)
    for j, cell in enumerate(cells):
        for (model, _), g in c[c.test_cell == cell].groupby(["model", "train_cells"], sort=False):
            for i, curve in enumerate(("roc", "pr")):
                pts = g[g.curve == curve]
                axes[i, j].plot(pts.x, pts.y, lw=1, label=model)
        axes[0, j].set(title=f"{cell} ROC", xlabel="FPR", ylabel="TPR")
        axes[1, j].set(title=f"{cell} PR", xlabel="recall", ylabel="precision")
    axes[1, 0].legend(fontsize=7)
    fig.suptitle(f"{split} split, test part, seed {seed}")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")


def _command() -> str:
    if Path(sys.argv[0]).name == "ai4loop":
        return "ai4loop " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return "run_benchmark(...)"


# ---------------------------------------------------------------- best models


def _context_card(model: Any, data: Dataset) -> dict[str, Any]:
    """What a context model's card records: the context version and how many genes it counted."""
    if not getattr(model, "uses_context", False):
        return {}
    from ai4loop_core.context import CONTEXT_VERSION

    return {
        "context": CONTEXT_VERSION,
        "context_genes": _gene_count(data.expression_source),
    }


@functools.lru_cache(maxsize=8)
def _gene_count(expression_source: str) -> int:
    """Genes an expression file places (read once per file: the cards of a run share it)."""
    from ai4loop_core.expression import read_expression

    return len(read_expression(expression_source).genes)


def _save_ensemble(model: Any, files: list[str], *, card: dict[str, Any]) -> None:
    """Write a context ensemble's trees and network to ``models/best/`` as ``files``
    (``<base>.boosted.json``, ``<base>.net.keras``), each with a card of no cell line."""
    from ai4loop_core.boosted import save_boosted
    from ai4loop_core.context_net import context_net_card
    from ai4loop_core.model import MODELS_DIR, save_model

    trees, net = model.members
    tree_file, net_file = files
    base = tree_file.removesuffix(".boosted.json")
    shared = {**card, "name": base, "cell_line": None, "metrics": {}, "metrics_over_seeds": {}}
    save_boosted(trees, MODELS_DIR / "best" / tree_file, card=shared)
    net_card = {**shared, **context_net_card(), "file_format": "Keras 3 (.keras), any backend"}
    save_model(net.network, MODELS_DIR / "best" / net_file, card=net_card)


def save_best_models(run, *, choice, datasets, summary, results, seed) -> list[str]:
    """Write each cell line's chosen seed-``seed`` chromosome-split model to ``models/best/``.

    A per-cell model goes to ``<CELL>.boosted.json``; a pooled one is written once
    (``<kind>-<cells>.boosted.json``) and each cell line's card names it. A context ensemble's
    two members are written as ``<kind>-<cells>.boosted.json`` and ``.net.keras``, and the cell
    line's card is an ensemble card naming both (:mod:`ai4loop_core.ensemble`).
    """
    from ai4loop_core.boosted import save_boosted, write_card
    from ai4loop_core.model import MODELS_DIR

    best_dir = MODELS_DIR / "best"
    written: list[str] = []
    for c in datasets:
        kind = choice["per_cell"][c]
        trained_on = run.pools.get((kind, c), [c])
        pooled = trained_on != [c]
        model = run.models[(kind, c, seed, "chromosome")]
        mine = results[
            (results.model == kind)
            & (results.split == "chromosome")
            & (results.test_cell == c)
            & (results.train_cells == "+".join(trained_on))
        ]
        at_seed = mine[mine.seed == seed].set_index("part")[["auroc", "auprc", "n"]]
        over = mine.groupby("part")[["auroc", "auprc"]].agg(["mean", "std"])
        scores = choice["per_cell_validation_auprc"][c]
        card = {
            "name": f"best:{c}",
            "source": f"trained here: {kind} ({MODELS[kind]})",
            "dataset": "pooled" if pooled else c,
            "trained_on": trained_on,
            "cell_line": c,
            "split": "chromosome",
            "seed": seed,
            "test_chromosomes": list(TEST_CHROMOSOMES),
            "validation_chromosomes": list(VALIDATION_CHROMOSOMES),
            "fit_rows": "training chromosomes of every cell line in trained_on",
            "metrics": {p: {k: float(v) for k, v in r.items()} for p, r in at_seed.iterrows()},
            "metrics_over_seeds": {
                p: {
                    f"{m}_{s}": float(over.loc[p, (m, s)])
                    for m in ("auroc", "auprc")
                    for s in ("mean", "std")
                }
                for p in over.index
            },
            "selection": f"{choice['rule']}, validation chromosomes, {c}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in sorted(scores.items(), key=lambda kv: -kv[1])),
            "input_scale": "tpm",
            **_context_card(model, datasets[c]),
            "file_format": "JSON trees (ai4loop_core.boosted), no pickle",
            "command": _command(),
        }
        if kind in CONTEXT_ENSEMBLES:
            base = f"{kind}-{'+'.join(trained_on)}"
            members = [f"{base}.boosted.json", f"{base}.net.keras"]
            if members[0] not in written:  # a pooled ensemble is written once
                _save_ensemble(model, members, card=card)
                written += members
            (best_dir / f"{c}.boosted.json").unlink(missing_ok=True)  # a past run's trees
            ensemble_card = {**card, "kind": "ensemble", "members": members}
            ensemble_card["file_format"] = "ensemble card naming its two member files"
            write_card(best_dir / f"{c}.card.json", ensemble_card)
            written.append(f"{c}.card.json")
            continue
        if not pooled:
            save_boosted(model, best_dir / f"{c}.boosted.json", card=card)
            written.append(f"{c}.boosted.json")
            continue
        shared_name = f"{kind}-{'+'.join(trained_on)}.boosted.json"
        if shared_name not in written:
            shared = {**card, "name": f"best:{kind}", "cell_line": None, "metrics": {}}
            save_boosted(model, best_dir / shared_name, card=shared)
            written.append(shared_name)
        (best_dir / f"{c}.boosted.json").unlink(missing_ok=True)  # a per-cell model of a past run
        write_card(
            best_dir / f"{c}.card.json",
            {**card, "kind": "boosted", "model_file": shared_name},
        )
        written.append(f"{c}.card.json")
    return written
