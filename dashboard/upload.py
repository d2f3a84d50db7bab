"""Upload & predict without Streamlit: keep uploads safe, validate them, score, place samples.

Uploaded bytes are written under a private temporary directory with sanitised names and read only
by the project's text/HDF5 readers (:func:`ai4loop_core.expression.read_expression`,
:func:`ai4loop_core.pairs.read_pairs`); nothing is unpickled or executed.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.errors import BadInputError

RESULT_COLUMNS = [
    "ggi_id", "gene_id1", "symbol1", "gene_id2", "symbol2", "chrom",
    "start1", "end1", "start2", "end2", "distance",
]  # fmt: skip
MIN_PLACEMENT_GGIS = 20
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PAIR_CSV_HEADER = re.compile(r"^\s*label\s*,\s*chr1\s*,", re.IGNORECASE)


@dataclass(frozen=True)
class UploadSet:
    """Where the uploaded files were saved: one expression file, optional column/pair files."""

    expression: Path
    columns: Path | None = None
    pairs: Path | None = None


def safe_name(name: str) -> str:
    """A file name with no directory part and only ``[A-Za-z0-9._-]`` (at most 120 chars)."""
    base = _SAFE.sub("_", Path(str(name).replace("\\", "/")).name).lstrip(".")
    return (base or "upload")[-120:]


def classify(name: str, head: bytes) -> str:
    """``columns``, ``pairs`` or ``expression``, from a file's name and first bytes."""
    lower = name.lower()
    if lower.endswith((".gct", ".gctx", ".gct.gz")):
        return "expression"
    if lower.endswith((".columns.txt", ".columns")):
        return "columns"
    if lower.endswith((".bedpe", ".bedpe.gz")):
        return "pairs"
    if not head.startswith(b"\x1f\x8b") and _PAIR_CSV_HEADER.match(
        head[:200].decode(errors="ignore")
    ):
        return "pairs"
    return "expression"


def save_uploads(files: Sequence[tuple[str, bytes]], *, workdir: Path, max_bytes: int) -> UploadSet:
    """Write ``(name, bytes)`` uploads into ``workdir`` and say which file is which.

    One expression file is required; an AI4Loop column-name file and a pair file are optional.
    """
    found: dict[str, list[Path]] = {"expression": [], "columns": [], "pairs": []}
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        if len(data) > max_bytes:
            raise BadInputError(
                f"{name}: {len(data) / 1e6:.1f} MB is over the upload limit of "
                f"{max_bytes / 1e6:.0f} MB; compress it (gzip) or split the samples."
            )
        if not data:
            raise BadInputError(f"{name}: the file is empty.")
        kind = classify(name, data[:512])
        path = workdir / safe_name(name)
        if kind == "columns" and not path.name.endswith(".columns.txt"):
            path = path.with_name(path.name + ".columns.txt")
        path.write_bytes(data)
        found[kind].append(path)
    if not found["expression"]:
        raise BadInputError(
            "No expression file among the uploads; add a gene x sample table (TSV/CSV, .gz), an "
            "AI4Loop BED table with its .columns.txt, or another supported format."
        )
    for kind, paths in found.items():
        if len(paths) > 1:
            raise BadInputError(
                f"More than one {kind} file uploaded ({', '.join(p.name for p in paths)}); "
                "upload one at a time."
            )
    first = {k: (v[0] if v else None) for k, v in found.items()}
    return UploadSet(expression=first["expression"], columns=first["columns"], pairs=first["pairs"])


def formats() -> dict[str, str]:
    """Expression formats an upload may have (the project's readers plus :mod:`atlas.formats`)."""
    from ai4loop_core import expression
    from atlas.formats import register

    register()
    return expression.formats()


def validate(upload: UploadSet, *, input_scale: str = "auto"):
    """Read the expression upload (:class:`ai4loop_core.expression.Expression`) and its report."""
    from ai4loop_core.expression import read_expression
    from atlas.formats import register

    register()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report lists the same warnings
        try:
            return read_expression(
                upload.expression, columns=upload.columns, input_scale=input_scale
            )
        except BadInputError as err:  # name the file as uploaded, not the server's temp path
            raise BadInputError(str(err).replace(f"{upload.expression.parent}/", "")) from None


def report_table(expression) -> pd.DataFrame:
    """The validation report as ``item, value`` rows for people."""
    r = expression.report
    rows = [
        ("format", r.format),
        ("rows read", f"{r.n_rows:,}"),
        ("genes with coordinates", f"{r.n_mapped:,} ({r.n_mapped / max(r.n_rows, 1):.1%})"),
        (
            "unknown ids dropped",
            f"{r.n_unknown:,}"
            + (f" (e.g. {', '.join(r.unknown_examples)})" if r.n_unknown else ""),
        ),
        ("duplicated ids", f"{r.n_duplicated:,} ({r.duplicates})"),
        ("detected scale", r.detected_scale),
        ("scale used", expression.scale),
        (
            "samples",
            f"{len(expression.samples)}: {', '.join(expression.samples[:10])}"
            + (" …" if len(expression.samples) > 10 else ""),
        ),
    ]
    rows += [("warning", w) for w in r.warnings]
    return pd.DataFrame(rows, columns=["item", "value"])


