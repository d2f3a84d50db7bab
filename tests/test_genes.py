"""Gene annotation (allRNAseq.tsv genes + org.Hs.eg.db symbols) and id mapping."""

from __future__ import annotations

import shutil
import time

import pandas as pd
import pytest

from ai4loop_core import genes
from ai4loop_core.data import ensure_file, registry
from ai4loop_core.genome import normalize_chrom


@pytest.fixture(scope="module")
def annotation() -> pd.DataFrame:
    return genes.load_annotation()


def _expected(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=genes.COLUMNS)
    return frame.astype(
        {
            "gene_id": "str",
            "chrom": "str",
            "start": "int64",
            "end": "int64",
            "symbol": "str",
            "entrez": "Int64",
            "strand": "Int8",
        }
    )


TP53 = ("ENSG00000141510", "chr17", 7565097, 7590856, "TP53", 7157, -1)
GAPDH = ("ENSG00000111640", "chr12", 6643093, 6647537, "GAPDH", 2597, 1)


def test_annotation_holds_every_allrnaseq_gene(reg, annotation):
    source = pd.read_csv(
        reg(genes.EXPRESSION_PATH), sep="\t", usecols=["#chr", "start", "end", "gene"]
    )
    assert len(source) == 51_627 and source["gene"].is_unique  # no duplicates to drop
    expected = pd.DataFrame(
        {
            "gene_id": source["gene"].astype("str"),
            "chrom": source["#chr"].map(normalize_chrom).astype("str"),
            "start": source["start"].astype("int64"),
            "end": source["end"].astype("int64"),
        }
    )
    pd.testing.assert_frame_equal(annotation[["gene_id", "chrom", "start", "end"]], expected)
    assert annotation.columns.tolist() == genes.COLUMNS
    assert annotation.dtypes.astype(str).tolist() == [
        "str",
        "str",
        "int64",
        "int64",
        "str",
        "Int64",
        "Int8",
    ]
    assert annotation["gene_id"].is_unique
    # strand: known for the located Entrez genes only, both strands about equally common
    assert annotation["strand"].value_counts().to_dict() == {1: 12_313, -1: 11_750}
    assert annotation.loc[annotation["entrez"].isna(), "strand"].isna().all()
    assert set(annotation["chrom"]) == {f"chr{c}" for c in [*range(1, 23), "X"]}
    assert (annotation["symbol"].isna() == annotation["entrez"].isna()).all()


