"""LINCS L1000 inputs: GCT 1.3 / GCTX / cmapR ``.RData`` readers, data levels, scales, coverage.

Readers
    :func:`read_gct` (GCT 1.2 and 1.3 text, plain or gzip), :func:`read_gctx` (GCTX: HDF5 read
    with h5py, never pickle) and :func:`read_cmapr_rdata` (a cmapR ``GCT`` object saved in
    ``.RData``/``.rda``, read with the PyPI ``rdata`` package) all return one :class:`GCT`:
    a float64 ``values`` matrix (rows = probes or genes, columns = samples), ``row_meta`` and
    ``col_meta`` frames indexed by the row and column ids. :func:`read_lincs` picks the reader.
    Every problem with a file is a :class:`~ai4loop_core.errors.BadInputError` naming the file,
    the line (or HDF5 node) and what to do.

Data levels and what the model receives (:func:`detect_level`, :func:`model_input`)
    * Level 3 (``QNORM``, provenance ``...+QNO``): log2 quantile-normalised Luminex intensities of
      the 978 landmark genes (about 3-15). The model was trained on RNA-seq TPM (linear), so
      Level 3 is converted to a **TPM-like** linear scale: ``2**x * c``, one constant ``c`` per
      plate chosen so that the median over the landmark genes of the vehicle-control wells equals
      the median TPM of the same genes in AI4Loop's ENCODE RNA-seq (7 cell lines). This is an
      approximation: L1000 intensities are not transcript abundances (probe affinities differ
      from gene to gene), only their within-gene changes are meaningful; ``c`` only puts them in
      the range the model has seen.
    * Level 4 (``ZSPC``/``ZSVC``, provenance ``...+ZS*``): robust z-scores per gene against the
      plate population (or vehicles): ``(x - median) / (1.4826 * max(MAD, 0.1))``.
    * Level 5 (``MODZ``): moderated z-scores, one consensus signature per replicate set.
    z-scores are not expression and the model cannot take them. :func:`model_input` turns them
    back into a pseudo Level 3 profile by inverting the robust z with a baseline of the *same cell
    line*: ``x = median_g + z * 1.4826 * max(MAD_g, 0.1)`` (median and MAD per gene over the
    vehicle wells of a Level 3 plate), then converts that like Level 3. Cell lines without such a
    baseline are not scored. This is a second approximation on top of the first (the baseline
    plate is not the signature's plate), and the drug atlas records it per signature.

Genes
    L1000 measures 978 landmark genes. Row ids are Affymetrix-style probe ids (``200814_at``) with
    the Entrez id in ``pr_gene_id`` (GCT/GCTX row metadata), or Entrez ids themselves (GSE92742
    Level 5). :func:`map_rows` maps them to the annotation's Ensembl ``gene_id``
    (:func:`ai4loop_core.genes.map_ids`); probe ids without row metadata are looked up in the
    LINCS gene info.

Coverage (:func:`anchor_coverage`)
    The model sees, for each anchor, the mean expression of the genes in 155 bins of a 60 kb
    window. With only 978 measured genes most bins are empty. An anchor's coverage is the share
    of its bins that hold at least one measured gene among the bins that hold at least one gene of
    the full annotation (i.e. the bins RNA-seq would fill). A bin that holds a measured gene gets
    the mean of the measured genes only (unmeasured genes are missing, not zero).
"""

from __future__ import annotations

import gzip
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.errors import BadInputError

__all__ = [
    "GCT",
    "LEVELS",
    "anchor_coverage",
    "detect_level",
    "invert_z",
    "level3_scale_constant",
    "map_rows",
    "model_input",
    "read_cmapr_rdata",
    "read_gct",
    "read_gctx",
    "read_lincs",
    "reference_tpm",
    "robust_z",
    "sample_table",
    "write_gct",
]

LEVELS = {
    3: "log2 quantile-normalised expression (QNORM)",
    4: "robust z-scores vs plate population or vehicles (ZSPC/ZSVC)",
    5: "moderated z-scores of replicate sets (MODZ signatures)",
}
MISSING = "-666"  # CMap's missing-value token in metadata
MAD_FLOOR = 0.1  # CMap's minimum MAD for robust z-scores (log2 units)
MAD_SCALE = 1.4826  # MAD of a normal distribution -> its standard deviation
LEVEL3_RANGE = (0.0, 20.0)  # log2 intensities lie inside; z-scores go negative
GENE_INFO_PATH = "lincs/geneinfo.tsv.gz"
REFERENCE_PATH = "ai4loop-upstream/data/allRNAseq.tsv"
_SHOW = 5


