"""Cohorts: expression of many samples on the model's TPM scale plus a sample table.

A :class:`Cohort` is an :class:`ai4loop_core.expression.Expression` (genes x samples, hg19 gene
coordinates, TPM) with a ``samples`` table (``sample_id``, ``group``, ``tissue_type``, ``cohort``,
``source``; see docs/atlas-schema.md) and the provenance of its inputs. Readers
(:data:`READERS`; a cohort spec ``FORMAT:PATH[,KEY=VALUE...]`` picks one, :func:`load_cohort`):

``gdc-star``
    GDC STAR files (``*.rna_seq.augmented_star_gene_counts.tsv``, one per sample) listed by a GDC
    sample sheet (PATH; ``dir=`` where the files are, default the sheet's folder, as
    ``DIR/<File ID>/<File Name>`` or ``DIR/<File Name>``). Column ``tpm_unstranded`` is used
    (already TPM); the ``N_*`` summary rows are skipped. Group = project (``TCGA-CHOL`` ->
    ``CHOL``).
``tcga-rnasum``
    HTSeq read-count matrix (GENCODE v22 genes x TCGA barcodes) with its ``*_Target.txt.gz``
    sample-to-type table (``target=``; default the sibling file). PATH may be a TCGA code
    (``ACC``): the registry file ``tcga-rnasum/TCGA_ACC_Counts.exp.gz``. RNAsum's ``TEST`` set is
    20 PAAD tumours and is labelled ``PAAD``.
``tcga-rtcga``
    RTCGA's Firehose RNASeqV2 RSEM normalised counts (``.rda``, samples x ``SYMBOL|ENTREZ``), read
    with the PyPI package ``rdata``. PATH may be a TCGA code (``CHOL``).
``gtex-yarn``
    GTEx v6 read counts as a Bioconductor ExpressionSet (``.rdata`` of the yarn package). PATH
    may be ``skin`` or ``bladder``.
``hpa``
    Human Protein Atlas consensus nTPM: ``RNAtableTissue`` (PATH may be ``tissue``; one
    aggregated profile per tissue, ``tissue_type`` normal) or ``RNAtableExtended`` (``cell-lines``;
    the cell-line columns, ``tissue_type`` cell_line).
``encode``
    AI4Loop's ENCODE cell-line TPM table (``allRNAseq.tsv``, the default PATH).
``ai4loop-bed``
    Any AI4Loop BED-like table (``columns=``; ``group=`` a label, default the file stem;
    ``tissue_type=``). PATH ``aml-example`` is the 2 AML samples of the AI4Loop example.
``matrix``
    Generic: any gene x sample matrix (:func:`ai4loop_core.expression.read_expression`) plus a
    sample table (``samples=TABLE``: a TSV/CSV with the sample ids in ``sample_col=`` (default the
    first column), the group in ``group=`` (default ``group``) and optionally ``tissue_type=``
    (a column; else from TCGA barcodes, else ``unknown``)). ``scale=tpm|log2|counts``. Every matrix
    sample must be in the table and every table row in the matrix.

Every spec takes ``only=TISSUE_TYPE`` (keep e.g. the normals of a cohort: ``tcga-rtcga:CHOL,
only=normal``) and the reader's own options (``counts=cpm|gene-body`` for count data).

Tumour or normal comes from the table where it says so, else from the TCGA barcode: sample type
code 01-09 is ``tumour``, 10-19 ``normal``, 20-29 ``control``.

Counts to TPM (:func:`counts_to_tpm`, method :data:`DEFAULT_COUNT_METHOD`). The models take
TPM (ENCODE RSEM TPM). Read counts need gene lengths for that, and exonic (effective transcript)
lengths are not in the reference data. Method ``gene-body`` (the default) divides each count by
the gene's body length in the annotation (hg19, introns included), then scales each sample to
sum to 1e6 over the genes with hg19 coordinates (99.5% of the TCGA HTSeq counts):
``TPM_g = 1e6 * (c_g / L_g) / sum_j(c_j / L_j)``. Method ``cpm`` gives every gene the same length
(counts per million). Measured on real data (bench/counts_to_tpm.py, bench/RESULTS.md "Counts to
TPM"): against the ENCODE TPM of ``allRNAseq.tsv`` the 90th percentile of gene values is 23-34
with ``gene-body`` (ENCODE 24) and 56-68 with ``cpm``; predictions from GTEx skin/bladder counts
agree with those from HPA's nTPM of the same tissue on 74-76% of GGI calls with ``gene-body``
against 65-68% with ``cpm``. RSEM normalised counts (``tcga-rtcga``) are counts for this purpose.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.data import ensure_file
from ai4loop_core.errors import BadInputError
from ai4loop_core.expression import Expression, ExpressionReport, read_expression

__all__ = [
    "COUNT_METHODS",
    "Cohort",
    "READERS",
    "counts_to_tpm",
    "load_cohort",
    "parse_spec",
    "tcga_tissue_type",
]

COUNT_METHODS = ("cpm", "gene-body")
DEFAULT_COUNT_METHOD = "gene-body"
TISSUE_TYPES = ("tumour", "normal", "cell_line", "control", "treated", "vehicle", "unknown")
SAMPLE_COLUMNS = ["sample_id", "group", "tissue_type", "cohort", "source"]
_BARCODE = re.compile(r"^TCGA-[A-Z0-9]{2}-[A-Z0-9]{4}-(\d{2})")
_SHOW = 5


@dataclass(frozen=True)
class Cohort:
    """Samples with expression on the model's TPM scale, a sample table and provenance."""

    name: str
    expression: Expression
    samples: pd.DataFrame
    inputs: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        ids = self.samples["sample_id"].tolist()
        if ids != list(self.expression.samples):
            raise ValueError(f"cohort {self.name}: sample table and expression disagree")

    def __len__(self) -> int:
        return len(self.samples)


