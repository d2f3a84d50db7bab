"""Upload & predict without Streamlit: safe saving, validation, scoring, placement."""

from __future__ import annotations

import gzip
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.errors import BadInputError
from dashboard import upload
from dashboard.fixtures import atlases_for_tests
from dashboard.query import AtlasStore

EXAMPLE = "ai4loop-upstream/prediction/"
AML = ("Samples_RNASeqdata.bed", "Samples_RNASeqdata.bed.columns.txt", "Genepairs_1000.bedpe")


@pytest.fixture(scope="module")
def aml_files(reg):
    return [(name, reg(EXAMPLE + name).read_bytes()) for name in AML]


@pytest.fixture(scope="module")
def store(request):
    root, _ = atlases_for_tests(request.config.cache.mkdir("dashboard"))
    return AtlasStore([root])


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("a b;rm -rf.tsv.gz", "a_b_rm_-rf.tsv.gz"),
        ("..\\..\\x.csv", "x.csv"),
        (".hidden", "hidden"),
        ("", "upload"),
    ],
)
def test_upload_names_cannot_leave_the_upload_directory(name, safe):
    assert upload.safe_name(name) == safe


def test_files_are_told_apart_by_name_and_content(aml_files):
    kinds = [upload.classify(name, data[:512]) for name, data in aml_files]
    assert kinds == ["expression", "columns", "pairs"]
    assert upload.classify("pairs.csv", b"label,chr1,x1,x2,chr2,y1,y2\n") == "pairs"
    assert upload.classify("m.tsv.gz", gzip.compress(b"gene\ts1\n")) == "expression"


def test_size_limit_and_file_mix_are_checked(tmp_path, aml_files):
    with pytest.raises(BadInputError, match="over the upload limit of 1 MB"):
        upload.save_uploads(aml_files, workdir=tmp_path, max_bytes=1_000_000)
    with pytest.raises(BadInputError, match="No expression file"):
        upload.save_uploads(aml_files[1:], workdir=tmp_path, max_bytes=10**8)
    with pytest.raises(BadInputError, match="More than one expression"):
        upload.save_uploads(
            [("a.tsv", b"g\ts\n"), ("b.tsv", b"g\ts\n")], workdir=tmp_path, max_bytes=10**8
        )
    with pytest.raises(BadInputError, match="empty"):
        upload.save_uploads([("a.tsv", b"")], workdir=tmp_path, max_bytes=10**8)


def test_bad_expression_gives_a_message_not_a_traceback(tmp_path):
    saved = upload.save_uploads(
        [("x.tsv", b"gene\tS1\nTP53\tabc\n")], workdir=tmp_path, max_bytes=10**6
    )
    with pytest.raises(BadInputError, match="^x.tsv: no numeric sample columns"):
        upload.validate(saved)


def test_aml_example_is_scored_and_placed(tmp_path, aml_files, store):
    saved = upload.save_uploads(aml_files, workdir=tmp_path, max_bytes=10**8)
    expr = upload.validate(saved)
    report = upload.report_table(expr).set_index("item")["value"]
    assert report["format"] == "ai4loop-bed" and report["detected scale"] == "tpm"
    from ai4loop_core.model import load_model

    steps = []
    result = upload.predict_upload(
        expr,
        model=load_model("upstream:K562"),
        pairs=saved.pairs,
        catalog=store.catalog("tcga-fixture"),
        group_means=lambda ids: store.group_means("tcga-fixture", ids),
        progress=lambda f, what: steps.append(f),
    )
    table = result.table
    assert table.shape == (1000, 13) and list(table.columns[-2:]) == ["AML1", "AML2"]
    # AI4Loop's published output for this example (see tests/test_predict.py)
    np.testing.assert_allclose(
        table.loc[[0, 4, 83], ["AML1", "AML2"]].to_numpy(),
        [[0.98771, 0.77354], [0.99764, 0.99698], [0.98539, 0.23045]],
        atol=1e-4,
    )
    assert steps[-1] == 1.0 and steps == sorted(steps)
    placed = result.placement
    assert set(placed["sample"]) == {"AML1", "AML2"} and placed["n_ggis"].min() >= 400
    assert placed["correlation"].between(-1, 1).all()
    hmx3 = upload.filter_by_gene(table, "hmx3")
    assert len(hmx3) and hmx3["symbol2"].str.contains("HMX3").all()


