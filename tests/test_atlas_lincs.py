"""LINCS readers (GCT 1.3, GCTX, cmapR .RData), levels, metadata, gene mapping and coverage."""

from __future__ import annotations

import gzip

import h5py
import numpy as np
import pandas as pd
import pytest

from ai4loop_core.errors import BadInputError
from atlas import lincs

GCT = "lincs/test_l1000.gct"
GCTX = "lincs/test_l1000_highprecision.gctx"
RDATA = "lincs/ds.RData"


@pytest.fixture(scope="module")
def level3(reg):
    return lincs.read_gct(reg(GCT))


@pytest.fixture(scope="module")
def level4(reg):
    return lincs.read_gctx(reg(GCTX))


@pytest.fixture(scope="module")
def level5(reg):
    return lincs.read_cmapr_rdata(reg(RDATA))


@pytest.fixture
def small(level3, tmp_path):
    """A 5-row, 4-column GCT 1.3 written from the real plate, and its lines."""
    part = level3.select(level3.col_ids[:4])
    part = lincs.GCT(part.values[:5], part.row_meta.iloc[:5], part.col_meta, "1.3", "small")
    path = lincs.write_gct(part, tmp_path / "small.gct")
    return path, path.read_text().splitlines()


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_level3_gct_reads_with_metadata(level3):
    assert level3.values.shape == (978, 377)
    assert level3.row_meta.shape[1] == 11 and level3.col_meta.shape[1] == 35
    assert level3.row_ids[0] == "200814_at" and level3.col_ids[0] == "LJP005_A375_24H_X1_B19:A03"
    assert level3.values[0, 0] == pytest.approx(11.3819)
    assert lincs.detect_level(level3)[0] == 3
    assert 3 < level3.values.min() and level3.values.max() <= 15


def test_gctx_is_level4_robust_z_of_the_same_plate(level3, level4):
    # The mirror's README calls the GCTX Level 3; its provenance (+ZSP) and values say Level 4.
    assert level4.row_ids == level3.row_ids and level4.col_ids == level3.col_ids
    level, why = lincs.detect_level(level4)
    assert level == 4 and "ZS" in why
    med, spread = lincs.robust_z(level3.values)
    z = (level3.values - med[:, None]) / spread[:, None]
    assert np.corrcoef(z.ravel(), level4.values.ravel())[0, 1] > 0.99999
    # ... up to one constant offset in this cmapPy test file
    offset = level4.values - z
    assert offset.std() < 1e-3 and offset.mean() == pytest.approx(0.8596, abs=1e-3)
    inverted = lincs.invert_z(z, median=med, spread=spread)
    np.testing.assert_allclose(inverted, level3.values, atol=1e-9)


def test_level5_rdata_and_its_doses(level5):
    assert level5.values.shape == (978, 272)
    assert lincs.detect_level(level5)[0] == 5
    table = lincs.sample_table(level5, cohort="ds")
    assert set(table["pert_iname"]) == {"vemurafenib", "atorvastatin", "venlafaxine"}
    assert table["cell_id"].nunique() == 65
    doses = set(zip(table["pert_dose"], table["pert_dose_unit"], strict=True))
    assert doses == {(10.0, "uM"), (3.0, "uM"), (1.0, "uM"), (500.0, "nM"), (100.0, "nM")}
    assert set(table["pert_time"]) == {6.0, 24.0}
    assert (table["plate"] == level5.col_meta["brew_prefix"].to_numpy()).all()


def test_sample_table_of_the_plate(level3):
    table = lincs.sample_table(level3, cohort="plate")
    assert (table["tissue_type"] == "vehicle").sum() == 26
    assert set(table.loc[table["tissue_type"] == "vehicle", "pert_iname"]) == {"DMSO"}
    assert table["pert_type"].value_counts().to_dict() == {
        "trt_cp": 328, "ctl_vehicle": 26, "trt_poscon": 23
    }  # fmt: skip
    treated = table[table["tissue_type"] == "treated"]
    assert set(treated["pert_dose"]) == {0.04, 0.12, 0.37, 1.11, 3.33, 10.0}
    assert (treated["pert_dose_unit"] == "uM").all()
    assert table["pert_dose"][table["tissue_type"] == "vehicle"].isna().all()
    assert (table["plate"] == "LJP005_A375_24H_X1_B19").all() and (table["pert_time"] == 24).all()
    with pytest.raises(BadInputError, match="cell_id"):
        part = lincs.GCT(
            level3.values, level3.row_meta, level3.col_meta.drop(columns="cell_id"), "1.3", "x"
        )
        lincs.sample_table(part, cohort="plate")