# ---------------------------------------------------------------------------------------------
# Shared helpers


def tcga_tissue_type(barcode: str) -> str | None:
    """``tumour`` (sample code 01-09), ``normal`` (10-19), ``control`` (20-29); None otherwise."""
    found = _BARCODE.match(str(barcode))
    if not found:
        return None
    code = int(found.group(1))
    if 1 <= code <= 9:
        return "tumour"
    if 10 <= code <= 19:
        return "normal"
    if 20 <= code <= 29:
        return "control"
    return None


def counts_to_tpm(
    values: np.ndarray, genes: pd.DataFrame, *, method: str = DEFAULT_COUNT_METHOD
) -> np.ndarray:
    """Read counts (genes x samples) to the TPM scale (see the module docstring)."""
    values = np.asarray(values, dtype=np.float64)
    if method == "cpm":
        rate = values
    elif method == "gene-body":
        length = (genes["end"].to_numpy(np.float64) - genes["start"].to_numpy(np.float64)) + 1
        rate = values / np.maximum(length, 1.0)[:, None] * 1e3
    else:
        raise BadInputError(f"counts method {method!r}: use one of {list(COUNT_METHODS)}.")
    total = rate.sum(axis=0)
    total[total == 0] = 1.0
    return rate / total[None, :] * 1e6


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _input(path: Path, fmt: str, scale: str, **extra) -> dict:
    return {"path": str(path), "sha256": _sha256(path), "format": fmt, "scale": scale, **extra}


def _with_values(expr: Expression, values: np.ndarray, scale: str = "tpm") -> Expression:
    values = np.ascontiguousarray(values, dtype=np.float64)
    values.flags.writeable = False
    return dataclasses.replace(expr, values=values, scale=scale)


def _check_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        magic = handle.read(2)
    gz = magic == b"\x1f\x8b"
    if path.suffix.lower() == ".gz" and not gz:
        raise BadInputError(
            f"{path}: named .gz but is not gzip-compressed (first bytes {magic!r}); rename it "
            "without .gz or compress it with gzip."
        )
    return gz


def _check_file(path: Path) -> Path:
    if not path.is_file():
        raise BadInputError(f"{path}: file not found; check the path.")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: file is empty (0 bytes); re-export or re-download it.")
    return path


def _read_table(path: Path, *, what: str) -> tuple[pd.DataFrame, int]:
    """A small TSV/CSV (plain or gzip) as strings; returns the frame and its first data line."""
    _check_file(path)
    gz = _check_gzip(path)
    try:
        opener = gzip.open(path, "rt", newline="") if gz else open(path, newline="")
        with opener as handle:
            text = handle.read()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BadInputError(
            f"{path}: cannot read the {what} ({exc}); the file is damaged."
        ) from exc
    lines = text.splitlines()
    skip = 0
    while skip < len(lines) and (not lines[skip].strip() or lines[skip].startswith("#")):
        skip += 1
    if skip == len(lines):
        raise BadInputError(f"{path}: the {what} has no lines; it is empty.")
    sep = "\t" if "\t" in lines[skip] else ","
    width = len(lines[skip].split(sep))
    for n, line in enumerate(lines[skip + 1 :], start=skip + 2):
        if line.strip() and len(line.split(sep)) != width:
            raise BadInputError(
                f"{path}: line {n} of the {what} has {len(line.split(sep))} fields, the header "
                f"(line {skip + 1}) has {width}; fix or remove it.\n  line {n}: {line[:160]!r}"
            )
    table = pd.read_csv(
        path, sep=sep, dtype=str, skiprows=skip, keep_default_na=False,
        compression="gzip" if gz else None, skip_blank_lines=True,
    )  # fmt: skip
    table.columns = [str(c).strip() for c in table.columns]
    return table, skip + 2


def _need_columns(table: pd.DataFrame, need: list[str], path: Path, what: str, line: int) -> None:
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise BadInputError(
            f"{path}: line {line - 1}: the {what} lacks columns {missing}; it has "
            f"{list(table.columns)}."
        )


def _unique(values: pd.Series, path: Path, what: str, first_line: int) -> None:
    dup = values.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        shown = ", ".join(f"{values.iloc[r]!r} (line {r + first_line})" for r in rows[:_SHOW])
        raise BadInputError(
            f"{path}: {what} appear more than once: {shown}; {len(rows)} rows in all. Each must "
            "be listed once: remove the duplicates."
        )