@dataclass(frozen=True, eq=False)
class GCT:
    """A LINCS matrix with its metadata.

    ``values`` is float64 ``(n_rows, n_cols)``; ``row_meta`` and ``col_meta`` are indexed by the
    row ids (probes or genes) and the column ids (samples/signatures), in matrix order, with
    string columns (CMap's ``-666`` kept as given). ``version`` is ``1.3``, ``1.2``,
    ``GCTX1.0`` or ``cmapR``.
    """

    values: np.ndarray
    row_meta: pd.DataFrame
    col_meta: pd.DataFrame
    version: str
    source: str

    def __post_init__(self) -> None:
        shape = (len(self.row_meta), len(self.col_meta))
        if self.values.shape != shape:
            raise ValueError(f"values {self.values.shape} do not match metadata {shape}")

    @property
    def row_ids(self) -> list[str]:
        """Row ids (probe or gene ids) in matrix order."""
        return [str(i) for i in self.row_meta.index]

    @property
    def col_ids(self) -> list[str]:
        """Column ids (sample or signature ids) in matrix order."""
        return [str(i) for i in self.col_meta.index]

    def data(self) -> pd.DataFrame:
        """The matrix as a frame (rows x columns), for inspection."""
        return pd.DataFrame(self.values, index=self.row_ids, columns=self.col_ids)

    def select(self, columns: Sequence[str] | np.ndarray) -> GCT:
        """The same rows for some columns (ids, or a boolean mask), in the order given."""
        if isinstance(columns, np.ndarray) and columns.dtype == bool:
            idx = np.flatnonzero(columns)
        else:
            pos = {c: i for i, c in enumerate(self.col_ids)}
            missing = [c for c in columns if c not in pos]
            if missing:
                raise BadInputError(f"{self.source}: columns not in the file: {missing[:_SHOW]}.")
            idx = np.array([pos[c] for c in columns], dtype=np.int64)
        return GCT(
            self.values[:, idx], self.row_meta, self.col_meta.iloc[idx], self.version, self.source
        )


# ---------------------------------------------------------------------------------------------
# Text GCT


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _check_path(path: Path) -> Path:
    if not path.exists():
        raise BadInputError(f"{path}: file not found; check the path (relative to {Path.cwd()}).")
    if not path.is_file():
        raise BadInputError(f"{path}: is not a file; give a .gct, .gctx or .RData file.")
    return path


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(8) == b"\x89HDF\r\n\x1a\n"


def _read_lines(path: Path) -> list[str]:
    gz = _is_gzip(path)
    if path.suffix == ".gz" and not gz:
        raise BadInputError(
            f"{path}: named .gz but is not gzip-compressed; rename it without .gz or gzip it."
        )
    if not gz and _is_hdf5(path):
        raise BadInputError(
            f"{path}: is an HDF5 file, not text GCT; read it with read_gctx (name it .gctx)."
        )
    try:
        if gz:
            with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
                text = handle.read()
        else:
            text = path.read_text(encoding="utf-8")
    except (OSError, EOFError) as err:  # a cut gzip stream ends with EOFError
        raise BadInputError(
            f"{path}: cannot read the gzip stream ({err}); the file is truncated or damaged, "
            "re-download it."
        ) from err
    except UnicodeDecodeError as err:
        raise BadInputError(
            f"{path}: byte {err.start} is not UTF-8 text; a GCT file is tab-separated text "
            "(a GCTX file is HDF5: use read_gctx)."
        ) from err
    return text.splitlines()


def _ints(text: str) -> list[int] | None:
    parts = text.strip().split("\t") if "\t" in text else text.split()
    try:
        return [int(p) for p in parts]
    except ValueError:
        return None


