"""Preprocess: loops to distance-matched pair sets, on real chromosome slices and tiny tables."""

from __future__ import annotations

import gzip
import inspect
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import preprocess as pp
from ai4loop_core.cli.preprocess import preprocess as preprocess_command
from ai4loop_core.errors import BadInputError

GENES = "ai4loop-upstream/data/genecode.v36Gene.map2.bed"


@pytest.fixture(scope="module")
def k562_chr21(reg, tmp_path_factory):
    """K562 loops, GENCODE gene starts and CTCF peaks of chromosome 21 (the real files, sliced)."""
    folder = tmp_path_factory.mktemp("k562_chr21")
    loops = reg("ai4loop-upstream/data/K562_HiC_loop.bedpe").read_text().splitlines()
    genes = reg(GENES).read_text().splitlines()
    (folder / "loops.bedpe").write_text("".join(f"{x}\n" for x in loops if x.startswith("chr21\t")))
    (folder / "genes.bed").write_text("".join(f"{x}\n" for x in genes if x.startswith("chr21\t")))
    ctcf = folder / "chip-seq_peak_21.txt"
    ctcf.write_bytes(reg("ctcf/K562_DRAGON/chip-seq_peak_21.txt").read_bytes())
    return {"loops": folder / "loops.bedpe", "genes": folder / "genes.bed", "ctcf": ctcf}


def _run(files, out, **options):
    options = {"genes": files["genes"], "ctcf": [files["ctcf"]], **options}
    return pp.preprocess(files["loops"], name="K562_chr21", out_dir=out, **options)


def test_k562_chr21_counts(k562_chr21, tmp_path):
    report = _run(k562_chr21, tmp_path)
    counts = report["counts"]
    assert counts["loops_read"] == counts["loops_standardised"] == 61
    assert counts["merged_anchors"] == 91
    assert counts["clustered_interactions"] == 61
    assert counts["gene_gene_interactions"] == 11
    assert counts["positives_out_of_distance_range"] == 1
    assert counts["positives"] == 10
    assert counts["negatives"] == {
        "anchor_pair": 0,
        "ctcf_pair": 50,
        "gene_pair": 0,
        "genome_pair": 0,
        "total": 50,
    }
    assert counts["negatives_matched"]["shortage"] == 0
    assert report["negatives_per_positive"] == 5.0
    assert report["distance"]["ks_pvalue"] > 0.05

    table = pd.read_csv(tmp_path / "K562_chr21_pairs.csv")
    assert list(table.columns) == ["label", "chr1", "x1", "x2", "chr2", "y1", "y2"]
    assert table["label"].value_counts().to_dict() == {0: 50, 1: 10}
    assert set(table["chr1"]) == set(table["chr2"]) == {21}
    assert (table["x2"] <= table["y1"]).all()
    bedpe = pd.read_csv(tmp_path / "K562_chr21_pairs.bedpe", sep="\t", header=None)
    assert bedpe.shape == (60, 8) and set(bedpe[0]) == {"chr21"}
    assert set(bedpe[6]) == {"loop", "ctcf_pair"}
    saved = json.loads((tmp_path / "K562_chr21_report.json").read_text())
    assert saved["counts"] == counts


def test_negatives_match_positive_distances_and_avoid_loops(k562_chr21, tmp_path):
    _run(k562_chr21, tmp_path)
    pairs = pd.read_csv(tmp_path / "K562_chr21_pairs.bedpe", sep="\t", header=None)
    distance = (pairs[4] + pairs[5] - pairs[1] - pairs[2]) / 2
    pos, neg = distance[pairs[7] == 1], distance[pairs[7] == 0]
    assert sorted(np.repeat(pos.to_numpy(), 5)) == sorted(neg.to_numpy())
    loops = pp.read_loops(k562_chr21["loops"])
    for row in pairs[pairs[7] == 0].itertuples():
        hit1 = (loops["start1"] < row[3]) & (loops["end1"] > row[2])
        hit2 = (loops["start2"] < row[6]) & (loops["end2"] > row[5])
        assert not (hit1 & hit2).any()


