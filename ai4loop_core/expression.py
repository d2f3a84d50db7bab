"""Expression readers: any supported file -> one :class:`Expression` (genes x samples, hg19, TPM).

The model needs, per sample, expression values with gene coordinates on the raw TPM scale. Every
reader returns the same object: gene coordinates (``genes``), a float64 ``values`` matrix (genes x
samples), the sample names, the scale of the values and a validation :class:`ExpressionReport`.

Formats are kept in a small registry keyed by name (:func:`register_reader`); ``format="auto"``
asks each reader's sniffer in priority order and takes the first that claims the file.

``ai4loop-bed``
    AI4Loop's BED-like table: ``chrom start end <gene id> <sample>...``, tab-separated. Either
    headerless with a column-name file (one name per line; ``columns=`` or ``<file>.columns.txt``
    beside it), or with a header line (``#chr start end gene GM12878 ...`` as in
    ``allRNAseq.tsv``). Coordinates come from the file. Text columns right after the coordinates
    are annotation (the first is the gene id, one named ``symbol``/``gene_name`` the symbol); the
    numeric columns after them are samples. All rows are kept, duplicates included (the feature
    transform averages overlapping genes), and duplicates are counted in the report.
``matrix``
    Gene x sample TSV/CSV (gzip detected by magic bytes): first column Ensembl ids (versioned or
    not), symbols, Entrez ids or ``SYMBOL|ENTREZ``; a header line with sample names. Coordinates
    come from the gene annotation (:func:`ai4loop_core.genes.map_ids`); unmapped rows are dropped
    and reported; fewer than 50% mapped is refused.

Duplicated genes in a matrix (rows mapping to one ``gene_id``: repeated ids, versions, symbol
aliases, ``7157`` next to ``TP53``) keep the row with the highest mean over the samples read (ties:
the first), where it stood; the others are dropped and counted. Summing would double-count
when rows are copies or aliases of one measurement; the max-mean row (WGCNA ``collapseRows``
"MaxMean") keeps one real measurement.

Adding a format: parse the file into a :class:`Parsed` (values, samples, ids, optional
coordinates, file line of each row) and return :func:`finish` of it, which does the shared value
checks, scale handling, id mapping and duplicate policy; register the function with
:func:`register_reader` and a sniffer.

Scale heuristic (:func:`detect_scale`, on the values as read, needs >= 200 rows):

* ``counts``: every value is an integer and most samples sum to more than 1e6 (TPM sums to 1e6
  over the whole transcriptome, so a larger sum cannot be TPM).
* ``log2``: most samples have a maximum <= 50 and some non-integer values. TPM sums to 1e6, so
  over <= 60,000 genes the mean TPM is >= 16 and the top genes (mitochondrial, ribosomal) reach
  hundreds to tens of thousands; a transcriptome whose largest value is <= 50 is log-like.
* ``tpm`` otherwise; ``undetermined`` below 200 rows (a handful of genes can all be small).

With ``input_scale="auto"`` a ``log2`` or ``counts`` detection emits :class:`ExpressionWarning`
(also listed in ``report.warnings``); the values are returned unconverted and ``scale`` says what
they look like, so a model expecting ``tpm`` refuses them. ``input_scale="log2"`` assumes
``log2(TPM + 1)`` and converts with ``2**x - 1``; values above 20 are refused there (log2(1e6 + 1)
= 19.93 is the largest possible). ``input_scale="tpm"`` takes the values as TPM without warning.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.errors import BadInputError
from ai4loop_core.genome import normalize_chrom

__all__ = [
    "Expression",
    "ExpressionReport",
    "ExpressionWarning",
    "Head",
    "Parsed",
    "ReadOptions",
    "detect_format",
    "detect_scale",
    "finish",
    "formats",
    "read_expression",
    "register_reader",
]

INPUT_SCALES = ("auto", "tpm", "log2")
MIN_MAPPED_FRACTION = 0.5
SCALE_MIN_ROWS = 200
LOG_MAX = 50.0
LOG2_TPM_CEILING = 20.0  # log2(1e6 + 1) = 19.93: no log2(TPM+1) value can exceed it
TPM_TOTAL = 1e6
ACCEPTED_IDS = (
    "Ensembl gene ids, unversioned or versioned (ENSG00000141510, ENSG00000141510.16), "
    "HGNC symbols (TP53), Entrez ids (7157) or SYMBOL|ENTREZ (TP53|7157), human genes"
)
_NA_TOKENS = ["", "NA", "N/A", "NaN", "nan", "-nan", "NULL", "null", "None", "#N/A", "<NA>"]
_ID_NAME = re.compile(
    r"^(gene(_?id)?\d*|gene_?(name|symbol)|symbol|entrez(_?id)?|ensembl(_?(gene_?)?id)?|id|name)$",
    re.IGNORECASE,
)
_SYMBOL_NAME = re.compile(r"^(symbol|gene_?(name|symbol))$", re.IGNORECASE)
_SHOW = 5  # offending rows shown in a message


class ExpressionWarning(UserWarning):
    """Expression values that load but look wrong (log-transformed, raw counts, not TPM)."""


@dataclass(frozen=True)
class ExpressionReport:
    """What reading one expression file found, and what was done about it."""

    format: str
    n_rows: int
    n_mapped: int
    n_unknown: int = 0
    unknown_examples: tuple[str, ...] = ()
    n_duplicated: int = 0
    duplicate_examples: tuple[str, ...] = ()
    duplicates: str = "none"
    n_duplicated_coordinates: int = 0
    detected_scale: str = "undetermined"
    input_scale: str = "auto"
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        """A few lines for people (CLI, logs)."""
        out = [
            f"format {self.format}: {self.n_rows} rows read, {self.n_mapped} with coordinates",
            f"scale: detected {self.detected_scale}, input_scale={self.input_scale}",
        ]
        if self.n_unknown:
            out.append(
                f"{self.n_unknown} unknown ids dropped, e.g. {', '.join(self.unknown_examples)}"
            )
        if self.n_duplicated or self.n_duplicated_coordinates:
            out.append(
                f"duplicates: {self.n_duplicated} ids, {self.n_duplicated_coordinates} "
                f"coordinates; {self.duplicates}"
            )
        out += [f"warning: {w}" for w in self.warnings]
        return "\n".join(out)


@dataclass(frozen=True, eq=False)
class Expression:
    """Genes x samples expression with hg19 gene coordinates.

    ``genes`` has ``gene_id``, ``chrom``, ``start``, ``end`` (and ``symbol`` when known), one row
    per row of ``values`` (float64, read-only, genes x samples). ``scale`` is ``tpm`` when the
    values are what the models take.
    """

    genes: pd.DataFrame
    values: np.ndarray
    samples: list[str]
    scale: str
    source: str
    report: ExpressionReport

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.genes), len(self.samples)):
            raise ValueError(
                f"values {self.values.shape} do not match {len(self.genes)} genes x "
                f"{len(self.samples)} samples"
            )

    def subset(self, samples: Sequence[str]) -> Expression:
        """The same genes for ``samples`` only, in the order given."""
        cols = _sample_positions(self.source, list(self.samples), samples)
        values = self.values[:, cols]
        values.flags.writeable = False
        return dataclasses.replace(self, values=values, samples=[self.samples[i] for i in cols])


@dataclass(frozen=True)
class ReadOptions:
    """The caller's options, handed to every reader."""

    columns: Path | None = None
    input_scale: str = "auto"
    samples: tuple[str, ...] | None = None
    annotation: pd.DataFrame | None = None


