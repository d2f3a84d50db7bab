"""Two more expression formats for :func:`ai4loop_core.expression.read_expression`: the ones
cohorts arrive in. :func:`register` adds them through the public
:func:`~ai4loop_core.expression.register_reader` (skipped when a reader of the same name exists);
``ai4loop predict`` and the dashboard's upload page call it, so both read these files:

``gdc-star``
    A GDC STAR gene counts file (``*.rna_seq.augmented_star_gene_counts.tsv``, plain or gzip):
    ``# gene-model`` comment, header ``gene_id gene_name gene_type unstranded ... tpm_unstranded
    ...``. One sample (named after the file); ``tpm_unstranded`` is taken as TPM; ``N_*`` rows
    dropped; versioned Ensembl ids mapped to the annotation.
``lincs-gct``
    LINCS L1000 GCT 1.2/1.3 text or GCTX (HDF5), Level 3 only (log2 intensities of about 978
    landmark genes), read by :mod:`atlas.lincs` and put on the model's TPM-like scale the way the
    drug atlas does it (``2**x`` times the constant that gives the ENCODE median TPM of the same
    genes). Most anchor windows then hold no measured gene: the report says so.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.errors import BadInputError
from ai4loop_core.expression import (
    Expression,
    ExpressionReport,
    ReadOptions,
    formats,
    register_reader,
)

STAR_COLUMNS = ("gene_id", "gene_name", "tpm_unstranded")
L1000_WARNING = (
    "L1000 measures about 978 landmark genes: most GGI anchor windows hold no measured gene, so "
    "their scores come from empty windows. Trust only GGIs whose anchors contain landmark genes."
)


def _first_lines(path: Path, n: int = 3) -> list[str]:
    with open(path, "rb") as handle:
        gz = handle.read(2) == b"\x1f\x8b"
    try:
        opener = gzip.open(path, "rt", errors="replace") if gz else open(path, errors="replace")
        with opener as handle:
            return [handle.readline() for _ in range(n)]
    except (OSError, EOFError):
        return []


def _sniff_star(head) -> bool:
    if head.binary:
        return False
    for line in head.lines[:3]:
        fields = line.rstrip("\n").split("\t")
        if all(c in fields for c in STAR_COLUMNS):
            return True
    return False


def _expression(
    path: Path,
    *,
    fmt: str,
    ids: list[str],
    values: np.ndarray,
    samples: list[str],
    warnings: tuple[str, ...] = (),
    annotation: pd.DataFrame | None = None,
) -> Expression:
    """An :class:`Expression` from ids (any kind :func:`map_ids` takes) and TPM values."""
    from ai4loop_core.genes import load_annotation, map_ids

    ann = annotation if annotation is not None else load_annotation()
    mapped = map_ids(ids, ann)
    coords = ann.drop_duplicates("gene_id").set_index("gene_id")
    ok = mapped["gene_id"].notna().to_numpy()
    if ok.sum() < 0.5 * len(ids):
        raise BadInputError(
            f"{path.name}: only {int(ok.sum())} of {len(ids)} gene ids are known genes with hg19 "
            f"coordinates (e.g. unknown: {', '.join(map(str, np.asarray(ids)[~ok][:5]))})."
        )
    gene_ids = mapped.loc[ok, "gene_id"].to_numpy()
    genes = coords.reindex(gene_ids)[["chrom", "start", "end", "symbol"]].reset_index()
    genes = genes.rename(columns={"index": "gene_id"})
    keep = genes["chrom"].notna().to_numpy()
    genes = genes[keep].reset_index(drop=True)
    genes["start"] = genes["start"].astype(np.int64)
    genes["end"] = genes["end"].astype(np.int64)
    matrix = np.ascontiguousarray(values[ok][keep], dtype=np.float64)
    matrix.flags.writeable = False
    unknown = tuple(str(i) for i in np.asarray(ids)[~ok][:10])
    report = ExpressionReport(
        format=fmt,
        n_rows=len(ids),
        n_mapped=len(genes),
        n_unknown=int((~ok).sum()),
        unknown_examples=unknown,
        detected_scale="tpm",
        input_scale="tpm",
        warnings=warnings,
    )
    return Expression(genes, matrix, samples, "tpm", str(path), report)


def read_gdc_star(path: Path, options: ReadOptions) -> Expression:
    """GDC STAR gene counts file: ``tpm_unstranded`` of one sample."""
    lines = _first_lines(path, 1)
    skip = 1 if lines and lines[0].startswith("#") else 0
    try:
        table = pd.read_csv(path, sep="\t", skiprows=skip, compression="infer")
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as err:
        raise BadInputError(f"{path.name}: cannot read it as a GDC STAR file ({err}).") from err
    missing = [c for c in STAR_COLUMNS if c not in table.columns]
    if missing:
        raise BadInputError(f"{path.name}: GDC STAR columns {missing} are missing.")
    table = table[~table["gene_id"].astype(str).str.startswith("N_")]
    tpm = pd.to_numeric(table["tpm_unstranded"], errors="coerce").to_numpy()
    bad = ~np.isfinite(tpm) | (tpm < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BadInputError(
            f"{path.name}: tpm_unstranded of {table['gene_id'].iloc[row]} is "
            f"{table['tpm_unstranded'].iloc[row]!r}, not a TPM value; {int(bad.sum())} such rows."
        )
    name = path.name.split(".")[0] or "sample"
    return _expression(
        path,
        fmt="gdc-star",
        ids=table["gene_id"].astype(str).tolist(),
        values=tpm[:, None],
        samples=[name],
        annotation=options.annotation,
    )


def _sniff_gct(head) -> bool:
    if head.binary:
        return head.path.suffix.lower() == ".gctx"
    return bool(head.lines) and head.lines[0].strip() in {"#1.2", "#1.3"}


def read_lincs_gct(path: Path, options: ReadOptions) -> Expression:
    """LINCS L1000 Level 3 GCT/GCTX: landmark genes on the model's TPM-like scale."""
    from atlas import lincs

    gct = lincs.read_lincs(path)
    lincs.require_level(
        gct,
        path.name,
        level3=True,
        advice="Only Level 3 (log2 intensities) can be turned into expression the model takes; "
        "z-score signatures cannot.",
    )
    rows = lincs.map_rows(gct, annotation=options.annotation)
    ok = rows["gene_id"].notna().to_numpy()
    reference = lincs.reference_tpm(rows.loc[ok, "gene_id"].tolist())
    constant = lincs.level3_scale_constant(gct.values[ok], reference)
    return _expression(
        path,
        fmt="lincs-gct",
        ids=rows["gene_id"].where(rows["gene_id"].notna(), rows["row_id"]).astype(str).tolist(),
        values=lincs.model_input(gct.values, scale_constant=constant),
        samples=gct.col_ids,
        warnings=(L1000_WARNING,),
        annotation=options.annotation,
    )


def register() -> None:
    """Add the readers above unless readers of those names exist already."""
    known = formats()
    if "gdc-star" not in known:
        register_reader("gdc-star", sniff=_sniff_star, priority=20)(read_gdc_star)
    if "lincs-gct" not in known and "gct" not in known:
        register_reader("lincs-gct", sniff=_sniff_gct, priority=15)(read_lincs_gct)