def test_genome_negatives_sit_off_the_grid_at_the_positives_distances(k562_chr21, tmp_path):
    report = _run(k562_chr21, tmp_path, ctcf=[], negative_regions="genome", seed=1)
    assert report["parameters"]["negative_regions"] == "genome"
    negatives = report["counts"]["negatives"]
    assert negatives["total"] == 50 and negatives["ctcf_pair"] == negatives["gene_pair"] == 0
    assert negatives["genome_pair"] >= 45  # the rest are unlinked loop-anchor pairs
    pairs = pd.read_csv(tmp_path / "K562_chr21_pairs.bedpe", sep="\t", header=None)
    pos, neg = pairs[pairs[7] == 1], pairs[pairs[7] == 0]
    distance = (pairs[4] + pairs[5] - pairs[1] - pairs[2]) / 2
    assert sorted(np.repeat(distance[pos.index].to_numpy(), 5)) == sorted(distance[neg.index])
    genome = neg[neg[6] == "genome_pair"]
    assert (pos[[1, 2, 4, 5]] % 5000 == 0).all().all()
    assert (genome[1] % 5000 != 0).mean() > 0.9
    assert (genome[4] - genome[2] >= 1000).all()
    genes = pp.read_regions(k562_chr21["genes"], kind="gene BED file")
    assert genome[1].min() >= genes["start"].min() and genome[5].max() <= genes["end"].max()
    loops = pp.read_loops(k562_chr21["loops"])
    for row in genome.itertuples():
        hit1 = (loops["start1"] < row[3]) & (loops["end1"] > row[2])
        hit2 = (loops["start2"] < row[6]) & (loops["end2"] > row[5])
        assert not (hit1 & hit2).any()


def test_genome_negatives_refuse_ctcf_peaks(k562_chr21, tmp_path):
    with pytest.raises(BadInputError, match="--ctcf"):
        _run(k562_chr21, tmp_path, negative_regions="genome")
    assert not list(tmp_path.iterdir())


def test_same_seed_same_files_other_seed_other_negatives(k562_chr21, tmp_path):
    for folder, seed in (("a", 3), ("b", 3), ("c", 4)):
        _run(k562_chr21, tmp_path / folder, seed=seed)
    read = lambda f: (tmp_path / f / "K562_chr21_pairs.csv").read_bytes()  # noqa: E731
    assert read("a") == read("b")
    a = pd.read_csv(tmp_path / "a" / "K562_chr21_pairs.csv")
    c = pd.read_csv(tmp_path / "c" / "K562_chr21_pairs.csv")
    pd.testing.assert_frame_equal(a[a.label == 1], c[c.label == 1])
    assert not a[a.label == 0].reset_index(drop=True).equals(c[c.label == 0].reset_index(drop=True))


def test_chromosome_names_with_or_without_chr_give_the_same_set(k562_chr21, tmp_path):
    plain = {}
    for key in ("loops", "genes", "ctcf"):
        text = k562_chr21[key].read_text().replace("chr21\t", "21\t")
        plain[key] = tmp_path / "plain" / k562_chr21[key].name
        plain[key].parent.mkdir(exist_ok=True)
        plain[key].write_text(text)
    _run(k562_chr21, tmp_path / "chr")
    _run(plain, tmp_path / "num")
    for suffix in ("_pairs.csv", "_pairs.bedpe"):
        name = f"K562_chr21{suffix}"
        assert (tmp_path / "chr" / name).read_bytes() == (tmp_path / "num" / name).read_bytes()


def test_default_genes_are_the_project_annotation(k562_chr21, tmp_path):
    report = _run(k562_chr21, tmp_path, genes="default")
    assert report["inputs"]["genes"].startswith("default")
    assert report["counts"]["positives"] == 4
    assert report["counts"]["negatives"]["total"] == 20


