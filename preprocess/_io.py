"""Readers for loop (BEDPE) and region (BED) files, and the writers of a pair set.

Every reader checks each line and, on a bad one, raises :class:`BadInputError` naming the file, the
line numbers and the offending rows. Chromosome names are normalised (``1``, ``chr1`` and ``23``
for X all work).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ai4loop_core.atomic import atomic_path
from ai4loop_core.errors import BadInputError
from ai4loop_core.genome import normalize_chrom

#: Chromosomes kept by the pipeline, in output order; the pair CSV codes them 1..24 (23 = X).
CHROMOSOMES = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]
CHROM_CODE = {name: code for code, name in enumerate(CHROMOSOMES, start=1)}

LOOP_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2"]
REGION_COLUMNS = ["chrom", "start", "end", "name"]
PAIR_CSV_COLUMNS = ["label", "chr1", "x1", "x2", "chr2", "y1", "y2"]

_SHOWN = 5  # offending rows quoted in an error message
_FILE_MODE = 0o644  # atomic_path's temporary files are 0600; outputs are for sharing
_CHROM_IN_NAME = re.compile(r"_(?:chr)?([0-9]{1,2}|X|Y)\.[A-Za-z]+$")


def _open_text(path: Path) -> io.TextIOBase:
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gzipped else open(path)


def _data_lines(path: Path) -> Iterator[tuple[int, list[str], str]]:
    """(line number, fields, text) of each line that is not blank, a comment or a track line."""
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith(("#", "track ", "browser ")):
                continue
            fields = text.split("\t") if "\t" in text else text.split()
            yield number, [f.strip() for f in fields], text


def _as_int(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


class _Problems:
    """Bad lines of one file, raised together with the first few quoted."""

    def __init__(self, path: Path, kind: str, advice: str) -> None:
        self.path, self.kind, self.advice = path, kind, advice
        self.rows: list[tuple[int, str, str]] = []

    def add(self, number: int, reason: str, text: str) -> None:
        self.rows.append((number, reason, text))

    def raise_if_any(self) -> None:
        if not self.rows:
            return
        first = self.rows[0][0]
        shown = "\n".join(
            f"  line {n}: {reason}: {text[:120]!r}" for n, reason, text in self.rows[:_SHOWN]
        )
        more = f"\n  ... and {len(self.rows) - _SHOWN} more" if len(self.rows) > _SHOWN else ""
        raise BadInputError(
            f"{self.path}, line {first}: {len(self.rows)} malformed line(s) in this {self.kind}. "
            f"{self.advice}\n{shown}{more}"
        )


def _check_path(path: Path, kind: str) -> None:
    if not path.exists():
        raise BadInputError(f"{path}: {kind} not found; check the path.")


def read_loops(path: Path | str) -> pd.DataFrame:
    """Read a BEDPE loop file (Rao 2014 HiCCUPS lists and AI4Loop's loop files included).

    Columns 1-6 are ``chrom1 start1 end1 chrom2 start2 end2`` (0-based starts); further columns
    are ignored, a header line is skipped, and ``.gz`` files are read directly.

    Returns
    -------
    pandas.DataFrame
        ``chrom1, start1, end1, chrom2, start2, end2`` with UCSC chromosome names, in file order.
    """
    path = Path(path)
    _check_path(path, "loop file")
    problems = _Problems(
        path,
        "BEDPE loop file",
        "Each line needs chrom1, start1, end1, chrom2, start2, end2 (tab-separated, whole "
        "numbers, 0-based starts, start < end); fix or delete these lines.",
    )
    rows: list[tuple] = []
    first = True
    for number, fields, text in _data_lines(path):
        if len(fields) < 6:
            problems.add(number, f"{len(fields)} columns, need at least 6", text)
            first = False
            continue
        coords = [_as_int(fields[i]) for i in (1, 2, 4, 5)]
        if first and all(c is None for c in coords):  # a header such as "chr1 x1 x2 chr2 y1 y2"
            first = False
            continue
        first = False
        if any(c is None for c in coords):
            problems.add(number, "a start or end is not a whole number >= 0", text)
        elif coords[0] >= coords[1] or coords[2] >= coords[3]:
            problems.add(number, "an anchor's start is not before its end", text)
        elif not fields[0] or not fields[3]:
            problems.add(number, "a chromosome name is empty", text)
        else:
            rows.append((fields[0], coords[0], coords[1], fields[3], coords[2], coords[3]))
    problems.raise_if_any()
    if not rows:
        raise BadInputError(f"{path}: no loops in this file (empty, or only comments/header).")
    loops = pd.DataFrame(rows, columns=LOOP_COLUMNS)
    for col in ("chrom1", "chrom2"):
        loops[col] = _normalize_chroms(loops[col])
    return loops.astype({c: "int64" for c in ("start1", "end1", "start2", "end2")})


def _normalize_chroms(names: pd.Series) -> pd.Series:
    mapping = {name: normalize_chrom(name) for name in names.unique()}
    return names.map(mapping)


def read_regions(path: Path | str, *, kind: str = "BED file") -> pd.DataFrame:
    """Read regions: a BED file (3+ columns; the 4th, if any, names the region), or a directory.

    Two files shapes besides BED are accepted, for CTCF peaks published that way:

    * a two-column ``start end`` file whose name ends in ``_<chromosome>.<ext>`` (DRAGON's
      per-chromosome peak lists, e.g. ``chip-seq_peak_7.txt``);
    * a directory: every file in it is read as above, in chromosome order.

    Returns
    -------
    pandas.DataFrame
        ``chrom, start, end, name`` (``name`` is ``chrom:start-end`` where the file has none).
    """
    path = Path(path)
    _check_path(path, kind)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise BadInputError(f"{path}: the directory holds no {kind}s.")
        tables = [read_regions(p, kind=kind) for p in files]
        out = pd.concat(tables, ignore_index=True)
        order = out["chrom"].map(CHROM_CODE).fillna(len(CHROM_CODE) + 1)
        return out.iloc[np.lexsort((out["start"], order))].reset_index(drop=True)
    match = _CHROM_IN_NAME.search(path.name)
    file_chrom = match.group(1) if match else None
    problems = _Problems(
        path,
        kind,
        "Each line needs chrom, start, end (tab-separated, whole numbers, 0-based start, "
        "start < end); a two-column start/end file must be named like peaks_<chromosome>.txt. "
        "Fix or delete these lines.",
    )
    rows: list[tuple] = []
    first = True
    for number, fields, text in _data_lines(path):
        if len(fields) == 2 and file_chrom is not None:
            fields = [file_chrom, *fields]
        if len(fields) < 3:
            reason = f"{len(fields)} columns, need at least 3"
            if len(fields) == 2:
                reason += " (or a file name ending in _<chromosome>.txt)"
            problems.add(number, reason, text)
            first = False
            continue
        start, end = _as_int(fields[1]), _as_int(fields[2])
        if first and start is None and end is None:  # header line
            first = False
            continue
        first = False
        if start is None or end is None:
            problems.add(number, "start or end is not a whole number >= 0", text)
        elif start >= end:
            problems.add(number, "start is not before end", text)
        elif not fields[0]:
            problems.add(number, "the chromosome name is empty", text)
        else:
            name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else ""
            rows.append((fields[0], start, end, name))
    problems.raise_if_any()
    if not rows:
        raise BadInputError(f"{path}: no regions in this {kind} (empty, or only comments).")
    regions = pd.DataFrame(rows, columns=REGION_COLUMNS)
    regions["chrom"] = _normalize_chroms(regions["chrom"])
    regions = regions.astype({"start": "int64", "end": "int64"})
    unnamed = regions["name"] == ""
    regions.loc[unnamed, "name"] = (
        regions["chrom"] + ":" + regions["start"].astype(str) + "-" + regions["end"].astype(str)
    )[unnamed]
    return regions


def describe_files(paths: Sequence[Path | str]) -> dict:
    """Names and one sha256 of input files (a directory counts as its files), in name order.

    Names only, so a report neither leaks local paths nor depends on where the data lives.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    files.sort(key=lambda p: p.name)
    digest = hashlib.sha256()
    for item in files:
        with open(item, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return {"files": [p.name for p in files], "sha256": digest.hexdigest()}


def to_pair_csv(pairs: pd.DataFrame) -> pd.DataFrame:
    """The upstream pair CSV table: ``label,chr1,x1,x2,chr2,y1,y2`` with chromosome numbers."""
    code = pairs["chrom"].map(CHROM_CODE).astype("int64")
    return pd.DataFrame(
        {
            "label": pairs["label"].to_numpy(),
            "chr1": code.to_numpy(),
            "x1": pairs["start1"].to_numpy(),
            "x2": pairs["end1"].to_numpy(),
            "chr2": code.to_numpy(),
            "y1": pairs["start2"].to_numpy(),
            "y2": pairs["end2"].to_numpy(),
        }
    )


def write_pair_set(
    pairs: pd.DataFrame, report: dict, *, out_dir: Path | str, name: str
) -> dict[str, Path]:
    """Write ``<name>_pairs.csv``, ``<name>_pairs.bedpe`` and ``<name>_report.json`` atomically."""
    out_dir = Path(out_dir)
    paths = {
        "csv": out_dir / f"{name}_pairs.csv",
        "bedpe": out_dir / f"{name}_pairs.bedpe",
        "report": out_dir / f"{name}_report.json",
    }
    bedpe = pd.DataFrame(
        {
            "chrom1": pairs["chrom"],
            "start1": pairs["start1"],
            "end1": pairs["end1"],
            "chrom2": pairs["chrom"],
            "start2": pairs["start2"],
            "end2": pairs["end2"],
            "name": pairs["source"],
            "score": pairs["label"],
        }
    )
    with atomic_path(paths["csv"]) as tmp:
        to_pair_csv(pairs).to_csv(tmp, index=False, lineterminator="\n")
        tmp.chmod(_FILE_MODE)
    with atomic_path(paths["bedpe"]) as tmp:
        bedpe.to_csv(tmp, sep="\t", header=False, index=False, lineterminator="\n")
        tmp.chmod(_FILE_MODE)
    with atomic_path(paths["report"]) as tmp:
        tmp.write_text(json.dumps(report, indent=1) + "\n")
        tmp.chmod(_FILE_MODE)
    return paths
