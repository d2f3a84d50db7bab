"""Cohort readers on real files, and every reader on broken variants of them.

Broken variants: truncated, wrong columns, duplicated ids, non-numeric, empty, a .gz that is not
gzip, a mismatched sample sheet. Each must raise BadInputError naming the file (and the line for
text files). No real GDC STAR file is in the reference data: the STAR reader is tested on files
in the GDC layout filled with real TCGA counts.
"""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.errors import BadInputError
from atlas.cohorts import counts_to_tpm, load_cohort, parse_spec, tcga_tissue_type

UCS = "tcga-rnasum/TCGA_UCS_Counts.exp.gz"
UCS_TARGET = "tcga-rnasum/TCGA_UCS_Target.txt.gz"


@pytest.fixture(scope="module")
def ucs_text(reg):
    """The real UCS count matrix as text lines, and its sample table."""
    with gzip.open(reg(UCS), "rt") as handle:
        lines = handle.read().splitlines()
    with gzip.open(reg(UCS_TARGET), "rt") as handle:
        target = handle.read().splitlines()
    return lines, target


def _write(path, lines, *, gz=True):
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def _small_ucs(tmp_path, ucs_text, *, n_samples=4, edit=None, target_edit=None):
    """A real UCS subset (all genes, a few samples) + its real sample table rows."""
    lines, target = ucs_text
    cut = ["\t".join(line.split("\t")[: n_samples + 1]) for line in lines]
    if edit:
        cut = edit(cut)
    counts = _write(tmp_path / "TCGA_UCS_Counts.exp.gz", cut)
    names = cut[0].split("\t")[1:] if cut else []
    rows = [target[0]] + [t for t in target[1:] if t.split("\t")[0] in names]
    if target_edit:
        rows = target_edit(rows)
    _write(tmp_path / "TCGA_UCS_Target.txt.gz", rows)
    return counts


def test_tcga_barcode_tissue_types():
    assert tcga_tissue_type("TCGA-OR-A5J1-01A-11R-A29S-07") == "tumour"
    assert tcga_tissue_type("TCGA-W5-AA2I-11A-11R-A41I-07") == "normal"
    assert tcga_tissue_type("TCGA-W5-AA2I-20A") == "control"
    assert tcga_tissue_type("GTEX-S32W-1126") is None


def test_counts_to_tpm_methods_sum_to_a_million():
    genes = pd.DataFrame({"start": [0, 0, 0], "end": [999, 1999, 3999]})
    counts = np.array([[10.0], [20.0], [40.0]])
    cpm = counts_to_tpm(counts, genes, method="cpm")
    body = counts_to_tpm(counts, genes, method="gene-body")
    np.testing.assert_allclose(cpm[:, 0], [1e6 / 7, 2e6 / 7, 4e6 / 7])
    np.testing.assert_allclose(body[:, 0], [1e6 / 3] * 3)
    with pytest.raises(BadInputError, match="counts method"):
        counts_to_tpm(counts, genes, method="rpkm")


def test_tcga_rnasum_real_with_mismatched_real_table():
    cohort = load_cohort("tcga-rnasum:CHOL")
    assert len(cohort) == 36 and set(cohort.samples["group"]) == {"CHOL"}
    assert set(cohort.samples["tissue_type"]) == {"tumour"}
    # the real CHOL table misses 2 matrix samples and lists 9 samples absent from the matrix
    assert cohort.inputs[0]["samples_not_in_table"] == 2
    assert cohort.inputs[0]["table_rows_not_in_matrix"] == 9
    np.testing.assert_allclose(cohort.expression.values.sum(axis=0), 1e6)
    paad = load_cohort("tcga-rnasum:PAAD")
    assert len(paad) == 20 and set(paad.samples["group"]) == {"PAAD"}