def read_gct(path: Path | str) -> GCT:
    """Read a GCT 1.3 (or 1.2) text file, plain or gzip.

    GCT 1.3: line 1 ``#1.3``; line 2 ``rows cols row_meta_fields col_meta_fields``; line 3 the
    header ``id``, the row-metadata names, then the column ids; then one line per column-metadata
    field (its name, filler for the row-metadata fields, one value per column); then one line per
    row (id, row metadata, values). GCT 1.2 has no metadata (``Name``/``Description``).

    Raises
    ------
    BadInputError
        Empty, truncated or damaged files, a wrong version or dimensions line, lines with the
        wrong number of fields, non-numeric or missing values, duplicate ids; the message names
        the line (and column) and what to do.
    """
    path = _check_path(Path(path))
    lines = _read_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise BadInputError(f"{path}: file is empty; re-download or re-export it.")
    version = lines[0].strip()
    if version not in {"#1.3", "#1.2"}:
        raise BadInputError(
            f"{path}: line 1 is {lines[0][:60]!r}; a GCT file starts with '#1.3' (or '#1.2'). "
            "Is this a GCT file? Text matrices without the GCT header go through "
            "ai4loop_core.expression.read_expression."
        )
    need = 4 if version == "#1.3" else 2
    dims = _ints(lines[1]) if len(lines) > 1 else None
    if dims is None or len(dims) != need or min(dims) < 0:
        got = repr(lines[1][:60]) if len(lines) > 1 else "nothing"
        what = (
            "4 integers: rows, columns, row-metadata fields, column-metadata fields"
            if need == 4
            else "2 integers: rows, columns"
        )
        raise BadInputError(
            f"{path}: line 2 must hold {what} for GCT {version[1:]}; found {got}. Fix the "
            "dimensions line (tab-separated) or re-export the file."
        )
    n_rows, n_cols = dims[0], dims[1]
    n_rmeta, n_cmeta = (dims[2], dims[3]) if need == 4 else (1, 0)
    if n_rows == 0 or n_cols == 0:
        raise BadInputError(
            f"{path}: line 2 says {n_rows} rows x {n_cols} columns; the matrix is empty."
        )
    width = 1 + n_rmeta + n_cols
    expected_lines = 3 + n_cmeta + n_rows
    if len(lines) < 3:
        raise BadInputError(
            f"{path}: the file ends after line {len(lines)}, before the header line; it is "
            "truncated, re-download it."
        )
    header = lines[2].split("\t")
    if len(header) != width:
        raise BadInputError(
            f"{path}: line 3 (header) has {len(header)} tab-separated fields but line 2 says "
            f"1 id + {n_rmeta} row-metadata + {n_cols} column fields = {width}. Fix the "
            "dimensions on line 2 or the header."
        )
    col_ids = header[1 + n_rmeta :]
    rmeta_names = header[1 : 1 + n_rmeta]
    if len(lines) < expected_lines:
        raise BadInputError(
            f"{path}: the file ends at line {len(lines)} but line 2 promises {n_cmeta} "
            f"column-metadata lines and {n_rows} data rows ({expected_lines} lines in all); "
            "it is truncated, re-download it."
        )
    extra = [i for i in range(expected_lines, len(lines)) if lines[i].strip()]
    if extra:
        raise BadInputError(
            f"{path}: line {extra[0] + 1}: more lines than line 2 says ({n_rows} rows after "
            f"{n_cmeta} metadata lines); fix the row count on line 2."
        )
    fields = []
    for i in range(3, expected_lines):
        parts = lines[i].split("\t")
        if len(parts) != width:
            raise BadInputError(
                f"{path}: line {i + 1} has {len(parts)} tab-separated fields, expected {width} "
                f"(line 2: {n_rmeta} row-metadata fields and {n_cols} columns); the line is "
                f"cut or has extra fields: {_clip(lines[i])!r}"
            )
        fields.append(parts)
    cmeta = {f[0]: f[1 + n_rmeta :] for f in fields[:n_cmeta]}
    rows = fields[n_cmeta:]
    row_ids = [f[0] for f in rows]
    body = np.array([f[1 + n_rmeta :] for f in rows], dtype=object)
    values = _parse_numbers(body, path, first_line=4 + n_cmeta, col_ids=col_ids, skip=n_rmeta)
    row_meta = pd.DataFrame(
        [f[1 : 1 + n_rmeta] for f in rows], columns=rmeta_names, index=row_ids, dtype="str"
    )
    if need == 2:
        row_meta = row_meta.rename(columns={"Description": "description"})
    col_meta = pd.DataFrame(cmeta, index=col_ids, dtype="str")
    _check_ids(path, row_ids, "row", first_line=4 + n_cmeta)
    _check_ids(path, col_ids, "column", first_line=None)
    row_meta.index.name, col_meta.index.name = "rid", "cid"
    return GCT(values, row_meta, col_meta, version[1:], str(path))