def test_probes_map_to_ensembl_through_entrez(level3, level5):
    mapped = lincs.map_rows(level3)
    assert mapped["matched_by"].value_counts().to_dict() == {"entrez": 974, "none": 4}
    assert mapped.loc[mapped["symbol"] == "PSME1", "gene_id"].item() == "ENSG00000092010"
    # Without pr_gene_id the probe ids go through the LINCS gene info.
    bare = lincs.GCT(level5.values, level5.row_meta[[]], level5.col_meta, "cmapR", "x")
    again = lincs.map_rows(bare).set_index("row_id")["gene_id"]
    same = again.reindex(mapped["row_id"]).fillna("").to_numpy() == mapped["gene_id"].fillna("")
    assert same.mean() > 0.99


def test_gzip_and_roundtrip(level3, tmp_path, small):
    path, _ = small
    plain = lincs.read_gct(path)
    packed = lincs.write_gct(plain, tmp_path / "small.gct.gz")
    with open(packed, "rb") as handle:
        assert handle.read(2) == b"\x1f\x8b"
    again = lincs.read_gct(packed)
    np.testing.assert_array_equal(again.values, plain.values)
    pd.testing.assert_frame_equal(again.col_meta, plain.col_meta)
    np.testing.assert_allclose(plain.values, level3.values[:5, :4], rtol=1e-6)


def _truncate(lines):
    return lines[:-2]


def _dims(lines):
    return [lines[0], "5 4 11", *lines[2:]]


def _dims_mismatch(lines):
    return [lines[0], "5\t6\t11\t35", *lines[2:]]


def _non_numeric(lines):
    cut = lines[-1].split("\t")
    cut[-2] = "12,5"
    return [*lines[:-1], "\t".join(cut)]


def _short_line(lines):
    return [*lines[:40], lines[40].rsplit("\t", 1)[0], *lines[41:]]


def _extra_rows(lines):
    return [*lines, lines[-1].replace("\t", "x\t", 1)]


def _bad_version(lines):
    return ["#1.4", *lines[1:]]


def _duplicate_row(lines):
    return [*lines[:-1], lines[-2]]