@dataclass(frozen=True)
class Head:
    """The start of a file, for sniffers: gzip or not, first text lines, a column-name file."""

    path: Path
    gzip: bool
    binary: bool
    lines: tuple[str, ...]
    first_line: int
    columns: Path | None


Reader = Callable[[Path, ReadOptions], Expression]
Sniffer = Callable[[Head], bool]


@dataclass(frozen=True)
class _Format:
    name: str
    read: Reader
    sniff: Sniffer | None
    priority: int
    description: str


_READERS: dict[str, _Format] = {}


def register_reader(
    name: str, *, sniff: Sniffer | None = None, priority: int = 50, description: str = ""
) -> Callable[[Reader], Reader]:
    """Register ``read(path, options) -> Expression`` under ``name``.

    ``sniff(head)`` says whether a file looks like this format (``None``: only by name). Sniffers
    run by ascending ``priority``; the generic ``matrix`` reader is the fallback at 100.
    """

    def add(read: Reader) -> Reader:
        _READERS[name] = _Format(name, read, sniff, priority, description or (read.__doc__ or ""))
        return read

    return add


def formats() -> dict[str, str]:
    """Registered format names with their one-line descriptions."""
    return {f.name: f.description.strip().splitlines()[0] for f in _READERS.values()}


def detect_format(path: Path | str, *, columns: Path | str | None = None) -> str:
    """The name of the first registered format whose sniffer claims ``path``."""
    path = _check_file(Path(path))
    head = _head(path, Path(columns) if columns is not None else None)
    for fmt in sorted(_READERS.values(), key=lambda f: f.priority):
        if fmt.sniff is not None and fmt.sniff(head):
            return fmt.name
    if not head.binary and not head.lines:
        raise BadInputError(f"{path}: file has only blank lines; re-export or re-download it.")
    kind = "a binary file" if head.binary else "a text file with no recognisable layout"
    raise BadInputError(
        f"{path}: cannot tell the expression format ({kind}); first line: "
        f"{_clip(head.lines[0] if head.lines else '')!r}. Pass format= one of "
        f"{sorted(_READERS)} or convert the file to a gene x sample TSV."
    )