def test_tcga_rnasum_small_real_subset(tmp_path, ucs_text):
    counts = _small_ucs(tmp_path, ucs_text)
    cohort = load_cohort(f"tcga-rnasum:{counts}")
    assert len(cohort) == 4 and cohort.name == "tcga-rnasum:UCS"
    assert cohort.expression.scale == "tpm"


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("truncated", r"line \d+|damaged|decompress"),
        ("duplicated", r"more than once.*line"),
        ("non-numeric", r"line \d+.*not a number"),
        ("empty", "empty"),
        ("not-gzip", "not gzip"),
        ("wrong-table-columns", r"lacks columns \['Target'\]"),
        ("table-of-another-type", r"line 2: .*another file"),
        ("table-shares-nothing", "shares no sample"),
        ("duplicated-table-rows", r"more than once.*line"),
    ],
)
def test_tcga_rnasum_broken(tmp_path, ucs_text, case, match):
    edit = target_edit = None
    if case == "truncated":
        edit = lambda c: c[:1000] + [c[1000][:15]]  # noqa: E731
    elif case == "duplicated":
        edit = lambda c: c[:50] + [c[10]] + c[50:]  # noqa: E731
    elif case == "non-numeric":
        edit = lambda c: c[:70] + [c[70].replace("\t", "\tabc\t", 1).rsplit("\t", 1)[0]] + c[71:]  # noqa: E731
    elif case == "wrong-table-columns":
        target_edit = lambda r: ["Sample_name\tType"] + r[1:]  # noqa: E731
    elif case == "table-of-another-type":
        target_edit = lambda r: r[:1] + [r[1].replace("UCS", "ACC")] + r[2:]  # noqa: E731
    elif case == "table-shares-nothing":
        target_edit = lambda r: r[:1] + ["TCGA-XX-0000-01A\tUCS (TCGA)"]  # noqa: E731
    elif case == "duplicated-table-rows":
        target_edit = lambda r: r + [r[1]]  # noqa: E731
    counts = _small_ucs(tmp_path, ucs_text, edit=edit, target_edit=target_edit)
    if case == "empty":
        counts.write_bytes(b"")
    elif case == "not-gzip":
        counts.write_text("gene\tA\nENSG00000000003\t1\n")
    elif case == "truncated":
        data = counts.read_bytes()
        counts.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputError, match=match) as err:
        load_cohort(f"tcga-rnasum:{counts}")
    assert "TCGA_UCS_" in str(err.value)


def test_rtcga_real_normals_and_broken(tmp_path, reg):
    cohort = load_cohort("tcga-rtcga:CHOL,only=normal")
    assert len(cohort) == 9 and set(cohort.samples["group"]) == {"CHOL normal"}
    assert set(cohort.samples["tissue_type"]) == {"normal"}
    src = reg("tcga-rtcga/CHOL.rnaseq.20160128.rda").read_bytes()
    bad = tmp_path / "CHOL.rnaseq.20160128.rda"
    bad.write_bytes(src[: len(src) // 3])
    with pytest.raises(BadInputError, match="cannot read as R data") as err:
        load_cohort(f"tcga-rtcga:{bad}")
    assert bad.name in str(err.value)
    bad.write_bytes(b"")
    with pytest.raises(BadInputError, match="empty"):
        load_cohort(f"tcga-rtcga:{bad}")
    bad.write_text("gene\tA\n")
    with pytest.raises(BadInputError, match="cannot read as R data"):
        load_cohort(f"tcga-rtcga:{bad}")
    other = tmp_path / "cells.rnaseq.rda"  # a (small) R file of another kind: wrong columns
    shutil.copy(reg("lincs/cell_info.rda"), other)
    with pytest.raises(BadInputError, match="bcr_patient_barcode"):
        load_cohort(f"tcga-rtcga:{other}")


def test_gtex_real_and_broken(tmp_path, reg):
    cohort = load_cohort("gtex-yarn:bladder")
    assert len(cohort) == 11 and set(cohort.samples["group"]) == {"GTEx bladder"}
    np.testing.assert_allclose(cohort.expression.values.sum(axis=0), 1e6)
    src = reg("gtex-yarn/bladder.rdata").read_bytes()
    bad = tmp_path / "bladder.rdata"
    bad.write_bytes(src[:5000])
    with pytest.raises(BadInputError, match="bladder.rdata.*cannot read as R data"):
        load_cohort(f"gtex-yarn:{bad}")
    shutil.copy(reg("lincs/cell_info.rda"), bad)
    with pytest.raises(BadInputError, match="ExpressionSet"):
        load_cohort(f"gtex-yarn:{bad}")


@pytest.fixture(scope="module")
def hpa_lines(reg):
    with gzip.open(reg("hpa/RNAtableTissue.tsv.gz"), "rt") as handle:
        return handle.read().splitlines()


def test_hpa_real(hpa_lines):
    cohort = load_cohort("hpa:tissue")
    assert len(cohort) == 61 and set(cohort.samples["tissue_type"]) == {"normal"}
    assert "HPA:adrenal_gland" in set(cohort.samples["sample_id"])
    assert cohort.inputs[0]["na_cells"] > 0  # the real table has NA cells: filled, counted
    assert np.isfinite(cohort.expression.values).all()


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("truncated", r"line \d+"),
        ("wrong-columns", "GeneID"),
        ("duplicated", r"more than once.*line"),
        ("non-numeric", r"line 4, column 'adipose_tissue'.*not a number"),
        ("empty", "empty"),
        ("not-gzip", "not gzip"),
    ],
)
def test_hpa_broken(tmp_path, hpa_lines, case, match):
    lines = hpa_lines[:300]
    if case == "truncated":
        lines = lines[:200] + [lines[200][:30]]
    elif case == "wrong-columns":
        lines = ["Gene\t" + lines[0].split("\t", 1)[1]] + lines[1:]
    elif case == "duplicated":
        lines = lines + [lines[5]]
    elif case == "non-numeric":
        lines = lines[:3] + [lines[3].split("\t")[0] + "\tx" + "\t1" * 60] + lines[4:]
    path = _write(tmp_path / "RNAtableTissue.tsv.gz", lines)
    if case == "empty":
        path.write_bytes(b"")
    elif case == "not-gzip":
        path.write_text("\n".join(lines))
    with pytest.raises(BadInputError, match=match) as err:
        load_cohort(f"hpa:{path}")
    assert "RNAtableTissue.tsv.gz" in str(err.value)