def _clip(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[:width] + "..."


def _parse_numbers(
    body: np.ndarray, path: Path, *, first_line: int, col_ids: list[str], skip: int
) -> np.ndarray:
    try:
        values = body.astype(np.float64)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        for r in range(body.shape[0]):
            for c in range(body.shape[1]):
                text = body[r, c]
                try:
                    ok = np.isfinite(float(text))
                except ValueError:
                    ok = False
                if not ok:
                    raise BadInputError(
                        f"{path}: line {first_line + r}, column {col_ids[c]!r} (field "
                        f"{2 + skip + c}): {text!r} is not a finite number. L1000 matrices must "
                        "be complete: fix or drop that row or column."
                    )
    return values


def _check_ids(path: Path, ids: list[str], kind: str, *, first_line: int | None) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(ids):
        if not name.strip():
            where = f"line {first_line + i}" if first_line else f"column {i + 1}"
            raise BadInputError(f"{path}: {where}: empty {kind} id; every {kind} needs an id.")
        if name in seen:
            where = (
                f"lines {first_line + seen[name]} and {first_line + i}"
                if first_line
                else f"columns {seen[name] + 1} and {i + 1}"
            )
            raise BadInputError(
                f"{path}: {kind} id {name!r} appears twice ({where}); ids must be unique."
            )
        seen[name] = i


def write_gct(gct: GCT, path: Path | str) -> Path:
    """Write a :class:`GCT` as GCT 1.3 text (gzip when the name ends in ``.gz``), atomically."""
    from ai4loop_core.atomic import atomic_path

    path = Path(path)
    rmeta, cmeta = gct.row_meta, gct.col_meta
    lines = [
        "#1.3",
        f"{len(rmeta)}\t{len(cmeta)}\t{rmeta.shape[1]}\t{cmeta.shape[1]}",
        "\t".join(["id", *rmeta.columns, *gct.col_ids]),
    ]
    filler = ["na"] * rmeta.shape[1]
    for name in cmeta.columns:
        lines.append("\t".join([name, *filler, *cmeta[name].astype("str")]))
    for i, rid in enumerate(gct.row_ids):
        values = [f"{v:.7g}" for v in gct.values[i]]
        lines.append("\t".join([rid, *rmeta.iloc[i].astype("str"), *values]))
    text = "\n".join(lines) + "\n"
    with atomic_path(path) as tmp:
        if path.suffix == ".gz":
            with gzip.open(tmp, "wt", encoding="utf-8") as handle:
                handle.write(text)
        else:
            tmp.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# GCTX (HDF5)

_MATRIX = "0/DATA/0/matrix"
_ROW = "0/META/ROW"
_COL = "0/META/COL"


def read_gctx(
    path: Path | str,
    *,
    columns: Sequence[str] | None = None,
) -> GCT:
    """Read a GCTX file (HDF5, as written by cmapPy/cmapR) with h5py.

    The matrix node ``/0/DATA/0/matrix`` is stored columns x rows (HDF5 row-major); ids and
    metadata are 1-d datasets under ``/0/META/ROW`` and ``/0/META/COL``. ``columns`` reads only
    those column ids (in that order), which keeps memory small on real LINCS files.

    Raises
    ------
    BadInputError
        Not HDF5 (e.g. a text GCT named .gctx, or a truncated download), missing nodes, a matrix
        whose shape does not match the ids, non-numeric or non-finite values.
    """
    import h5py

    path = _check_path(Path(path))
    if not _is_hdf5(path):
        hint = (
            "it is gzip-compressed; gunzip it first"
            if _is_gzip(path)
            else "if it is a text GCT, name it .gct"
        )
        raise BadInputError(
            f"{path}: not an HDF5 file (GCTX files are HDF5, starting with '\\x89HDF'); {hint}."
        )
    try:
        with h5py.File(path, "r") as handle:
            for node in (_MATRIX, f"{_ROW}/id", f"{_COL}/id"):
                if node not in handle:
                    raise BadInputError(
                        f"{path}: HDF5 node /{node} is missing; this is not a GCTX file as "
                        "written by cmapPy/cmapR (expected /0/DATA/0/matrix and "
                        "/0/META/{ROW,COL}/id)."
                    )
            dset = handle[_MATRIX]
            row_ids = _strings(handle[f"{_ROW}/id"][()])
            col_ids = _strings(handle[f"{_COL}/id"][()])
            if dset.ndim != 2 or dset.shape != (len(col_ids), len(row_ids)):
                raise BadInputError(
                    f"{path}: /{_MATRIX} has shape {dset.shape} but there are {len(row_ids)} row "
                    f"ids and {len(col_ids)} column ids (GCTX stores columns x rows: expected "
                    f"{(len(col_ids), len(row_ids))}); the file is inconsistent, re-export it."
                )
            if dset.dtype.kind not in "fiu":
                raise BadInputError(
                    f"{path}: /{_MATRIX} holds {dset.dtype} values, not numbers; re-export it."
                )
            _check_ids(path, row_ids, "row", first_line=None)
            _check_ids(path, col_ids, "column", first_line=None)
            if columns is None:
                idx = np.arange(len(col_ids))
            else:
                pos = {c: i for i, c in enumerate(col_ids)}
                missing = [c for c in columns if c not in pos]
                if missing:
                    raise BadInputError(
                        f"{path}: columns not in the file: {missing[:_SHOW]} "
                        f"({len(missing)} in all)."
                    )
                idx = np.array([pos[c] for c in columns], dtype=np.int64)
            order = np.argsort(idx)
            block = dset[np.sort(idx), :] if len(idx) < len(col_ids) else dset[()]
            values = np.empty((len(row_ids), len(idx)), dtype=np.float64)
            values[:, order] = np.asarray(block, dtype=np.float64).T
            row_meta = _meta(handle, _ROW, row_ids, path, np.arange(len(row_ids)))
            col_meta = _meta(handle, _COL, col_ids, path, idx)
    except OSError as err:
        raise BadInputError(
            f"{path}: HDF5 error ({err}); the file is truncated or damaged, re-download it."
        ) from err
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        r, c = bad[0]
        raise BadInputError(
            f"{path}: row {row_meta.index[r]!r}, column {col_meta.index[c]!r}: value "
            f"{values[r, c]!r} is not finite ({len(bad)} such cells). L1000 matrices must be "
            "complete: drop those rows or columns."
        )
    return GCT(values, row_meta, col_meta, "GCTX1.0", str(path))


def _strings(array: np.ndarray) -> list[str]:
    return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in np.asarray(array)]