def read_expression(
    path: Path | str,
    *,
    columns: Path | str | None = None,
    format: str = "auto",
    input_scale: str = "auto",
    samples: Sequence[str] | None = None,
    annotation: pd.DataFrame | None = None,
) -> Expression:
    """Read an expression file into an :class:`Expression` (see the module docstring).

    Parameters
    ----------
    path
        The expression file (plain or gzip).
    columns
        Column-name file of a headerless ``ai4loop-bed`` table; default ``<path>.columns.txt``
        when it exists.
    format
        A name from :func:`formats`, or ``auto`` to sniff.
    input_scale
        ``auto`` (detect and warn), ``tpm`` (trust), ``log2`` (log2(TPM+1), converted to TPM).
    samples
        Keep only these samples, in this order.
    annotation
        Gene annotation for id mapping (default :func:`ai4loop_core.genes.load_annotation`).

    Raises
    ------
    BadInputError
        For any problem with the file or options; the message names the file, the line or column
        and what to do.
    """
    path = _check_file(Path(path))
    if input_scale not in INPUT_SCALES:
        raise BadInputError(
            f"{path}: input_scale={input_scale!r} is not a scale; use one of {list(INPUT_SCALES)}."
        )
    if samples is not None and isinstance(samples, str):
        samples = [samples]
    if samples is not None and not len(samples):
        raise BadInputError(f"{path}: samples=[] selects nothing; give sample names or None.")
    columns = Path(columns) if columns is not None else None
    if columns is not None:
        _check_file(columns)
    options = ReadOptions(
        columns=columns,
        input_scale=input_scale,
        samples=tuple(samples) if samples is not None else None,
        annotation=annotation,
    )
    if format == "auto":
        format = detect_format(path, columns=columns)
    if format not in _READERS:
        raise BadInputError(
            f"{path}: format={format!r} is unknown; use 'auto' or one of {sorted(_READERS)}."
        )
    return _READERS[format].read(path, options)


# ---------------------------------------------------------------------------------------------
# What text readers parse, and the checks and mapping every reader shares


@dataclass
class Parsed:
    """One reader's parse of a file, before the shared checks, mapping and scale handling.

    ``lines`` holds the 1-based file line of each row (``None`` for binary formats, where rows
    are named by id); ``fields`` the 1-based file column of each sample.
    """

    path: Path
    format: str
    values: np.ndarray
    samples: list[str]
    ids: np.ndarray
    coords: pd.DataFrame | None = None
    lines: np.ndarray | None = None
    fields: list[int] | None = None
    gzip: bool = False
    notes: list[str] = field(default_factory=list)

    def where(self, row: int, col: int | None = None) -> str:
        """``line 12, column 'AML1' (field 5)`` for text files, ``row 'ENSG..'`` otherwise."""
        text = f"line {self.lines[row]}" if self.lines is not None else f"row {self.ids[row]!r}"
        if col is not None:
            text += f", column {self.samples[col]!r}"
            if self.fields is not None:
                text += f" (field {self.fields[col]})"
        return text

    def show(self, rows: Iterable[int]) -> str:
        """The offending rows as they are in the file (text formats) or as ids."""
        rows = list(rows)[:_SHOW]
        if self.lines is None:
            return "\n".join(f"  row {self.ids[r]!r}: {self.values[r].tolist()}" for r in rows)
        return _show_lines(self.path, self.gzip, [self.lines[r] for r in rows])


def finish(parsed: Parsed, options: ReadOptions, *, duplicates: str) -> Expression:
    """Shared tail of every reader: value checks, scale, id mapping, duplicates -> Expression.

    ``duplicates`` is ``keep`` (report only) or ``max_mean`` (keep, per gene, the row with the
    highest mean over the samples read; ties keep the first row).
    """
    p = parsed
    _check_values(p)
    detected, notes = detect_scale(p.values, p.samples)
    scale, values = _apply_scale(p, detected, options.input_scale, notes)
    if p.coords is None:
        genes, keep, n_unknown, unknown = _map_ids(p, options.annotation)
    else:
        genes, keep, n_unknown, unknown = p.coords, np.arange(len(p.ids)), 0, ()
    values = values[keep]
    dup_ids = genes["gene_id"].duplicated()
    n_dup = int(dup_ids.sum())
    dup_examples = tuple(_duplicate_examples(genes, p, keep))
    n_dup_coords = int(genes.duplicated(["chrom", "start", "end"]).sum())
    if duplicates == "keep":
        how = (
            "all rows kept (the feature transform averages overlapping genes)"
            if n_dup or n_dup_coords
            else "none"
        )
    elif duplicates == "max_mean":
        order = pd.Series(-values.mean(axis=1)).sort_values(kind="stable").index
        first = ~genes["gene_id"].iloc[order].duplicated().to_numpy()
        best = np.sort(order.to_numpy()[first])
        how = f"kept the row with the highest mean per gene; dropped {n_dup} rows" if n_dup else ""
        genes, values = genes.iloc[best].reset_index(drop=True), values[best]
        how = how or "none"
    else:
        raise ValueError(f"duplicates={duplicates!r}")
    values = np.ascontiguousarray(values, dtype=np.float64)
    values.flags.writeable = False
    report = ExpressionReport(
        format=p.format,
        n_rows=len(p.ids),
        n_mapped=len(keep),
        n_unknown=n_unknown,
        unknown_examples=tuple(unknown),
        n_duplicated=n_dup,
        duplicate_examples=dup_examples,
        duplicates=how,
        n_duplicated_coordinates=n_dup_coords,
        detected_scale=detected,
        input_scale=options.input_scale,
        warnings=tuple(p.notes + notes),
    )
    return Expression(
        genes=genes.reset_index(drop=True),
        values=values,
        samples=list(p.samples),
        scale=scale,
        source=str(p.path),
        report=report,
    )