def pair_targets(path: Path) -> pd.DataFrame:
    """An uploaded pair file as result rows (``RESULT_COLUMNS``; ``ggi_id`` = row number)."""
    from ai4loop_core.pairs import read_pairs

    try:
        pairs = read_pairs(path)
    except BadInputError as err:
        raise BadInputError(str(err).replace(f"{path.parent}/", "")) from None
    a, t = pairs.anchors.reset_index(drop=True), pairs.table.reset_index(drop=True)

    def col(name: str, default: pd.Series) -> pd.Series:
        return t[name].astype(str) if name in t else default

    out = pd.DataFrame(
        {
            "ggi_id": np.arange(1, len(a) + 1, dtype=np.int64),
            "gene_id1": col("gene_id1", pd.Series([""] * len(a))),
            "symbol1": col("gene1", pd.Series([""] * len(a))),
            "gene_id2": col("gene_id2", pd.Series([""] * len(a))),
            "symbol2": col("gene2", pd.Series([""] * len(a))),
            "chrom": a["chrom1"].astype(str),
            "start1": a["start1"].astype(np.int64),
            "end1": a["end1"].astype(np.int64),
            "start2": a["start2"].astype(np.int64),
            "end2": a["end2"].astype(np.int64),
        }
    )
    out["chrom2"] = a["chrom2"].astype(str)
    mid1 = (out["start1"] + out["end1"]) // 2
    mid2 = (out["start2"] + out["end2"]) // 2
    out["distance"] = np.where(out["chrom"] == out["chrom2"], (mid1 - mid2).abs(), -1)
    return out[[*RESULT_COLUMNS, "chrom2"]]


def catalog_targets(catalog: pd.DataFrame) -> pd.DataFrame:
    """An atlas catalog (``ggis`` table) as result rows."""
    out = catalog[RESULT_COLUMNS].copy()
    out["chrom2"] = out["chrom"]
    return out.reset_index(drop=True)


def score(
    model,
    expression,
    targets: pd.DataFrame,
    *,
    chunk_samples: int = 8,
    progress: Callable[[float], object] | None = None,
) -> np.ndarray:
    """Scores ``(len(targets), n_samples)``: every target pair in every uploaded sample."""
    from ai4loop_core.features import build_operator
    from ai4loop_core.predict import context_operator, predict_scores

    if expression.scale != model.input_scale:
        raise BadInputError(
            f"The expression looks like {expression.scale!r} values but the model takes "
            f"{model.input_scale!r}. Choose the input scale (log2 converts log2(TPM+1)), or "
            "upload TPM."
        )
    a1 = targets[["chrom", "start1", "end1"]].set_axis(["chrom", "start", "end"], axis=1)
    a2 = targets[["chrom2", "start2", "end2"]].set_axis(["chrom", "start", "end"], axis=1)
    both = pd.concat([a1, a2], ignore_index=True)
    codes, uniq = pd.MultiIndex.from_frame(both).factorize()
    anchors = uniq.to_frame(index=False).set_axis(["chrom", "start", "end"], axis=1)
    n = len(targets)
    left, right = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    op = build_operator(anchors, expression.genes)
    ctx = context_operator(
        model, anchors=anchors, left=left, right=right, genes=expression.genes, operator=op
    )
    n_samples = expression.values.shape[1]
    out = np.empty((n, n_samples), dtype=np.float32)
    for lo in range(0, n_samples, chunk_samples):
        cols = slice(lo, min(lo + chunk_samples, n_samples))
        out[:, cols] = predict_scores(
            model,
            anchors=anchors,
            left=left,
            right=right,
            genes=expression.genes,
            values=expression.values[:, cols],
            operator=op,
            context=ctx,
            progress=False,
        )
        if progress is not None:
            progress(cols.stop / n_samples)
    return out


def result_table(targets: pd.DataFrame, scores: np.ndarray, samples: list[str]) -> pd.DataFrame:
    """Target rows with one score column per sample (named as the sample)."""
    clash = sorted(set(samples) & set(targets.columns))
    if clash:
        raise BadInputError(
            f"Sample names {clash} clash with result columns; rename those samples."
        )
    base = targets.drop(columns=["chrom2"]).reset_index(drop=True)
    return pd.concat([base, pd.DataFrame(scores, columns=samples)], axis=1)


def filter_by_gene(results: pd.DataFrame, text: str) -> pd.DataFrame:
    """Rows whose gene symbols or ids contain ``text`` (case-insensitive)."""
    text = str(text or "").strip().casefold()
    if not text:
        return results
    hit = np.zeros(len(results), dtype=bool)
    for c in ("symbol1", "symbol2", "gene_id1", "gene_id2"):
        hit |= results[c].astype(str).str.casefold().str.contains(text, regex=False).to_numpy()
    return results[hit]


