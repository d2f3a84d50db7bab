"""Gene annotation: the AI4Loop gene universe (hg19) with symbols and Entrez ids, and id mapping.

Genes and coordinates are those of AI4Loop's expression table ``ai4loop-upstream/data/
allRNAseq.tsv`` (columns ``#chr``, ``start``, ``end``, ``gene``; unversioned Ensembl ids; hg19;
coordinates kept exactly as published). Symbols and Entrez ids come from Bioconductor's
``org.Hs.eg.db`` as packaged by Debian (:data:`SOURCE`), joined on the Ensembl id.

One Ensembl id, one Entrez gene: where ``org.Hs.eg.db`` links an Ensembl id to several Entrez
genes (readthrough transcripts, ``LOC`` records, pseudogene families), the link made by both
NCBI and Ensembl (present in both ``ncbi2ensembl`` and ``ensembl2ncbi``) wins, then the smallest
Entrez id (the older, established record: ``ST7`` over ``ST7-OT3``, ``CYP2D6`` over
``LOC107987478``). Ensembl ids with no Entrez link get no symbol.

Strand: the majority sign of the ``chromosome_locations`` starts in ``org.Hs.eg.db`` (minus
strand genes are stored negative) of the Entrez genes linked to the Ensembl id; unknown on a tie
or without a located Entrez link. allRNAseq.tsv has no strand, and its ``start`` is the lower
coordinate, so a gene's transcription start is ``start`` on ``+`` and ``end`` on ``-``
(:func:`gene_strands`).

The table is built once and cached as ``<data dir>/annotation/genes_hg19.parquet``; the cache
records the sha256 of both inputs and the build rule, and is rebuilt when they change.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ai4loop_core import data
from ai4loop_core.atomic import atomic_path
from ai4loop_core.data import ensure_file, registry
from ai4loop_core.errors import BadInputError
from ai4loop_core.genome import normalize_chrom

EXPRESSION_PATH = "ai4loop-upstream/data/allRNAseq.tsv"
ORGDB_PATH = "org.Hs.eg.db/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite"
CACHE_PATH = "annotation/genes_hg19.parquet"
SOURCE = (
    "Debian package r-bioc-org.hs.eg.db 3.16.0-1 (Bioconductor org.Hs.eg.db 3.16.0: "
    "NCBI Entrez Gene 2022-Sep12, Ensembl 2022-Jun28; Artistic-2.0)"
)
COLUMNS = ["gene_id", "chrom", "start", "end", "symbol", "entrez", "strand"]
_RULE = "genes-v2: bidirectional link, then smallest Entrez id; strand: majority sign, all links"
_META_KEY = b"ai4loop.annotation"
_ENSEMBL = re.compile(r"^(ENSG\d{11})(\.\d+(_\d+)?)?(_PAR_Y)?$")
_SYMBOL_ENTREZ = re.compile(r"^(.*)\|(\d+)$")

_ORGDB_QUERY = """
SELECT e.ensembl_id AS gene_id, CAST(g.gene_id AS INTEGER) AS entrez, i.symbol AS symbol,
       (SELECT SUM(SIGN(c.start_location)) FROM chromosome_locations c WHERE c._id = e._id)
         AS strand_votes,
       EXISTS(SELECT 1 FROM ensembl2ncbi a WHERE a._id = e._id AND a.ensembl_id = e.ensembl_id)
       AND EXISTS(SELECT 1 FROM ncbi2ensembl b WHERE b._id = e._id AND b.ensembl_id = e.ensembl_id)
         AS both_ways