def detect_scale(values: np.ndarray, samples: Sequence[str] | None = None) -> tuple[str, list[str]]:
    """Guess the scale of a genes x samples matrix (see the module docstring for the rules).

    Returns the scale (``tpm``, ``log2``, ``counts`` or ``undetermined``) and warnings.
    """
    names = list(samples) if samples is not None else None
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] < SCALE_MIN_ROWS or values.shape[1] == 0:
        return "undetermined", []
    col_max = values.max(axis=0)
    col_sum = values.sum(axis=0)
    non_integer = (values != np.floor(values)).any(axis=0)
    log_like = (col_max <= LOG_MAX) & non_integer
    counts_like = ~non_integer & (col_sum > TPM_TOTAL)
    if counts_like.mean() > 0.5:
        return "counts", [
            f"all values are integers and samples sum to {np.median(col_sum):.3g} (median) > 1e6:"
            " these look like read counts, not TPM"
        ]
    if log_like.mean() > 0.5:
        return "log2", [
            f"values look log-transformed: the largest value is {col_max.max():.4g} (<= {LOG_MAX:g}"
            " in most samples), which raw TPM over a transcriptome never is"
        ]
    notes = []
    if log_like.any():
        notes.append(
            f"samples that look log-transformed: {_names(np.flatnonzero(log_like), names)}"
        )
    over = np.flatnonzero(col_sum > 1.05 * TPM_TOTAL)
    if len(over):
        notes.append(
            f"{len(over)} samples sum to more than 1e6 ({_names(over, names)}): TPM "
            "cannot; check the values are TPM (not FPKM or counts)"
        )
    return "tpm", notes


def _apply_scale(
    p: Parsed, detected: str, input_scale: str, notes: list[str]
) -> tuple[str, np.ndarray]:
    if input_scale == "log2":
        high = np.argwhere(p.values > LOG2_TPM_CEILING)
        if len(high):
            r, c = high[0]
            raise BadInputError(
                f"{p.path}: input_scale='log2' but {p.where(r, c)} holds {p.values[r, c]:g}; "
                f"log2(TPM+1) never exceeds {LOG2_TPM_CEILING:g} (TPM sums to 1e6). "
                f"{len(high)} such values. If the values are TPM use input_scale='tpm'; "
                "if they are another log scale, convert them to TPM first.\n"
                + p.show(np.unique(high[:, 0]))
            )
        return "tpm", np.exp2(p.values) - 1.0
    if input_scale == "auto" and detected in {"log2", "counts"}:
        hint = (
            "pass input_scale='log2' to convert log2(TPM+1) to TPM"
            if detected == "log2"
            else "normalise the counts to TPM first"
        )
        for note in notes[:1]:
            warnings.warn(
                f"{p.path}: {note}; returned unconverted with scale={detected!r}. {hint}, or "
                "input_scale='tpm' if they are TPM.",
                ExpressionWarning,
                stacklevel=5,
            )
        return detected, p.values
    return "tpm", p.values


def _check_values(p: Parsed) -> None:
    if p.values.size == 0:
        return
    bad = np.argwhere(~np.isfinite(p.values))
    if len(bad):
        r, c = bad[0]
        raise BadInputError(
            f"{p.path}: {p.where(r, c)}: missing or non-finite value ({p.values[r, c]:g}); "
            f"{len(bad)} such cells in {len(np.unique(bad[:, 0]))} rows. Expression must be "
            "complete: fill them (0 if the gene was not detected) or drop those rows/samples.\n"
            + p.show(np.unique(bad[:, 0]))
        )
    neg = np.argwhere(p.values < 0)
    if len(neg):
        r, c = neg[0]
        raise BadInputError(
            f"{p.path}: {p.where(r, c)}: negative value {p.values[r, c]:g}; {len(neg)} negative "
            "cells. TPM (and log2(TPM+1)) cannot be negative: these look like log2(TPM) without "
            "a pseudocount, centred or batch-corrected values; give TPM instead.\n"
            + p.show(np.unique(neg[:, 0]))
        )


