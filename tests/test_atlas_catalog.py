"""GGI catalogs: contents, sizes and the stability of ggi_id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.errors import BadInputError
from ai4loop_core.genes import load_annotation
from atlas.catalog import (
    EXTRA_ID_BASE,
    GGI_COLUMNS,
    GeneIndex,
    build_catalog,
    expressed_genes,
    published_pairs,
)


@pytest.fixture(scope="module")
def annotation():
    return load_annotation()


@pytest.fixture(scope="module")
def default(annotation):
    return build_catalog("default", annotation=annotation)


def test_default_catalog_holds_published_and_hic_pairs(default):
    g = default.ggis
    assert list(g.columns) == GGI_COLUMNS
    assert g["ggi_id"].dtype == np.int32 and g["ggi_id"].is_unique
    assert g["ggi_id"].is_monotonic_increasing
    published = g["origin"].str.contains("published")
    hic = g["origin"].str.contains("hic:")
    # 2,808 published rows are 2,703 distinct unordered gene pairs (105 rows repeat a pair)
    assert published.sum() == 2703
    assert hic.sum() > 20_000 and (published & hic).sum() > 0
    h = g[hic & ~published]
    assert h["distance"].between(1_000, 2_000_000).all()
    assert (
        g["start1"] + (g["end1"] - g["start1"]) // 2 <= g["start2"] + (g["end2"] - g["start2"]) // 2
    )[g["ggi_id"] < EXTRA_ID_BASE].all()  # gene1 is the gene with the smaller midpoint
    assert default.summary()["size"] == len(g)


def test_every_published_pair_is_in_the_default_catalog(default):
    pub = published_pairs()
    have = set(zip(default.ggis["gene_id1"], default.ggis["gene_id2"], strict=True))
    have |= {(b, a) for a, b in have}
    missing = [
        (a, b) for a, b in zip(pub["gene1"], pub["gene2"], strict=True) if (a, b) not in have
    ]
    assert missing == []


def test_ggi_id_depends_on_the_pair_only(annotation, default):
    shuffled = annotation.sample(frac=1.0, random_state=1).reset_index(drop=True)
    a, b = GeneIndex.from_annotation(annotation), GeneIndex.from_annotation(shuffled)
    g = default.ggis[default.ggis["ggi_id"] < EXTRA_ID_BASE].head(500)
    for index in (a, b):
        i = g["gene_id1"].map(index.position).to_numpy()
        j = g["gene_id2"].map(index.position).to_numpy()
        np.testing.assert_array_equal(index.pair_ids(i, j), g["ggi_id"].to_numpy())
    # a sub-catalog (expressed genes) gives its pairs the same ids
    genes = pd.unique(pd.concat([g["gene_id1"], g["gene_id2"]]))
    sub = build_catalog("expressed", annotation=annotation, expressed=genes)
    both = sub.ggis.merge(default.ggis, on=["gene_id1", "gene_id2"], suffixes=("", "_d"))
    assert len(both) > 100 and (both["ggi_id"] == both["ggi_id_d"]).all()
    assert sub.ggis["distance"].between(5_000, 2_000_000).all()


def test_expressed_genes_threshold():
    genes = pd.DataFrame({"gene_id": ["a", "b", "c"]})
    values = np.array([[2.0, 2.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5], [0.0, 0.0, 0.0, 1.5]])
    groups = np.array(["x", "x", "y", "y"])
    assert list(expressed_genes(genes, values, groups)) == ["a"]
    # c: median 0.75 in group y (0.0 and 1.5) -> in at 0.5 and 0.75; b: 0.5 everywhere
    assert list(expressed_genes(genes, values, groups, min_tpm=0.5)) == ["a", "b", "c"]
    assert list(expressed_genes(genes, values, groups, min_tpm=0.75)) == ["a", "c"]


def test_catalog_file_and_errors(tmp_path, annotation):
    path = tmp_path / "pairs.csv"
    path.write_text("gene_id1,gene_id2\nTP53,WRAP53\nENSG00000141510,ENSG00000141499\n")
    cat = build_catalog(str(path), annotation=annotation)
    assert len(cat) == 1 and cat.ggis["origin"].iloc[0] == "file:pairs.csv"
    path.write_text("gene_id1,gene_id2\nTP53,NOTAGENE\n")
    with pytest.raises(BadInputError, match="line 2, column gene_id2: unknown gene 'NOTAGENE'"):
        build_catalog(str(path), annotation=annotation)
    with pytest.raises(BadInputError, match="not a catalog name"):
        build_catalog("nope", annotation=annotation)