def _meta(handle, group: str, ids: list[str], path: Path, idx: np.ndarray) -> pd.DataFrame:
    out: dict[str, list[str]] = {}
    for name, node in handle[group].items():
        if name == "id":
            continue
        if not hasattr(node, "shape") or node.shape != (len(ids),):
            raise BadInputError(
                f"{path}: /{group}/{name} has shape {getattr(node, 'shape', None)}, expected "
                f"({len(ids)},) (one value per id); re-export the file."
            )
        out[name] = _strings(node[()][idx]) if len(ids) else []
    frame = pd.DataFrame(out, index=[ids[i] for i in idx], dtype="str")
    frame.index.name = "rid" if group == _ROW else "cid"
    return frame


# ---------------------------------------------------------------------------------------------
# cmapR GCT objects in .RData / .rda


def read_cmapr_rdata(path: Path | str, *, name: str | None = None) -> GCT:
    """Read a cmapR ``GCT`` object (slots ``mat``, ``rid``, ``cid``, ``rdesc``, ``cdesc``).

    ``name`` selects the object when the file holds several (default: the only GCT object).
    """
    import rdata

    path = _check_path(Path(path))
    constructors = {**rdata.conversion.DEFAULT_CLASS_MAP, "GCT": _gct_object}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # other S4 classes without constructor
            objects = rdata.read_rda(path, constructor_dict=constructors)
    except Exception as err:  # rdata raises many kinds on damaged files  # noqa: BLE001
        raise BadInputError(
            f"{path}: cannot read it as an R data file ({type(err).__name__}: {err}); check it "
            "is an .RData/.rda saved by R (save()), not truncated."
        ) from err
    found = {k: v for k, v in objects.items() if isinstance(v, dict) and v.get("_gct")}
    if name is not None:
        if name not in found:
            raise BadInputError(
                f"{path}: no GCT object named {name!r}; it holds {sorted(objects)}."
            )
        obj = found[name]
    elif len(found) == 1:
        obj = next(iter(found.values()))
    else:
        raise BadInputError(
            f"{path}: expected one cmapR GCT object, found {len(found)} among {sorted(objects)}; "
            "pass name=."
        )
    mat = np.asarray(obj["mat"], dtype=np.float64)
    rid, cid = _strings(obj["rid"]), _strings(obj["cid"])
    if mat.shape != (len(rid), len(cid)):
        raise BadInputError(
            f"{path}: matrix {mat.shape} does not match {len(rid)} rid x {len(cid)} cid."
        )
    rdesc = _desc_frame(obj.get("rdesc"), rid)
    cdesc = _desc_frame(obj.get("cdesc"), cid)
    if not np.isfinite(mat).all():
        r, c = np.argwhere(~np.isfinite(mat))[0]
        raise BadInputError(f"{path}: row {rid[r]!r}, column {cid[c]!r} is not finite.")
    rdesc.index.name, cdesc.index.name = "rid", "cid"
    return GCT(mat, rdesc, cdesc, "cmapR", str(path))


