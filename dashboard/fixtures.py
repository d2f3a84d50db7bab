"""Small atlases for the dashboard's tests, and the synthetic scale atlas for its benchmark.

All follow docs/atlas-schema.md. :func:`fixture_atlases` writes three:

``tcga-fixture`` (real data, ``built here``)
    A few hundred published GGIs (AI4Loop pan-cancer tables) scored with the published K562
    model in real samples: TCGA CHOL tumours and their adjacent normals and ACC tumours (Firehose
    RSEM, rescaled to sum 1e6 per sample) and the 7 ENCODE cell lines (TPM).
``published`` (real data, ``AI4Loop (published)``)
    The published summary: every GGI of the pan-cancer tables with its fraction per group, and
    the published GGI lists as ``gene_sets``.
``lincs-synthetic`` (``synthetic: true``)
    A drug atlas with random signatures of made-up compounds, for the drug page's layout only.

:func:`build_synthetic_expression` writes the benchmark's atlas (any size, ``synthetic: true``,
scores quantised to ``uint8`` = ``round(score * 255)``, laid out by ``ggi_id``).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

FIXTURE_VERSION = "dashboard-fixture-v3"
PANCANCER = "ai4loop-pancancer-atlas/"
GGI_COLUMNS = [
    "ggi_id", "gene_id1", "symbol1", "gene_id2", "symbol2", "chrom",
    "start1", "end1", "start2", "end2", "distance", "origin",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Writing


def write_atlas(
    out: Path,
    *,
    manifest: dict,
    tables: dict[str, pd.DataFrame | pa.Table],
    row_group_size: int = 122_880,
) -> Path:
    """Write tables as ``<name>.parquet`` (zstd) and ``manifest.json`` into a fresh ``out``."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts = {}
    for name, table in tables.items():
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        pq.write_table(
            table, tmp / f"{name}.parquet", compression="zstd", row_group_size=row_group_size
        )
        counts[name] = table.num_rows
    manifest = {**manifest, "tables": {**counts, **manifest.get("tables", {})}}
    manifest.setdefault("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


# ---------------------------------------------------------------------------------------------
# Summaries (the same definitions the atlas builder documents)


def summarise(
    scores: np.ndarray,
    samples: pd.DataFrame,
    ggi_ids: np.ndarray,
    *,
    source: str = "built here",
) -> pd.DataFrame:
    """``group_summary`` rows from a GGIs x samples score matrix."""
    parts = []
    for group, idx in samples.groupby("group", sort=True).indices.items():
        block = scores[:, idx]
        parts.append(
            pd.DataFrame(
                {
                    "group": group,
                    "ggi_id": ggi_ids.astype(np.int32),
                    "n": np.int32(len(idx)),
                    "mean": block.mean(axis=1),
                    "median": np.median(block, axis=1),
                    "fraction": (block >= 0.5).mean(axis=1),
                    "source": source,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def differential(
    scores: np.ndarray,
    samples: pd.DataFrame,
    ggi_ids: np.ndarray,
    *,
    references: dict[str, tuple[str, list[str]]],
) -> pd.DataFrame:
    """``differential`` rows: each group vs its reference (``group -> (name, normal groups)``);
    Mann-Whitney p, BH q within group."""
    from scipy.stats import false_discovery_control, mannwhitneyu

    parts = []
    for group, (ref_name, ref_groups) in references.items():
        x = scores[:, (samples["group"] == group).to_numpy()]
        y = scores[:, samples["group"].isin(ref_groups).to_numpy()]
        with np.errstate(all="ignore"):
            p = mannwhitneyu(x, y, axis=1, method="asymptotic").pvalue
        p = np.where(np.isfinite(p), p, 1.0)
        fx, fy = (x >= 0.5).mean(axis=1), (y >= 0.5).mean(axis=1)
        mx, my = x.mean(axis=1), y.mean(axis=1)
        parts.append(
            pd.DataFrame(
                {
                    "group": group,
                    "reference": ref_name,
                    "ggi_id": ggi_ids.astype(np.int32),
                    "fraction_group": fx,
                    "fraction_reference": fy,
                    "delta_fraction": fx - fy,
                    "mean_group": mx,
                    "mean_reference": my,
                    "delta_mean": mx - my,
                    "p": p,
                    "q": false_discovery_control(p),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _spearman_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of each column of ``a`` with the same column of ``b``."""
    from scipy.stats import rankdata

    ra, rb = rankdata(a, axis=0), rankdata(b, axis=0)
    ra -= ra.mean(axis=0)
    rb -= rb.mean(axis=0)
    with np.errstate(all="ignore"):
        return (ra * rb).sum(axis=0) / np.sqrt((ra**2).sum(axis=0) * (rb**2).sum(axis=0))


def sample_burden(
    scores: np.ndarray, samples: pd.DataFrame, anchor_expression: np.ndarray
) -> pd.DataFrame:
    """``sample_burden`` rows; ``anchor_expression`` is the mean TPM of each GGI's two genes in
    each sample (GGIs x samples)."""
    return pd.DataFrame(
        {
            "sample_id": samples["sample_id"].to_numpy(),
            "group": samples["group"].to_numpy(),
            "n_ggi": (scores >= 0.5).sum(axis=0).astype(np.int32),
            "mean_score": scores.mean(axis=0),
            "expression_correlation": _spearman_columns(scores, anchor_expression),
        }
    )


def long_scores(scores: np.ndarray, sample_ids: list[str], ggi_ids: np.ndarray) -> pd.DataFrame:
    """GGIs x samples -> long ``scores`` table ordered by ``ggi_id`` then sample (float16)."""
    order = np.argsort(ggi_ids, kind="stable")
    n_s = len(sample_ids)
    return pd.DataFrame(
        {
            "sample_id": np.tile(np.asarray(sample_ids, dtype=object), len(order)),
            "ggi_id": np.repeat(ggi_ids[order].astype(np.int32), n_s),
            "score": scores[order].astype(np.float16).ravel(),
        }
    )


# ---------------------------------------------------------------------------------------------
# Real-data fixture


def published_tables(reg=None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The published pan-cancer tables: catalog (``ggis``), ``group_summary`` and ``gene_sets``.

    ``ggi_id`` is the upstream row id. Gene sets: ``<TYPE> specific (published)`` (per-cancer
    lists), ``cancer gained (published)``, ``healthy (published)``, ``all groups (published)``.
    """
    from ai4loop_core.data import ensure_file

    reg = reg or ensure_file
    files = {
        "all groups (published)": "GGI-all.csv",
        "cancer gained (published)": "GGI-cancer.csv",
        "healthy (published)": "GGI-healthy.csv",
    }
    registry_paths = _pancancer_files()
    for rel in registry_paths:
        if rel.startswith("per-cancer/"):
            files[f"{Path(rel).name.split('.')[0]} specific (published)"] = rel
    frames = []
    for name, rel in files.items():
        df = pd.read_csv(reg(PANCANCER + rel))
        df = df.rename(columns={df.columns[0]: "ggi_id"})
        frames.append(df.assign(gene_set=name))
    table = pd.concat(frames, ignore_index=True)
    groups = [c for c in table.columns[11:] if c != "gene_set"]
    ggis = pd.DataFrame(
        {
            "ggi_id": table["ggi_id"].astype(np.int32),
            "gene_id1": table["gene1"].str.replace(r"\..*$", "", regex=True),
            "symbol1": table["gene1Sym"].astype(str),
            "gene_id2": table["gene2"].str.replace(r"\..*$", "", regex=True),
            "symbol2": table["gene2Sym"].astype(str),
            "chrom": table["chr1"].astype(str),
            "start1": table["x1"].astype(np.int64),
            "end1": table["x2"].astype(np.int64),
            "start2": table["y1"].astype(np.int64),
            "end2": table["y2"].astype(np.int64),
        }
    )
    mid1 = (ggis["start1"] + ggis["end1"]) // 2
    mid2 = (ggis["start2"] + ggis["end2"]) // 2
    ggis["distance"] = (mid1 - mid2).abs().astype(np.int64)
    ggis["origin"] = "published"
    ggis = ggis.drop_duplicates("ggi_id").sort_values("ggi_id").reset_index(drop=True)
    long = table.melt(id_vars=["ggi_id"], value_vars=groups, var_name="group")
    summary = pd.DataFrame(
        {
            "group": long["group"].astype(str),
            "ggi_id": long["ggi_id"].astype(np.int32),
            "n": pd.array([pd.NA] * len(long), dtype="Int32"),
            "mean": np.full(len(long), np.nan),
            "median": np.full(len(long), np.nan),
            "fraction": long["value"].astype(float),
            "source": "AI4Loop (published)",
        }
    ).drop_duplicates(["group", "ggi_id"])
    sets = table[["gene_set", "ggi_id"]].astype({"ggi_id": np.int32})
    return ggis, summary.sort_values(["ggi_id", "group"]).reset_index(drop=True), sets


def _pancancer_files() -> list[str]:
    from ai4loop_core.data import registry

    paths = registry()["path"]
    return sorted(p[len(PANCANCER) :] for p in paths if p.startswith(PANCANCER + "per-cancer/"))


def _rtcga(reg, cancer: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Firehose RSEM table -> (gene ids, samples x genes TPM-like values summing to 1e6)."""
    import rdata

    from ai4loop_core.genes import map_ids

    path = reg(f"tcga-rtcga/{cancer}.rnaseq.20160128.rda")
    frame = next(iter(rdata.read_rda(str(path)).values()))
    frame = frame.set_index("bcr_patient_barcode")
    mapped = map_ids(list(frame.columns))
    keep = mapped["gene_id"].notna().to_numpy()
    values = frame.loc[:, keep].to_numpy(dtype=np.float64)
    values = values / values.sum(axis=1, keepdims=True) * 1e6
    genes = mapped.loc[keep, ["gene_id"]].reset_index(drop=True)
    return genes, pd.DataFrame(values.T, columns=frame.index.astype(str))


def _anchors(ggis: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    a1 = ggis[["chrom", "start1", "end1"]].set_axis(["chrom", "start", "end"], axis=1)
    a2 = ggis[["chrom", "start2", "end2"]].set_axis(["chrom", "start", "end"], axis=1)
    codes, uniq = pd.MultiIndex.from_frame(pd.concat([a1, a2], ignore_index=True)).factorize()
    anchors = uniq.to_frame(index=False).set_axis(["chrom", "start", "end"], axis=1)
    n = len(ggis)
    return anchors, codes[:n].astype(np.int64), codes[n:].astype(np.int64)


def _fixture_catalog(ggis: pd.DataFrame, sets: pd.DataFrame, n_all: int = 150) -> pd.DataFrame:
    """A few hundred published GGIs: cancer-gained, healthy, ACC- and UVM-specific, and the
    first ``n_all`` present-everywhere ones."""
    wanted = sets[
        sets["gene_set"].isin(
            [
                "cancer gained (published)",
                "healthy (published)",
                "ACC specific (published)",
                "UVM specific (published)",
            ]
        )
    ]["ggi_id"]
    everywhere = sets[sets["gene_set"] == "all groups (published)"]["ggi_id"].head(n_all)
    ids = set(wanted) | set(everywhere)
    return ggis[ggis["ggi_id"].isin(ids)].reset_index(drop=True)


def build_expression_fixture(
    out: Path, *, ggis: pd.DataFrame, model: str = "upstream:K562", n_tumour: int = 12, reg=None
) -> Path:
    """Score ``ggis`` in real samples (see the module docstring) and write an expression atlas."""
    from ai4loop_core.data import ensure_file
    from ai4loop_core.genes import load_annotation
    from ai4loop_core.model import load_model
    from ai4loop_core.predict import predict_scores

    reg = reg or ensure_file
    ann = load_annotation().set_index("gene_id")
    net = load_model(model)
    anchors, left, right = _anchors(ggis)
    cohorts, blocks, meta = [], [], []

    encode_path = reg("ai4loop-upstream/data/allRNAseq.tsv")
    encode = pd.read_csv(encode_path, sep="\t")
    genes = encode.iloc[:, :4].set_axis(["chrom", "start", "end", "gene_id"], axis=1)
    values = encode.iloc[:, 4:].to_numpy(dtype=np.float64)
    names = list(encode.columns[4:])
    blocks.append((genes, values, names))
    meta += [(n, n, "cell_line", "ENCODE cell lines") for n in names]
    cohorts.append(
        {
            "name": "ENCODE cell lines",
            "path": str(encode_path),
            "format": "ai4loop-bed",
            "scale": "TPM as published",
        }
    )
    for cancer in ("CHOL", "ACC"):
        gene_ids, frame = _rtcga(reg, cancer)
        code = frame.columns.str.slice(13, 15)
        tumour = [c for c, k in zip(frame.columns, code, strict=True) if k == "01"][:n_tumour]
        normal = [c for c, k in zip(frame.columns, code, strict=True) if k == "11"][:n_tumour]
        frame = frame[tumour + normal]
        coords = ann.reindex(gene_ids["gene_id"])[["chrom", "start", "end"]].reset_index()
        ok = coords["chrom"].notna().to_numpy()
        blocks.append((coords[ok].reset_index(drop=True), frame.to_numpy()[ok], list(frame)))
        meta += [(s, cancer, "tumour", f"TCGA-{cancer}") for s in tumour]
        meta += [(s, f"{cancer} normal", "normal", f"TCGA-{cancer}") for s in normal]
        cohorts.append(
            {
                "name": f"TCGA-{cancer}",
                "path": str(reg(f"tcga-rtcga/{cancer}.rnaseq.20160128.rda")),
                "format": "rtcga-rsem",
                "scale": "RSEM normalised counts rescaled to sum 1e6",
            }
        )

    scores, expr_rows, anchor_expr = [], [], []
    g1 = ggis["gene_id1"].to_numpy()
    g2 = ggis["gene_id2"].to_numpy()
    wanted = sorted(set(g1) | set(g2))
    for genes, values, names in blocks:
        s = predict_scores(
            net,
            anchors=anchors,
            left=left,
            right=right,
            genes=genes,
            values=values,
            progress=False,
        )
        scores.append(s)
        frame = pd.DataFrame(values, index=genes["gene_id"].to_numpy(), columns=names)
        frame = frame[~frame.index.duplicated()].reindex(wanted)
        long = (
            frame.rename_axis("gene_id")
            .reset_index()
            .melt(id_vars="gene_id", var_name="sample_id", value_name="tpm")
        )
        expr_rows.append(long.dropna())
        anchor_expr.append((frame.reindex(g1).to_numpy() + frame.reindex(g2).to_numpy()) / 2)
    scores = np.concatenate(scores, axis=1)
    anchor_expr = np.nan_to_num(np.concatenate(anchor_expr, axis=1))
    samples = pd.DataFrame(meta, columns=["sample_id", "group", "tissue_type", "cohort"])
    samples["source"] = "built here"
    ids = ggis["ggi_id"].to_numpy()
    refs = {
        "CHOL": ("CHOL normal", ["CHOL normal"]),
        "ACC": ("pooled normals", ["CHOL normal"]),
    }
    expression = pd.concat(expr_rows, ignore_index=True)[["sample_id", "gene_id", "tpm"]]
    manifest = {
        "name": "tcga-fixture",
        "kind": "expression",
        "source": "built here",
        "synthetic": False,
        "model": {"name": model, "card": "AI4Loop (published) K562, random split"},
        "catalog": {"name": "published subset", "size": len(ggis)},
        "cohorts": cohorts,
        "command": "dashboard.fixtures.fixture_atlases (test fixture)",
        "note": "test fixture: real samples, few GGIs",
    }
    return write_atlas(
        out,
        manifest=manifest,
        tables={
            "samples": samples,
            "ggis": ggis[GGI_COLUMNS],
            "scores": long_scores(scores, samples["sample_id"].tolist(), ids),
            "group_summary": summarise(scores, samples, ids),
            "differential": differential(scores, samples, ids, references=refs),
            "sample_burden": sample_burden(scores, samples, anchor_expr),
            "expression": expression,
        },
    )


def build_published_fixture(out: Path, *, reg=None) -> Path:
    """The published pan-cancer summary as a ``summary`` atlas."""
    ggis, summary, sets = published_tables(reg)
    manifest = {
        "name": "published",
        "kind": "summary",
        "source": "AI4Loop (published)",
        "synthetic": False,
        "model": "AI4Loop (published)",
        "catalog": {"name": "published", "size": len(ggis)},
        "cohorts": [{"name": "AI4Loop pan-cancer tables", "path": PANCANCER}],
        "command": "dashboard.fixtures.fixture_atlases (test fixture)",
    }
    return write_atlas(
        out,
        manifest=manifest,
        tables={"ggis": ggis[GGI_COLUMNS], "group_summary": summary, "gene_sets": sets},
    )


# ---------------------------------------------------------------------------------------------
# Synthetic atlases


def build_synthetic_drug(
    out: Path,
    *,
    ggis: pd.DataFrame,
    gene_sets: pd.DataFrame,
    n_compounds: int = 8,
    seed: int = 0,
) -> Path:
    """A drug atlas of random signatures for made-up compounds (``synthetic: true``)."""
    from scipy.stats import false_discovery_control

    rng = np.random.default_rng(seed)
    compounds = [f"synthetic-compound-{i + 1:02d}" for i in range(n_compounds)]
    cells, doses, plate = ["CELL-A", "CELL-B"], [0.1, 1.0, 10.0], "SYN001"
    ids = ggis["ggi_id"].to_numpy()
    effect = rng.normal(0, 0.15, size=(n_compounds, len(ids)))
    rows, samples = [], []
    for c, name in enumerate(compounds):
        for cell in cells:
            for dose in doses:
                sig = f"{plate}:{cell}:{name}:{dose:g}"
                delta = effect[c] * np.log10(dose * 10) / 2 + rng.normal(0, 0.03, len(ids))
                rows.append(
                    pd.DataFrame(
                        {
                            "signature_id": sig,
                            "pert_iname": name,
                            "pert_dose": dose,
                            "pert_time": 24,
                            "cell_id": cell,
                            "plate": plate,
                            "ggi_id": ids,
                            "delta_score": delta,
                            "n_treated": 3,
                            "n_vehicle": 8,
                        }
                    )
                )
                samples += [
                    (f"{sig}:{k}", cell, "treated", name, dose, "uM", 24, "trt_cp")
                    for k in range(3)
                ]
    for cell in cells:
        samples += [
            (f"{plate}:{cell}:DMSO:{k}", cell, "vehicle", "DMSO", 0.0, "%", 24, "ctl_vehicle")
            for k in range(8)
        ]
    signatures = pd.concat(rows, ignore_index=True).astype({"ggi_id": np.int32})
    samples = pd.DataFrame(
        samples,
        columns=[
            "sample_id",
            "cell_id",
            "tissue_type",
            "pert_iname",
            "pert_dose",
            "pert_dose_unit",
            "pert_time",
            "pert_type",
        ],
    )
    samples.insert(1, "group", samples["cell_id"])
    samples["cohort"], samples["source"], samples["plate"] = "synthetic", "synthetic", plate
    ranking = []
    sets = gene_sets[gene_sets["ggi_id"].isin(ids)]
    by_compound = signatures.groupby(["pert_iname", "ggi_id"])["delta_score"].mean().unstack()
    for set_name, members in sets.groupby("gene_set")["ggi_id"]:
        mask = by_compound.columns.isin(members)
        if mask.sum() < 3:
            continue
        score = by_compound.loc[:, mask].mean(axis=1) - by_compound.loc[:, ~mask].mean(axis=1)
        null = np.array(
            [
                by_compound.loc[:, perm].mean(axis=1) - by_compound.loc[:, ~perm].mean(axis=1)
                for perm in (rng.permutation(mask) for _ in range(200))
            ]
        )
        p = ((np.abs(null) >= np.abs(score.to_numpy())).sum(axis=0) + 1) / (len(null) + 1)
        ranking.append(
            pd.DataFrame(
                {
                    "gene_set": set_name,
                    "pert_iname": score.index,
                    "cell_id": "all",
                    "pert_dose": "all",
                    "pert_time": "24 h",
                    "score": score.to_numpy(),
                    "p": p,
                    "q": false_discovery_control(p),
                    "n_ggis_in_set": int(mask.sum()),
                    "n_signatures": len(cells) * len(doses),
                }
            )
        )
    cat = ggis[GGI_COLUMNS].copy()
    cat["coverage1"] = rng.uniform(0.3, 1.0, len(cat))
    cat["coverage2"] = rng.uniform(0.3, 1.0, len(cat))
    manifest = {
        "name": "lincs-synthetic",
        "kind": "drug",
        "source": "built here",
        "synthetic": True,
        "model": "none (random signatures)",
        "catalog": {"name": "published subset", "size": len(ggis)},
        "coverage_threshold": 0.3,
        "cohorts": [],
        "command": "dashboard.fixtures.build_synthetic_drug",
        "note": "SYNTHETIC: random signatures of made-up compounds, for layout tests only",
    }
    return write_atlas(
        out,
        manifest=manifest,
        tables={
            "samples": samples,
            "ggis": cat,
            "signatures": signatures,
            "drug_ranking": pd.concat(ranking, ignore_index=True),
            "gene_sets": sets.reset_index(drop=True),
        },
    )


def fixture_atlases(root: Path, *, reg=None) -> Path:
    """The three test atlases under ``root`` (built once; rebuilt when the version changes)."""
    root = Path(root)
    stamp = root / "FIXTURE_VERSION"
    if stamp.exists() and stamp.read_text().strip() == FIXTURE_VERSION:
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    ggis, _, sets = published_tables(reg)
    build_published_fixture(root / "published", reg=reg)
    catalog = _fixture_catalog(ggis, sets)
    build_expression_fixture(root / "tcga-fixture", ggis=catalog, reg=reg)
    build_synthetic_drug(root / "lincs-synthetic", ggis=catalog, gene_sets=sets)
    stamp.write_text(FIXTURE_VERSION + "\n")
    return root


def _synthetic_ggis(n: int, rng: np.random.Generator, genes: pd.DataFrame | None) -> pd.DataFrame:
    """``n`` gene pairs 5 kb - 2 Mb apart: real genes when an annotation is given."""
    if genes is None or genes.empty:
        chrom = rng.choice([f"chr{i}" for i in range(1, 23)], n)
        s1 = rng.integers(1_000_000, 200_000_000, n)
        s2 = s1 + rng.integers(5_000, 2_000_000, n)
        g = pd.DataFrame(
            {"chrom": chrom, "start1": s1, "end1": s1 + 20_000, "start2": s2, "end2": s2 + 20_000}
        )
        g["gene_id1"] = [f"SYNG{i:09d}A" for i in range(n)]
        g["gene_id2"] = [f"SYNG{i:09d}B" for i in range(n)]
        g["symbol1"], g["symbol2"] = g["gene_id1"], g["gene_id2"]
    else:
        genes = genes.dropna(subset=["chrom"]).sort_values(["chrom", "start"])
        genes = genes.reset_index(drop=True)
        i = rng.integers(0, len(genes) - 40, n * 2)
        j = i + rng.integers(1, 40, n * 2)
        same = genes["chrom"].to_numpy()[i] == genes["chrom"].to_numpy()[j]
        i, j = i[same][:n], j[same][:n]
        a, b = genes.iloc[i].reset_index(drop=True), genes.iloc[j].reset_index(drop=True)
        g = pd.DataFrame(
            {
                "gene_id1": a["gene_id"],
                "symbol1": a["symbol"].fillna(a["gene_id"]),
                "gene_id2": b["gene_id"],
                "symbol2": b["symbol"].fillna(b["gene_id"]),
                "chrom": a["chrom"],
                "start1": a["start"],
                "end1": a["end"],
                "start2": b["start"],
                "end2": b["end"],
            }
        )
    g["ggi_id"] = np.arange(len(g), dtype=np.int32)
    mid1 = (g["start1"] + g["end1"]) // 2
    mid2 = (g["start2"] + g["end2"]) // 2
    g["distance"] = (mid1 - mid2).abs().astype(np.int64)
    g["origin"] = "synthetic"
    return g[GGI_COLUMNS]


def build_synthetic_expression(
    out: Path,
    *,
    n_samples: int = 12_000,
    n_ggis: int = 50_000,
    n_tumour_types: int = 32,
    n_normal_groups: int = 8,
    block: int = 500,
    ggis_per_row_group: int = 100,
    seed: int = 0,
    genes: pd.DataFrame | None = None,
    progress=None,
) -> Path:
    """A scale-benchmark expression atlas with random scores (``synthetic: true``).

    Scores are ``uint8`` (``round(score * 255)``), written GGI block by block in ``ggi_id`` order
    (row groups of ``ggis_per_row_group`` GGIs), so one GGI across all samples reads one row
    group. Summaries are computed block by block from the same scores.
    """
    from scipy.stats import false_discovery_control, mannwhitneyu

    rng = np.random.default_rng(seed)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n_groups = n_tumour_types + n_normal_groups
    tumours = [f"SYN-T{i + 1:02d}" for i in range(n_tumour_types)]
    normals = [f"SYN-N{i + 1:02d}" for i in range(n_normal_groups)]
    group_of = np.sort(rng.integers(0, n_groups, n_samples))
    names = np.array(tumours + normals)
    samples = pd.DataFrame(
        {
            "sample_id": [f"SYN-{i:06d}" for i in range(n_samples)],
            "group": names[group_of],
            "tissue_type": np.where(group_of < n_tumour_types, "tumour", "normal"),
            "cohort": "synthetic",
            "source": "synthetic",
        }
    )
    ggis = _synthetic_ggis(n_ggis, rng, genes)
    n_ggis = len(ggis)
    ggis.to_parquet(tmp / "ggis.parquet", compression="zstd", index=False)
    samples.to_parquet(tmp / "samples.parquet", compression="zstd", index=False)
    sample_dict = pa.array(samples["sample_id"])
    idx = pa.array(np.arange(n_samples, dtype=np.int32))
    ref_of = {t: normals[i % n_normal_groups] for i, t in enumerate(tumours)}
    bounds = np.searchsorted(group_of, np.arange(n_groups + 1))
    writers = {}

    def write(name: str, table: pa.Table, row_group: int | None = None) -> None:
        if name not in writers:
            writers[name] = pq.ParquetWriter(
                tmp / f"{name}.parquet", table.schema, compression="zstd"
            )
        writers[name].write_table(table, row_group_size=row_group)

    n_hit = np.zeros(n_samples, dtype=np.int64)
    total = np.zeros(n_samples, dtype=np.float64)
    for lo in range(0, n_ggis, block):
        ids = ggis["ggi_id"].to_numpy()[lo : lo + block]
        k = len(ids)
        base = rng.beta(0.6, 0.6, size=(k, n_groups)).astype(np.float32)
        x = base[:, group_of] + rng.normal(0, 0.2, size=(k, n_samples)).astype(np.float32)
        q8 = np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)
        table = pa.table(
            {
                "sample_id": pa.DictionaryArray.from_arrays(pa.array(np.tile(idx, k)), sample_dict),
                "ggi_id": pa.array(np.repeat(ids.astype(np.int32), n_samples)),
                "score": pa.array(q8.ravel()),
            }
        )
        write("scores", table, row_group=ggis_per_row_group * n_samples)
        score = q8.astype(np.float32) / 255
        hit = score >= 0.5
        n_hit += hit.sum(axis=0)
        total += score.sum(axis=0)
        summ, diff = [], []
        for gi in range(n_groups):
            s = score[:, bounds[gi] : bounds[gi + 1]]
            summ.append(
                pd.DataFrame(
                    {
                        "group": names[gi],
                        "ggi_id": ids,
                        "n": np.int32(s.shape[1]),
                        "mean": s.mean(axis=1),
                        "median": np.median(s, axis=1),
                        "fraction": (s >= 0.5).mean(axis=1),
                        "source": "synthetic",
                    }
                )
            )
        for gi, t in enumerate(tumours):
            ri = n_tumour_types + normals.index(ref_of[t])
            x1 = score[:, bounds[gi] : bounds[gi + 1]]
            y1 = score[:, bounds[ri] : bounds[ri + 1]]
            p = mannwhitneyu(x1, y1, axis=1, method="asymptotic").pvalue
            p = np.where(np.isfinite(p), p, 1.0)
            fx, fy = (x1 >= 0.5).mean(axis=1), (y1 >= 0.5).mean(axis=1)
            mx, my = x1.mean(axis=1), y1.mean(axis=1)
            diff.append(
                pd.DataFrame(
                    {
                        "group": t,
                        "reference": ref_of[t],
                        "ggi_id": ids,
                        "fraction_group": fx,
                        "fraction_reference": fy,
                        "delta_fraction": fx - fy,
                        "mean_group": mx,
                        "mean_reference": my,
                        "delta_mean": mx - my,
                        "p": p,
                    }
                )
            )
        write("group_summary", pa.Table.from_pandas(pd.concat(summ), preserve_index=False))
        write("differential", pa.Table.from_pandas(pd.concat(diff), preserve_index=False))
        if progress is not None:
            progress(min(lo + block, n_ggis), n_ggis)
    for w in writers.values():
        w.close()
    # q: BH within group over all GGIs (needs every p first)
    diff = pq.read_table(tmp / "differential.parquet").to_pandas()
    diff["q"] = diff.groupby("group")["p"].transform(lambda p: false_discovery_control(p))
    diff = diff.sort_values(["group", "ggi_id"])  # row groups of 50,000: a group reads few
    pq.write_table(
        pa.Table.from_pandas(diff, preserve_index=False),
        tmp / "differential.parquet",
        compression="zstd",
        row_group_size=50_000,
    )
    burden = pd.DataFrame(
        {
            "sample_id": samples["sample_id"],
            "group": samples["group"],
            "n_ggi": n_hit.astype(np.int32),
            "mean_score": total / n_ggis,
            "expression_correlation": rng.normal(0.3, 0.1, n_samples),
        }
    )
    burden.to_parquet(tmp / "sample_burden.parquet", compression="zstd", index=False)
    manifest = {
        "name": out.name,
        "kind": "expression",
        "source": "built here",
        "synthetic": True,
        "model": "none (random scores)",
        "catalog": {"name": "synthetic", "size": n_ggis},
        "cohorts": [],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": f"bench/dashboard_queries.py (n_samples={n_samples}, n_ggis={n_ggis})",
        "score_encoding": "uint8 = round(score * 255)",
        "tables": {
            "samples": n_samples,
            "ggis": n_ggis,
            "scores": n_samples * n_ggis,
            "group_summary": n_groups * n_ggis,
            "differential": n_tumour_types * n_ggis,
            "sample_burden": n_samples,
        },  # fmt: skip
        "note": "SYNTHETIC: random scores for the scale benchmark; not biology",
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def fixture_models(
    out: Path,
    *,
    models: tuple[str, ...] = ("upstream:K562", "upstream:GM12878"),
    datasets: tuple[str, ...] = ("K562", "GM12878"),
) -> Path:
    """Real evaluations of the published models (JSON + ROC/PR curves) for the Models page:
    each model on the chromosome-split test set of each dataset."""
    from ai4loop_core.evaluate import evaluate_model

    out = Path(out)
    stamp = out / "FIXTURE_VERSION"
    if stamp.exists() and stamp.read_text().strip() == FIXTURE_VERSION:
        return out
    out.mkdir(parents=True, exist_ok=True)
    for model in models:
        for dataset in datasets:
            stem = f"{model.replace(':', '-')}_on_{dataset}"
            evaluate_model(model=model, dataset=dataset, json_out=out / f"{stem}.json")
    stamp.write_text(FIXTURE_VERSION + "\n")
    return out


def atlas_code_hash() -> str:
    """The version of the atlas code a demo build is reused for: the git tree of ``atlas/`` at
    HEAD in a git checkout (work in progress does not force rebuilds), else a sha256 of its
    source."""
    import hashlib
    import subprocess

    import atlas

    here = Path(atlas.__file__).parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD:atlas"],
            cwd=here.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return "git:" + done.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    digest = hashlib.sha256()
    for path in sorted(here.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def demo_atlases(root: Path) -> Path | None:
    """The demo atlases (``ai4loop atlas build-demo``) under ``root``, built once per version of
    the atlas code; ``None`` when this checkout has no ``atlas.demo``."""
    import importlib.util

    if importlib.util.find_spec("atlas.demo") is None:
        return None
    from atlas.demo import build_demo

    root = Path(root)
    stamp = root / "ATLAS_CODE_SHA256"
    key = atlas_code_hash()
    if stamp.exists() and stamp.read_text().strip() == key:
        return root
    build_demo(out=root, progress=False)
    stamp.write_text(key + "\n")
    return root


def atlases_for_tests(cache: Path, *, demo: bool = False) -> tuple[Path, Path]:
    """``(atlas root, models dir)`` for the dashboard's tests, built once under ``cache``: the
    demo atlases when ``demo`` and the checkout can build them, else the small fixture."""
    cache = Path(cache)
    models = fixture_models(cache / "models")
    if demo:
        root = demo_atlases(cache / "demo")
        if root is not None:
            return root, models
        print("atlas.demo is not in this checkout: dashboard tests use the fixture atlases")
    return fixture_atlases(cache / "atlases"), models
