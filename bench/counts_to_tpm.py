"""Effect of the counts-to-TPM method (atlas.cohorts.counts_to_tpm) on values and predictions.

Without exonic gene lengths, counts can reach the TPM scale by ``cpm`` (every gene the same length)
or ``gene-body`` (annotation gene-body length, introns included). This script measures, for real
count data (GTEx v6 skin and bladder, TCGA ACC HTSeq):

1. distributions against the ENCODE TPM of ``allRNAseq.tsv`` (7 cell lines): share of genes
   >= 1 TPM and quantiles of the values, over the genes both tables have;
2. prediction agreement where counts and TPM exist for the same tissue: GTEx skin/bladder counts
   converted by each method against the HPA consensus nTPM of skin / urinary bladder (HPA's
   consensus includes GTEx), scored with upstream:K562 on the ``published`` catalog.

Run: ``python bench/counts_to_tpm.py`` (about a minute on 2 cores); prints a Markdown table.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pandas as pd

from ai4loop_core.model import load_model
from ai4loop_core.predict import predict_scores
from atlas.catalog import build_catalog
from atlas.cohorts import counts_to_tpm, load_cohort


def stats(values: np.ndarray) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {
        "sum": float(np.median(v.sum(axis=0))),
        ">=1 TPM": float(np.median((v >= 1).mean(axis=0))),
        "q90": float(np.median(np.quantile(v, 0.90, axis=0))),
        "q99": float(np.median(np.quantile(v, 0.99, axis=0))),
        "q99.9": float(np.median(np.quantile(v, 0.999, axis=0))),
    }


def on_genes(cohort, genes: pd.Index) -> np.ndarray:
    idx = pd.Index(cohort.expression.genes["gene_id"]).get_indexer(genes)
    return cohort.expression.values[idx[idx >= 0]]


def main() -> None:
    encode = load_cohort("encode:")
    hpa = load_cohort("hpa:tissue")
    raw = {t: load_cohort(f"gtex-yarn:{t},counts=cpm") for t in ("skin", "bladder")}
    acc = load_cohort("tcga-rnasum:ACC")
    model = load_model("upstream:K562")
    catalog = build_catalog("published")
    anchors, left, right = catalog.anchors()

    shared = pd.Index(encode.expression.genes["gene_id"]).intersection(
        raw["skin"].expression.genes["gene_id"]
    )
    rows = [("ENCODE TPM (7 cell lines)", "-", stats(on_genes(encode, shared)))]
    for method in ("cpm", "gene-body"):
        for label, cohort in [
            ("GTEx skin", raw["skin"]),
            ("GTEx bladder", raw["bladder"]),
            ("TCGA ACC", acc),
        ]:
            # undo cpm (scale-free) then apply the method: cpm is proportional to counts
            vals = counts_to_tpm(cohort.expression.values, cohort.expression.genes, method=method)
            conv = dataclasses.replace(
                cohort, expression=dataclasses.replace(cohort.expression, values=vals)
            )
            rows.append((label, method, stats(on_genes(conv, shared))))
    rows.append(
        (
            "HPA skin nTPM",
            "-",
            stats(
                on_genes(hpa, shared)[
                    :, [hpa.samples.index[hpa.samples.sample_id == "HPA:skin"][0]]
                ]
            ),
        )
    )
    print("| data | method | median sum | genes >= 1 TPM | q90 | q99 | q99.9 |")
    print("|---|---|---|---|---|---|---|")
    for label, method, s in rows:
        print(
            f"| {label} | {method} | {s['sum']:,.0f} | {s['>=1 TPM']:.3f} | {s['q90']:.2f} | "
            f"{s['q99']:.1f} | {s['q99.9']:.0f} |"
        )

    print()
    print("| tissue | method | Pearson r (mean score vs HPA) | mean abs diff | call agreement |")
    print("|---|---|---|---|---|")
    hpa_ids = {"skin": "HPA:skin", "bladder": "HPA:urinary_bladder"}
    for tissue, cohort in raw.items():
        col = hpa.samples.index[hpa.samples.sample_id == hpa_ids[tissue]][0]
        ref = predict_scores(
            model,
            anchors=anchors,
            left=left,
            right=right,
            genes=hpa.expression.genes,
            values=hpa.expression.values[:, [col]],
            progress=False,
        )[:, 0]
        for method in ("cpm", "gene-body"):
            vals = counts_to_tpm(cohort.expression.values, cohort.expression.genes, method=method)
            sc = predict_scores(
                model,
                anchors=anchors,
                left=left,
                right=right,
                genes=cohort.expression.genes,
                values=vals,
                progress=False,
            )
            mean = sc.mean(axis=1)
            frac = (sc >= 0.5).mean(axis=1)
            r = np.corrcoef(mean, ref)[0, 1]
            agree = np.mean((frac >= 0.5) == (ref >= 0.5))
            print(
                f"| {tissue} | {method} | {r:.3f} | {np.abs(mean - ref).mean():.3f} | {agree:.3f} |"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