def test_known_genes(annotation):
    rows = annotation[annotation["symbol"].isin(["TP53", "GAPDH"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows, _expected([GAPDH, TP53]))


def test_summary(annotation):
    assert genes.summary(annotation) == {
        "genes": 51_627,
        "with_symbol": 33_604,
        "with_entrez": 33_604,
        "fraction_with_symbol": 33_604 / 51_627,
    }


def test_one_entrez_per_ensembl_rule(annotation):
    picked = annotation.set_index("gene_id").loc[
        ["ENSG00000004866", "ENSG00000100197", "ENSG00000111215", "ENSG00000067601"],
        ["symbol", "entrez"],
    ]
    # ST7 over ST7-OT3 and CYP2D6 over LOC records (smallest Entrez id); PRR4 over PRH1 and
    # PMS2P4 over PMS2P2 (the link both NCBI and Ensembl make beats a smaller id).
    assert picked.values.tolist() == [
        ["ST7", 7982],
        ["CYP2D6", 1565],
        ["PRR4", 11272],
        ["PMS2P4", 5382],
    ]


def test_map_ids_mixed_kinds(annotation):
    queries = [
        "ENSG00000141510.16",
        "ENSG00000111640",
        "ENSG00000111640.14_5",
        "TP53",
        "tp53",
        "7157",
        "GAPDH|2597",
        "NOTAGENE|2597",
        "?|7157",
        "GAPDH|999999999",
        "FOO",
        "ENSG99999999999",
        " GAPDH ",
    ]
    expected = pd.DataFrame(
        {
            "query": queries,
            "gene_id": ["ENSG00000141510", "ENSG00000111640", "ENSG00000111640"]
            + ["ENSG00000141510"] * 3
            + ["ENSG00000111640"] * 2
            + ["ENSG00000141510", "ENSG00000111640", None, None, "ENSG00000111640"],
            "matched_by": [
                "ensembl_versioned",
                "ensembl",
                "ensembl_versioned",
                "symbol",
                "symbol_nocase",
                "entrez",
                "entrez",
                "entrez",
                "entrez",
                "symbol",
                "none",
                "none",
                "symbol",
            ],
        }
    ).astype("str")
    pd.testing.assert_frame_equal(genes.map_ids(queries, annotation), expected)


def test_map_ids_shared_symbol_takes_smallest_gene_id(annotation):
    shared = annotation.dropna(subset=["symbol"])
    shared = shared[shared["symbol"].duplicated(keep=False)].sort_values("gene_id")
    symbol = shared["symbol"].iloc[0]
    mapped = genes.map_ids([symbol], annotation)
    assert mapped["gene_id"].tolist() == [shared.loc[shared["symbol"] == symbol, "gene_id"].min()]


def test_lookup(annotation):
    pd.testing.assert_frame_equal(genes.lookup("tp53", annotation), _expected([TP53]))
    pd.testing.assert_frame_equal(genes.lookup("2597", annotation), _expected([GAPDH]))
    pd.testing.assert_frame_equal(genes.lookup("ENSG00000141510.16", annotation), _expected([TP53]))
    assert genes.lookup("nothing", annotation).empty


def test_cache_is_fast_and_rebuilt_when_stale(reg, annotation, tmp_path):
    start = time.perf_counter()
    again = genes.load_annotation()
    assert time.perf_counter() - start < 1.0  # about 0.05 s; the bound leaves room for a slow CI
    pd.testing.assert_frame_equal(again, annotation)

    for relpath in (genes.EXPRESSION_PATH, genes.ORGDB_PATH):
        link = tmp_path / relpath
        link.parent.mkdir(parents=True)
        link.symlink_to(reg(relpath))
    stale = tmp_path / genes.CACHE_PATH
    stale.parent.mkdir()
    annotation.head(3).to_parquet(stale)  # no inputs key: must not be used
    pd.testing.assert_frame_equal(genes.load_annotation(data_dir=tmp_path), annotation)
    pd.testing.assert_frame_equal(pd.read_parquet(stale), annotation)


def test_source_names_the_registry_package():
    deb = registry().query("kind == 'deb'").iloc[0]
    assert deb["path"] == genes.ORGDB_PATH
    assert f"{deb['upstream_repo']} {deb['upstream_commit']}" in genes.SOURCE


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian)")
def test_orgdb_comes_from_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.delenv("AI4LOOP_DATA_MIRROR", raising=False)
    path = ensure_file(genes.ORGDB_PATH, data_dir=tmp_path)  # apt-get download + dpkg -x
    assert path == tmp_path / genes.ORGDB_PATH
    deb = registry().set_index("path").loc[genes.ORGDB_PATH]
    assert path.stat().st_size == deb["size"]
    leftovers = [p.name for p in (tmp_path / "org.Hs.eg.db").iterdir()]
    assert leftovers == ["usr"]  # the .deb and the unpacked tree are gone


def test_gene_strands_from_a_column_or_the_annotation(annotation):
    col = pd.DataFrame({"strand": ["+", "-", ".", 1, -1, None]})
    assert genes.gene_strands(col).tolist() == [1, -1, 0, 1, -1, 0]
    ids = pd.DataFrame({"gene_id": ["ENSG00000141510.16", "ENSG00000111640", "nope"]})
    assert genes.gene_strands(ids, annotation=annotation).tolist() == [-1, 1, 0]  # TP53, GAPDH
    assert genes.gene_strands(pd.DataFrame({"chrom": ["chr1"]})).tolist() == [0]