def pairs_in(results: pd.DataFrame, chrom: str, *, start: int, end: int) -> pd.DataFrame:
    """Result rows with both anchors inside ``chrom:start-end``."""
    r = results
    inside = (r["chrom"] == chrom) & (r[["start1", "start2"]].min(axis=1) <= end)
    inside &= r[["end1", "end2"]].max(axis=1) >= start
    inside &= (r[["start1", "start2"]].min(axis=1) >= start) & (
        r[["end1", "end2"]].max(axis=1) <= end
    )
    return r[inside]


def placement(scores: pd.DataFrame, group_means: pd.DataFrame) -> pd.DataFrame:
    """Pearson r of each sample's scores (GGIs x samples, indexed by ``ggi_id``) with each
    group's mean scores (GGIs x groups), over the GGIs both have."""
    common = scores.index.intersection(group_means.index)
    if len(common) < MIN_PLACEMENT_GGIS:
        raise BadInputError(
            f"Only {len(common)} scored GGIs are in the atlas catalog (need "
            f"{MIN_PLACEMENT_GGIS}); score the catalog to place the samples."
        )
    s = scores.loc[common].astype(float)
    g = group_means.loc[common].astype(float)
    rows = []
    for sample in s.columns:
        for group in g.columns:
            ok = g[group].notna().to_numpy()
            x, y = s[sample].to_numpy()[ok], g[group].to_numpy()[ok]
            r = np.corrcoef(x, y)[0, 1] if ok.sum() > 2 and x.std() and y.std() else np.nan
            rows.append((sample, group, float(r), int(ok.sum())))
    return pd.DataFrame(rows, columns=["sample", "group", "correlation", "n_ggis"])


def device() -> str:
    """Where the model runs: the GPU's name, or CPU."""
    try:
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return f"GPU ({gpus[0].name})" if gpus else "CPU (no GPU found)"
        if keras.backend.backend() == "torch":
            import torch

            return f"GPU ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "CPU"
        if keras.backend.backend() == "jax":
            import jax

            return ", ".join(str(d) for d in jax.devices())
    except Exception:  # device probing must never break the page
        pass
    return "CPU"


def model_label(name: str) -> str:
    """``upstream:K562`` -> ``K562: AI4Loop (published)``; ``K562`` -> ``K562: ours``."""
    if name.startswith("upstream:"):
        return f"{name.split(':', 1)[1]}: AI4Loop (published model)"
    if name.startswith("best:"):
        return f"{name.split(':', 1)[1]}: ours (best of the accuracy work)"
    return f"{name}: ours (trained here)"


def model_warnings(model, expression) -> tuple[str, ...]:
    """What the user should know about this model on this upload (a context model given far
    fewer genes than it was trained with)."""
    from ai4loop_core.predict import context_coverage_warning

    name = getattr(model, "name", "the model")
    low = context_coverage_warning(model, n_genes=len(expression.genes), model=name)
    return (low,) if low else ()


@dataclass
class Prediction:
    """What one run produced: the result table, and the placement among atlas groups."""

    table: pd.DataFrame
    placement: pd.DataFrame | None
    placement_note: str
    targets: str
    device: str = "CPU"
    warnings: tuple[str, ...] = ()


def predict_upload(
    expression,
    *,
    model,
    pairs: Path | None,
    catalog: pd.DataFrame | None,
    group_means: Callable[[list[int]], pd.DataFrame] | None = None,
    progress: Callable[[float, str], object] | None = None,
) -> Prediction:
    """Score the uploaded samples: the pair file's pairs when given, else the atlas catalog; and
    place each sample among the atlas groups by its catalog GGI profile (when ``group_means``).
    """

    def step(lo: float, hi: float, what: str) -> Callable[[float], object]:
        return lambda f: progress(lo + (hi - lo) * f, what) if progress else None

    place = group_means is not None and catalog is not None and len(catalog) > 0
    if pairs is not None:
        targets = pair_targets(pairs)
        what = f"{len(targets):,} pairs of {pairs.name}"
        scores = score(
            model, expression, targets, progress=step(0, 0.5 if place else 1, f"Scoring {what}")
        )
        table = result_table(targets, scores, expression.samples)
    elif catalog is not None:
        targets = catalog_targets(catalog)
        what = f"the atlas catalog ({len(targets):,} GGIs)"
        scores = score(model, expression, targets, progress=step(0, 1, f"Scoring {what}"))
        table = result_table(targets, scores, expression.samples)
    else:
        raise BadInputError("Upload a pair file or choose an atlas whose catalog to score.")
    placed, note = None, ""
    if place:
        if pairs is not None:
            cat = catalog_targets(catalog)
            cat_scores = score(model, expression, cat, progress=step(0.5, 1, "Scoring catalog"))
        else:
            cat, cat_scores = targets, scores
        frame = pd.DataFrame(cat_scores, index=cat["ggi_id"].to_numpy(), columns=expression.samples)
        try:
            placed = placement(frame, group_means(frame.index.tolist()))
            note = f"over {int(placed['n_ggis'].max()):,} catalog GGIs"
        except BadInputError as err:
            note = str(err)
    if progress:
        progress(1.0, "Done")
    return Prediction(
        table=table,
        placement=placed,
        placement_note=note,
        targets=what,
        device=device(),
        warnings=model_warnings(model, expression),
    )