def _gct_object(obj, attrs):
    """rdata constructor for the S4 class ``GCT``: its slots as a plain dict."""
    out = {"_gct": True}
    for key, value in (attrs or {}).items():
        out[str(key)] = value
    return out


def _desc_frame(desc: object, ids: list[str]) -> pd.DataFrame:
    if not isinstance(desc, pd.DataFrame) or len(desc) != len(ids):
        return pd.DataFrame(index=ids)
    frame = desc.copy()
    frame = frame.drop(columns=[c for c in ("id",) if c in frame.columns])
    frame.index = ids
    return frame.astype("str")


def read_lincs(path: Path | str, **kwargs) -> GCT:
    """Read any supported LINCS file: HDF5 -> :func:`read_gctx`, R data -> cmapR, else GCT text."""
    path = _check_path(Path(path))
    if _is_hdf5(path):
        return read_gctx(path, **kwargs)
    if path.suffix.lower() in {".rdata", ".rda"}:
        return read_cmapr_rdata(path, **kwargs)
    return read_gct(path)


# ---------------------------------------------------------------------------------------------
# Levels, metadata, scales


def detect_level(gct: GCT) -> tuple[int, str]:
    """The LINCS data level of a matrix and why (provenance code, metadata, or value range).

    Rules, in order: a ``provenance_code`` containing ``ZS`` -> 4, else containing ``QNO`` -> 3;
    ``distil_*`` signature metadata or ``MODZ`` in the ids -> 5; values inside
    ``LEVEL3_RANGE`` (log2 intensities) -> 3; negative values -> 4 (z-scores; pass ``level=`` if
    they are Level 5).
    """
    meta = gct.col_meta
    if "provenance_code" in meta.columns:
        codes = set(meta["provenance_code"])
        if any("ZS" in c for c in codes):
            return 4, f"provenance_code {sorted(codes)[:2]} contains a z-score step (ZS*)"
        if any("QNO" in c for c in codes):
            return 3, f"provenance_code {sorted(codes)[:2]} ends at quantile normalisation"
    if any(c.startswith("distil_") for c in meta.columns) or any(
        "MODZ" in c for c in gct.col_ids[:50]
    ):
        return 5, "signature metadata (distil_*) or MODZ ids: moderated z-score signatures"
    lo, hi = float(gct.values.min()), float(gct.values.max())
    if LEVEL3_RANGE[0] <= lo and hi <= LEVEL3_RANGE[1]:
        return 3, f"values in [{lo:.3g}, {hi:.3g}]: log2 intensities"
    return 4, f"values in [{lo:.3g}, {hi:.3g}] go negative: z-scores (Level 4 or 5)"


def require_level(gct: GCT, source: str, *, level3: bool, advice: str) -> tuple[int, str]:
    """:func:`detect_level`, refusing the wrong kind: ``level3=True`` needs a Level 3 plate,
    ``False`` z-scores (Level 4/5). Returns the level and the reason it was detected by.

    The error names ``source``, the level found and why, then ``advice`` (what to give instead).
    """
    level, why = detect_level(gct)
    if (level == 3) != level3:
        raise BadInputError(f"{source}: LINCS Level {level} data ({why}). {advice}")
    return level, why


_DOSE = re.compile(r"^\s*([-+0-9.eE]+)\s*(\S*)\s*$")
_UNITS = {"um": "uM", "µm": "uM", "μm": "uM", "<b5>m": "uM", "nm": "nM", "mm": "mM", "m": "M"}


def _unit(text: str) -> str:
    t = str(text).strip()
    return _UNITS.get(t.lower(), t) if t not in {"", MISSING, "nan", "<NA>"} else ""


def _number(text: object) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        return float("nan")
    return float("nan") if value == -666 else value