def test_encode_and_aml_example():
    encode = load_cohort("encode:")
    assert list(encode.samples["group"])[:2] == ["GM12878", "HeLaS3"]
    assert set(encode.samples["tissue_type"]) == {"cell_line"}
    aml = load_cohort("ai4loop-bed:aml-example")
    assert list(aml.samples["sample_id"]) == ["AML1", "AML2"]


# ---------------------------------------------------------------------------------------------
# GDC STAR files (GDC layout, real TCGA counts) and the generic matrix reader


def _star_files(tmp_path, ucs_text, n=3):
    lines, _ = ucs_text
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:2001]]
    sheet = [
        "File ID\tFile Name\tData Category\tData Type\tProject ID\tCase ID\tSample ID\tSample Type"
    ]
    for s in range(n):
        counts = np.array([float(r[s + 1]) for r in rows])
        tpm = counts / counts.sum() * 1e6
        body = [
            "# gene-model: GENCODE v36",
            "gene_id\tgene_name\tgene_type\tunstranded\tstranded_first\tstranded_second\t"
            "tpm_unstranded\tfpkm_unstranded\tfpkm_uq_unstranded",
            "N_unmapped\t\t\t8120268\t8120268\t8120268\t\t\t",
            "N_multimapping\t\t\t4402480\t4402480\t4402480\t\t\t",
            "N_noFeature\t\t\t1446120\t24573336\t24781939\t\t\t",
            "N_ambiguous\t\t\t5551010\t1476463\t1462076\t\t\t",
        ]
        for r, c, t in zip(rows, counts, tpm, strict=True):
            body.append(f"{r[0]}.1\tG\tprotein_coding\t{c:.0f}\t0\t0\t{t:.4f}\t0\t0")
        file_id = f"0000000{s}-aaaa-bbbb-cccc-dddddddddddd"
        name = f"{file_id[:8]}.rna_seq.augmented_star_gene_counts.tsv"
        (tmp_path / file_id).mkdir()
        _write(tmp_path / file_id / name, body, gz=False)
        barcode = header[s + 1][:16]
        sheet.append(
            f"{file_id}\t{name}\tTranscriptome Profiling\tGene Expression Quantification\t"
            f"TCGA-UCS\t{barcode[:12]}\t{barcode}\tPrimary Tumor"
        )
    return _write(tmp_path / "gdc_sample_sheet.tsv", sheet, gz=False)