def test_ctcf_peaks_elsewhere_leave_gene_pairs(k562_chr21, tmp_path):
    other = tmp_path / "chip-seq_peak_22.txt"
    other.write_bytes(k562_chr21["ctcf"].read_bytes())
    report = _run(k562_chr21, tmp_path, ctcf=[other])
    assert report["counts"]["ctcf_peaks_used"] == 0
    assert report["counts"]["negatives"]["gene_pair"] == 50


def _tiny_loops():
    return pd.DataFrame(
        [
            ("chr1", 200_000, 205_000, "chr1", 100_000, 105_000),  # reversed: swapped
            ("chr1", 106_000, 110_000, "chr1", 300_000, 305_000),  # anchor 1 merges (gap 1 kb)
            ("chr1", 100_000, 105_000, "chr2", 300_000, 305_000),  # interchromosomal
            ("chr1", 500_000, 520_000, "chr1", 510_000, 530_000),  # overlapping anchors
            ("chr1", 700_000, 705_000, "chr1", 800_000, 805_000),  # same gene at both ends
        ],
        columns=["chrom1", "start1", "end1", "chrom2", "start2", "end2"],
    )


def _tiny_genes():
    genes = [
        ("chr1", 101_000, 150_000, "g1"),
        ("chr1", 201_000, 202_000, "g2"),
        ("chr1", 301_000, 302_000, "g3"),
        ("chr1", 302_000, 303_000, "g4"),
        ("chr1", 701_000, 801_000, "g5"),
    ]
    genes += [("chr1", s, s + 1000, f"far{s}") for s in range(1_000_000, 2_000_000, 2_500)]
    return pd.DataFrame(genes, columns=["chrom", "start", "end", "name"])


def test_positives_on_a_tiny_table():
    pairs, report = pp.build_pairs(_tiny_loops(), _tiny_genes(), gene_site="body")
    counts = report["counts"]
    assert counts["loops_interchromosomal"] == 1
    assert counts["loops_overlapping_anchors"] == 1
    assert counts["loops_swapped"] == 1
    assert counts["merged_anchors"] == 5
    assert counts["gene_gene_interactions"] == 2  # the g5-g5 loop is one gene, not a pair
    assert report["negatives_per_positive"] == 5.0
    positives = pairs[pairs["label"] == 1].reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "chrom": ["chr1", "chr1"],
            "start1": [100_000, 100_000],
            "end1": [110_000, 110_000],
            "start2": [200_000, 300_000],
            "end2": [205_000, 305_000],
            "genes1": ["g1", "g1"],
            "genes2": ["g2", "g3;g4"],
        }
    )
    pd.testing.assert_frame_equal(positives[expected.columns], expected, check_dtype=False)


def test_gene_start_rule_needs_the_first_base_inside_the_anchor():
    _, report = pp.build_pairs(_tiny_loops(), _tiny_genes(), gene_site="start")
    assert report["counts"]["gene_gene_interactions"] == 2  # g5 starts in one anchor only


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("chr1\t1\t2\tchr1\t5\t9\nchr1\t10\t20\tchr1\t50\nchr1\t10\t20\tchr1\t50\t60\n", "line 2"),
        ("chr1\t1\t2\tchr1\t5\t9\n\n#c\nchr1\t1x\t2\tchr1\t5\t9\n", "line 4"),
        ("chr1\t1\t2\tchr1\t5\t9\nchr1\t30\t20\tchr1\t50\t60\n", "line 2"),
        ("chr1\t-5\t2\tchr1\t5\t9\n", "line 1"),
    ],
)
def test_malformed_bedpe_names_the_line(tmp_path, text, where):
    path = tmp_path / "bad.bedpe"
    path.write_text(text)
    with pytest.raises(BadInputError, match=rf"bad\.bedpe, {where}: 1 malformed") as err:
        pp.read_loops(path)
    assert repr(text.splitlines()[int(where.split()[1]) - 1])[:20] in str(err.value)


