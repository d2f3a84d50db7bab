"""Pair files: the three layouts, and clear errors with file and line."""

from __future__ import annotations

import gzip

import pytest

from ai4loop_core.errors import BadInputError
from ai4loop_core.pairs import read_pairs


def test_ai4loop_bedpe_layout(reg):
    pairs = read_pairs(reg("ai4loop-upstream/prediction/Genepairs_1000.bedpe"))
    assert pairs.layout == "ai4loop-bedpe" and len(pairs) == 1000
    assert pairs.anchors.iloc[0].tolist() == [
        "chr10", 123716297, 123716613, "chr10", 124895486, 124898939
    ]  # fmt: skip
    assert pairs.table.loc[0, ["gene_id1", "gene1", "gene2", "col11"]].tolist() == [
        "ENSG00000276742.1_7", "AL731566.3", "HMX3", "0.99853027"
    ]  # fmt: skip
    anchors, left, right = pairs.unique_anchors()
    assert len(anchors) == 993
    assert anchors.iloc[left[0]].tolist() == ["chr10", 123716297, 123716613]


def test_pair_csv_numbers_become_ucsc_names(reg):
    pairs = read_pairs(reg("ai4loop-upstream/datasets/K562_ctcf_distance_matched.csv"))
    assert pairs.layout == "pair-csv" and len(pairs) == 7172
    assert pairs.anchors.iloc[0].tolist() == [
        "chr14",
        53286507,
        53356662,
        "chr14",
        53601343,
        53658425,
    ]
    assert "chrX" in set(pairs.anchors["chrom1"]) and "chr23" not in set(pairs.anchors["chrom1"])


def test_standard_bedpe_gzipped(tmp_path):
    path = tmp_path / "loops.bedpe.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("#comment\n1\t100\t200\t1\t5000\t6000\tloop1\t9\n")
    pairs = read_pairs(path)
    assert pairs.layout == "bedpe"
    assert pairs.anchors.iloc[0].tolist() == ["chr1", 100, 200, "chr1", 5000, 6000]
    assert list(pairs.table.columns[-2:]) == ["col7", "col8"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "chr1\t100\t200\tchr1\t5000\t6000\nchr1\t10x\t200\tchr1\t5000\t6000\n",
            r"line 2, column start1",
        ),
        ("chr1\t300\t200\tchr1\t5000\t6000\n", r"line 1: anchor 1 starts after it ends"),
        ("chr1\t100\t200\tchr1\t5000\t6000\nchr1\t100\t200\n", r"line 2: fewer columns"),
        ("", r"no pairs in the file"),
        ("hello world\n", r"line 1: cannot tell the pair layout"),
    ],
)
def test_bad_pair_files_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "pairs.bedpe"
    path.write_text(text)
    with pytest.raises(BadInputError, match=message) as err:
        read_pairs(path)
    assert "pairs.bedpe" in str(err.value)


def test_gz_name_that_is_not_gzip(tmp_path):
    path = tmp_path / "pairs.bedpe.gz"
    path.write_text("chr1\t100\t200\tchr1\t5000\t6000\n")
    with pytest.raises(BadInputError, match="not gzip"):
        read_pairs(path)
