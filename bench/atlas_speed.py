"""Atlas build throughput and score-table access (issue section 7).

Builds an atlas of real TCGA tumours (tcga-rnasum; ACC, UVM, KICH by default: 224 samples) for
a catalog, on CPU, in this process (``--workers 0``) or on a Dask LocalCluster (``--workers N``),
then measures:

* build time, samples/s, pair-scores/s and anchor encodings/s (scoring only: cohorts, catalog
  and model are loaded before the clock starts; summary tables are included);
* bytes per stored score (``scores/*.parquet`` bytes / number of scores);
* the time to read one GGI across all samples and one sample across all GGIs from ``scores/``
  (pyarrow dataset with a filter, and DuckDB), median of 5 reads of random ids.

Run: ``python bench/atlas_speed.py --catalog default --workers 2`` (see ``--help``); prints one
Markdown row per run and appends a JSON line to ``--log``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.dataset as ds

from atlas.build import _load_inputs, build_atlas


def read_times(atlas: Path, *, repeats: int = 5, seed: int = 0) -> dict[str, float]:
    """Median seconds to read one GGI (all samples) and one sample (all GGIs)."""
    import duckdb
    import pandas as pd

    rng = np.random.default_rng(seed)
    samples = pd.read_parquet(atlas / "samples.parquet")["sample_id"].to_numpy()
    ggis = pd.read_parquet(atlas / "ggis.parquet")["ggi_id"].to_numpy()
    scores = ds.dataset(atlas / "scores", format="parquet")
    out: dict[str, list[float]] = {k: [] for k in ("ggi_arrow", "sample_arrow", "ggi_duckdb",
                                                   "sample_duckdb")}  # fmt: skip
    con = duckdb.connect()
    glob = str(atlas / "scores" / "*.parquet")
    n_rows = {}
    for _ in range(repeats):
        g, s = int(rng.choice(ggis)), str(rng.choice(samples))
        t = time.perf_counter()
        a = scores.to_table(filter=ds.field("ggi_id") == g)
        out["ggi_arrow"].append(time.perf_counter() - t)
        t = time.perf_counter()
        b = scores.to_table(filter=ds.field("sample_id") == s)
        out["sample_arrow"].append(time.perf_counter() - t)
        t = time.perf_counter()
        con.execute(f"SELECT * FROM read_parquet('{glob}') WHERE ggi_id = ?", [g]).fetchall()
        out["ggi_duckdb"].append(time.perf_counter() - t)
        t = time.perf_counter()
        con.execute(f"SELECT * FROM read_parquet('{glob}') WHERE sample_id = ?", [s]).fetchall()
        out["sample_duckdb"].append(time.perf_counter() - t)
        n_rows = {"ggi_rows": a.num_rows, "sample_rows": b.num_rows}
    return {**{k: float(np.median(v)) for k, v in out.items()}, **n_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--types", default="ACC,UVM,KICH")
    parser.add_argument("--per-type", type=int, default=0, help="samples per type (0 = all)")
    parser.add_argument("--catalog", default="default")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--chunk-samples", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("/tmp/atlas-bench"))
    parser.add_argument("--log", type=Path, default=Path("bench/atlas_speed.jsonl"))
    parser.add_argument("--keep", action="store_true", help="keep the atlas directory")
    args = parser.parse_args()

    from atlas.cohorts import load_cohort

    cohorts = []
    for code in args.types.split(","):
        c = load_cohort(f"tcga-rnasum:{code}")
        if args.per_type:
            keep = c.expression.samples[: args.per_type]
            rows = c.samples.iloc[: args.per_type].reset_index(drop=True)
            c = type(c)(c.name, c.expression.subset(keep), rows, c.inputs)
        cohorts.append(c)
    loaded, cat, _ = _load_inputs(cohorts, args.catalog, model_name="upstream:K562")
    anchors, _, _ = cat.anchors()
    n_samples = sum(len(c) for c in loaded)
    out = args.out / f"{args.catalog}-w{args.workers}"
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    manifest = build_atlas(
        cohorts=loaded, catalog=cat, out=out, workers=args.workers,
        chunk_samples=args.chunk_samples, progress=False,
    )  # fmt: skip
    wall = time.perf_counter() - t
    n_scores = manifest["tables"]["scores"]
    size = sum(p.stat().st_size for p in (out / "scores").glob("*.parquet"))
    reads = read_times(out)
    row = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()} {platform.node()}",
        "cpus": len(__import__("os").sched_getaffinity(0)),
        "command": (
            f"python bench/atlas_speed.py --types {args.types} --per-type {args.per_type} "
            f"--catalog {args.catalog} --workers {args.workers} "
            f"--chunk-samples {args.chunk_samples}"
        ),
        "catalog": args.catalog,
        "ggis": len(cat),
        "anchors": len(anchors),
        "samples": n_samples,
        "workers": args.workers,
        "seconds": round(wall, 1),
        "samples_per_s": round(n_samples / wall, 3),
        "pair_scores_per_s": round(n_scores / wall),
        "anchor_encodings_per_s": round(len(anchors) * n_samples / wall),
        "bytes_per_score": round(size / n_scores, 3),
        **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in reads.items()},
    }
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(
        f"| {row['catalog']} | {row['ggis']:,} | {row['anchors']:,} | {n_samples} | "
        f"{args.workers} | {row['seconds']} | {row['samples_per_s']} | "
        f"{row['pair_scores_per_s']:,} | {row['anchor_encodings_per_s']:,} | "
        f"{row['bytes_per_score']} | {reads['ggi_arrow'] * 1e3:.0f} / "
        f"{reads['ggi_duckdb'] * 1e3:.0f} | {reads['sample_arrow'] * 1e3:.0f} / "
        f"{reads['sample_duckdb'] * 1e3:.0f} |"
    )
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
