"""``ai4loop atlas build``: score a GGI catalog in every sample of some cohorts, write the atlas.

How it runs
    Cohorts are read and checked, the catalog and the model loaded, all before anything is
    written. Samples of all cohorts are sorted by ``sample_id`` and cut into shards of
    ``chunk_samples``; a shard is scored anchor-factorised (each distinct anchor featurised and
    encoded once per sample, identical feature vectors once, pairs scored by the small head) and
    written to ``scores/part-NNNNN.parquet`` atomically (temporary file + rename). Shards run in
    this process (``workers=0``), on a Dask ``LocalCluster`` of ``workers`` processes, or on an
    existing Dask cluster (``scheduler``: its workers need this package installed). When every
    shard exists the summary tables are computed from the stored scores and written, then
    ``manifest.json`` last: a directory with a manifest is a complete atlas.

Resuming
    Each shard carries, in its Parquet metadata, the hashes of the model weights, the catalog, the
    expression it was computed from and the shard layout. A rerun keeps every shard whose key
    matches and computes the rest, so a build killed at any point (even by SIGKILL) and run again
    gives the same bytes in every table. Temporary files of a killed run are removed; shards of
    another layout are deleted once the new ones exist.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ai4loop_core.atomic import atomic_path
from ai4loop_core.errors import BadInputError
from atlas import tables
from atlas.catalog import Catalog, build_catalog, expressed_genes
from atlas.cohorts import Cohort, load_cohort

__all__ = ["build_atlas", "score_block", "SHARD_FORMAT"]

log = logging.getLogger(__name__)
SHARD_FORMAT = "ai4loop-atlas-shard-v2"
FEATURE_ROWS = 200_000  # anchor-sample rows featurised at once (155 float64 each: 250 MB)
_CACHE: dict[str, object] = {}  # per process (main or Dask worker): models and operators


@dataclass(frozen=True)
class _Block:
    """The samples of one cohort inside a shard."""

    cohort: int
    columns: np.ndarray  # columns of the cohort's expression
    positions: np.ndarray  # columns of the shard


@dataclass(frozen=True)
class _Shard:
    index: int
    path: Path
    sample_ids: list[str]
    blocks: list[_Block]
    key: dict


# ---------------------------------------------------------------------------------------------
# Scoring (runs where the work runs: here or in a Dask worker)


def _model(name: str):
    key = f"model:{name}"
    if key not in _CACHE:
        from ai4loop_core.model import load_model

        _CACHE[key] = load_model(name)
    return _CACHE[key]


def _operator(kind: str, key: str, build: Callable[[], object]):
    """The ``kind`` operator (``bins``, ``context``) under ``key``, built once per process."""
    key = f"operator:{kind}:{key}"
    if key not in _CACHE:
        for old in [k for k in _CACHE if k.startswith(f"operator:{kind}:")][:-3]:
            del _CACHE[old]  # keep a few cohorts' operators, not all
        _CACHE[key] = build()
    return _CACHE[key]


def score_block(
    model,
    *,
    anchors: pd.DataFrame,
    left: np.ndarray,
    right: np.ndarray,
    genes: pd.DataFrame,
    values: np.ndarray,
    operator=None,
    context=None,
) -> np.ndarray:
    """Scores ``(n_pairs, n_samples)`` (float32) of one block of samples, anchor-factorised.

    Like :func:`ai4loop_core.predict.predict_scores` for one block, with the featurisation
    bounded too (:data:`FEATURE_ROWS` anchor-sample rows at a time; pairs are scored in batches
    by :func:`ai4loop_core.predict.score_pairs`), so that catalogs of millions of pairs fit in
    memory.
    """
    from ai4loop_core.features import build_operator
    from ai4loop_core.pairs import pair_distance
    from ai4loop_core.predict import context_operator, encode_features, score_pairs

    op = operator or build_operator(anchors, genes)
    n_s = values.shape[1]
    codes = None
    step = max(1, FEATURE_ROWS // max(op.n_anchors, 1))  # bound the float64 feature block
    for lo in range(0, n_s, step):
        feats = op.apply(values[:, lo : lo + step])
        k = feats.shape[2]
        flat = feats.transpose(2, 0, 1).reshape(k * op.n_anchors, op.n_features)
        del feats
        part = encode_features(model, flat).reshape(k, op.n_anchors, -1)
        if codes is None:
            codes = np.empty((n_s, op.n_anchors, part.shape[2]), dtype=np.float32)
        codes[lo : lo + k] = part
    return score_pairs(
        model,
        codes,
        left=left,
        right=right,
        distance=pair_distance(anchors, left, right),
        context=context
        or context_operator(
            model, anchors=anchors, left=left, right=right, genes=genes, operator=op
        ),
        values=values,
    )


def _score_shard(
    model_name: str,
    anchors: pd.DataFrame,
    left: np.ndarray,
    right: np.ndarray,
    blocks: list[tuple[str, pd.DataFrame, np.ndarray, np.ndarray]],
    n_samples: int,
) -> np.ndarray:
    """Stored (uint16) scores ``(n_ggis, n_samples)`` of one shard; ``blocks`` hold
    (operator key, cohort genes, values of the block, shard positions)."""
    model = _model(model_name)
    out = np.empty((len(left), n_samples), dtype=np.uint16)
    from ai4loop_core.context import build_context
    from ai4loop_core.features import build_operator

    for op_key, genes, values, positions in blocks:
        op = _operator("bins", op_key, partial(build_operator, anchors, genes))
        context = None
        if getattr(model, "uses_context", False):
            context = _operator(
                "context",
                op_key,
                partial(build_context, anchors, genes, left=left, right=right, operator=op),
            )
        scores = score_block(
            model, anchors=anchors, left=left, right=right, genes=genes, values=values,
            operator=op, context=context,
        )  # fmt: skip
        out[:, positions] = tables.quantise(scores)
    return out


def _limit_threads() -> None:
    """In a Dask worker: one thread per task, so N workers use N cores."""
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except (ImportError, RuntimeError):
        pass


# ---------------------------------------------------------------------------------------------
# Planning


def _hash(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()


def _model_hash(model) -> str:
    net = getattr(model, "network", None)
    if net is None:
        return _hash(str(getattr(model, "name", model)))
    return _hash(*[np.ascontiguousarray(w, dtype=np.float32).tobytes() for w in net.get_weights()])


def _genes_hash(genes: pd.DataFrame) -> str:
    return _hash(
        "\n".join(genes["chrom"].astype(str)),
        genes["start"].to_numpy(np.int64).tobytes(),
        genes["end"].to_numpy(np.int64).tobytes(),
    )


def _plan(
    cohorts: list[Cohort], out: Path, chunk_samples: int, base_key: dict
) -> tuple[pd.DataFrame, list[_Shard]]:
    frames = []
    for ci, cohort in enumerate(cohorts):
        frame = cohort.samples.copy()
        frame["_cohort"] = ci
        frame["_column"] = np.arange(len(frame))
        frames.append(frame)
    samples = pd.concat(frames, ignore_index=True)
    dup = samples["sample_id"].duplicated(keep=False)
    if dup.any():
        shown = samples.loc[dup, ["sample_id", "cohort"]].head(6).to_string(index=False)
        raise BadInputError(
            f"sample ids appear in more than one cohort (or twice in one); every sample id of an "
            f"atlas must be unique. Rename or drop them:\n{shown}"
        )
    order = np.argsort(samples["sample_id"].to_numpy().astype(str), kind="stable")
    samples = samples.iloc[order].reset_index(drop=True)
    genes_keys = [_genes_hash(c.expression.genes) for c in cohorts]
    shards = []
    for si, lo in enumerate(range(0, len(samples), chunk_samples)):
        part = samples.iloc[lo : lo + chunk_samples]
        blocks, digests = [], []
        for ci, rows in part.groupby("_cohort", sort=True):
            cols = rows["_column"].to_numpy()
            pos = np.flatnonzero(part["_cohort"].to_numpy() == ci)
            blocks.append(_Block(int(ci), cols, pos))
            values = np.ascontiguousarray(cohorts[ci].expression.values[:, cols])
            digests.append(_hash(genes_keys[ci], values.tobytes(), pos.tobytes()))
        ids = part["sample_id"].astype(str).tolist()
        key = {**base_key, "samples": _hash("\n".join(ids), *digests)}
        shards.append(_Shard(si, out / "scores" / f"part-{si:05d}.parquet", ids, blocks, key))
    return samples, shards


# ---------------------------------------------------------------------------------------------
# The build


def _load_inputs(cohorts, catalog, *, model_name: str):
    loaded = [load_cohort(c) for c in cohorts]
    if not loaded:
        raise BadInputError("no cohort given: pass at least one --cohort FORMAT:PATH.")
    for cohort in loaded:
        if cohort.expression.scale != "tpm":
            raise BadInputError(
                f"cohort {cohort.name}: expression is on the {cohort.expression.scale!r} scale; "
                "the models take TPM."
            )
    if isinstance(catalog, Catalog):
        cat = catalog
    elif catalog == "expressed":
        genes = set()
        for c in loaded:
            genes.update(
                expressed_genes(c.expression.genes, c.expression.values, c.samples["group"])
            )
        cat = build_catalog("expressed", expressed=sorted(genes))
    else:
        cat = build_catalog(str(catalog))
    if not len(cat):
        raise BadInputError(f"catalog {cat.name!r} is empty: nothing to score.")
    model = _model(model_name)
    return loaded, cat, model


def _client(workers: int, scheduler: str | None):
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
        silence_logs=logging.ERROR,
        env={"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
             "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    return Client(cluster), cluster


def _remove_stale(out: Path, keep: set[Path]) -> None:
    for tmp in list(out.glob(".*.tmp")) + list((out / "scores").glob(".*.tmp")):
        tmp.unlink(missing_ok=True)
    for part in (out / "scores").glob("part-*.parquet"):
        if part not in keep:
            part.unlink()


def _run_shards(
    todo, *, cohorts, model_name, anchors, left, right, ggi_ids, workers, scheduler, bar
):
    pairs_hash = _hash(anchors.to_csv(), np.asarray(left).tobytes(), np.asarray(right).tobytes())
    op_keys = [_genes_hash(c.expression.genes) + ":" + pairs_hash for c in cohorts]

    def blocks_of(shard, genes_of, put=lambda x: x):
        return [
            (op_keys[b.cohort], genes_of(b.cohort),
             put(np.ascontiguousarray(cohorts[b.cohort].expression.values[:, b.columns])),
             b.positions)
            for b in shard.blocks
        ]  # fmt: skip

    def done(shard, stored):
        tables.write_shard(
            shard.path, sample_ids=shard.sample_ids, ggi_ids=ggi_ids,
            stored=stored, key=shard.key,
        )  # fmt: skip
        bar.update(len(shard.sample_ids))

    if not workers and not scheduler:
        for shard in todo:
            stored = _score_shard(
                model_name, anchors, left, right,
                blocks_of(shard, lambda ci: cohorts[ci].expression.genes), len(shard.sample_ids),
            )  # fmt: skip
            done(shard, stored)
        return
    from dask.distributed import as_completed

    client, cluster = _client(workers, scheduler)
    try:
        client.run(_limit_threads)
        a_f, l_f, r_f = client.scatter([anchors, left, right], broadcast=True)
        genes_f = client.scatter([c.expression.genes for c in cohorts], broadcast=True)
        futures = {}
        for shard in todo:
            fut = client.submit(
                _score_shard, model_name, a_f, l_f, r_f,
                blocks_of(shard, lambda ci: genes_f[ci], client.scatter), len(shard.sample_ids),
                key=f"shard-{shard.index}-{shard.key['samples'][:12]}", pure=False,
            )  # fmt: skip
            futures[fut] = shard
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def build_atlas(
    *,
    cohorts: Sequence[str | Cohort],
    catalog: str | Catalog = "default",
    model: str = "upstream:K562",
    out: Path | str,
    name: str | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    chunk_samples: int = 32,
    progress: bool = True,
    kind: str = "expression",
    synthetic: bool = False,
    caveats: Sequence[str] = (),
) -> dict:
    """Build an atlas (docs/atlas-schema.md) in ``out``; returns its manifest.

    Parameters
    ----------
    cohorts
        Cohort specs ``FORMAT:PATH[,KEY=VALUE...]`` (see :mod:`atlas.cohorts`) or cohorts.
    catalog
        ``default``, ``published``, ``expressed`` (genes expressed in these cohorts),
        ``all-pairs``, a catalog file, or a :class:`~atlas.catalog.Catalog`.
    model
        Model name (:func:`ai4loop_core.model.load_model`).
    out
        The atlas directory; a rerun into it resumes (see the module docstring).
    workers, scheduler
        Run shards on a Dask ``LocalCluster`` of ``workers`` processes, or on the Dask scheduler
        at ``scheduler``; neither: in this process.
    chunk_samples
        Samples per shard.
    caveats
        Sentences every reader of the atlas must see (manifest ``caveats``).
    """
    started = time.monotonic()
    out = Path(out)
    if chunk_samples < 1:
        raise BadInputError(f"--chunk-samples {chunk_samples}: must be >= 1.")
    if workers < 0:
        raise BadInputError(f"--workers {workers}: must be >= 0.")
    loaded, cat, net = _load_inputs(cohorts, catalog, model_name=model)
    anchors, left, right = cat.anchors()
    ggi_ids = cat.ggis["ggi_id"].to_numpy(np.int32)
    base_key = {
        "format": SHARD_FORMAT,
        "model": _model_hash(net),
        "catalog": cat.sha256,
        "score": f"uint16/{tables.SCORE_SCALE}",
    }
    samples, shards = _plan(loaded, out, chunk_samples, base_key)
    build_key = _hash(json.dumps(base_key, sort_keys=True), *[s.key["samples"] for s in shards])

    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    previous = _read_json(manifest_path)
    if previous.get("build_key") != build_key:
        manifest_path.unlink(missing_ok=True)  # the directory is no complete atlas until the end
    _remove_stale(out, keep={s.path for s in shards})
    todo = [s for s in shards if tables.shard_key(s.path) != s.key]
    log.info("%s: %d shards, %d to compute", out, len(shards), len(todo))
    bar = tqdm(
        total=len(samples), unit="sample", disable=not progress, file=sys.stderr,
        desc=f"atlas {out.name}", initial=len(samples) - sum(len(s.sample_ids) for s in todo),
    )  # fmt: skip
    try:
        _run_shards(
            todo, cohorts=loaded, model_name=model, anchors=anchors, left=left, right=right,
            ggi_ids=ggi_ids, workers=workers, scheduler=scheduler, bar=bar,
        )  # fmt: skip
    finally:
        bar.close()

    counts = _write_tables(out, loaded, cat, samples, shards)
    manifest = {
        "name": name or out.name,
        "kind": kind,
        "source": "built here",
        "synthetic": synthetic,
        "model": {
            "name": model,
            "card": dict(getattr(net, "card", {})),
            "sha256": base_key["model"],
        },
        "catalog": cat.summary(),
        "cohorts": [
            {
                "name": c.name,
                "samples": len(c),
                "genes": len(c.expression.genes),
                "inputs": c.inputs,
            }
            for c in loaded
        ],
        "caveats": list(caveats),
        "score_encoding": {
            "dtype": "uint16",
            "scale": tables.SCORE_SCALE,
            "call": f"score >= {tables.CALL_THRESHOLD}",
        },  # fmt: skip
        "build": {"chunk_samples": chunk_samples, "shards": len(shards)},
        "build_key": build_key,
        "created": previous.get("created") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": previous.get("command") or shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "tables": counts,
    }
    if previous.get("build_key") == build_key:
        manifest["created"], manifest["command"] = previous["created"], previous["command"]
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=_json) + "\n")
    log.info("%s: done in %.1f s", out, time.monotonic() - started)
    return manifest


def _json(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_tables(
    out: Path, cohorts: list[Cohort], cat: Catalog, samples: pd.DataFrame, shards: list[_Shard]
) -> dict[str, int]:
    """Summary tables from the stored shards (so a resumed build gives the same bytes)."""
    ggis = cat.ggis
    ggi_ids = ggis["ggi_id"].to_numpy(np.int32)
    stored = np.empty((len(ggis), len(samples)), dtype=np.uint16)
    burdens, expression = [], []
    col = 0
    for shard in shards:
        names, block = tables.read_shard(shard.path, ggi_ids)
        if names != shard.sample_ids:
            raise RuntimeError(f"{shard.path}: samples differ from the plan")
        stored[:, col : col + len(names)] = block
        expr = np.full(block.shape, np.nan)
        for b in shard.blocks:
            c = cohorts[b.cohort].expression
            expr[:, b.positions] = tables.anchor_expression(c.genes, c.values[:, b.columns], ggis)
            ids = np.asarray(names)[b.positions]
            expression.append(
                tables.anchor_gene_expression(c.genes, c.values[:, b.columns], ggis, sample_ids=ids)
            )
        part = samples.iloc[col : col + len(names)]
        burdens.append(tables.sample_burden(block, part, expr))
        col += len(names)
    keep = [c for c in samples.columns if not c.startswith("_")]
    sample_table = samples[keep].copy()
    for c in sample_table.columns:
        if sample_table[c].dtype == object:
            sample_table[c] = sample_table[c].astype("string")
    written = {
        "samples": sample_table,
        "ggis": ggis,
        "group_summary": tables.group_summary(stored, ggi_ids, samples["group"].to_numpy()),
        "differential": tables.differential(stored, ggi_ids, samples),
        "sample_burden": pd.concat(burdens, ignore_index=True),
        "expression": pd.concat(expression, ignore_index=True),
    }
    counts = {"scores": int(stored.size)}
    for table_name, frame in written.items():
        tables.write_parquet(frame, out / f"{table_name}.parquet", row_group_size=1 << 16)
        counts[table_name] = len(frame)
    return counts
