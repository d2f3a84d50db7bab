"""The published AI4Loop pan-cancer atlas as an atlas (``ai4loop atlas import-published``).

Input: ``ai4loop-pancancer-atlas`` (DaoFuying/AI4Loop, "pan-cancer GGI database"): CSV tables with
an unnamed first column (the upstream row id), anchor coordinates and genes (``chr1, x1, x2,
gene1, gene1Sym, chr2, y1, y2, gene2, gene2Sym``) and, per group, the fraction of samples in which
the GGI is predicted (score >= 0.5): 32 TCGA cancer types and ``Healthy``. The tables are disjoint
(each row id is in exactly one) and each is defined by a rule on those fractions (>= 0.5 means
"present"), which :func:`check_published` re-derives:

==================  ===========================================================================
``GGI-all``         present in every group, Healthy included (855)
``GGI-cancer``      present in every cancer type, absent in Healthy: gained in all cancers (101)
``GGI-healthy``     present in Healthy only: lost in every cancer type (17)
``per-cancer/C``    present in cancer type C only (absent in every other group, Healthy too)
``non-GGI``         candidate pairs at fraction 0 everywhere (8,398)
==================  ===========================================================================

Output (docs/atlas-schema.md): ``manifest.json`` (kind ``summary``, source ``AI4Loop
(published)``), ``ggis`` (11,206 rows: 2,808 GGIs + 8,398 non-GGI candidates; ``ggi_id`` = the
upstream row id, ``origin`` = ``published``; extra columns ``published_table``,
``gene_id1_published``/``gene_id2_published`` (ids as given: some are GENCODE-lift37 versioned,
``ENSG00000161955.16_6``; ``gene_id1``/``gene_id2`` are unversioned) and ``duplicate_of``: 37
upstream rows, all around WT1 (2 of the OV list, 35 non-GGI), repeat the gene pair, coordinates
and fractions of an earlier row; both are kept so the published counts re-derive) and
``catalog_ggi_id`` (the id :mod:`atlas.catalog` gives the pair: the join key with built atlases),
``group_summary`` (``group``, ``ggi_id``, ``fraction``, ``source``; ``n``, ``mean``, ``median``
null: the upstream has no sample-level scores) and ``gene_sets`` (:func:`published_gene_sets`).

Some gene pairs are published in both orders with different results (the model is not
symmetric in its two anchors): RBM6-GPX1 is LIHC specific, GPX1-RBM6 a non-GGI. Rows are kept
as published, each with its own ``ggi_id``.

Coordinates are hg19 as given: the ``_N`` suffix of the versioned ids is GENCODE's GRCh37
back-mapping, and e.g. AMPD2 at chr1:110,158,726 and TNFSF13 at chr17:7,461,609 match hg19, not
hg38. ``gene1`` is not always the gene with the smaller coordinate: pairs keep the published order.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ai4loop_core.atomic import atomic_path
from ai4loop_core.errors import BadInputError

__all__ = [
    "CANCERS",
    "GROUPS",
    "SOURCE",
    "catalog_ggi_ids",
    "check_published",
    "derive_tables",
    "import_published",
    "published_gene_sets",
    "read_published",
    "write_atlas",
]

SOURCE = "AI4Loop (published)"
FOLDER = "ai4loop-pancancer-atlas"
CANCERS = tuple(
    "ACC BLCA BRCA CESC COAD DLBC ESCA GBM HNSC KICH KIRC KIRP LAML LGG LIHC LUAD LUSC MESO OV "
    "PAAD PCPG PRAD READ SARC SKCM STAD TGCT THCA THYM UCEC UCS UVM".split()
)
GROUPS = (*CANCERS, "Healthy")
PRESENT = 0.5  # a GGI is present in a group when its fraction there is >= 0.5
TABLES = {
    "GGI-all": "GGI-all.csv",
    "GGI-cancer": "GGI-cancer.csv",
    "GGI-healthy": "GGI-healthy.csv",
    "non-GGI": "non-GGI.csv",
    **{f"{c} specific": f"per-cancer/{c}.GGI.csv" for c in CANCERS},
}
_GENE_COLUMNS = ["chr1", "x1", "x2", "gene1", "gene1Sym", "chr2", "y1", "y2", "gene2", "gene2Sym"]
_VERSION = r"\.\d+(_\d+)?$"
GGI_COLUMNS = [
    "ggi_id", "gene_id1", "symbol1", "gene_id2", "symbol2", "chrom",
    "start1", "end1", "start2", "end2", "distance", "origin",
]  # fmt: skip


def _read_one(path: Path, table: str) -> pd.DataFrame:
    # pandas reads CRLF (GGI-cancer.csv) and LF alike; the first, unnamed column is the row id.
    frame = pd.read_csv(path, dtype={"gene1": "str", "gene2": "str", "chr1": "str", "chr2": "str"})
    first = frame.columns[0]
    missing = [c for c in (*_GENE_COLUMNS, *GROUPS) if c not in frame.columns]
    if missing or not first.startswith("Unnamed"):
        raise BadInputError(
            f"{path}: line 1 should be ',chr1,x1,x2,gene1,gene1Sym,chr2,y1,y2,gene2,gene2Sym,"
            f"<33 groups>'; missing {missing or 'the unnamed row-id column'}. Re-fetch it with "
            "`ai4loop data fetch`."
        )
    frame = frame.rename(columns={first: "rid"})
    bad = frame[list(GROUPS)].apply(pd.to_numeric, errors="coerce")
    bad = bad.isna() | (bad < 0) | (bad > 1)
    if bad.to_numpy().any():
        row = int(np.flatnonzero(bad.to_numpy().any(axis=1))[0])
        raise BadInputError(
            f"{path}: line {row + 2}: fractions must be numbers in [0, 1]; re-fetch the file."
        )
    frame.insert(1, "published_table", table)
    return frame


def read_published(*, data_dir: Path | None = None) -> pd.DataFrame:
    """All published tables as one wide frame: one row per upstream row id.

    Returns
    -------
    pandas.DataFrame
        ``rid``, ``published_table`` (``GGI-all``, ``GGI-cancer``, ``GGI-healthy``, ``non-GGI``
        or ``<C> specific``), the gene and coordinate columns as given and one fraction column per
        group (:data:`GROUPS`), sorted by ``rid``.
    """
    from ai4loop_core.data import ensure_file

    frames = [
        _read_one(ensure_file(f"{FOLDER}/{rel}", data_dir=data_dir), table)
        for table, rel in TABLES.items()
    ]
    wide = pd.concat(frames, ignore_index=True)
    twice = wide[wide["rid"].duplicated(keep=False)]
    if len(twice):
        raise BadInputError(
            f"{FOLDER}: row id {twice['rid'].iloc[0]} is in both "
            f"{' and '.join(twice['published_table'].iloc[:2])}; the tables must be disjoint."
        )
    return wide.sort_values("rid", kind="stable").reset_index(drop=True)


def _ggis(wide: pd.DataFrame) -> pd.DataFrame:
    g1 = wide["gene1"].astype("str")
    g2 = wide["gene2"].astype("str")
    mid1 = wide["x1"] + (wide["x2"] - wide["x1"]) // 2
    mid2 = wide["y1"] + (wide["y2"] - wide["y1"]) // 2
    ggis = pd.DataFrame(
        {
            "ggi_id": wide["rid"].astype(np.int32),
            "gene_id1": g1.str.replace(_VERSION, "", regex=True),
            "symbol1": wide["gene1Sym"].astype("str"),
            "gene_id2": g2.str.replace(_VERSION, "", regex=True),
            "symbol2": wide["gene2Sym"].astype("str"),
            "chrom": wide["chr1"].astype("str"),
            "start1": wide["x1"].astype(np.int64),
            "end1": wide["x2"].astype(np.int64),
            "start2": wide["y1"].astype(np.int64),
            "end2": wide["y2"].astype(np.int64),
            "distance": (mid2 - mid1).abs().astype(np.int64),
            "origin": "published",
            "published_table": wide["published_table"].astype("str"),
            "gene_id1_published": g1,
            "gene_id2_published": g2,
        }
    )
    if (wide["chr1"] != wide["chr2"]).any():
        raise BadInputError(f"{FOLDER}: inter-chromosomal pairs are not expected in AI4Loop GGIs.")
    key = ggis[["gene_id1", "gene_id2", "start1", "end1", "start2", "end2"]]
    first = ggis.groupby(list(key.columns), sort=False)["ggi_id"].transform("min")
    ggis["duplicate_of"] = pd.array(np.where(first != ggis["ggi_id"], first, pd.NA), "Int32")
    return ggis


def catalog_ggi_ids(ggis: pd.DataFrame, *, annotation: pd.DataFrame | None = None) -> pd.Series:
    """The ``ggi_id`` the engine's catalogs (:mod:`atlas.catalog`) give each gene pair.

    Lets atlases with other id schemes (the published row ids, LINCS landmark pairs) be joined
    with built atlases. Missing where a gene is not in the annotation or the pair is outside the
    catalog's id universe (those ids depend on the catalog). Both orders of a pair get one id.
    """
    from atlas.catalog import GeneIndex

    if annotation is None:
        from ai4loop_core.genes import load_annotation

        annotation = load_annotation()
    index = GeneIndex.from_annotation(annotation)
    a = ggis["gene_id1"].map(index.position)
    b = ggis["gene_id2"].map(index.position)
    ok = (a.notna() & b.notna() & (a != b)).to_numpy()
    ids = np.full(len(ggis), -1, dtype=np.int64)
    i, j = a[ok].astype(np.int64).to_numpy(), b[ok].astype(np.int64).to_numpy()
    ids[ok] = index.pair_ids(np.minimum(i, j), np.maximum(i, j))
    return pd.Series(pd.array(np.where(ids >= 0, ids, pd.NA), dtype="Int32"), index=ggis.index)


def _group_summary(wide: pd.DataFrame) -> pd.DataFrame:
    long = wide.melt(
        id_vars="rid", value_vars=list(GROUPS), var_name="group", value_name="fraction"
    )
    n = len(long)
    return pd.DataFrame(
        {
            "group": long["group"].astype("str"),
            "ggi_id": long["rid"].astype(np.int32),
            "n": pd.array([pd.NA] * n, dtype="Int32"),
            "mean": pd.array([pd.NA] * n, dtype="Float32"),
            "median": pd.array([pd.NA] * n, dtype="Float32"),
            "fraction": long["fraction"].astype(np.float64),
            "source": SOURCE,
        }
    )


def published_gene_sets(*, data_dir: Path | None = None) -> pd.DataFrame:
    """GGI sets from the published lists, for drug screening and enrichment.

    Returns
    -------
    pandas.DataFrame
        ``gene_set``, ``kind``, ``group``, ``ggi_id`` (the upstream row id), ``gene_id1``,
        ``gene_id2`` (unversioned, for matching atlases whose ``ggi_id`` differ), ``symbol1``,
        ``symbol2``. Sets: ``<C> specific (published)`` (kind ``cancer_specific``, gained in C
        only), ``pan-cancer gain (published)`` (GGI-cancer, kind ``pan_cancer_gain``: present in
        every cancer type, absent in Healthy) and ``healthy only (published)`` (GGI-healthy,
        kind ``healthy_only``: lost in every cancer type). The first two are cancer-gain sets.
    """
    wide = read_published(data_dir=data_dir)
    return _gene_sets(wide, _ggis(wide))


def _gene_sets(wide: pd.DataFrame, ggis: pd.DataFrame) -> pd.DataFrame:
    names = {f"{c} specific": (f"{c} specific (published)", "cancer_specific", c) for c in CANCERS}
    names["GGI-cancer"] = ("pan-cancer gain (published)", "pan_cancer_gain", "all cancers")
    names["GGI-healthy"] = ("healthy only (published)", "healthy_only", "Healthy")
    rows = ggis[ggis["published_table"].isin(list(names))].copy()
    info = rows["published_table"].map(names)
    out = pd.DataFrame(
        {
            "gene_set": info.str[0].astype("str"),
            "kind": info.str[1].astype("str"),
            "group": info.str[2].astype("str"),
            "ggi_id": rows["ggi_id"].astype(np.int32),
            "gene_id1": rows["gene_id1"],
            "gene_id2": rows["gene_id2"],
            "symbol1": rows["symbol1"],
            "symbol2": rows["symbol2"],
        }
    )
    order = {name: i for i, name in enumerate(v[0] for v in names.values())}
    out = out.assign(_order=out["gene_set"].map(order))
    out = out.sort_values(["_order", "ggi_id"], kind="stable").drop(columns="_order")
    return out.reset_index(drop=True)


def derive_tables(group_summary: pd.DataFrame) -> pd.DataFrame:
    """Re-derive every published list from fractions (the rules in the module docstring).

    Parameters
    ----------
    group_summary
        ``group``, ``ggi_id``, ``fraction`` for the 33 groups.

    Returns
    -------
    pandas.DataFrame
        ``ggi_id`` and ``derived_table``: ``<C> specific``, ``GGI-cancer``, ``GGI-healthy``,
        ``GGI-all``, or missing for pairs in none of the lists.
    """
    wide = group_summary.pivot(index="ggi_id", columns="group", values="fraction")
    missing = [g for g in GROUPS if g not in wide.columns]
    if missing:
        raise BadInputError(f"group_summary lacks groups {missing}; it is not the published one.")
    present = wide[list(GROUPS)].to_numpy() >= PRESENT
    cancer = present[:, : len(CANCERS)]
    healthy = present[:, len(CANCERS)]
    n_present = present.sum(axis=1)
    out = pd.Series(pd.NA, index=wide.index, dtype="string")
    only = (n_present == 1) & ~healthy
    out[only] = [f"{CANCERS[i]} specific" for i in cancer[only].argmax(axis=1)]
    out[cancer.all(axis=1) & ~healthy] = "GGI-cancer"
    out[cancer.all(axis=1) & healthy] = "GGI-all"
    out[(n_present == 1) & healthy] = "GGI-healthy"
    return out.rename("derived_table").rename_axis("ggi_id").reset_index()


def check_published(atlas_dir: Path | str, *, data_dir: Path | None = None) -> pd.DataFrame:
    """Compare every published list with the list re-derived from an imported atlas.

    The published side is read from the upstream files; the derived side only from the atlas's
    ``group_summary`` (:func:`derive_tables`), so the check covers the import end to end.

    Returns
    -------
    pandas.DataFrame
        One row per list (32 cancer types, then GGI-cancer, GGI-healthy, GGI-all): ``table``,
        ``group``, ``rule``, ``published`` and ``derived`` (counts), ``same_ggis`` (the same row
        ids, not only as many) and ``equal`` (both).
    """
    atlas_dir = Path(atlas_dir)
    path = atlas_dir / "group_summary.parquet"
    if not path.exists():
        raise BadInputError(
            f"{path}: not found; build the atlas first (`ai4loop atlas import-published --out "
            f"{atlas_dir}`)."
        )
    summary = pd.read_parquet(path, columns=["group", "ggi_id", "fraction"])
    derived = derive_tables(summary)
    wide = read_published(data_dir=data_dir)
    rules = {f"{c} specific": (c, f">= {PRESENT} in {c}, < {PRESENT} elsewhere") for c in CANCERS}
    rules["GGI-cancer"] = ("all cancers", f">= {PRESENT} in every cancer, < {PRESENT} in Healthy")
    rules["GGI-healthy"] = ("Healthy", f">= {PRESENT} in Healthy, < {PRESENT} in every cancer")
    rules["GGI-all"] = ("all groups", f">= {PRESENT} in every group")
    rows = []
    for table, (group, rule) in rules.items():
        pub = set(wide.loc[wide["published_table"] == table, "rid"])
        got = set(derived.loc[derived["derived_table"] == table, "ggi_id"])
        rows.append((table, group, rule, len(pub), len(got), pub == got))
    out = pd.DataFrame(
        rows, columns=["table", "group", "rule", "published", "derived", "same_ggis"]
    )
    out["equal"] = (out["published"] == out["derived"]) & out["same_ggis"]
    return out


# ---------------------------------------------------------------------------------------------
# Writing an atlas directory


def _table_sha256(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def write_atlas(out: Path | str, *, tables: Mapping[str, pd.DataFrame], manifest: dict) -> Path:
    """Write ``<name>.parquet`` tables (zstd) and ``manifest.json`` into ``out``.

    Each file is written atomically; ``manifest.json`` last, with ``tables`` (name -> rows)
    added, so a directory with a manifest is complete. Parquet files of tables not given are
    removed, so a rebuild never leaves stale tables.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        with atomic_path(out / f"{name}.parquet") as tmp:
            arrow = pa.Table.from_pandas(frame, preserve_index=False)
            pq.write_table(arrow, tmp, compression="zstd")
    for stale in out.glob("*.parquet"):
        if stale.stem not in tables:
            stale.unlink()
    manifest = {**manifest, "tables": {name: len(frame) for name, frame in tables.items()}}
    with atomic_path(out / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
    return out


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _command() -> str:
    """The command line that is running, program name without its directory."""
    argv = sys.argv or [""]
    return " ".join([Path(argv[0]).name, *argv[1:]]).strip()


def _inputs() -> list[dict[str, str]]:
    from ai4loop_core.data import registry

    reg = registry().set_index("path")
    out = []
    for table, rel in TABLES.items():
        row = reg.loc[f"{FOLDER}/{rel}"]
        out.append(
            {
                "table": table,
                "path": f"{FOLDER}/{rel}",
                "sha256": row["sha256"],
                "upstream": f"{row['upstream_repo']}@{row['upstream_commit']}",
                "format": "ai4loop-published-csv",
                "scale": "fraction of samples with score >= 0.5 (as published)",
            }
        )
    return out


def _move_atlas(src: Path, out: Path) -> None:
    """Move a complete atlas from ``src`` into ``out``: tables first, the manifest last."""
    out.mkdir(parents=True, exist_ok=True)
    names = {p.name for p in src.glob("*.parquet")}
    for stale in out.glob("*.parquet"):
        if stale.name not in names:
            stale.unlink()
    for name in sorted(names):
        (src / name).replace(out / name)
    (src / "manifest.json").replace(out / "manifest.json")
    shutil.rmtree(src)


def import_published(
    *, out: Path | str, name: str = "published", data_dir: Path | None = None
) -> Path:
    """Import the published pan-cancer atlas into ``out`` (see the module docstring).

    The directory gets ``manifest.json``, ``ggis``, ``group_summary`` and ``gene_sets``; the
    import is checked with :func:`check_published` and refused if any list does not re-derive.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    out = Path(out)
    wide = read_published(data_dir=data_dir)
    ggis = _ggis(wide)
    from ai4loop_core.genes import load_annotation

    ggis["catalog_ggi_id"] = catalog_ggi_ids(ggis, annotation=load_annotation(data_dir=data_dir))
    summary = _group_summary(wide)
    sets = _gene_sets(wide, ggis)
    n_ggi = int((ggis["published_table"] != "non-GGI").sum())
    manifest = {
        "name": name,
        "kind": "summary",
        "source": SOURCE,
        "synthetic": False,
        "model": {
            "name": SOURCE,
            "card": "AI4Loop authors' TCGA pan-cancer predictions (score >= 0.5 = GGI present);"
            " only per-group fractions are published, no sample-level scores",
        },
        "catalog": {
            "name": "published",
            "size": len(ggis),
            "ggis": n_ggi,
            "non_ggi_candidates": len(ggis) - n_ggi,
            "sha256": _table_sha256(ggis[GGI_COLUMNS]),
            "ggi_id": "upstream row id (unnamed first column of the published CSV files)",
            "duplicate_pairs": int(ggis["duplicate_of"].notna().sum()),
            "catalog_ggi_id": "the id atlas.catalog gives the gene pair (join key with built "
            f"atlases); missing for {int(ggis['catalog_ggi_id'].isna().sum())} rows",
        },
        "assembly": "hg19",
        "groups": list(GROUPS),
        "present_threshold": PRESENT,
        "cohorts": _inputs(),
        "gene_sets": {k: int(v) for k, v in sets["gene_set"].value_counts(sort=False).items()},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": _command(),
    }
    tmp = out.with_name(f".{out.name}.importing")
    shutil.rmtree(tmp, ignore_errors=True)
    tables = {"ggis": ggis, "group_summary": summary, "gene_sets": sets}
    write_atlas(tmp, tables=tables, manifest=manifest)
    check = check_published(tmp, data_dir=data_dir)
    if not check["equal"].all():
        bad = check.loc[~check["equal"], ["table", "published", "derived"]]
        raise RuntimeError(f"published lists do not re-derive:\n{bad.to_string(index=False)}")
    _move_atlas(tmp, out)
    return out