def test_a_context_model_scores_uploads_as_predict_does_and_warns_on_a_gene_panel(
    tmp_path, aml_files, reg
):
    from ai4loop_core.model import load_model
    from ai4loop_core.predict import predict_file

    saved = upload.save_uploads(aml_files, workdir=tmp_path, max_bytes=10**8)
    expr = upload.validate(saved)
    model = load_model("best:K562")
    result = upload.predict_upload(expr, model=model, pairs=saved.pairs, catalog=None)
    want = predict_file(
        model="best:K562",
        pairs=reg(EXAMPLE + AML[2]),
        expression=reg(EXAMPLE + AML[0]),
        columns=reg(EXAMPLE + AML[1]),
        progress=False,
    )
    np.testing.assert_allclose(
        result.table[["AML1", "AML2"]].to_numpy(), want[["AML1", "AML2"]].to_numpy(), atol=1e-6
    )
    assert result.warnings == ()  # 58,292 genes placed: the whole transcriptome
    panel = replace(expr, genes=expr.genes.iloc[:2000], values=expr.values[:2000])
    warned = upload.predict_upload(panel, model=model, pairs=saved.pairs, catalog=None)
    assert len(warned.warnings) == 1 and "this file places 2000" in warned.warnings[0]


def test_placement_needs_enough_shared_ggis():
    scores = pd.DataFrame({"s": [0.1, 0.9]}, index=[1, 2])
    means = pd.DataFrame({"g": [0.2, 0.8]}, index=[1, 2])
    with pytest.raises(BadInputError, match="Only 2 scored GGIs"):
        upload.placement(scores, means)


def test_model_names_are_the_committed_models_and_load_no_keras(tmp_path):
    from ai4loop_core.model import MODELS_DIR, available_models

    names = available_models(models_dir=MODELS_DIR)
    assert names[:4] == ["upstream:K562", "upstream:GM12878", "upstream:HeLaS3", "upstream:IMR90"]
    assert {"K562", "K562-genome", "NHEK", "best:K562", "best:NHEK"} <= set(names)
    best = sorted(n for n in names if n.startswith("best:"))
    assert best == [f"best:{c}" for c in sorted(("K562", "GM12878", "HeLaS3", "IMR90", "HMEC",
                                                 "HUVEC", "NHEK"))]  # fmt: skip
    assert available_models(models_dir=tmp_path) == names[:4]
    assert upload.model_label("upstream:K562").endswith("(published model)")
    code = (
        "import sys, dashboard.upload, ai4loop_core.model as m; "
        "m.available_models(models_dir=m.MODELS_DIR); print('keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gdc_star_and_lincs_gct_uploads_are_read(tmp_path, reg, k562_star_text):
    encode = pd.read_csv(reg("ai4loop-upstream/data/allRNAseq.tsv"), sep="\t")
    star = gzip.compress(k562_star_text.encode())
    files = [("x.rna_seq.augmented_star_gene_counts.tsv.gz", star)]
    expr = upload.validate(upload.save_uploads(files, workdir=tmp_path / "a", max_bytes=10**9))
    assert expr.report.format == "gdc-star" and expr.samples == ["x"]
    assert expr.report.n_mapped == len(encode)
    # the L1000 plate: Level 3 GCT becomes TPM-like landmark genes, with the coverage warning
    files = [("plate.gct", reg("lincs/test_l1000.gct").read_bytes())]
    expr = upload.validate(upload.save_uploads(files, workdir=tmp_path / "b", max_bytes=10**9))
    assert expr.report.format == "lincs-gct" and len(expr.samples) == 377
    assert 900 < expr.report.n_mapped <= 978 and "landmark" in expr.report.warnings[0]
    # a Level 4 GCTX (z-scores) is refused with the reason
    files = [("z.gctx", reg("lincs/test_l1000_highprecision.gctx").read_bytes())]
    with pytest.raises(BadInputError, match="^z.gctx: LINCS Level 4"):
        upload.validate(upload.save_uploads(files, workdir=tmp_path / "c", max_bytes=10**9))