def test_gdc_star_reads_tpm_and_skips_summary_rows(tmp_path, ucs_text):
    sheet = _star_files(tmp_path, ucs_text)
    cohort = load_cohort(f"gdc-star:{sheet}")
    assert len(cohort) == 3 and set(cohort.samples["group"]) == {"UCS"}
    assert set(cohort.samples["tissue_type"]) == {"tumour"}
    assert not cohort.expression.genes["gene_id"].str.startswith("N_").any()
    assert 0.9e6 < cohort.expression.values.sum(axis=0).min() <= 1e6 + 1


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("missing-file", r"gdc_sample_sheet.tsv: line 3: .*not in"),
        ("truncated", r"line \d+ has \d+ fields"),
        ("wrong-columns", "tpm_unstranded"),
        ("duplicated", r"appears more than once \(lines"),
        ("non-numeric", r"line 9, column tpm_unstranded: 'x'"),
        ("empty", "empty"),
        ("sheet-type-contradicts-barcode", r"line 2: Sample Type 'Solid Tissue Normal'"),
        ("sheet-duplicate-sample", r"sample ids appear more than once"),
    ],
)
def test_gdc_star_broken(tmp_path, ucs_text, case, match):
    sheet = _star_files(tmp_path, ucs_text)
    first = sorted(tmp_path.glob("*/*.tsv"))[0]
    text = first.read_text().splitlines()
    if case == "missing-file":
        sorted(tmp_path.glob("*/*.tsv"))[1].unlink()
    elif case == "truncated":
        _write(first, text[:500] + [text[500][:20]], gz=False)
    elif case == "wrong-columns":
        _write(first, [text[0], text[1].replace("tpm_unstranded", "tpm")] + text[2:], gz=False)
    elif case == "duplicated":
        _write(first, text + [text[20]], gz=False)
    elif case == "non-numeric":
        parts = text[8].split("\t")
        parts[6] = "x"
        _write(first, text[:8] + ["\t".join(parts)] + text[9:], gz=False)
    elif case == "empty":
        first.write_bytes(b"")
    elif case == "sheet-type-contradicts-barcode":
        rows = sheet.read_text().splitlines()
        _write(sheet, rows[:1] + [rows[1].replace("Primary Tumor", "Solid Tissue Normal")]
               + rows[2:], gz=False)  # fmt: skip
    elif case == "sheet-duplicate-sample":
        rows = sheet.read_text().splitlines()
        parts = rows[2].split("\t")
        parts[6] = rows[1].split("\t")[6]
        _write(sheet, rows[:2] + ["\t".join(parts)] + rows[3:], gz=False)
    with pytest.raises(BadInputError, match=match):
        load_cohort(f"gdc-star:{sheet}")


def test_generic_matrix_with_sample_table(tmp_path, ucs_text):
    lines, _ = ucs_text
    cut = ["\t".join(line.split("\t")[:4]) for line in lines]
    cut[0] = "gene_id\t" + cut[0].lstrip("\t")
    matrix = _write(tmp_path / "m.tsv.gz", cut)
    names = cut[0].split("\t")[1:]
    table = tmp_path / "samples.csv"
    table.write_text("id,cancer\n" + "".join(f"{n},UCS\n" for n in names))
    cohort = load_cohort(f"matrix:{matrix},samples={table},group=cancer,scale=counts")
    assert list(cohort.samples["group"]) == ["UCS"] * 3
    assert list(cohort.samples["tissue_type"]) == ["tumour"] * 3  # from the barcodes
    table.write_text("id,cancer\n" + "".join(f"{n},UCS\n" for n in names[:2]) + "X,UCS\n")
    with pytest.raises(
        BadInputError, match=r"samples.csv: the sample table does not match.*line 4"
    ):
        load_cohort(f"matrix:{matrix},samples={table},group=cancer,scale=counts")
    table.write_text("id,kind\n" + "".join(f"{n},UCS\n" for n in names))
    with pytest.raises(BadInputError, match=r"lacks columns \['cancer'\]"):
        load_cohort(f"matrix:{matrix},samples={table},group=cancer")


def test_spec_errors():
    assert parse_spec("matrix:a.tsv,samples=b.tsv,group=g") == (
        "matrix", "a.tsv", {"samples": "b.tsv", "group": "g"},
    )  # fmt: skip
    with pytest.raises(BadInputError, match="unknown format"):
        parse_spec("nope:x")
    with pytest.raises(BadInputError, match="not KEY=VALUE"):
        parse_spec("matrix:x,y")
    with pytest.raises(BadInputError, match="only=normal keeps no sample"):
        load_cohort("tcga-rnasum:PAAD,only=normal")