def _raw_ids_unique(path: Path, gz: bool) -> None:
    """Refuse a matrix whose gene id column (column 1) repeats an id (before any mapping)."""
    opener = gzip.open(path, "rt", newline="") if gz else open(path, newline="")
    with opener as handle:
        first = handle.readline()
    sep = "\t" if "\t" in first else ","
    try:
        ids = pd.read_csv(
            path, sep=sep, usecols=[0], dtype=str, header=None, skiprows=1,
            compression="gzip" if gz else None, keep_default_na=False,
        )[0]  # fmt: skip
    except (OSError, EOFError, ValueError, pd.errors.ParserError) as exc:
        raise BadInputError(f"{path}: cannot read the gene id column ({exc}).") from exc
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        shown = ", ".join(f"{ids.iloc[r]!r} (line {r + 2})" for r in rows[:_SHOW])
        raise BadInputError(
            f"{path}: gene ids appear more than once in column 1: {shown}; {len(rows)} rows. "
            "Each gene must have one row: sum or drop the duplicates."
        )


def _samples_frame(
    ids: list[str], groups: list[str], types: list[str], cohort: str, source: str, **extra
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "sample_id": ids,
            "group": groups,
            "tissue_type": types,
            "cohort": cohort,
            "source": source,
            **extra,
        }
    )
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("string")
    return frame


def _quiet_expression(path: Path, **kwargs) -> Expression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_expression(path, **kwargs)


def _types_from_barcodes(ids: list[str], default: str) -> list[str]:
    return [tcga_tissue_type(s) or default for s in ids]


# ---------------------------------------------------------------------------------------------
# Readers


def read_tcga_rnasum(
    path: Path | str, *, target: Path | str | None = None, counts: str = DEFAULT_COUNT_METHOD,
    name: str | None = None,
) -> Cohort:  # fmt: skip
    """TCGA HTSeq counts (RNAsum) with the ``*_Target.txt.gz`` sample-to-type table.

    Samples of the matrix missing from the table get the type in the file name; table rows
    without a matrix column are ignored; both are recorded in the cohort inputs. A table sharing
    no sample with the matrix, or naming another type than the file, is refused.
    """
    path = _check_file(Path(path))
    found = re.search(r"TCGA_([A-Za-z]+)_Counts", path.name)
    file_type = found.group(1).upper() if found else None
    if target is None:
        target = path.with_name(path.name.replace("_Counts.exp", "_Target.txt"))
    target = Path(target)
    gz = _check_gzip(path)
    expr = _quiet_expression(path, format="matrix", input_scale="tpm")
    _raw_ids_unique(path, gz)
    table, first = _read_table(target, what="sample table")
    _need_columns(table, ["Sample_name", "Target"], target, "sample table", first)
    _unique(table["Sample_name"], target, "sample names", first)
    types = table["Target"].str.replace(r"\s*\(TCGA\)\s*$", "", regex=True).str.strip()
    if file_type is not None:
        other = np.flatnonzero((types != file_type).to_numpy())
        if len(other):
            r = other[0]
            raise BadInputError(
                f"{target}: line {r + first}: sample {table['Sample_name'].iloc[r]!r} has type "
                f"{table['Target'].iloc[r]!r} but {path.name} holds {file_type}: the sample table "
                f"belongs to another file ({len(other)} such rows)."
            )
    by_sample = dict(zip(table["Sample_name"], types, strict=True))
    shared = [s for s in expr.samples if s in by_sample]
    if not shared:
        raise BadInputError(
            f"{target}: shares no sample with {path} (table: {list(by_sample)[:3]}..., matrix: "
            f"{list(expr.samples)[:3]}...): the sample table does not belong to this matrix."
        )
    label = file_type or "TCGA"
    label = "PAAD" if label == "TEST" else label
    values = counts_to_tpm(expr.values, expr.genes, method=counts)
    expr = _with_values(expr, values)
    tissue = _types_from_barcodes(expr.samples, "tumour")
    groups = [label if t == "tumour" else f"{label} {t}" for t in tissue]
    name = name or f"tcga-rnasum:{label}"
    samples = _samples_frame(
        list(expr.samples), groups, tissue, name, "TCGA HTSeq counts (GDC, via RNAsum)"
    )
    notes = {
        "counts_method": counts,
        "samples_not_in_table": len(expr.samples) - len(shared),
        "table_rows_not_in_matrix": len(by_sample) - len(shared),
        "genes_mapped": f"{expr.report.n_mapped} of {expr.report.n_rows}",
    }
    inputs = [
        _input(path, "tcga-rnasum", f"counts -> TPM ({counts})", **notes),
        _input(target, "tcga-rnasum sample table", "-"),
    ]
    return Cohort(name, expr, samples, inputs)


def _read_rdata(path: Path) -> dict:
    import rdata

    _check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return rdata.read_rda(str(path))
    except Exception as exc:  # rdata raises many types for damaged files
        raise BadInputError(
            f"{path}: cannot read as R data (.rda/.RData) ({type(exc).__name__}: {exc}); the "
            "file is damaged or not an R save file: re-download it."
        ) from exc


