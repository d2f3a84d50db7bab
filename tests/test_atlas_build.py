"""Atlas build on a small real atlas: tables, resume, SIGKILL at any point, Dask, bad input.

The atlas: 4 UCS + 4 ACC TCGA tumours (real HTSeq counts, generic matrix reader) and 3 HPA
tissue profiles (real nTPM, normals) x 150 published GGIs, one sample per shard.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from ai4loop_core.errors import BadInputError
from atlas.build import build_atlas
from atlas.catalog import EXTRA_ID_BASE, build_catalog
from atlas.tables import SCORE_SCALE, dequantise, quantise

TABLES = ["samples", "ggis", "group_summary", "differential", "sample_burden", "expression"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, reg):
    root = tmp_path_factory.mktemp("atlas-inputs")
    columns, names = [], []
    for code in ("UCS", "ACC"):
        frame = pd.read_csv(reg(f"tcga-rnasum/TCGA_{code}_Counts.exp.gz"), sep="\t", index_col=0)
        columns.append(frame.iloc[:, :4])
        names += [(s, code) for s in frame.columns[:4]]
    matrix = pd.concat(columns, axis=1)
    matrix.index.name = "gene_id"
    matrix.to_csv(root / "counts.tsv.gz", sep="\t")
    pd.DataFrame(names, columns=["sample", "cancer"]).to_csv(root / "samples.tsv", sep="\t",
                                                             index=False)  # fmt: skip
    with gzip.open(reg("hpa/RNAtableTissue.tsv.gz"), "rt") as handle:
        hpa = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False)
    hpa[["GeneID", "adrenal_gland", "skin", "cervix_uterine"]].to_csv(
        root / "RNAtableTissue.tsv.gz", sep="\t", index=False
    )
    cat = build_catalog("published")
    known = cat.ggis[cat.ggis["ggi_id"] < EXTRA_ID_BASE]
    known.iloc[::17][["gene_id1", "gene_id2"]].head(150).to_csv(root / "ggis.csv", index=False)
    cohorts = [
        f"matrix:{root / 'counts.tsv.gz'},samples={root / 'samples.tsv'},group=cancer,scale=counts",
        f"hpa:{root / 'RNAtableTissue.tsv.gz'}",
    ]
    return {"cohorts": cohorts, "catalog": str(root / "ggis.csv"), "root": root}


def _build(inputs, out, **kw):
    return build_atlas(
        cohorts=inputs["cohorts"], catalog=inputs["catalog"], out=out, chunk_samples=1,
        progress=False, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("reference") / "atlas"
    _build(inputs, out)
    return out


def _files(atlas):
    names = [f"{t}.parquet" for t in TABLES]
    names += sorted(f"scores/{p.name}" for p in (atlas / "scores").glob("*.parquet"))
    return names


def test_tables_follow_the_schema(reference):
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["kind"] == "expression" and manifest["source"] == "built here"
    assert manifest["model"]["name"] == "upstream:K562"
    assert manifest["catalog"]["size"] == 150 and len(manifest["catalog"]["sha256"]) == 64
    assert all(len(i["sha256"]) == 64 for c in manifest["cohorts"] for i in c["inputs"])
    samples = pd.read_parquet(reference / "samples.parquet")
    assert list(samples.columns) == ["sample_id", "group", "tissue_type", "cohort", "source"]
    assert samples["sample_id"].is_monotonic_increasing and len(samples) == 11
    assert set(samples["tissue_type"]) == {"tumour", "normal"}
    scores = pq.read_table(reference / "scores")
    assert str(scores.schema.field("score").type) == "uint16"
    assert str(scores.schema.field("ggi_id").type) == "int32"
    assert scores.num_rows == 150 * 11 == manifest["tables"]["scores"]
    summary = pd.read_parquet(reference / "group_summary.parquet")
    assert list(summary.columns) == ["group", "ggi_id", "n", "mean", "median", "fraction", "source"]
    assert set(summary["group"]) == {"UCS", "ACC", "HPA adrenal gland", "HPA skin",
                                     "HPA cervix uterine"}  # fmt: skip
    assert summary.loc[summary["group"] == "UCS", "n"].eq(4).all()
    diff = pd.read_parquet(reference / "differential.parquet")
    assert set(diff["reference"]) == {"pooled normals"} and set(diff["group"]) == {"ACC", "UCS"}
    assert diff["p"].between(0, 1).all() and (diff["q"] >= diff["p"] - 1e-12).all()
    burden = pd.read_parquet(reference / "sample_burden.parquet")
    assert list(burden.columns) == ["sample_id", "group", "n_ggi", "mean_score",
                                    "expression_correlation"]  # fmt: skip
    assert burden["expression_correlation"].notna().all()
    expression = pd.read_parquet(reference / "expression.parquet")
    assert list(expression.columns) == ["sample_id", "gene_id", "tpm"]
    ggis = pd.read_parquet(reference / "ggis.parquet")
    anchor_genes = set(ggis["gene_id1"]) | set(ggis["gene_id2"])
    assert set(expression["gene_id"]) <= anchor_genes and set(expression["sample_id"]) == set(
        samples["sample_id"]
    )
    assert expression.groupby("sample_id").size().nunique() <= 2  # TCGA and HPA gene sets
    assert (expression["tpm"] >= 0).all() and expression["tpm"].max() > 100
    for name, rows in manifest["tables"].items():
        if name != "scores":
            assert len(pd.read_parquet(reference / f"{name}.parquet")) == rows


def test_summaries_match_the_scores(reference):
    scores = pd.read_parquet(reference / "scores")
    samples = pd.read_parquet(reference / "samples.parquet")
    long = scores.merge(samples[["sample_id", "group"]], on="sample_id")
    long["p"] = long["score"].astype(np.float64) / SCORE_SCALE
    agg = long.groupby(["group", "ggi_id"])["p"].agg(["mean", lambda s: (s >= 0.5).mean()])
    agg.columns = ["mean", "fraction"]
    summary = pd.read_parquet(reference / "group_summary.parquet").set_index(["group", "ggi_id"])
    both = agg.join(summary, rsuffix="_t")
    np.testing.assert_allclose(both["mean"], both["mean_t"], atol=1e-6)
    np.testing.assert_allclose(both["fraction"], both["fraction_t"], atol=1e-6)


def test_quantisation_keeps_the_call_threshold():
    s = np.array([0.0, 0.4999999, 0.5, 0.50001, 1.0], dtype=np.float32)
    q = quantise(s)
    assert list(q >= 32768) == list(s >= 0.5)
    assert np.abs(dequantise(q) - s).max() <= 0.5 / SCORE_SCALE + 1e-7


def test_rerun_keeps_every_shard_and_every_byte(inputs, reference, tmp_path):
    before = {f: (reference / f).read_bytes() for f in _files(reference)}
    mtimes = {p: p.stat().st_mtime_ns for p in (reference / "scores").glob("*.parquet")}
    manifest = (reference / "manifest.json").read_bytes()
    _build(inputs, reference)
    assert {p: p.stat().st_mtime_ns for p in (reference / "scores").glob("*.parquet")} == mtimes
    assert {f: (reference / f).read_bytes() for f in _files(reference)} == before
    assert (reference / "manifest.json").read_bytes() == manifest


def test_sigkill_at_any_point_then_rerun_gives_identical_tables(inputs, reference, tmp_path):
    out = tmp_path / "killed"
    code = (
        "from atlas.build import build_atlas; import json, sys; "
        "a = json.loads(sys.argv[1]); "
        "build_atlas(cohorts=a['cohorts'], catalog=a['catalog'], out=a['out'], "
        "chunk_samples=1, progress=False)"
    )
    args = json.dumps({"cohorts": inputs["cohorts"], "catalog": inputs["catalog"], "out": str(out)})
    proc = subprocess.Popen([sys.executable, "-c", code, args], env=dict(os.environ))
    deadline = time.monotonic() + 120
    killed_with = None
    while time.monotonic() < deadline and proc.poll() is None:
        parts = list((out / "scores").glob("part-*.parquet")) if out.exists() else []
        if len(parts) >= 3:
            proc.send_signal(signal.SIGKILL)
            killed_with = len(parts)
            break
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert killed_with is not None, "the build finished before it could be killed"
    assert not (out / "manifest.json").exists()  # a killed build is no atlas
    _build(inputs, out)
    for name in _files(reference):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
    assert _files(out) == _files(reference)
    assert not list(out.rglob("*.tmp"))


def test_bad_input_writes_nothing(inputs, tmp_path):
    broken = tmp_path / "samples.tsv"
    broken.write_text("sample\tcancer\nTCGA-XX\tUCS\n")
    cohort = inputs["cohorts"][0].replace(str(inputs["root"] / "samples.tsv"), str(broken))
    out = tmp_path / "atlas"
    with pytest.raises(BadInputError, match="samples.tsv: the sample table does not match"):
        build_atlas(cohorts=[cohort], catalog=inputs["catalog"], out=out, progress=False)
    assert not out.exists()
    with pytest.raises(BadInputError, match="more than one cohort"):
        build_atlas(cohorts=[inputs["cohorts"][1]] * 2, catalog=inputs["catalog"], out=out,
                    progress=False)  # fmt: skip
    assert not out.exists()


def test_existing_dask_scheduler_gives_the_same_atlas(inputs, reference, tmp_path):
    """``--scheduler ADDRESS``: an in-process Dask cluster here (``--workers N`` starts worker
    processes the same way; the benchmark runs that)."""
    from dask.distributed import LocalCluster

    out = tmp_path / "dask"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        _build(inputs, out, scheduler=cluster.scheduler_address)
    for name in _files(reference):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name