def _map_ids(
    p: Parsed, annotation: pd.DataFrame | None
) -> tuple[pd.DataFrame, np.ndarray, int, list[str]]:
    from ai4loop_core.genes import load_annotation, map_ids

    if annotation is None:
        annotation = load_annotation()
    mapped = map_ids(list(p.ids), annotation)
    if len(mapped) != len(p.ids):
        raise RuntimeError(f"map_ids returned {len(mapped)} rows for {len(p.ids)} ids")
    gene_ids = mapped["gene_id"].reset_index(drop=True)
    ann = annotation.drop_duplicates("gene_id").set_index("gene_id")
    cols = ["chrom", "start", "end"] + (["symbol"] if "symbol" in ann.columns else [])
    found = gene_ids.notna().to_numpy()
    coords = ann.reindex(gene_ids.where(found, "")).loc[:, cols].reset_index(drop=True)
    ok = found & coords[["chrom", "start", "end"]].notna().all(axis=1).to_numpy()
    keep = np.flatnonzero(ok)
    unknown = [str(i) for i in p.ids[~ok][:10]]
    n_unknown = int((~ok).sum())
    if len(p.ids) and len(keep) < MIN_MAPPED_FRACTION * len(p.ids):
        rows = np.flatnonzero(~ok)
        raise BadInputError(
            f"{p.path}: only {len(keep)} of {len(p.ids)} gene ids in column 1 (first at "
            f"{p.where(rows[0])}) are known genes with hg19 coordinates (need at least "
            f"{MIN_MAPPED_FRACTION:.0%}). Unknown ids, e.g.: {', '.join(unknown)}. Accepted: "
            f"{ACCEPTED_IDS}. Put the gene ids in the first column.\n" + p.show(rows)
        )
    genes = coords.iloc[keep].copy()
    genes.insert(0, "gene_id", gene_ids.iloc[keep].astype(str).to_numpy())
    genes["chrom"] = _chroms(genes["chrom"])
    genes["start"] = genes["start"].astype(np.int64)
    genes["end"] = genes["end"].astype(np.int64)
    return genes.reset_index(drop=True), keep, n_unknown, unknown


def _duplicate_examples(genes: pd.DataFrame, p: Parsed, keep: np.ndarray) -> list[str]:
    dup = genes["gene_id"].duplicated(keep=False).to_numpy()
    if not dup.any():
        return []
    out = []
    frame = pd.DataFrame({"gene": genes["gene_id"].to_numpy()[dup], "row": keep[dup]})
    for gene, rows in frame.groupby("gene", sort=False)["row"]:
        out.append(f"{gene} ({'; '.join(f'{p.where(r)}: {p.ids[r]}' for r in rows.iloc[:3])})")
        if len(out) == _SHOW:
            break
    return out


def _sample_positions(source: object, available: list[str], requested: Sequence[str]) -> list[int]:
    requested = [requested] if isinstance(requested, str) else list(requested)
    index = {name: i for i, name in enumerate(available)}
    missing = [s for s in requested if s not in index]
    if missing:
        raise BadInputError(
            f"{source}: samples not in the file: {missing}. Available ({len(available)}): "
            f"{_examples(available, 50)}."
        )
    twice = sorted(name for name, n in Counter(requested).items() if n > 1)
    if twice:
        raise BadInputError(f"{source}: samples requested more than once: {twice}.")
    return [index[s] for s in requested]


# ---------------------------------------------------------------------------------------------
# Text files


def _check_file(path: Path) -> Path:
    if not path.exists():
        raise BadInputError(f"{path}: file not found; check the path (relative to {Path.cwd()}).")
    if not path.is_file():
        raise BadInputError(f"{path}: is not a file; give an expression file.")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: file is empty (0 bytes); re-export or re-download it.")
    return path


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        magic = handle.read(2)
    gz = magic == b"\x1f\x8b"
    if path.suffix.lower() == ".gz" and not gz:
        raise BadInputError(
            f"{path}: named .gz but is not gzip-compressed (first bytes {magic!r}); rename it "
            f"without .gz, or compress it with `gzip`."
        )
    return gz


def _open_text(path: Path, gz: bool):
    if gz:
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _head(path: Path, columns: Path | None, n: int = 5) -> Head:
    """First ``n`` non-blank lines (whole, without line ends); ``first_line`` is 1-based."""
    gz = _is_gzip(path)
    lines: list[str] = []
    first = 1
    try:
        with gzip.open(path, "rb") if gz else open(path, "rb") as handle:
            binary = b"\0" in handle.read(8192)
        if not binary:
            with _open_text(path, gz) as handle:
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        first = number if not lines else first
                        lines.append(line.rstrip("\r\n"))
                        if len(lines) == n:
                            break
    except (OSError, EOFError) as exc:
        raise BadInputError(f"{path}: cannot decompress ({exc}); the file is damaged.") from exc
    if columns is None:
        columns = _sibling_columns(path)
    return Head(path, gz, binary, tuple(lines), first, columns)


def _sibling_columns(path: Path) -> Path | None:
    candidates = [path.with_name(path.name + ".columns.txt")]
    if path.suffix.lower() == ".gz":
        candidates.append(path.with_name(path.stem + ".columns.txt"))
    return next((c for c in candidates if c.is_file()), None)


def _raw_lines(path: Path, gz: bool, numbers: Iterable[int]) -> dict[int, str]:
    wanted = set(numbers)
    out: dict[int, str] = {}
    if not wanted:
        return out
    last = max(wanted)
    with _open_text(path, gz) as handle:
        for n, line in enumerate(handle, start=1):
            if n in wanted:
                out[n] = line.rstrip("\r\n")
            if n >= last:
                break
    return out