def _check_matrix(values: np.ndarray, rows: list[str], cols: list[str], path: Path, what: str):
    bad = np.argwhere(~np.isfinite(values) | (values < 0))
    if len(bad):
        r, c = bad[0]
        raise BadInputError(
            f"{path}: {what} row {rows[r]!r}, column {cols[c]!r}: value {values[r, c]!r} is "
            f"missing, non-numeric or negative; {len(bad)} such cells. Expression must be "
            "complete non-negative numbers."
        )


def _expression_from_ids(
    path: Path, ids: list[str], samples: list[str], values: np.ndarray, fmt: str
) -> Expression:
    """An Expression from in-memory ids x samples (binary formats): map ids, keep mapped rows."""
    from ai4loop_core.genes import load_annotation, map_ids

    ids_s = pd.Series(ids, dtype=str)
    dup = ids_s.duplicated(keep=False).to_numpy()
    if dup.any():
        raise BadInputError(
            f"{path}: gene ids appear more than once: {sorted(set(ids_s[dup]))[:_SHOW]}; each "
            "gene must have one row."
        )
    _unique(pd.Series(samples), path, "sample ids", 1)
    annotation = load_annotation()
    mapped = map_ids(ids, annotation)
    ok = mapped["gene_id"].notna().to_numpy()
    if ok.sum() < 0.5 * len(ids):
        raise BadInputError(
            f"{path}: only {int(ok.sum())} of {len(ids)} gene ids are known genes; e.g. "
            f"{ids_s[~ok].head(_SHOW).tolist()}. Use Ensembl ids, Entrez ids or symbols."
        )
    gene_ids = mapped["gene_id"][ok].to_numpy()
    vals = values[ok]
    # several rows for one gene (e.g. a symbol and its Entrez id): keep the highest mean
    order = np.argsort(-vals.mean(axis=1), kind="stable")
    first = ~pd.Series(gene_ids[order]).duplicated().to_numpy()
    keep = np.sort(order[first])
    ann = annotation.set_index("gene_id")
    genes = ann.loc[gene_ids[keep], ["chrom", "start", "end", "symbol"]].reset_index()
    genes["start"] = genes["start"].astype(np.int64)
    genes["end"] = genes["end"].astype(np.int64)
    vals = np.ascontiguousarray(vals[keep], dtype=np.float64)
    vals.flags.writeable = False
    report = ExpressionReport(
        format=fmt, n_rows=len(ids), n_mapped=int(ok.sum()), n_unknown=int((~ok).sum()),
        unknown_examples=tuple(ids_s[~ok].head(_SHOW)), detected_scale="counts",
        n_duplicated=int(ok.sum() - len(keep)),
    )  # fmt: skip
    return Expression(genes, vals, list(samples), "counts", str(path), report)


def read_tcga_rtcga(
    path: Path | str, *, counts: str = DEFAULT_COUNT_METHOD, name: str | None = None
) -> Cohort:
    """RTCGA RSEM normalised counts (``.rda``: samples x ``SYMBOL|ENTREZ``), TCGA barcodes."""
    path = Path(path)
    objects = _read_rdata(path)
    frames = [v for v in objects.values() if isinstance(v, pd.DataFrame)]
    if not frames or "bcr_patient_barcode" not in frames[0].columns:
        raise BadInputError(
            f"{path}: expected a data frame with a bcr_patient_barcode column and SYMBOL|ENTREZ "
            f"gene columns (RTCGA.rnaseq); found {list(objects)}."
        )
    frame = frames[0]
    barcodes = frame["bcr_patient_barcode"].astype(str).tolist()
    genes = [str(c) for c in frame.columns if c != "bcr_patient_barcode"]
    block = frame[genes]
    numeric = block.apply(pd.to_numeric, errors="coerce")
    values = numeric.to_numpy(np.float64).T
    _check_matrix(values, genes, barcodes, path, "gene")
    expr = _expression_from_ids(path, genes, barcodes, values, "tcga-rtcga")
    found = re.match(r"([A-Za-z]+)\.rnaseq", path.name)
    label = found.group(1).upper() if found else "TCGA"
    expr = _with_values(expr, counts_to_tpm(expr.values, expr.genes, method=counts))
    tissue = _types_from_barcodes(barcodes, "unknown")
    groups = [label if t == "tumour" else f"{label} {t}" for t in tissue]
    name = name or f"tcga-rtcga:{label}"
    samples = _samples_frame(
        barcodes, groups, tissue, name, "TCGA RSEM normalised counts (Firehose, via RTCGA)"
    )
    scale = f"RSEM normalised counts -> TPM ({counts})"
    return Cohort(name, expr, samples, [_input(path, "tcga-rtcga", scale, counts_method=counts)])


