"""Pair context: the sparse operator equals a plain per-pair loop on the K562 benchmark set, and
context models score the same through predict, evaluate and the atlas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ai4loop_core.boosted import anchor_codes
from ai4loop_core.context import (
    ANCHOR_NAMES,
    N_CONTEXT,
    NEAREST,
    PAIR_NAMES,
    PROMOTER_WINDOWS,
    WINDOWS,
    build_context,
)
from ai4loop_core.data import ensure_file
from ai4loop_core.datasets import ALL_RNASEQ, UPSTREAM_SETS, load_dataset
from ai4loop_core.errors import BadInputError
from ai4loop_core.expression import read_expression
from ai4loop_core.features import reference_features
from ai4loop_core.genes import gene_strands
from ai4loop_core.pairs import read_pairs


@pytest.fixture(scope="module")
def k562_pairs():
    return read_pairs(ensure_file(UPSTREAM_SETS["K562"]))


@pytest.fixture(scope="module")
def rna():
    return read_expression(ensure_file(ALL_RNASEQ))


def _loop_context(anchors, genes, tpm, a: int, b: int, strand) -> np.ndarray:
    """The 271 numbers of one pair, written out gene by gene (presence bins: the features'
    reference loop)."""
    log, expressed = np.log1p(tpm), tpm > 1.0
    g_start, g_end, g_chrom = (genes[k].to_numpy() for k in ("start", "end", "chrom"))
    tss = np.where(strand == 1, g_start, g_end)
    tes = np.where(strand == 1, g_end, g_start)

    def mid(i):
        return (int(anchors.start[i]) + int(anchors.end[i])) // 2

    def anchor(i):
        m, on = mid(i), g_chrom == anchors.chrom[i]
        out = []
        for w in WINDOWS:
            hit = on & (g_start < m + w) & (g_end > m - w)
            out += [
                hit.sum(),
                expressed[hit].sum(),
                log[hit].mean() if hit.any() else 0,
                log[hit].sum(),
            ]
        idx = np.flatnonzero(on)
        near = idx[np.argsort(np.abs((g_start[idx] + g_end[idx]) // 2 - m), kind="stable")][
            :NEAREST
        ]
        out += [log[near].mean(), log[near[0]]]
        for w in PROMOTER_WINDOWS:
            at_start = on & (strand != 0) & (np.abs(tss - m) <= w)
            at_end = on & (strand != 0) & (np.abs(tes - m) <= w)
            out += [at_start.sum(), at_end.sum(), log[at_start].sum(), log[at_end].sum()]
        return np.array(out)

    lo, hi = sorted((mid(a), mid(b)))
    inside = (g_chrom == anchors.chrom[a]) & (anchors.chrom[a] == anchors.chrom[b])
    inside &= (g_start > lo) & (g_end < hi)
    between = [inside.sum(), expressed[inside].sum(), log[inside].mean() if inside.any() else 0]
    x, y = anchor(a), anchor(b)
    ones = np.ones(len(genes))
    bins = reference_features(anchors.iloc[[a, b]].reset_index(drop=True), genes, ones)[:, :, 0]
    u, v = anchor_codes(bins)
    return np.concatenate(
        [np.minimum(x, y), np.maximum(x, y), between, np.minimum(u, v), np.maximum(u, v)]
    )


def test_operator_equals_the_per_pair_loop_on_the_k562_set(k562_pairs, rna):
    anchors, left, right = k562_pairs.unique_anchors()
    op = build_context(anchors, rna.genes, left=left, right=right)
    got = op.apply(rna.values)
    assert got.shape == (len(left), N_CONTEXT, len(rna.samples)) == (7172, 271, 7)
    assert len(PAIR_NAMES) == 2 * len(ANCHOR_NAMES) + 3 + 2 * 88 == 271
    strand = gene_strands(rna.genes)  # from the annotation, by gene_id
    assert set(np.unique(strand)) == {-1, 0, 1} and (strand != 0).mean() > 0.4
    rows = np.random.default_rng(0).choice(len(left), 25, replace=False)
    for s in (list(rna.samples).index("K562"), list(rna.samples).index("IMR90")):
        tpm = np.maximum(rna.values[:, s], 0)
        for p in rows:
            want = _loop_context(anchors, rna.genes, tpm, left[p], right[p], strand)
            np.testing.assert_allclose(got[p, :, s], want, rtol=1e-5, atol=1e-4)
    swapped = build_context(anchors, rna.genes, left=right, right=left).apply(rna.values)
    np.testing.assert_array_equal(swapped, got)  # anchor order does not matter
    counts = [i for i, n in enumerate(PAIR_NAMES) if n.endswith("_genes") or "presence" in n]
    np.testing.assert_array_equal(got[:, counts, 0], got[:, counts, 3])  # annotation only


def test_pairs_across_chromosomes_have_nothing_between():
    anchors = pd.DataFrame(
        {"chrom": ["chr1", "chr2"], "start": [100_000, 100_000], "end": [110_000, 110_000]}
    )
    genes = pd.DataFrame(
        {"chrom": ["chr1", "chr2"], "start": [50_000, 150_000], "end": [60_000, 160_000]}
    )
    got = build_context(anchors, genes, left=np.array([0]), right=np.array([1])).apply(
        np.array([3.0, 0.0])
    )
    inner = [PAIR_NAMES.index(n) for n in ("between_genes", "between_expressed")]
    np.testing.assert_array_equal(got[0, inner, 0], [0, 0])
    w10 = got[0, [PAIR_NAMES.index("max_w50kb_genes"), PAIR_NAMES.index("max_w50kb_expressed")], 0]
    np.testing.assert_array_equal(w10, [1, 1])  # chr1's gene [50, 60) kb is within 50 kb of 105 kb


@pytest.fixture(scope="module")
def hela():
    return load_dataset("HeLaS3")


@pytest.fixture(scope="module")
def context_model(hela):
    from ai4loop_core.benchmark import chromosome_parts, fit_tuned

    model, _ = fit_tuned([hela], [chromosome_parts(hela)], seed=42, feature_set="context")
    return model


def test_a_context_model_scores_alike_in_evaluate_predict_and_the_atlas(
    hela, context_model, tmp_path
):
    from ai4loop_core.evaluate import score_dataset
    from ai4loop_core.predict import predict_file
    from atlas.build import score_block

    model = context_model
    assert model.uses_context
    first = hela.take(np.arange(300))
    want = score_dataset(model, first)
    pairs = tmp_path / "pairs.bedpe"
    first.pairs.to_csv(pairs, sep="\t", header=False, index=False)
    path = tmp_path / "hela.boosted.json"
    from ai4loop_core.boosted import save_boosted

    save_boosted(model, path, card={"name": "hela-context"})
    table = predict_file(
        model=str(path), pairs=pairs, expression=ensure_file(ALL_RNASEQ), samples=["HeLaS3"],
        progress=False,
    )  # fmt: skip
    np.testing.assert_allclose(table["HeLaS3"].to_numpy(), want, atol=1e-6)
    rna = read_expression(ensure_file(ALL_RNASEQ))
    anchors, left, right = read_pairs(pairs).unique_anchors()
    block = score_block(
        model, anchors=anchors, left=left, right=right, genes=rna.genes, values=rna.values
    )
    np.testing.assert_allclose(block[:, list(rna.samples).index("HeLaS3")], want, atol=1e-6)
    content = json.loads(path.read_text())
    assert content["pair_features"] == "context" and content["context"] == "expr-context-v3"


def test_context_models_refuse_missing_context_and_old_context_files(hela, context_model, tmp_path):
    from ai4loop_core.boosted import load_boosted, save_boosted

    codes = context_model.encode(hela.left[:5])
    with pytest.raises(BadInputError, match="expression context"):
        context_model.score(codes, codes)
    path = tmp_path / "m.boosted.json"
    save_boosted(context_model, path, card={})
    path.write_text(json.dumps({**json.loads(path.read_text()), "context": "expr-context-v0"}))
    with pytest.raises(BadInputError, match="expr-context-v0"):
        load_boosted(path)


def test_predict_warns_when_a_context_model_gets_a_fraction_of_the_genes(
    hela, context_model, tmp_path
):
    from ai4loop_core.boosted import save_boosted
    from ai4loop_core.predict import predict_file

    path = tmp_path / "hela.boosted.json"
    save_boosted(context_model, path, card={"context_genes": 51627})
    pairs = tmp_path / "pairs.bedpe"
    hela.pairs.head(20).to_csv(pairs, sep="\t", header=False, index=False)
    rna = read_expression(ensure_file(ALL_RNASEQ), samples=["HeLaS3"])
    panel = tmp_path / "panel.tsv"
    pd.DataFrame({"gene_id": rna.genes.gene_id[:5000], "HeLaS3": rna.values[:5000, 0]}).to_csv(
        panel, sep="\t", index=False
    )
    said: list[str] = []
    predict_file(model=str(path), pairs=pairs, expression=panel, progress=False, report=said.append)
    assert any("trained with 51627 annotated genes; this file places 5000" in s for s in said)
    said.clear()
    predict_file(
        model=str(path), pairs=pairs, expression=ensure_file(ALL_RNASEQ), samples=["HeLaS3"],
        progress=False, report=said.append,
    )  # fmt: skip
    assert not any("annotated genes" in s for s in said)


def test_promoter_numbers_follow_the_strand():
    """A gene whose lower coordinate is at the anchor starts there on + and ends there on -."""
    anchors = pd.DataFrame({"chrom": ["chr1", "chr1"], "start": [100_000, 400_000],
                            "end": [105_000, 405_000]})  # fmt: skip
    genes = pd.DataFrame({"chrom": ["chr1"] * 3, "start": [102_000, 390_000, 101_000],
                          "end": [150_000, 402_000, 103_000],
                          "strand": ["-", "+", "."]})  # fmt: skip
    op = build_context(anchors, genes, left=np.array([0]), right=np.array([1]))
    a = op.anchor_context(np.array([np.e - 1, np.e**2 - 1, 5.0]))[:, :, 0]  # log1p = 1, 2
    name = ANCHOR_NAMES.index
    # anchor 0 (midpoint 102.5 kb): gene 0 is on -, so its start 102 kb is where it ends
    assert a[0, name("p2.5kb_tss_genes")] == 0 and a[0, name("p2.5kb_tes_genes")] == 1
    assert a[0, name("p2.5kb_tes_sum_log1p")] == pytest.approx(1.0)
    # anchor 1 (midpoint 402.5 kb): gene 1 is on +, it starts at 390 kb and ends at 402 kb
    assert a[1, name("p2.5kb_tes_genes")] == 1 and a[1, name("p10kb_tss_genes")] == 0
    assert a[1, name("p25kb_tss_genes")] == 1
    assert a[1, name("p25kb_tss_sum_log1p")] == pytest.approx(2.0)
    # gene 2 (strand ".", unknown) lies on anchor 0 but counts for neither
    assert a[:, [name(f"p25kb_{s}") for s in ("tss_genes", "tes_genes")]].sum() == 3
    forced = build_context(anchors, genes, left=np.array([0]), right=np.array([1]),
                           strands=np.array([1, 1, 1]))  # fmt: skip
    b = forced.anchor_context(np.ones(3))[:, :, 0]
    assert b[0, name("p2.5kb_tss_genes")] == 2 and b[0, name("p2.5kb_tes_genes")] == 1