def test_malformed_bed_names_the_line(tmp_path):
    path = tmp_path / "genes.bed"
    path.write_text("chr1\t10\t20\tg1\nchr1\tten\t20\tg2\nchr1\t30\t20\tg3\n")
    with pytest.raises(BadInputError, match=r"genes\.bed, line 2: 2 malformed") as err:
        pp.read_regions(path)
    assert "line 3: start is not before end" in str(err.value)


def test_headers_gzip_and_per_chromosome_peak_lists(tmp_path):
    loops = tmp_path / "HiCCUPS_looplist.txt.gz"
    with gzip.open(loops, "wt") as handle:
        handle.write("chr1\tx1\tx2\tchr2\ty1\ty2\tcolor\n1\t100\t200\t1\t500\t600\t0,255,0\n")
    assert pp.read_loops(loops).iloc[0].tolist() == ["chr1", 100, 200, "chr1", 500, 600]
    peaks = tmp_path / "chip-seq_peak_23.txt"
    peaks.write_text("100\t200\n300\t400\n")
    assert pp.read_regions(peaks)["chrom"].tolist() == ["chrX", "chrX"]
    unnamed = tmp_path / "peaks.txt"
    unnamed.write_text("100\t200\n")
    with pytest.raises(BadInputError, match=r"peaks\.txt, line 1: .*_<chromosome>"):
        pp.read_regions(unnamed)


def test_empty_result_is_an_error_and_writes_nothing(k562_chr21, tmp_path):
    far = tmp_path / "genes_chr2.bed"
    far.write_text("chr2\t100\t200\tg1\nchr2\t5000\t6000\tg2\n")
    with pytest.raises(BadInputError, match="no positives"):
        _run(k562_chr21, tmp_path / "out", genes=far)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    inter = tmp_path / "inter.bedpe"
    inter.write_text("chr1\t100\t200\tchr2\t100\t200\n")
    with pytest.raises(BadInputError, match="no usable loop"):
        _run({**k562_chr21, "loops": inter}, tmp_path / "out")
    empty = tmp_path / "empty.bedpe"
    empty.write_text("# nothing\n")
    with pytest.raises(BadInputError, match="no loops in this file"):
        pp.read_loops(empty)


def test_cli_writes_what_the_function_writes(k562_chr21, tmp_path):
    _run(k562_chr21, tmp_path / "api")
    args = ["--loops", k562_chr21["loops"], "--genes", k562_chr21["genes"], "--name"]
    args += ["K562_chr21", "--out", tmp_path / "cli", "--ctcf", k562_chr21["ctcf"]]
    result = CliRunner().invoke(preprocess_command, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    for name in ("K562_chr21_pairs.csv", "K562_chr21_pairs.bedpe", "K562_chr21_report.json"):
        assert (tmp_path / "api" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes()


def test_cli_bad_input_exits_2_with_the_line(tmp_path):
    bad = tmp_path / "bad.bedpe"
    bad.write_text("chr1\t1\t2\tchr1\t5\n")
    done = subprocess.run(
        [sys.executable, "-c", "from ai4loop_core.cli import main; main()", "preprocess",
         "--loops", str(bad), "--name", "x", "--out", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert "bad.bedpe, line 1" in done.stderr and "Traceback" not in done.stderr


def test_public_functions_take_few_positional_arguments_and_say_what_they_do():
    offenders = []
    for module in ("_io", "_loops", "_negatives", "_pipeline"):
        mod = sys.modules[f"preprocess.{module}"]
        for name, obj in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(obj):
                continue
            if obj.__module__ != mod.__name__:
                continue
            params = inspect.signature(obj).parameters.values()
            positional = [
                p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            if len(positional) > 3 or not (obj.__doc__ or "").strip():
                offenders.append(f"{module}.{name}")
    assert offenders == []