def sample_table(gct: GCT, *, cohort: str, source: str = "built here") -> pd.DataFrame:
    """The atlas ``samples`` rows for the columns of a LINCS matrix (docs/atlas-schema.md).

    Dose and time come from ``pert_dose``/``pert_dose_unit`` and ``pert_time`` when present, else
    from ``pert_idose`` (``10 µM``, ``500 nM``) and ``pert_itime`` (``24 h``); units are written
    ``uM``/``nM``; CMap's ``-666`` becomes missing. ``plate`` is ``det_plate``, ``rna_plate`` or
    ``brew_prefix``, the first present. ``tissue_type`` is ``vehicle`` for ``ctl_vehicle`` and
    ``treated`` otherwise.

    Raises
    ------
    BadInputError
        When ``pert_iname``, ``pert_type`` or ``cell_id`` is missing from the column metadata.
    """
    meta = gct.col_meta
    need = [c for c in ("pert_iname", "pert_type", "cell_id") if c not in meta.columns]
    if need:
        raise BadInputError(
            f"{gct.source}: column metadata lacks {need}; LINCS drug signatures need "
            "pert_iname, pert_type and cell_id per column (GCT 1.3 column-metadata lines, or "
            "/0/META/COL in GCTX). Add them or use a file exported with metadata."
        )
    n = len(meta)
    dose = pd.Series(np.nan, index=meta.index)
    unit = pd.Series("", index=meta.index, dtype="str")
    if "pert_dose" in meta.columns:
        dose = meta["pert_dose"].map(_number)
    if "pert_dose_unit" in meta.columns:
        unit = meta["pert_dose_unit"].map(_unit).astype("str")
    if "pert_idose" in meta.columns:
        parsed = meta["pert_idose"].map(lambda t: _DOSE.match(str(t)))
        fill = dose.isna()
        dose = dose.where(~fill, parsed.map(lambda m: _number(m.group(1)) if m else np.nan))
        unit = unit.where(~fill, parsed.map(lambda m: _unit(m.group(2)) if m else ""))
    time = pd.Series(np.nan, index=meta.index)
    if "pert_time" in meta.columns:
        time = meta["pert_time"].map(_number)
    if "pert_itime" in meta.columns:
        itime = meta["pert_itime"].map(lambda t: _number(str(t).split()[0]) if str(t) else np.nan)
        time = time.where(time.notna(), itime)
    plate = next((meta[c] for c in ("det_plate", "rna_plate", "brew_prefix") if c in meta), None)
    pert_type = meta["pert_type"].astype("str")
    table = pd.DataFrame(
        {
            "sample_id": gct.col_ids,
            "group": meta["cell_id"].astype("str").to_numpy(),
            "tissue_type": np.where(pert_type == "ctl_vehicle", "vehicle", "treated"),
            "cohort": [cohort] * n,
            "source": [source] * n,
            "pert_iname": meta["pert_iname"].astype("str").to_numpy(),
            "pert_dose": dose.astype("float64").to_numpy(),
            "pert_dose_unit": unit.astype("str").to_numpy(),
            "pert_time": time.astype("float64").to_numpy(),
            "cell_id": meta["cell_id"].astype("str").to_numpy(),
            "pert_type": pert_type.to_numpy(),
            "plate": plate.astype("str").to_numpy() if plate is not None else [""] * n,
        }
    )
    return table


