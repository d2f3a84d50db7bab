"""Expression readers on the real AI4Loop inputs, and every bad-input case on broken copies."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ai4loop_core import expression
from ai4loop_core.errors import BadInputError
from ai4loop_core.expression import (
    Expression,
    ExpressionWarning,
    detect_scale,
    read_expression,
    register_reader,
)
from ai4loop_core.genes import load_annotation

BED = "ai4loop-upstream/prediction/Samples_RNASeqdata.bed"
ALL = "ai4loop-upstream/data/allRNAseq.tsv"
CELLS = ["GM12878", "HeLaS3", "HMEC", "HUVEC", "IMR90", "K562", "NHEK"]


@pytest.fixture(scope="module")
def aml(reg) -> Path:
    reg(BED + ".columns.txt")
    return reg(BED)


@pytest.fixture(scope="module")
def allrna(reg) -> Path:
    return reg(ALL)


@pytest.fixture(scope="module")
def annotation() -> pd.DataFrame:
    return load_annotation()


@pytest.fixture(scope="module")
def aml_lines(aml) -> list[str]:
    return aml.read_text().splitlines(keepends=True)


@pytest.fixture(scope="module")
def all_table(allrna) -> pd.DataFrame:
    return pd.read_csv(allrna, sep="\t")


def write_bed(tmp_path: Path, lines: list[str], *, name: str = "broken.bed", columns=True) -> Path:
    """A copy of the AML table (edited lines) with its column-name file beside it."""
    path = tmp_path / name
    path.write_text("".join(lines))
    if columns:
        (tmp_path / f"{name}.columns.txt").write_text("0\n1\n2\ngene_id2\nAML1\nAML2\n")
    return path


def set_field(lines: list[str], line: int, field: int, value: str) -> list[str]:
    """``lines`` with 1-based ``field`` of 1-based ``line`` replaced."""
    out = list(lines)
    parts = out[line - 1].rstrip("\n").split("\t")
    parts[field - 1] = value
    out[line - 1] = "\t".join(parts) + "\n"
    return out


def refused(path: Path, *needles: str, **kwargs) -> str:
    """Read ``path``, expect BadInputError naming the file and every needle; return the message."""
    with pytest.raises(BadInputError) as info:
        read_expression(path, **kwargs)
    message = str(info.value)
    for needle in (path.name, *needles):
        assert needle in message, f"{needle!r} not in:\n{message}"
    return message


# --- real files ------------------------------------------------------------------------------


def test_aml_example_bed(aml):
    expr = read_expression(aml)
    assert isinstance(expr, Expression)
    assert expr.values.shape == (58292, 2)
    assert expr.samples == ["AML1", "AML2"]
    assert expr.scale == "tpm"
    assert expr.source == str(aml)
    assert list(expr.genes.columns) == ["gene_id", "chrom", "start", "end"]
    assert expr.values.dtype == np.float64 and not expr.values.flags.writeable
    head = pd.DataFrame(
        {
            "gene_id": ["ENSG00000000003", "ENSG00000000005", "ENSG00000000419"],
            "chrom": ["chrX", "chrX", "chr20"],
            "start": [99882105, 99839933, 49551404],
            "end": [99894988, 99854882, 49575092],
        }
    )
    pd.testing.assert_frame_equal(expr.genes.head(3), head, check_dtype=False)
    # grep -n: line 1313 ACTB, 3907 GAPDH, 8104 TP53, last line 58292
    rows = {1313: [1789.5562, 226.3643], 3907: [499.54, 956.5637], 8104: [11.5483, 2.5018]}
    for line, values in rows.items():
        assert expr.values[line - 1].tolist() == values
    assert expr.genes.iloc[-1].tolist() == ["ENSG00000288675", "chr11", 797511, 799190]
    assert expr.values[-1].tolist() == [0.5313, 0.1176]
    rep = expr.report
    assert (rep.format, rep.n_rows, rep.n_mapped, rep.n_unknown) == ("ai4loop-bed", 58292, 58292, 0)
    assert (rep.n_duplicated, rep.n_duplicated_coordinates) == (0, 23)
    assert rep.duplicates.startswith("all rows kept")
    assert (rep.detected_scale, rep.input_scale, rep.warnings) == ("tpm", "auto", ())
    same = read_expression(aml, columns=Path(f"{aml}.columns.txt"), format="ai4loop-bed")
    pd.testing.assert_frame_equal(same.genes, expr.genes)
    np.testing.assert_array_equal(same.values, expr.values)


def test_allrnaseq_ai4loop_layout(allrna, all_table):
    expr = read_expression(allrna)
    assert expr.values.shape == (51627, 7)
    assert expr.samples == CELLS
    assert expr.report.format == "ai4loop-bed"
    assert (expr.report.n_duplicated, expr.report.n_duplicated_coordinates) == (0, 4)
    assert expr.genes["gene_id"].tolist() == all_table["gene"].tolist()
    assert expr.genes["start"].tolist() == all_table["start"].tolist()
    np.testing.assert_array_equal(expr.values, all_table[CELLS].to_numpy())
    # grep -n ENSG00000141510 allRNAseq.tsv -> line 8105 (TP53)
    tp53 = expr.genes.index[expr.genes["gene_id"] == "ENSG00000141510"][0]
    assert tp53 == 8105 - 2
    assert expr.genes.loc[tp53, ["chrom", "start", "end"]].tolist() == ["chr17", 7565097, 7590856]
    assert expr.values[tp53].tolist() == [41.63, 12.33, 42.36, 22.08, 30.08, 0.5, 11.58]


def test_samples_and_subset(allrna):
    expr = read_expression(allrna, samples=["K562", "GM12878"])
    assert expr.samples == ["K562", "GM12878"]
    full = read_expression(allrna)
    np.testing.assert_array_equal(expr.values, full.values[:, [5, 0]])
    sub = full.subset(["IMR90"])
    assert sub.samples == ["IMR90"] and sub.values.shape == (51627, 1)
    assert sub.genes is full.genes and not sub.values.flags.writeable
    with pytest.raises(BadInputError, match="HeLa.*Available.*HeLaS3"):
        full.subset(["HeLa"])


def test_bed_with_header_line_and_gzip(tmp_path, aml, aml_lines):
    header = "chrom\tstart\tend\tgene_id\tAML1\tAML2\n"
    with_header = write_bed(tmp_path, [header, *aml_lines], name="header.bed", columns=False)
    plain = read_expression(aml)
    got = read_expression(with_header)
    pd.testing.assert_frame_equal(got.genes, plain.genes)
    np.testing.assert_array_equal(got.values, plain.values)
    zipped = tmp_path / "zipped.bed.gz"  # column file found as zipped.bed.columns.txt
    zipped.write_bytes(gzip.compress(aml.read_bytes()))
    shutil.copy(f"{aml}.columns.txt", tmp_path / "zipped.bed.columns.txt")
    got = read_expression(zipped)
    np.testing.assert_array_equal(got.values, plain.values)


def test_bed_duplicated_ids_are_kept_and_reported(tmp_path, aml_lines):
    path = write_bed(tmp_path, [*aml_lines, aml_lines[8103]])  # TP53 again, as line 58293
    expr = read_expression(path)
    assert expr.values.shape == (58293, 2)
    assert expr.values[-1].tolist() == [11.5483, 2.5018]
    assert expr.report.n_duplicated == 1
    assert expr.report.n_duplicated_coordinates == 24
    assert expr.report.duplicate_examples == (
        "ENSG00000141510 (line 8104: ENSG00000141510; line 58293: ENSG00000141510)",
    )


def test_matrix_versioned_ensembl_gzip_detected_by_magic(tmp_path, all_table, annotation):
    matrix = all_table.drop(columns=["#chr", "start", "end"])
    matrix["gene"] = matrix["gene"] + ".5"
    path = tmp_path / "matrix.txt"  # gzip content without .gz in the name
    path.write_bytes(gzip.compress(matrix.to_csv(sep="\t", index=False).encode()))
    expr = read_expression(path, annotation=annotation)
    assert expr.report.format == "matrix"
    assert expr.values.shape == (51627, 7) and expr.samples == CELLS
    want = annotation[["gene_id", "chrom", "start", "end", "symbol"]]
    pd.testing.assert_frame_equal(expr.genes, want, check_dtype=False)
    np.testing.assert_array_equal(expr.values, all_table[CELLS].to_numpy())
    assert (expr.report.n_rows, expr.report.n_mapped, expr.report.n_unknown) == (51627, 51627, 0)


def test_matrix_symbols_unknown_and_duplicates(tmp_path, all_table, annotation):
    ann = annotation.dropna(subset=["symbol"])
    unique = ann[~ann["symbol"].duplicated(keep=False)]
    table = all_table.merge(unique[["gene_id", "symbol"]], left_on="gene", right_on="gene_id")
    matrix = table[["symbol", *CELLS]].rename(columns={"symbol": "Gene"})
    extra = pd.DataFrame(
        [["NOT_A_GENE", *[1.0] * 7], ["ENSMUSG00000059552", *[2.0] * 7]], columns=matrix.columns
    )
    high = pd.DataFrame([["7157", *[1000.0] * 7]], columns=matrix.columns)  # TP53 by Entrez
    low = pd.DataFrame([["TP53|7157", *[0.25] * 7]], columns=matrix.columns)
    matrix = pd.concat([matrix, extra, high, low], ignore_index=True)
    path = tmp_path / "symbols.csv"
    matrix.to_csv(path, index=False, lineterminator="\r\n")
    expr = read_expression(path, annotation=annotation)
    n = len(table)
    rep = expr.report
    assert (rep.n_rows, rep.n_mapped, rep.n_unknown) == (n + 4, n + 2, 2)
    assert rep.unknown_examples == ("NOT_A_GENE", "ENSMUSG00000059552")
    assert rep.n_duplicated == 2
    assert rep.duplicates == "kept the row with the highest mean per gene; dropped 2 rows"
    tp53_line = 2 + int(np.flatnonzero(table["gene"] == "ENSG00000141510")[0])
    assert rep.duplicate_examples == (
        f"ENSG00000141510 (line {tp53_line}: TP53; line {n + 4}: 7157; line {n + 5}: TP53|7157)",
    )
    assert expr.values.shape == (n, 7)
    kept = [g for g in table["gene"] if g != "ENSG00000141510"] + ["ENSG00000141510"]
    assert expr.genes["gene_id"].tolist() == kept  # the kept row stays where it was
    row = expr.genes.index[expr.genes["gene_id"] == "ENSG00000141510"][0]
    assert expr.values[row].tolist() == [1000.0] * 7
    assert expr.genes.loc[row].tolist() == [
        "ENSG00000141510",
        "chr17",
        7565097,
        7590856,
        "TP53",
    ]


def test_log2_input_warns_and_converts(tmp_path, aml):
    tpm = read_expression(aml)
    logged = tpm.genes[["chrom", "start", "end", "gene_id"]].copy()
    logged[tpm.samples] = np.log2(tpm.values + 1)
    path = write_bed(tmp_path, [], name="log2.bed")
    logged.to_csv(path, sep="\t", index=False, header=False)
    with pytest.warns(ExpressionWarning, match="log2.bed.*log-transformed.*input_scale='log2'"):
        auto = read_expression(path)
    assert auto.scale == "log2" and auto.report.detected_scale == "log2"
    assert "look log-transformed" in auto.report.warnings[0]
    np.testing.assert_array_equal(auto.values, logged[tpm.samples].to_numpy())
    converted = read_expression(path, input_scale="log2")
    assert converted.scale == "tpm" and converted.report.detected_scale == "log2"
    np.testing.assert_allclose(converted.values, tpm.values, rtol=1e-12, atol=1e-12)
    trusted = read_expression(path, input_scale="tpm")  # the caller vouches: no warning
    assert trusted.scale == "tpm" and trusted.report.warnings == auto.report.warnings


def test_counts_warn(tmp_path, all_table):
    counts = all_table.copy()
    counts[CELLS] = (counts[CELLS] * 1000).round().astype(int)
    path = tmp_path / "counts.tsv"
    counts.to_csv(path, sep="\t", index=False)
    with pytest.warns(ExpressionWarning, match="counts.tsv.*read counts"):
        expr = read_expression(path)
    assert expr.scale == "counts" and expr.report.detected_scale == "counts"


def test_detect_scale_rules():
    rng = np.random.default_rng(0)
    tpm = rng.lognormal(0, 2.5, size=(1000, 3))
    tpm *= 1e6 / tpm.sum(axis=0) / 2
    assert detect_scale(tpm) == ("tpm", [])
    assert detect_scale(np.log2(tpm + 1))[0] == "log2"
    assert detect_scale(np.round(tpm * 100))[0] == "counts"
    assert detect_scale(np.log2(tpm[:199] + 1)) == ("undetermined", [])
    assert expression.LOG2_TPM_CEILING > np.log2(expression.TPM_TOTAL + 1)


def test_registry_extension(tmp_path, monkeypatch, aml):
    monkeypatch.setattr(expression, "_READERS", dict(expression._READERS))

    @register_reader("aml-alias", sniff=lambda head: head.path.suffix == ".aml", priority=1)
    def read_alias(path, options):
        """Test format: the AML table under another name."""
        return read_expression(aml, samples=options.samples)

    alias = tmp_path / "x.aml"
    alias.write_text("anything\n")
    assert expression.detect_format(alias) == "aml-alias"
    assert expression.formats()["aml-alias"] == "Test format: the AML table under another name."
    assert read_expression(alias, samples=["AML2"]).samples == ["AML2"]


# --- bad inputs ------------------------------------------------------------------------------


def test_missing_and_empty_files(tmp_path):
    refused(tmp_path / "absent.tsv", "not found")
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    refused(empty, "empty")
    blank = tmp_path / "blank.tsv"
    blank.write_text("\n\n")
    refused(blank, "only blank lines")
    header_only = tmp_path / "header_only.tsv"
    header_only.write_text("gene_id\tS1\tS2\n")
    refused(header_only, "line 1", "no data rows")


def test_gz_name_not_gzip(tmp_path, aml):
    fake = tmp_path / "fake.bed.gz"
    shutil.copy(aml, fake)
    refused(fake, "not gzip", "rename")


def test_no_numeric_sample_columns(tmp_path, aml_lines):
    lines = ["\t".join(line.split("\t")[:4]) + "\tx\n" for line in aml_lines[:300]]
    path = write_bed(tmp_path, lines)
    (tmp_path / "broken.bed.columns.txt").write_text("0\n1\n2\ngene_id2\nnote\n")
    refused(path, "no numeric sample columns", "'note'")


def test_column_file_count_mismatch(tmp_path, aml_lines):
    path = write_bed(tmp_path, aml_lines)
    (tmp_path / "broken.bed.columns.txt").write_text("0\n1\n2\ngene_id2\nAML1\n")
    msg = refused(path, "broken.bed.columns.txt", "5 column names", "line 1 has 6 fields")
    assert "ENSG00000000003" in msg  # the first row is shown


def test_headerless_without_column_file(tmp_path, aml_lines):
    path = write_bed(tmp_path, aml_lines, columns=False)
    refused(path, "broken.bed.columns.txt", "columns=")


def test_truncated_line(tmp_path, aml_lines):
    lines = list(aml_lines)
    lines[-1] = "\t".join(lines[-1].split("\t")[:5])  # cut off the last field, no newline
    path = write_bed(tmp_path, lines)
    refused(path, "line 58292 has 5 fields", "the table has 6", "ENSG00000288675")


def test_extra_field(tmp_path, aml_lines):
    lines = list(aml_lines)
    lines[99] = lines[99].rstrip("\n") + "\t7.5\n"
    path = write_bed(tmp_path, lines)
    refused(path, "line 100 has 7 fields", "the table has 6")


def test_non_numeric_cell(tmp_path, aml_lines):
    path = write_bed(tmp_path, set_field(aml_lines, 100, 6, "1,5"))
    refused(path, "line 100", "column 'AML2' (field 6)", "'1,5' is not a number")


def test_nan_value(tmp_path, aml_lines):
    path = write_bed(tmp_path, set_field(aml_lines, 200, 5, "NaN"))
    msg = refused(path, "line 200", "column 'AML1' (field 5)", "missing or non-finite")
    assert "line 200: chr" in msg  # the offending row is shown


def test_negative_value(tmp_path, aml_lines):
    path = write_bed(tmp_path, set_field(aml_lines, 300, 6, "-1.5"))
    refused(path, "line 300", "column 'AML2' (field 6)", "negative value -1.5")


def test_bad_coordinate(tmp_path, aml_lines):
    path = write_bed(tmp_path, set_field(aml_lines, 42, 2, "12.5e"))
    refused(path, "line 42", "column '1' (field 2)", "'12.5e'")


def test_text_column_after_samples(tmp_path, allrna):
    path = tmp_path / "late_text.tsv"
    lines = allrna.read_text().splitlines()
    path.write_text(
        "\n".join(f"{line}\t{'note' if i else 'comment'}" for i, line in enumerate(lines))
    )
    refused(path, "column 'comment' (field 12)", "line 2", "after the sample column")


def test_duplicated_sample_names(tmp_path, allrna):
    path = tmp_path / "dup_names.tsv"
    text = allrna.read_text()
    path.write_text(text.replace("HMEC", "K562", 1))
    refused(path, "line 1", "'K562' appears twice", "fields 7 and 10")


def test_log2_scale_refuses_tpm_values(allrna):
    refused(allrna, "input_scale='log2'", "line 2, column 'HUVEC' (field 8)", input_scale="log2")


def test_unmapped_ids_refused(tmp_path, annotation):
    path = tmp_path / "mouse.tsv"
    ids = [f"ENSMUSG{i:011d}" for i in range(30)] + ["TP53", "GAPDH"]
    pd.DataFrame({"id": ids, "S1": 1.0}).to_csv(path, sep="\t", index=False)
    msg = refused(path, "only 2 of 32", "line 2", "ENSMUSG00000000000", "SYMBOL|ENTREZ",
                  annotation=annotation)  # fmt: skip
    assert "Ensembl gene ids" in msg


def test_requested_samples_missing(allrna):
    refused(allrna, "['AML1']", "Available (7)", "GM12878", samples=["GM12878", "AML1"])


def test_bad_options(allrna):
    refused(allrna, "input_scale='ln'", input_scale="ln")
    with pytest.raises(BadInputError, match="format='gct'.*ai4loop-bed"):
        read_expression(allrna, format="gct")
