"""The feature transform: fast sparse operator == the plain per-bin loop, and the spec's edges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.features import (
    N_FEATURES,
    bin_layout,
    build_operator,
    reference_features,
    window_starts,
)
from ai4loop_core.pairs import read_pairs


def test_bin_layout_is_the_published_155():
    layout = bin_layout()
    assert N_FEATURES == 155
    assert layout.groupby("bin_size").size().to_dict() == {
        1000: 60, 2000: 30, 3000: 20, 4000: 15, 5000: 12, 6000: 10, 7000: 8,
    }  # fmt: skip
    assert layout.iloc[[0, 59, 60, 154]].to_dict("list") == {
        "bin_size": [1000, 1000, 2000, 7000],
        "k": [0, 59, 0, 7],
        "offset_start": [0, 59000, 0, 49000],
        "offset_end": [1000, 60000, 2000, 56000],
    }


def test_window_start_uses_floor_midpoint_and_clips_at_zero():
    starts = np.array([100, 100_000, 100_000])
    ends = np.array([200, 100_003, 100_004])
    assert window_starts(starts, ends).tolist() == [0, 70_001, 70_002]


def test_tiny_table_exact_means():
    genes = pd.DataFrame(
        {
            "chrom": ["chr1", "1", "chr1", "chr2"],
            "start": [0, 500, 1500, 0],
            "end": [1500, 800, 1600, 99_999],
        }
    )
    expression = np.array([[2.0], [4.0], [10.0], [7.0]])
    # chr1 anchor: window clipped to [0, 60000); chr3 has no genes at all.
    anchors = pd.DataFrame({"chrom": ["chr1", "3"], "start": [100, 5], "end": [200, 6]})
    feats = build_operator(anchors, genes).apply(expression)[:, :, 0]
    expected = np.zeros((2, 155))
    expected[0, 0] = (2 + 4) / 2  # 1 kb bin [0, 1000): genes 0 and 1
    expected[0, 1] = (2 + 10) / 2  # 1 kb bin [1000, 2000): genes 0 and 2 (gene 1 ends at 800)
    for first_bin in (60, 90, 110, 125, 137, 147):  # bin 0 of the 2 kb .. 7 kb scales
        expected[0, first_bin] = (2 + 4 + 10) / 3
    np.testing.assert_allclose(feats, expected, rtol=1e-15)


@pytest.fixture(scope="module")
def example(reg):
    bed = pd.read_csv(
        reg("ai4loop-upstream/prediction/Samples_RNASeqdata.bed"),
        sep="\t",
        header=None,
        names=["chrom", "start", "end", "gene", "AML1", "AML2"],
    )
    pairs = read_pairs(reg("ai4loop-upstream/prediction/Genepairs_1000.bedpe"))
    anchors, _, _ = pairs.unique_anchors()
    return bed, anchors


def test_operator_equals_per_bin_loop_on_the_upstream_example(example):
    bed, anchors = example
    x = bed[["AML1", "AML2"]].to_numpy()
    fast = build_operator(anchors, bed).apply(x)
    slow = reference_features(anchors, bed, x)
    assert fast.shape == (993, 155, 2)
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12)
    # the example really exercises the transform: most anchors have expressed genes nearby
    assert (fast.sum(axis=(1, 2)) > 0).mean() > 0.9


def test_operator_streams_sample_chunks(example):
    bed, anchors = example
    x = bed[["AML1", "AML2", "AML1"]].to_numpy()
    op = build_operator(anchors.iloc[:50], bed)
    chunks = list(op.iter_apply(x, chunk_samples=2))
    assert [c.indices(3) for c, _ in chunks] == [(0, 2, 1), (2, 3, 1)]
    np.testing.assert_array_equal(np.concatenate([f for _, f in chunks], axis=2), op.apply(x))


def test_long_genes_spanning_many_blocks_are_found(reg):
    # DMD (2.2 Mb) spans many 100 kb index blocks; an anchor in its middle must see it.
    rna = pd.read_csv(reg("ai4loop-upstream/data/allRNAseq.tsv"), sep="\t").rename(
        columns={"#chr": "chrom"}
    )
    dmd = rna[rna["gene"] == "ENSG00000198947"].iloc[0]
    mid = (dmd["start"] + dmd["end"]) // 2
    anchors = pd.DataFrame({"chrom": ["chrX"], "start": [mid], "end": [mid + 10]})
    x = rna[["GM12878", "HeLaS3"]].to_numpy()
    np.testing.assert_allclose(
        build_operator(anchors, rna).apply(x), reference_features(anchors, rna, x), rtol=1e-12
    )