def robust_z(values: np.ndarray, *, axis: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene median and robust spread ``1.4826 * max(MAD, 0.1)`` (CMap's Level 4 rule)."""
    med = np.median(values, axis=axis, keepdims=True)
    mad = np.median(np.abs(values - med), axis=axis, keepdims=True)
    return med.squeeze(axis), (MAD_SCALE * np.maximum(mad, MAD_FLOOR)).squeeze(axis)


def reference_tpm(genes: Sequence[str], *, data_dir: Path | None = None) -> float:
    """Median TPM of ``genes`` (Ensembl ids) in AI4Loop's ENCODE RNA-seq, mean of 7 cell lines."""
    from ai4loop_core.data import ensure_file

    table = pd.read_csv(ensure_file(REFERENCE_PATH, data_dir=data_dir), sep="\t")
    table["gene"] = table["gene"].astype("str").str.replace(r"\.\d+$", "", regex=True)
    cells = [c for c in table.columns if c not in {"#chr", "start", "end", "gene"}]
    mean = table.groupby("gene")[cells].mean().mean(axis=1)
    hit = mean.reindex(list(genes)).dropna()
    if hit.empty:
        raise BadInputError("none of the measured genes is in the ENCODE reference table.")
    return float(hit.median())


def level3_scale_constant(log2_values: np.ndarray, reference_median_tpm: float) -> float:
    """``c`` such that ``median(2**x) * c`` equals the reference median TPM (see module doc)."""
    return float(reference_median_tpm / np.median(np.exp2(log2_values)))


def model_input(log2_values: np.ndarray, *, scale_constant: float) -> np.ndarray:
    """Level 3 log2 values (or a pseudo Level 3 profile) on the model's TPM-like linear scale."""
    return np.exp2(np.asarray(log2_values, dtype=np.float64)) * scale_constant


def invert_z(z: np.ndarray, *, median: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Pseudo Level 3 log2 profile from z-scores and a per-gene baseline (see module doc)."""
    return median[:, None] + np.asarray(z, dtype=np.float64) * spread[:, None]


# ---------------------------------------------------------------------------------------------
# Genes and coverage


def map_rows(
    gct: GCT, *, annotation: pd.DataFrame | None = None, data_dir: Path | None = None
) -> pd.DataFrame:
    """Map the rows of a LINCS matrix to annotation genes.

    Entrez ids come from row metadata ``pr_gene_id`` when present, else the row ids when they are
    integers (GSE92742 Level 5), else the probe ids are looked up in the LINCS gene info
    (``lincs/geneinfo.tsv.gz``). Entrez ids go through :func:`ai4loop_core.genes.map_ids`;
    symbols (``pr_gene_symbol``) are the fallback.

    Returns
    -------
    pandas.DataFrame
        One row per matrix row: ``row_id``, ``entrez``, ``symbol``, ``gene_id`` (missing when
        unmapped) and ``matched_by``.
    """
    from ai4loop_core.genes import load_annotation, map_ids

    if annotation is None:
        annotation = load_annotation(data_dir=data_dir)
    meta = gct.row_meta
    ids = pd.Series(gct.row_ids, dtype="str")
    if "pr_gene_id" in meta.columns:
        entrez = pd.Series(meta["pr_gene_id"].to_numpy(), dtype="str")
    elif ids.str.fullmatch(r"\d+").all():
        entrez = ids
    else:
        from ai4loop_core.data import ensure_file

        info = pd.read_csv(ensure_file(GENE_INFO_PATH, data_dir=data_dir), sep="\t", dtype="str")
        info = info.drop_duplicates("pr_id").set_index("pr_id")
        entrez = pd.Series(info["pr_gene_id"].reindex(ids).to_numpy(), dtype="str")
    symbols = (
        pd.Series(meta["pr_gene_symbol"].to_numpy(), dtype="str")
        if "pr_gene_symbol" in meta.columns
        else pd.Series([""] * len(ids), dtype="str")
    )
    by_entrez = map_ids(entrez.fillna("").tolist(), annotation)
    by_symbol = map_ids(symbols.fillna("").tolist(), annotation)
    use_symbol = by_entrez["gene_id"].isna() & by_symbol["gene_id"].notna()
    gene = by_entrez["gene_id"].where(~use_symbol, by_symbol["gene_id"])
    how = by_entrez["matched_by"].where(~use_symbol, by_symbol["matched_by"])
    return pd.DataFrame(
        {
            "row_id": ids,
            "entrez": entrez,
            "symbol": symbols,
            "gene_id": gene.astype("str").where(gene.notna()),
            "matched_by": how,
        }
    )


def anchor_coverage(
    anchors: pd.DataFrame, measured: pd.DataFrame, annotation: pd.DataFrame
) -> pd.DataFrame:
    """Per-anchor coverage of the 155 feature bins by measured genes (see the module doc).

    Parameters
    ----------
    anchors
        ``chrom``, ``start``, ``end``.
    measured, annotation
        Gene coordinates (``chrom``, ``start``, ``end``) of the measured genes and of the full
        annotation.

    Returns
    -------
    pandas.DataFrame
        ``bins_measured`` and ``bins_annotated`` (bins holding at least one such gene, of 155) and
        ``coverage`` = bins_measured / bins_annotated (0 where no bin holds an annotated gene).
    """
    from ai4loop_core.features import N_FEATURES, build_operator

    def filled(genes: pd.DataFrame) -> np.ndarray:
        if len(genes) == 0 or len(anchors) == 0:
            return np.zeros(len(anchors), dtype=np.int64)
        op = build_operator(anchors, genes)
        return (np.diff(op.matrix.indptr) > 0).reshape(len(anchors), N_FEATURES).sum(axis=1)

    got = filled(measured)
    full = filled(annotation)
    coverage = np.divide(got, full, out=np.zeros(len(anchors)), where=full > 0)
    return pd.DataFrame(
        {"bins_measured": got, "bins_annotated": full, "coverage": coverage},
        index=anchors.index,
    )