BROKEN = {
    "truncated": (_truncate, r"ends at line 41 .* 5 data rows .* truncated, re-download"),
    "dimensions line": (_dims, r"line 2 must hold 4 integers.* found '5 4 11'"),
    "dimensions vs header": (_dims_mismatch, r"line 3 \(header\) has 16 .* = 18"),
    "non-numeric": (_non_numeric, r"line 43, column 'LJP005_A375_24H_X1_B19:A05' .*'12,5'"),
    "short line": (_short_line, r"line 41 has 15 tab-separated fields, expected 16"),
    "extra rows": (_extra_rows, r"line 44: more lines than line 2 says"),
    "version": (_bad_version, r"line 1 is '#1.4'"),
    "duplicate id": (_duplicate_row, r"row id '\S+' appears twice \(lines 42 and 43\)"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_gct_says_where_and_what_to_do(small, tmp_path, case):
    _, lines = small
    change, message = BROKEN[case]
    path = _write(tmp_path / "broken.gct", change(lines))
    with pytest.raises(BadInputError, match=message) as err:
        lincs.read_gct(path)
    assert str(path) in str(err.value)


def test_empty_and_fake_gzip_and_binary(tmp_path, reg):
    empty = tmp_path / "empty.gct"
    empty.write_text("\n\n")
    with pytest.raises(BadInputError, match="file is empty"):
        lincs.read_gct(empty)
    fake = tmp_path / "plate.gct.gz"
    fake.write_text("#1.3\n")
    with pytest.raises(BadInputError, match="named .gz but is not gzip"):
        lincs.read_gct(fake)
    cut = tmp_path / "cut.gct.gz"
    cut.write_bytes(gzip.compress(reg(GCT).read_bytes())[:5000])
    with pytest.raises(BadInputError, match="truncated or damaged"):
        lincs.read_gct(cut)
    with pytest.raises(BadInputError, match="HDF5 file, not text GCT; read it with read_gctx"):
        lincs.read_gct(reg(GCTX))
    with pytest.raises(BadInputError, match="file not found"):
        lincs.read_gct(tmp_path / "nope.gct")


def _gctx(path, matrix, rows, cols):
    with h5py.File(path, "w") as handle:
        handle["0/DATA/0/matrix"] = matrix
        handle["0/META/ROW/id"] = np.array(rows, dtype="S")
        handle["0/META/COL/id"] = np.array(list(cols), dtype="S")
        handle["0/META/COL/pert_type"] = np.array(["ctl_vehicle"] * len(cols), dtype="S")
    return path


def test_gctx_columns_subset_and_broken_files(tmp_path, reg, level4):
    part = lincs.read_gctx(reg(GCTX), columns=[level4.col_ids[5], level4.col_ids[2]])
    np.testing.assert_array_equal(part.values, level4.values[:, [5, 2]])
    assert list(part.col_meta.index) == [level4.col_ids[5], level4.col_ids[2]]

    ok = _gctx(tmp_path / "ok.gctx", np.arange(6, dtype="f4").reshape(3, 2), ["a", "b"], "xyz")
    small = lincs.read_gctx(ok)
    np.testing.assert_array_equal(small.values, [[0, 2, 4], [1, 3, 5]])  # stored cols x rows

    text = tmp_path / "text.gctx"
    text.write_text("#1.3\n")
    with pytest.raises(BadInputError, match="not an HDF5 file .* name it .gct"):
        lincs.read_gctx(text)
    cut = tmp_path / "cut.gctx"
    cut.write_bytes(reg(GCTX).read_bytes()[:4000])
    with pytest.raises(BadInputError, match="truncated or damaged"):
        lincs.read_gctx(cut)
    wrong = _gctx(tmp_path / "wrong.gctx", np.zeros((2, 3), "f4"), ["a", "b"], "xyz")
    with pytest.raises(BadInputError, match=r"shape \(2, 3\) but there are 2 row ids and 3"):
        lincs.read_gctx(wrong)
    nan = _gctx(tmp_path / "nan.gctx", np.array([[1, np.nan]] * 3, "f4"), ["a", "b"], "xyz")
    with pytest.raises(BadInputError, match="row 'b', column 'x'.* not finite"):
        lincs.read_gctx(nan)
    with h5py.File(tmp_path / "bare.gctx", "w") as handle:
        handle["0/DATA/0/matrix"] = np.zeros((1, 1))
    with pytest.raises(BadInputError, match="/0/META/ROW/id is missing"):
        lincs.read_gctx(tmp_path / "bare.gctx")
    with pytest.raises(BadInputError, match=r"columns not in the file: \['nope'\]"):
        lincs.read_gctx(ok, columns=["nope"])


def test_detect_level_from_values_alone():
    meta = pd.DataFrame(index=["g1", "g2"])
    cols = pd.DataFrame(index=["s1", "s2"])
    log2 = lincs.GCT(np.array([[8.0, 9.5], [12.0, 3.3]]), meta, cols, "1.3", "x")
    zs = lincs.GCT(np.array([[-1.5, 0.2], [2.0, -0.1]]), meta, cols, "1.3", "x")
    assert lincs.detect_level(log2)[0] == 3 and lincs.detect_level(zs)[0] == 4


def test_level3_scale_puts_the_vehicle_median_on_the_reference():
    x = np.log2(np.array([[10.0, 20.0], [40.0, 80.0], [160.0, 320.0]]))
    c = lincs.level3_scale_constant(x, reference_median_tpm=5.0)
    tpm = lincs.model_input(x, scale_constant=c)
    assert np.median(tpm) == pytest.approx(5.0)
    np.testing.assert_allclose(tpm / tpm[0, 0], [[1, 2], [4, 8], [16, 32]])


def test_anchor_coverage_counts_bins_against_the_annotation():
    anchors = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [100_000, 500_000],
                            "end": [100_001, 500_001]})  # fmt: skip
    annotation = pd.DataFrame(
        {"chrom": ["chr1", "chr1", "chr1"], "start": [70_000, 100_000, 500_000],
         "end": [100_000, 130_000, 500_100]}
    )  # fmt: skip
    measured = annotation.iloc[[1]]  # the right half of anchor 1's window, nothing of anchor 2
    cov = lincs.anchor_coverage(anchors, measured, annotation)
    assert cov["bins_annotated"].tolist() == [155, cov["bins_annotated"][1]]
    # bins of size b reaching past the midpoint: 60000 // b - 30000 // b
    assert cov["bins_measured"][0] == sum(60 // b - 30 // b for b in range(1, 8)) == 78
    assert cov["coverage"][1] == 0.0 and 0.5 < cov["coverage"][0] < 0.6
