"""Gene-pair (anchor-pair) files: AI4Loop's BEDPE layout, standard BEDPE, and the pair CSV.

Every reader returns a :class:`Pairs`: the input columns as given (so outputs can keep them, in
input order) plus normalised anchor coordinates ``chrom1, start1, end1, chrom2, start2, end2``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.errors import BadInputError
from ai4loop_core.genome import normalize_chrom

PAIR_CSV_COLUMNS = ["label", "chr1", "x1", "x2", "chr2", "y1", "y2"]
AI4LOOP_BEDPE_COLUMNS = [
    "chrom1", "start1", "end1", "gene_id1", "gene1",
    "chrom2", "start2", "end2", "gene_id2", "gene2",
]  # fmt: skip
STANDARD_BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2"]
ANCHOR_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2"]


@dataclass(frozen=True)
class Pairs:
    """Anchor pairs read from a file.

    ``table`` holds the input columns (named, in input row order); ``anchors`` holds the
    normalised coordinates, one row per input row.
    """

    table: pd.DataFrame
    anchors: pd.DataFrame
    source: str
    layout: str

    def __len__(self) -> int:
        return len(self.anchors)

    def unique_anchors(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Distinct anchors and, for each pair, the index of its left and right anchor."""
        left = self.anchors[["chrom1", "start1", "end1"]].set_axis(
            ["chrom", "start", "end"], axis=1
        )
        right = self.anchors[["chrom2", "start2", "end2"]].set_axis(
            ["chrom", "start", "end"], axis=1
        )
        both = pd.concat([left, right], ignore_index=True)
        codes, uniques = pd.MultiIndex.from_frame(both).factorize()
        anchors = uniques.to_frame(index=False).set_axis(["chrom", "start", "end"], axis=1)
        n = len(self.anchors)
        return anchors, codes[:n].astype(np.int64), codes[n:].astype(np.int64)


def pair_distance(anchors: pd.DataFrame, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Distance in bp between the midpoints of each pair's anchors (-1 across chromosomes)."""
    mid = (anchors["start"].to_numpy(np.int64) + anchors["end"].to_numpy(np.int64)) // 2
    chrom = anchors["chrom"].to_numpy()
    dist = np.abs(mid[right] - mid[left])
    return np.where(chrom[left] == chrom[right], dist, -1)


def _open_text(path: Path):
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    if path.suffix == ".gz":
        raise BadInputError(f"{path}: named .gz but is not gzip-compressed; rename it or gzip it.")
    return open(path)


def _sniff(path: Path) -> tuple[str, list[str]]:
    with _open_text(path) as handle:
        for line in handle:
            if line.strip() and not line.startswith(("#", "track", "browser")):
                first = line.rstrip("\n")
                break
        else:
            raise BadInputError(f"{path}: no pairs in the file (empty or only comments).")
    if "," in first and "\t" not in first:
        fields = [f.strip() for f in first.split(",")]
        if set(PAIR_CSV_COLUMNS[1:]).issubset(fields):
            return "pair-csv", fields
    fields = first.split("\t")
    if len(fields) >= 8 and _is_chrom(fields[5]) and not _is_int(fields[3]):
        return "ai4loop-bedpe", fields
    if len(fields) >= 6 and _is_chrom(fields[3]):
        return "bedpe", fields
    raise BadInputError(
        f"{path}, line 1: cannot tell the pair layout of {first[:120]!r}. Give a pair CSV with "
        "header label,chr1,x1,x2,chr2,y1,y2; a standard BEDPE (chrom1 start1 end1 chrom2 start2 "
        "end2 ...); or AI4Loop's BEDPE (chrom1 start1 end1 id1 symbol1 chrom2 start2 end2 ...)."
    )


def _is_int(text: str) -> bool:
    return text.strip().lstrip("-").isdigit()


def _is_chrom(text: str) -> bool:
    t = text.strip()
    return t.lower().startswith("chr") or t.upper() in {"X", "Y", "MT", "M"} or _is_int(t)


def read_pairs(path: Path | str, *, layout: str = "auto") -> Pairs:
    """Read a pair file: ``layout`` is ``auto``, ``pair-csv``, ``bedpe`` or ``ai4loop-bedpe``.

    Coordinates must be integers with start <= end; chromosome names are normalised (``23`` and
    ``X`` become ``chrX``). Errors name the file, line and column.
    """
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"{path}: pair file not found.")
    detected, fields = _sniff(path)
    layout = detected if layout == "auto" else layout
    if layout == "pair-csv":
        table = pd.read_csv(path, dtype=str, comment="#", skip_blank_lines=True)
        table.columns = table.columns.str.strip()
        missing = [c for c in PAIR_CSV_COLUMNS[1:] if c not in table.columns]
        if missing:
            raise BadInputError(f"{path}, line 1: pair CSV lacks columns {missing}.")
        coords = table[["chr1", "x1", "x2", "chr2", "y1", "y2"]].set_axis(ANCHOR_COLUMNS, axis=1)
        first_line = 2
    else:
        with _open_text(path) as handle:
            lines = [ln for ln in handle if ln.strip() and not ln.startswith(("#", "track"))]
        table = pd.DataFrame([ln.rstrip("\n").split("\t") for ln in lines])
        names = AI4LOOP_BEDPE_COLUMNS if layout == "ai4loop-bedpe" else STANDARD_BEDPE_COLUMNS
        width = table.shape[1]
        if width < len(names) - (2 if layout == "ai4loop-bedpe" else 0):
            raise BadInputError(
                f"{path}: {layout} needs at least {len(names)} columns, found {width}."
            )
        names = names[:width] + [f"col{i + 1}" for i in range(len(names), width)]
        table.columns = names
        if table.isna().any().any():
            bad = int(np.flatnonzero(table.isna().any(axis=1).to_numpy())[0])
            raise BadInputError(
                f"{path}, line {bad + 1}: fewer columns than line 1 ({width}); fix the row: "
                f"{lines[bad].strip()!r}"
            )
        coords = table[ANCHOR_COLUMNS]
        first_line = 1
    anchors = _parse_anchors(coords, path=path, first_line=first_line)
    return Pairs(table=table, anchors=anchors, source=str(path), layout=layout)


def _parse_anchors(coords: pd.DataFrame, *, path: Path, first_line: int) -> pd.DataFrame:
    out = pd.DataFrame(index=coords.index)
    for side in ("1", "2"):
        out[f"chrom{side}"] = coords[f"chrom{side}"].map(normalize_chrom)
        for kind in ("start", "end"):
            col = f"{kind}{side}"
            values = pd.to_numeric(coords[col].str.strip(), errors="coerce")
            bad = values.isna() | (values < 0) | (values != values.round())
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise BadInputError(
                    f"{path}, line {i + first_line}, column {col}: {coords[col].iloc[i]!r} is not "
                    "a non-negative integer coordinate. Fix the row or drop it "
                    f"({int(bad.sum())} such rows)."
                )
            out[col] = values.astype(np.int64)
        inverted = out[f"start{side}"] > out[f"end{side}"]
        if inverted.any():
            i = int(np.flatnonzero(inverted.to_numpy())[0])
            raise BadInputError(
                f"{path}, line {i + first_line}: anchor {side} starts after it ends "
                f"({out[f'start{side}'].iloc[i]} > {out[f'end{side}'].iloc[i]}); swap them."
            )
    return out.reset_index(drop=True)[ANCHOR_COLUMNS]