FROM ensembl e JOIN genes g ON g._id = e._id JOIN gene_info i ON i._id = e._id
"""


def _inputs_key() -> dict[str, str]:
    table = registry().set_index("path")
    return {
        "expression_sha256": table.at[EXPRESSION_PATH, "sha256"],
        "orgdb_sha256": table.at[ORGDB_PATH, "sha256"],
        "rule": _RULE,
    }


def _read_expression_genes(path: Path) -> pd.DataFrame:
    want = ["#chr", "start", "end", "gene"]
    try:
        genes = pd.read_csv(path, sep="\t", usecols=want, dtype={"#chr": str, "gene": str})
    except ValueError as err:
        raise BadInputError(f"{path}: expected columns {want} ({err}).") from err
    genes = genes.rename(columns={"#chr": "chrom", "gene": "gene_id"})
    genes["gene_id"] = genes["gene_id"].str.replace(r"\.\d+$", "", regex=True)
    # allRNAseq.tsv holds each gene once; should a copy repeat one, its first row is kept.
    genes = genes.drop_duplicates("gene_id", keep="first")
    genes["chrom"] = genes["chrom"].map(normalize_chrom)
    genes["start"] = genes["start"].astype("int64")
    genes["end"] = genes["end"].astype("int64")
    return genes.reset_index(drop=True)


def _read_orgdb(path: Path) -> pd.DataFrame:
    """One Entrez gene (and its symbol) per Ensembl id, by the rule in the module docstring."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        links = pd.read_sql_query(_ORGDB_QUERY, con)
    links = links.sort_values(["gene_id", "both_ways", "entrez"], ascending=[True, False, True])
    votes_by_gene = links.groupby("gene_id")["strand_votes"].sum()  # every linked Entrez gene
    links = links.drop_duplicates("gene_id", keep="first")
    votes = links["gene_id"].map(votes_by_gene).fillna(0).to_numpy()
    links["strand"] = pd.array(np.sign(votes).astype("int8"), dtype="Int8")
    links.loc[votes == 0, "strand"] = pd.NA
    return links[["gene_id", "symbol", "entrez", "strand"]]


def build_annotation(*, data_dir: Path | None = None) -> pd.DataFrame:
    """Build the annotation from its two registry inputs (no cache; see :func:`load_annotation`)."""
    genes = _read_expression_genes(ensure_file(EXPRESSION_PATH, data_dir=data_dir))
    links = _read_orgdb(ensure_file(ORGDB_PATH, data_dir=data_dir))
    table = genes.merge(links, on="gene_id", how="left", validate="one_to_one")
    table["symbol"] = table["symbol"].astype("str")
    table.loc[table["entrez"].isna(), "symbol"] = pd.NA
    table["entrez"] = table["entrez"].astype("Int64")
    table["strand"] = table["strand"].astype("Int8")
    return table[COLUMNS]


def _read_cache(path: Path, key: dict[str, str]) -> pd.DataFrame | None:
    try:
        meta = pq.read_schema(path).metadata or {}
        if json.loads(meta.get(_META_KEY, b"{}")) != key:
            return None
        return pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException):
        return None


def load_annotation(*, data_dir: Path | None = None) -> pd.DataFrame:
    """The gene annotation: one row per gene of AI4Loop's expression table.

    Parameters
    ----------
    data_dir
        Data directory; default ``$AI4LOOP_DATA_DIR``. Inputs are fetched through the registry
        on the first call (the Debian package needs ``apt-get``); later calls read the cache.

    Returns
    -------
    pandas.DataFrame
        ``gene_id`` (unversioned Ensembl, unique), ``chrom`` (``chr1``..``chrX``), ``start``,
        ``end`` (hg19, int64, as in allRNAseq.tsv), ``symbol`` (missing where the Ensembl id has
        no Entrez link), ``entrez`` (nullable Int64) and ``strand`` (nullable Int8: 1, -1), in
        allRNAseq.tsv order.
    """
    root = Path(data_dir) if data_dir is not None else data.data_dir()
    cache = root / CACHE_PATH
    key = _inputs_key()
    table = _read_cache(cache, key)
    if table is not None:
        return table
    table = build_annotation(data_dir=data_dir)
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    metadata = {**(arrow.schema.metadata or {}), _META_KEY: json.dumps(key).encode()}
    with atomic_path(cache) as tmp:
        pq.write_table(arrow.replace_schema_metadata(metadata), tmp)
    return table


def gene_strands(genes: pd.DataFrame, *, annotation: pd.DataFrame | None = None) -> np.ndarray:
    """Strand of each row of ``genes`` as int8: 1 (+), -1 (-) or 0 (unknown).

    Read from a ``strand`` column when ``genes`` has one (``+``/``-`` or 1/-1), else looked up by
    ``gene_id`` (any Ensembl form) in the annotation; rows with neither are unknown.
    """
    if "strand" in genes.columns:
        raw = genes["strand"].astype("object")
        sign = raw.map({"+": 1, "-": -1, 1: 1, -1: -1, "1": 1, "-1": -1})
        return sign.fillna(0).to_numpy(np.int8)
    if "gene_id" not in genes.columns or not len(genes):
        return np.zeros(len(genes), np.int8)
    if annotation is None:
        annotation = load_annotation()
    by_id = annotation.drop_duplicates("gene_id").set_index("gene_id")["strand"]
    ids = genes["gene_id"].astype(str).str.replace(_ENSEMBL, r"\1", regex=True)
    return by_id.reindex(ids).fillna(0).to_numpy(np.int8)