def _show_lines(path: Path, gz: bool, numbers: Iterable[int]) -> str:
    """The first few of these file lines, as they are (tabs shown as ``|``)."""
    numbers = [int(n) for n in list(numbers)[:_SHOW]]
    raw = _raw_lines(path, gz, numbers)
    return "\n".join(f"  line {n}: {_clip(raw.get(n, ''))}" for n in numbers)


def _clip(text: str, width: int = 160) -> str:
    text = text.replace("\t", " | ")
    return text if len(text) <= width else text[: width - 3] + "..."


def _examples(items: Iterable[object], n: int = _SHOW) -> str:
    items = list(items)
    more = f", ... ({len(items)} in all)" if len(items) > n else ""
    return ", ".join(str(i) for i in items[:n]) + more


def _names(cols: np.ndarray, names: list[str] | None) -> str:
    return _examples([names[i] if names else f"column {i + 1}" for i in cols])


def _split(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep)) if line else []


def _read_text(
    path: Path,
    *,
    gz: bool,
    sep: str,
    n_fields: int,
    skip: int,
    text_first: bool,
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """Parse a delimited table with the C parser; rows keep their 1-based file line numbers.

    Columns are named ``0..n_fields-1``. Blank lines are dropped (noted); a line with too many or
    too few fields is refused. With ``text_first`` the first column is read as text, ``NA`` kept.
    """
    names = list(range(n_fields))
    na = {i: _NA_TOKENS for i in names[1:]} if text_first else {i: _NA_TOKENS for i in names}
    try:
        df = pd.read_csv(
            path,
            sep=sep,
            header=None,
            names=names,
            skiprows=skip,
            index_col=False,
            dtype={0: str} if text_first else None,
            keep_default_na=False,
            na_values=na,
            skip_blank_lines=False,
            compression="gzip" if gz else None,
            engine="c",
            low_memory=False,
        )
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if not m:
            raise BadInputError(f"{path}: cannot parse the table ({exc}).") from exc
        line = int(m.group(2))
        raw = _raw_lines(path, gz, [line]).get(line, "")
        raise BadInputError(
            f"{path}: line {line} has {m.group(3)} fields, the table has {n_fields} "
            f"(separator {sep!r}). Fix or remove that line.\n  line {line}: {_clip(raw)}"
        ) from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read ({exc}); the file is damaged.") from exc
    lines = np.arange(skip + 1, skip + 1 + len(df))
    notes: list[str] = []
    if len(df):
        first = df[0].isna() | df[0].astype(str).str.strip().eq("")
        blank = (df.iloc[:, 1:].isna().all(axis=1) & first).to_numpy()
        if blank.any():
            notes.append(
                f"skipped {int(blank.sum())} blank lines (line {_examples(lines[blank], 3)})"
            )
            df, lines = df.loc[~blank].reset_index(drop=True), lines[~blank]
        holes = np.flatnonzero(df.isna().any(axis=1).to_numpy())
        if len(holes):
            raw = _raw_lines(path, gz, lines[holes[:1000]])
            short = [n for n, text in raw.items() if len(_split(text, sep)) < n_fields]
            if short:
                n = short[0]
                raise BadInputError(
                    f"{path}: line {n} has {len(_split(raw[n], sep))} fields, the table has "
                    f"{n_fields} (truncated line?); {len(short)} such lines. Fix or remove "
                    "them.\n" + "\n".join(f"  line {k}: {_clip(raw[k])}" for k in short[:_SHOW])
                )
    return df, lines, notes


def _numeric_fraction(col: pd.Series) -> float:
    present = col.dropna()
    if not len(present):
        return 1.0
    sample = present.iloc[:2000]
    return float(pd.to_numeric(sample, errors="coerce").notna().mean())


def _split_columns(
    df: pd.DataFrame, names: list[str], first: int, path: Path, lines: np.ndarray
) -> tuple[list[int], list[int]]:
    """Columns from ``first`` on: leading text (or id-named) columns, then numeric samples."""
    text, samples = [], []
    for i in range(first, df.shape[1]):
        col = df[i]
        is_text = not pd.api.types.is_numeric_dtype(col) and _numeric_fraction(col) < 0.5
        if not samples and (is_text or _ID_NAME.match(names[i].lstrip("#"))):
            text.append(i)
        elif is_text:
            row = int(np.flatnonzero(col.notna().to_numpy())[0]) if col.notna().any() else 0
            raise BadInputError(
                f"{path}: column {names[i]!r} (field {i + 1}) is text (e.g. {col.iloc[row]!r} at "
                f"line {lines[row]}) but comes after the sample column {names[samples[0]]!r}. "
                "Put gene id/name columns before the samples, or remove it."
            )
        else:
            samples.append(i)
    if not samples:
        raise BadInputError(
            f"{path}: no numeric sample columns; columns are {names}. Expected gene id "
            "column(s) followed by one numeric column per sample."
        )
    return text, samples


def _numeric_block(
    df: pd.DataFrame, cols: list[int], names: list[str], path: Path, gz: bool, lines: np.ndarray
) -> np.ndarray:
    out = np.empty((len(df), len(cols)), dtype=np.float64)
    for j, i in enumerate(cols):
        col = df[i]
        if pd.api.types.is_numeric_dtype(col):
            out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
            continue
        num = pd.to_numeric(col, errors="coerce")
        bad = np.flatnonzero((num.isna() & col.notna()).to_numpy())
        if len(bad):
            shown = _show_lines(path, gz, lines[bad])
            raise BadInputError(
                f"{path}: line {lines[bad[0]]}, column {names[i]!r} (field {i + 1}): "
                f"{col.iloc[bad[0]]!r} is not a number; {len(bad)} such cells in that column. "
                f"Sample columns must hold numbers (TPM); fix those cells.\n{shown}"
            )
        out[:, j] = num.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _chroms(col: pd.Series) -> np.ndarray:
    col = col.astype(str)
    table = {c: normalize_chrom(c) for c in col.unique()}
    return col.map(table).to_numpy(dtype=object)


def _check_names(names: list[str], where: str) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen:
            raise BadInputError(
                f"{where}: column name {name!r} appears twice (fields {seen[name]} and {i}); "
                "sample names must be unique."
            )
        seen[name] = i


# ---------------------------------------------------------------------------------------------
# ai4loop-bed


def _is_int(text: str) -> bool:
    return text.strip().isdigit()


def _sniff_bed(head: Head) -> bool:
    if head.binary or not head.lines:
        return False
    fields = head.lines[0].split("\t")
    if len(fields) < 4:
        return False
    if head.columns is not None or fields[0].lower().lstrip("#") in {"chr", "chrom", "chromosome"}:
        return True
    return _is_int(fields[1]) and _is_int(fields[2])


def _read_column_file(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        names = [line.strip() for line in handle]
    while names and not names[-1]:
        names.pop()
    empty = [i for i, n in enumerate(names, start=1) if not n]
    if not names or empty:
        raise BadInputError(
            f"{path}: column-name file "
            + (f"has empty names at line {empty[0]}" if empty else "is empty")
            + "; write one column name per line (chrom, start, end, gene id, samples)."
        )
    return names


@register_reader("ai4loop-bed", sniff=_sniff_bed, priority=10)
def read_ai4loop_bed(path: Path, options: ReadOptions) -> Expression:
    """AI4Loop BED-like table: chrom, start, end, gene id, one numeric column per sample."""
    gz = _is_gzip(path)
    head = _head(path, options.columns, n=1)
    if not head.lines:
        raise BadInputError(f"{path}: file has no text lines; it is empty or blank.")
    first = head.lines[0].split("\t")
    has_header = not (len(first) > 2 and _is_int(first[1]) and _is_int(first[2]))
    n_lead = head.first_line - 1
    n_fields = len(first)
    if n_fields < 4:
        raise BadInputError(
            f"{path}: line {n_lead + 1} has {n_fields} tab-separated fields; an ai4loop-bed table "
            f"needs chrom, start, end, gene id and sample columns.\n  line {n_lead + 1}: "
            f"{_clip(head.lines[0])}"
        )
    if head.columns is not None:
        names = _read_column_file(head.columns)
        if len(names) != n_fields:
            raise BadInputError(
                f"{head.columns}: lists {len(names)} column names ({names}) but {path} line "
                f"{n_lead + 1} has {n_fields} fields. Make the column-name file list one name "
                f"per column, in order.\n  line {n_lead + 1}: {_clip(head.lines[0])}"
            )
        where = str(head.columns)
    elif has_header:
        names = [n.strip() for n in first]
        names[0] = names[0].lstrip("#")
        where = f"{path}: line {n_lead + 1}"
    else:
        raise BadInputError(
            f"{path}: headerless table and no column-name file. Pass columns= (--columns) or "
            f"create {path.name}.columns.txt with one name per line (chrom, start, end, gene "
            "id, then one sample name per sample column)."
        )
    _check_names(names, where)
    skip = n_lead + (1 if has_header else 0)
    df, lines, notes = _read_text(
        path, gz=gz, sep="\t", n_fields=n_fields, skip=skip, text_first=False
    )
    if not len(df):
        raise BadInputError(f"{path}: no data rows after line {skip}; the table is empty.")
    coords = _bed_coords(df, names, path, gz, lines)
    text, sample_cols = _split_columns(df, names, 3, path, lines)
    if options.samples is not None:
        pos = _sample_positions(path, [names[i] for i in sample_cols], options.samples)
        sample_cols = [sample_cols[i] for i in pos]
    values = _numeric_block(df, sample_cols, names, path, gz, lines)
    if text:
        ids = df[text[0]].astype(str).where(df[text[0]].notna(), "").to_numpy(dtype=object)
    else:
        ids = coords["chrom"] + ":" + coords["start"].astype(str) + "-" + coords["end"].astype(str)
        ids = ids.to_numpy(dtype=object)
    coords.insert(0, "gene_id", ids)
    symbol = [i for i in text[1:] if _SYMBOL_NAME.match(names[i])]
    if symbol:
        coords["symbol"] = df[symbol[0]].astype(str).to_numpy(dtype=object)
    parsed = Parsed(
        path=path,
        format="ai4loop-bed",
        values=values,
        samples=[names[i] for i in sample_cols],
        ids=ids,
        coords=coords,
        lines=lines,
        fields=[i + 1 for i in sample_cols],
        gzip=gz,
        notes=notes,
    )
    return finish(parsed, options, duplicates="keep")


def _bed_coords(
    df: pd.DataFrame, names: list[str], path: Path, gz: bool, lines: np.ndarray
) -> pd.DataFrame:
    chrom = df[0]
    if chrom.isna().any():
        r = int(np.flatnonzero(chrom.isna().to_numpy())[0])
        raise BadInputError(
            f"{path}: line {lines[r]}, column {names[0]!r} (field 1): missing chromosome; fill "
            "it or remove the line."
        )
    out = {"chrom": _chroms(chrom)}
    for i, key in ((1, "start"), (2, "end")):
        col = df[i]
        num = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(num) | (num != np.floor(num)) | (num < 0))
        if len(bad):
            raise BadInputError(
                f"{path}: line {lines[bad[0]]}, column {names[i]!r} (field {i + 1}): "
                f"{key} {col.iloc[bad[0]]!r} is not a non-negative integer; {len(bad)} such rows."
                " Columns 1-3 must be chrom, start, end in bases.\n"
                + _show_lines(path, gz, lines[bad])
            )
        out[key] = num.astype(np.int64)
    frame = pd.DataFrame(out)
    flipped = np.flatnonzero((frame["end"] < frame["start"]).to_numpy())
    if len(flipped):
        r = flipped[0]
        raise BadInputError(
            f"{path}: line {lines[r]}: end {frame['end'].iloc[r]} < start "
            f"{frame['start'].iloc[r]}; {len(flipped)} such rows. Swap or fix them."
        )
    return frame


# ---------------------------------------------------------------------------------------------
# matrix


def _matrix_sep(line: str) -> str | None:
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    return None


def _sniff_matrix(head: Head) -> bool:
    return not head.binary and bool(head.lines) and _matrix_sep(head.lines[0]) is not None


@register_reader("matrix", sniff=_sniff_matrix, priority=100)
def read_matrix(path: Path, options: ReadOptions) -> Expression:
    """Gene x sample TSV/CSV: gene ids in column 1, a header of sample names; coordinates mapped."""
    gz = _is_gzip(path)
    head = _head(path, None, n=2)
    if not head.lines:
        raise BadInputError(f"{path}: file has no text lines; it is empty or blank.")
    sep = _matrix_sep(head.lines[0])
    if sep is None:
        raise BadInputError(
            f"{path}: line 1 has no tab or comma; a matrix needs a header line of gene id "
            f"column + sample names, tab- or comma-separated.\n  line 1: {_clip(head.lines[0])}"
        )
    n_lead = head.first_line - 1
    header = [h.strip() for h in _split(head.lines[0], sep)]
    if len(head.lines) < 2:
        raise BadInputError(
            f"{path}: has a header (line {n_lead + 1}) but no data rows; the matrix is empty."
        )
    n_data = len(_split(head.lines[1], sep))
    if n_data == len(header) + 1:  # R write.table: no name over the row names
        header = ["gene_id", *header]
    if len(header) > 1 and _numeric_fraction(pd.Series(header[1:])) == 1.0:
        raise BadInputError(
            f"{path}: line {n_lead + 1} is data, not a header (fields 2.. are numbers). Add a "
            f"header line: gene id column name, then one name per sample.\n  line {n_lead + 1}: "
            f"{_clip(head.lines[0])}"
        )
    header[0] = header[0] or "gene_id"
    _check_names(header, f"{path}: line {n_lead + 1}")
    df, lines, notes = _read_text(
        path, gz=gz, sep=sep, n_fields=len(header), skip=n_lead + 1, text_first=True
    )
    if not len(df):
        raise BadInputError(f"{path}: has a header but no data rows; the matrix is empty.")
    ids = df[0].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    text, sample_cols = _split_columns(df, header, 1, path, lines)
    if text:
        notes.append(f"ignored text columns {[header[i] for i in text]}")
    if options.samples is not None:
        pos = _sample_positions(path, [header[i] for i in sample_cols], options.samples)
        sample_cols = [sample_cols[i] for i in pos]
    values = _numeric_block(df, sample_cols, header, path, gz, lines)
    parsed = Parsed(
        path=path,
        format="matrix",
        values=values,
        samples=[header[i] for i in sample_cols],
        ids=ids,
        lines=lines,
        fields=[i + 1 for i in sample_cols],
        gzip=gz,
        notes=notes,
    )
    return finish(parsed, options, duplicates="max_mean")