def read_gtex_yarn(
    path: Path | str, *, counts: str = DEFAULT_COUNT_METHOD, name: str | None = None
) -> Cohort:
    """GTEx v6 read counts from a yarn ExpressionSet (``.rdata``); group from ``SMTS``."""
    path = Path(path)
    objects = _read_rdata(path)
    eset = next(iter(objects.values()))
    try:
        exprs = eset.assayData["exprs"]
        genes = [str(g) for g in exprs.coords["dim_0"].values]
        samples = [str(s) for s in exprs.coords["dim_1"].values]
        values = np.asarray(exprs.values, dtype=np.float64)
        pheno = eset.phenoData.data
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise BadInputError(
            f"{path}: not a Bioconductor ExpressionSet with assayData 'exprs' and phenoData "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    _check_matrix(values, genes, samples, path, "gene")
    expr = _expression_from_ids(path, genes, samples, values, "gtex-yarn")
    expr = _with_values(expr, counts_to_tpm(expr.values, expr.genes, method=counts))
    tissue = path.stem.split(".")[0]
    if "SMTS" in pheno.columns:
        smts = pheno.reindex(samples)["SMTS"].astype(str).str.strip()
        groups = [f"GTEx {t.lower()}" if t not in {"nan", ""} else f"GTEx {tissue}" for t in smts]
    else:
        groups = [f"GTEx {tissue}"] * len(samples)
    name = name or f"gtex-yarn:{tissue}"
    frame = _samples_frame(samples, groups, ["normal"] * len(samples), name, "GTEx v6 (yarn)")
    scale = f"counts -> TPM ({counts})"
    return Cohort(name, expr, frame, [_input(path, "gtex-yarn", scale, counts_method=counts)])


def _read_hpa_table(path: Path) -> tuple[list[str], list[str], np.ndarray, int]:
    """HPA TSV: ``GeneID`` + one nTPM column per tissue/cell line; ``NA`` allowed."""
    _check_file(path)
    gz = _check_gzip(path)
    try:
        table = pd.read_csv(
            path, sep="\t", dtype=str, keep_default_na=False, compression="gzip" if gz else None
        )
    except pd.errors.ParserError as exc:
        raise BadInputError(f"{path}: cannot parse the table ({exc}).") from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read ({exc}); the file is damaged.") from exc
    if table.shape[1] < 2 or table.columns[0] != "GeneID":
        raise BadInputError(
            f"{path}: line 1: expected an HPA table with columns GeneID, <tissue or cell line>...;"
            f" found {list(table.columns[:5])}."
        )
    if not len(table):
        raise BadInputError(f"{path}: has a header but no data rows; the table is empty.")
    short = table.iloc[:, -1].eq("") & table.iloc[:, 1:].eq("").any(axis=1)
    if short.any():
        r = int(np.flatnonzero(short.to_numpy())[0])
        raise BadInputError(f"{path}: line {r + 2} has empty fields (truncated line?); fix it.")
    _unique(table["GeneID"], path, "gene ids (GeneID)", 2)
    block = table.iloc[:, 1:]
    na = block.isin(["NA", "NaN", "nan"]).to_numpy()
    values = block.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    junk = np.isnan(values) & ~na
    if junk.any():
        r, c = np.argwhere(junk)[0]
        raise BadInputError(
            f"{path}: line {r + 2}, column {block.columns[c]!r}: {block.iat[r, c]!r} is not a "
            f"number; {int(junk.sum())} such cells."
        )
    if (values < 0).any():
        r, c = np.argwhere(values < 0)[0]
        raise BadInputError(f"{path}: line {r + 2}, column {block.columns[c]!r}: negative nTPM.")
    # A gene not measured in a tissue (NA) gets its median over the tissues that measured it.
    n_na = int(na.sum())
    if n_na:
        med = np.nanmedian(np.where(na, np.nan, values), axis=1)
        values = np.where(na, np.nan_to_num(med, nan=0.0)[:, None], values)
    return table["GeneID"].tolist(), [str(c) for c in block.columns], values, n_na


def read_hpa(path: Path | str, *, kind: str | None = None, name: str | None = None) -> Cohort:
    """HPA consensus nTPM per tissue (``RNAtableTissue``) or cell line (``RNAtableExtended``).

    ``NA`` cells (gene not measured in that tissue) take the gene's median over the others.
    """
    path = Path(path)
    if kind is None:
        kind = "cell_line" if "Extended" in path.name else "normal"
    genes, cols, values, n_na = _read_hpa_table(path)
    keep = list(range(len(cols)))
    if kind == "cell_line":  # RNAtableExtended repeats the tissue columns after the cell lines
        keep = [i for i, c in enumerate(cols) if not re.fullmatch(r"[a-z_0-9]+", c)]
    cols = [cols[i] for i in keep]
    ids = [f"HPA:{c}" for c in cols]
    expr = _expression_from_ids(path, genes, ids, values[:, keep], "hpa")
    expr = dataclasses.replace(expr, scale="tpm")
    groups = [f"HPA {c.replace('_', ' ')}" for c in cols]
    name = name or ("hpa:tissue" if kind == "normal" else "hpa:cell-lines")
    frame = _samples_frame(ids, groups, [kind] * len(ids), name, "HPA consensus nTPM")
    scale = "nTPM (taken as TPM); NA cells set to the gene's median over the other columns"
    return Cohort(name, expr, frame, [_input(path, "hpa", scale, na_cells=n_na)])


def read_bed_cohort(
    path: Path | str,
    *,
    columns: Path | str | None = None,
    group: str | None = None,
    tissue_type: str = "unknown",
    per_sample_group: bool = False,
    prefix: str = "",
    name: str | None = None,
    source: str = "AI4Loop BED-like table",
) -> Cohort:
    """An AI4Loop BED-like TPM table (ENCODE ``allRNAseq.tsv``, the AML example, ...)."""
    path = _check_file(Path(path))
    expr = read_expression(path, columns=columns, format="ai4loop-bed", input_scale="tpm")
    if tissue_type not in TISSUE_TYPES:
        raise BadInputError(f"tissue_type={tissue_type!r}: use one of {list(TISSUE_TYPES)}.")
    ids = [f"{prefix}{s}" for s in expr.samples]
    expr = dataclasses.replace(expr, samples=ids)
    label = group or path.name.split(".")[0]
    groups = list(expr.samples) if per_sample_group else [label] * len(ids)
    groups = [g.removeprefix(prefix) for g in groups]
    name = name or f"ai4loop-bed:{label}"
    frame = _samples_frame(ids, groups, [tissue_type] * len(ids), name, source)
    inputs = [_input(path, "ai4loop-bed", "TPM")]
    if columns is not None:
        inputs.append(_input(Path(columns), "column names", "-"))
    return Cohort(name, expr, frame, inputs)


def read_matrix_cohort(
    path: Path | str,
    *,
    samples: Path | str,
    group: str = "group",
    tissue_type: str | None = None,
    sample_col: str | None = None,
    scale: str = "tpm",
    counts: str = DEFAULT_COUNT_METHOD,
    name: str | None = None,
) -> Cohort:
    """Generic: a gene x sample matrix and a sample table with group columns (strict match)."""
    path = _check_file(Path(path))
    samples = Path(samples)
    table, first = _read_table(samples, what="sample table")
    sample_col = sample_col or table.columns[0]
    _need_columns(table, [sample_col, group] + ([tissue_type] if tissue_type else []), samples,
                  "sample table", first)  # fmt: skip
    _unique(table[sample_col], samples, "sample ids", first)
    gz = _check_gzip(path)
    if scale not in ("tpm", "log2", "counts"):
        raise BadInputError(f"scale={scale!r}: use tpm, log2 or counts.")
    expr = _quiet_expression(path, input_scale="log2" if scale == "log2" else "tpm")
    if expr.report.format == "matrix":
        _raw_ids_unique(path, gz)
    in_table = set(table[sample_col])
    missing = [s for s in expr.samples if s not in in_table]
    extra = [s for s in table[sample_col] if s not in set(expr.samples)]
    if missing or extra:
        lines = [f"line {i + first}: {s!r}" for i, s in enumerate(table[sample_col]) if s in extra][
            :_SHOW
        ]
        raise BadInputError(
            f"{samples}: the sample table does not match {path}: "
            + (f"{len(missing)} matrix samples missing from the table (e.g. {missing[:_SHOW]}); "
               if missing else "")
            + (f"{len(extra)} table rows not in the matrix ({'; '.join(lines)})" if extra else "")
            + ". List each matrix sample exactly once."
        )  # fmt: skip
    rows = table.set_index(sample_col).loc[list(expr.samples)]
    if rows[group].str.strip().eq("").any():
        bad = rows.index[rows[group].str.strip().eq("")][0]
        raise BadInputError(f"{samples}: sample {bad!r} has an empty {group!r}; fill it.")
    if tissue_type:
        types = rows[tissue_type].str.strip().str.lower().replace({"tumor": "tumour"})
        wrong = [t for t in types if t not in TISSUE_TYPES]
        if wrong:
            raise BadInputError(
                f"{samples}: column {tissue_type!r} holds {wrong[0]!r}; use one of "
                f"{list(TISSUE_TYPES)}."
            )
        types = types.tolist()
    else:
        types = _types_from_barcodes(list(expr.samples), "unknown")
    if scale == "counts":
        expr = _with_values(expr, counts_to_tpm(expr.values, expr.genes, method=counts))
    name = name or f"matrix:{path.name}"
    frame = _samples_frame(
        list(expr.samples), rows[group].str.strip().tolist(), types, name, "expression matrix"
    )
    conv = f"counts -> TPM ({counts})" if scale == "counts" else scale.upper()
    inputs = [_input(path, "matrix", conv), _input(samples, "sample table", "-")]
    return Cohort(name, expr, frame, inputs)


def _find_star_file(root: Path, file_id: str, file_name: str) -> Path | None:
    for candidate in (root / file_id / file_name, root / file_name):
        if candidate.is_file():
            return candidate
    return None


def _read_star_file(path: Path) -> pd.DataFrame:
    """One GDC STAR counts file: ``gene_id`` and ``tpm_unstranded``, ``N_*`` rows dropped."""
    _check_file(path)
    gz = _check_gzip(path)
    opener = gzip.open(path, "rt", newline="") if gz else open(path, newline="")
    try:
        with opener as handle:
            lines = handle.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read ({exc}); the file is damaged.") from exc
    start = 0
    while start < len(lines) and (lines[start].startswith("#") or not lines[start].strip()):
        start += 1
    if start == len(lines):
        raise BadInputError(f"{path}: no header line; the file is empty.")
    header = lines[start].split("\t")
    need = ["gene_id", "tpm_unstranded"]
    if any(c not in header for c in need):
        raise BadInputError(
            f"{path}: line {start + 1}: expected a GDC STAR counts header with {need}; found "
            f"{header[:10]}. Give the *.rna_seq.augmented_star_gene_counts.tsv files."
        )
    gi, ti = header.index("gene_id"), header.index("tpm_unstranded")
    ids, tpm = [], []
    for n, line in enumerate(lines[start + 1 :], start=start + 2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise BadInputError(
                f"{path}: line {n} has {len(fields)} fields, the header has {len(header)} "
                f"(truncated?).\n  line {n}: {line[:160]!r}"
            )
        if fields[gi].startswith("N_"):
            continue
        try:
            value = float(fields[ti])
        except ValueError:
            raise BadInputError(
                f"{path}: line {n}, column tpm_unstranded: {fields[ti]!r} is not a number."
            ) from None
        if not np.isfinite(value) or value < 0:
            raise BadInputError(
                f"{path}: line {n}, column tpm_unstranded: {fields[ti]!r} is not a TPM value."
            )
        ids.append(fields[gi])
        tpm.append(value)
    if not ids:
        raise BadInputError(f"{path}: no gene rows after the header; the file is truncated.")
    frame = pd.DataFrame({"gene_id": ids, "tpm": tpm})
    dup = frame["gene_id"].duplicated(keep=False)
    if dup.any():
        first_dup = frame["gene_id"][dup].iloc[0]
        rows = [start + 2 + i for i in np.flatnonzero(dup.to_numpy())[:_SHOW]]
        raise BadInputError(
            f"{path}: gene id {first_dup!r} appears more than once (lines {rows}); each gene "
            "must have one row."
        )
    return frame


def read_gdc_star(
    path: Path | str, *, dir: Path | str | None = None, name: str | None = None
) -> Cohort:
    """GDC STAR gene counts files (``tpm_unstranded``) listed by a GDC sample sheet."""
    sheet = Path(path)
    table, first = _read_table(sheet, what="GDC sample sheet")
    need = ["File ID", "File Name", "Project ID", "Sample ID"]
    _need_columns(table, need, sheet, "GDC sample sheet", first)
    _unique(table["File Name"], sheet, "file names", first)
    _unique(table["Sample ID"], sheet, "sample ids", first)
    root = Path(dir) if dir is not None else sheet.parent
    columns, gene_ids = [], None
    for i, row in table.iterrows():
        line = i + first
        found = _find_star_file(root, row["File ID"], row["File Name"])
        if found is None:
            raise BadInputError(
                f"{sheet}: line {line}: file {row['File Name']!r} (File ID {row['File ID']}) "
                f"is not in {root} (looked for DIR/<File ID>/<File Name> and DIR/<File Name>): "
                "the sample sheet does not match the downloaded files."
            )
        frame = _read_star_file(found)
        if gene_ids is None:
            gene_ids = frame["gene_id"]
        elif not frame["gene_id"].equals(gene_ids):
            raise BadInputError(
                f"{found}: its genes differ from those of the first file of {sheet} (other "
                "gene model or truncated); every file must list the same genes."
            )
        columns.append(frame["tpm"].to_numpy())
    if not columns:
        raise BadInputError(f"{sheet}: the sample sheet lists no files.")
    ids = table["Sample ID"].tolist()
    values = np.column_stack(columns)
    expr = _expression_from_ids(sheet, gene_ids.tolist(), ids, values, "gdc-star")
    expr = dataclasses.replace(expr, scale="tpm")
    tissue = []
    for i, sid in enumerate(ids):
        barcode_type = tcga_tissue_type(sid)
        sheet_type = str(table["Sample Type"].iloc[i]) if "Sample Type" in table else ""
        said = "normal" if "normal" in sheet_type.lower() else ("tumour" if sheet_type else None)
        if barcode_type and said and barcode_type != said and barcode_type != "control":
            raise BadInputError(
                f"{sheet}: line {i + first}: Sample Type {sheet_type!r} contradicts the barcode "
                f"{sid!r} (sample code -> {barcode_type}); fix the sheet."
            )
        tissue.append(barcode_type or said or "unknown")
    project = table["Project ID"].str.replace(r"^TCGA-", "", regex=True).tolist()
    groups = [p if t == "tumour" else f"{p} {t}" for p, t in zip(project, tissue, strict=True)]
    name = name or f"gdc-star:{sheet.name}"
    frame = _samples_frame(ids, groups, tissue, name, "GDC STAR counts (tpm_unstranded)")
    return Cohort(name, expr, frame, [_input(sheet, "gdc-star sample sheet", "TPM")])


# ---------------------------------------------------------------------------------------------
# Specs


def _registry_or_path(text: str, pattern: str | None) -> Path:
    path = Path(text)
    if path.exists():
        return path
    if pattern is not None and re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return ensure_file(pattern.format(text))
    if "/" in text and not path.is_absolute():
        try:
            return ensure_file(text)
        except BadInputError:
            pass
    raise BadInputError(f"{text}: file not found (nor a registry file).")


def _tcga_code(text: str) -> str:
    return "TEST" if text.upper() == "PAAD" else text.upper()


READERS: dict[str, Callable[..., Cohort]] = {}


def _load_tcga_rnasum(path: str, **opts) -> Cohort:
    file = _registry_or_path(
        _tcga_code(path) if re.fullmatch(r"[A-Za-z]+", path) else path,
        "tcga-rnasum/TCGA_{}_Counts.exp.gz",
    )
    target = opts.pop("target", None)
    if target is None and not Path(path).exists() and re.fullmatch(r"[A-Za-z]+", path):
        target = ensure_file(f"tcga-rnasum/TCGA_{_tcga_code(path)}_Target.txt.gz")
    return read_tcga_rnasum(file, target=target, **opts)


def _load_rtcga(path: str, **opts) -> Cohort:
    return read_tcga_rtcga(
        _registry_or_path(path.upper() if len(path) <= 5 else path,
                          "tcga-rtcga/{}.rnaseq.20160128.rda"), **opts
    )  # fmt: skip


def _load_gtex(path: str, **opts) -> Cohort:
    return read_gtex_yarn(_registry_or_path(path, "gtex-yarn/{}.rdata"), **opts)


def _load_hpa(path: str, **opts) -> Cohort:
    alias = {"tissue": "hpa/RNAtableTissue.tsv.gz", "cell-lines": "hpa/RNAtableExtended.tsv.gz"}
    file = ensure_file(alias[path]) if path in alias else _registry_or_path(path, None)
    return read_hpa(file, **opts)


def _load_encode(path: str, **opts) -> Cohort:
    file = _registry_or_path(path or "ai4loop-upstream/data/allRNAseq.tsv", None)
    return read_bed_cohort(
        file, tissue_type="cell_line", per_sample_group=True, prefix="ENCODE:",
        name=opts.pop("name", "encode"), source="ENCODE RNA-seq TPM (AI4Loop)", **opts,
    )  # fmt: skip


def _load_bed(path: str, **opts) -> Cohort:
    if path == "aml-example":
        file = ensure_file("ai4loop-upstream/prediction/Samples_RNASeqdata.bed")
        columns = ensure_file("ai4loop-upstream/prediction/Samples_RNASeqdata.bed.columns.txt")
        opts = {
            "group": "AML",
            "tissue_type": "tumour",
            "name": "aml-example",
            "source": "AI4Loop example (2 AML samples)",
            "columns": columns,
            **opts,
        }
        return read_bed_cohort(file, **opts)
    return read_bed_cohort(_registry_or_path(path, None), **opts)


def _load_matrix(path: str, **opts) -> Cohort:
    if "samples" not in opts:
        raise BadInputError(f"matrix:{path}: give the sample table: matrix:{path},samples=TABLE")
    return read_matrix_cohort(_registry_or_path(path, None), **opts)


def _load_star(path: str, **opts) -> Cohort:
    return read_gdc_star(_registry_or_path(path, None), **opts)


READERS.update(
    {
        "gdc-star": _load_star,
        "tcga-rnasum": _load_tcga_rnasum,
        "tcga-rtcga": _load_rtcga,
        "gtex-yarn": _load_gtex,
        "hpa": _load_hpa,
        "encode": _load_encode,
        "ai4loop-bed": _load_bed,
        "matrix": _load_matrix,
    }
)


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``FORMAT:PATH[,KEY=VALUE...]`` -> (format, path, options)."""
    fmt, _, rest = spec.partition(":")
    if fmt not in READERS:
        raise BadInputError(
            f"--cohort {spec!r}: unknown format {fmt!r}; use FORMAT:PATH[,KEY=VALUE...] with "
            f"FORMAT one of {sorted(READERS)}."
        )
    parts = rest.split(",") if rest else [""]
    path, options = parts[0], {}
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise BadInputError(f"--cohort {spec!r}: option {part!r} is not KEY=VALUE.")
        options[key.strip().replace("-", "_")] = value.strip()
    return fmt, path, options


def load_cohort(spec: str | Cohort) -> Cohort:
    """Load a cohort from a spec (see the module docstring); a :class:`Cohort` passes through."""
    if isinstance(spec, Cohort):
        return spec
    fmt, path, options = parse_spec(spec)
    only = options.pop("only", None)
    try:
        cohort = READERS[fmt](path, **options)
    except TypeError as exc:
        raise BadInputError(f"--cohort {spec!r}: bad option ({exc}).") from exc
    if only is None:
        return cohort
    keep = cohort.samples["tissue_type"].to_numpy() == only
    if not keep.any():
        raise BadInputError(
            f"--cohort {spec!r}: only={only} keeps no sample (tissue types: "
            f"{sorted(set(cohort.samples['tissue_type']))})."
        )
    ids = cohort.samples["sample_id"][keep].tolist()
    samples = cohort.samples[keep].reset_index(drop=True)
    return Cohort(f"{cohort.name}:{only}", cohort.expression.subset(ids), samples, cohort.inputs)