def summary(annotation: pd.DataFrame) -> dict[str, int | float]:
    """Counts of genes, of genes with a symbol and with an Entrez id, and the symbol fraction."""
    n = len(annotation)
    with_symbol = int(annotation["symbol"].notna().sum())
    return {
        "genes": n,
        "with_symbol": with_symbol,
        "with_entrez": int(annotation["entrez"].notna().sum()),
        "fraction_with_symbol": with_symbol / n if n else 0.0,
    }


def _first_by_key(annotation: pd.DataFrame, column: str, key=None) -> dict:
    """``column`` value (or ``key`` of it) -> gene_id; smallest gene_id if shared."""
    rows = annotation.loc[annotation[column].notna(), ["gene_id", column]]
    rows = rows.sort_values("gene_id")
    values = rows[column].map(key) if key is not None else rows[column]
    return dict(zip(values.iloc[::-1], rows["gene_id"].iloc[::-1], strict=True))


def map_ids(ids: Sequence[str], annotation: pd.DataFrame | None = None) -> pd.DataFrame:
    """Map gene ids of any common kind to annotation ``gene_id``.

    Parameters
    ----------
    ids
        Versioned Ensembl (``ENSG00000141510.16``, ``ENSG00000276742.1_7``), unversioned
        Ensembl, Entrez ids (``7157``), ``SYMBOL|ENTREZ`` (RSEM style: Entrez first, then the
        symbol; ``?|7157`` works), or symbols (exact, then case-insensitive).
    annotation
        From :func:`load_annotation` (loaded when omitted).

    Returns
    -------
    pandas.DataFrame
        ``query`` (as given), ``gene_id`` (missing when unknown) and ``matched_by``: one of
        ``ensembl``, ``ensembl_versioned``, ``entrez``, ``symbol``, ``symbol_nocase`` or
        ``none``. A symbol or Entrez id shared by several genes maps to the smallest gene_id.
    """
    if annotation is None:
        annotation = load_annotation()
    known = set(annotation["gene_id"])
    by_entrez = _first_by_key(annotation, "entrez", int)
    by_symbol = _first_by_key(annotation, "symbol")
    by_casefold = _first_by_key(annotation, "symbol", str.casefold)

    def by_name(name: str) -> tuple[str | None, str]:
        if name in by_symbol:
            return by_symbol[name], "symbol"
        if name.casefold() in by_casefold:
            return by_casefold[name.casefold()], "symbol_nocase"
        return None, "none"

    def one(query: object) -> tuple[str | None, str]:
        text = str(query).strip()
        if found := _ENSEMBL.match(text):
            gene = found.group(1)
            how = "ensembl" if gene == text else "ensembl_versioned"
            return (gene, how) if gene in known else (None, "none")
        if found := _SYMBOL_ENTREZ.match(text):
            entrez = int(found.group(2))
            if entrez in by_entrez:
                return by_entrez[entrez], "entrez"
            return by_name(found.group(1))
        if text.isdigit():
            entrez = int(text)
            return (by_entrez[entrez], "entrez") if entrez in by_entrez else (None, "none")
        return by_name(text)

    hits = [one(query) for query in ids]
    return pd.DataFrame(
        {
            "query": pd.Series(list(ids), dtype="str"),
            "gene_id": pd.Series([gene for gene, _ in hits], dtype="str"),
            "matched_by": pd.Series([how for _, how in hits], dtype="str"),
        }
    )


def lookup(query: str, annotation: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every annotation row for one id or symbol (symbols case-insensitive): a search box."""
    if annotation is None:
        annotation = load_annotation()
    text = str(query).strip()
    hit = annotation["gene_id"] == _ENSEMBL.sub(r"\1", text)
    hit |= annotation["symbol"].str.casefold() == text.casefold()
    if text.isdigit():
        hit |= annotation["entrez"] == int(text)
    return annotation[hit.fillna(False)].reset_index(drop=True)
