"""Dashboard query speed: p95 of every page query on a large synthetic atlas and on real ones.

    python bench/dashboard_queries.py                      # 12,000 samples x 50,000 GGIs
    python bench/dashboard_queries.py --samples 2000 --ggis 5000 --out /tmp/small
    python bench/dashboard_queries.py --atlas atlases      # also the demo atlases

The synthetic atlas (``synthetic: true``: random scores, not biology) is built once under
``--out`` (default ``build/bench-atlas``; kept between runs, ``--rebuild`` to redo it), with real
gene coordinates from the annotation when the reference data are there. Goal: p95 < 500 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("AI4LOOP_DATA_DIR", str(REPO / "data"))

from dashboard.fixtures import build_synthetic_expression  # noqa: E402
from dashboard.query import AtlasStore, page_queries, time_queries  # noqa: E402

GOAL_S = 0.5


def _annotation():
    try:
        from ai4loop_core.genes import load_annotation

        return load_annotation()
    except Exception as err:  # no reference data: synthetic coordinates
        print(f"annotation unavailable ({err}); synthetic gene coordinates", file=sys.stderr)
        return None


def _report(title: str, timings) -> dict:
    print(f"\n{title}")
    for r in timings.itertuples():
        flag = "" if r.p95_s < GOAL_S else "  <-- over the goal"
        print(
            f"  {r.query:<36} p95 {r.p95_s * 1000:8.1f} ms   median {r.median_s * 1000:8.1f} ms"
            f"{flag}"
        )
    worst = float(timings["p95_s"].max())
    print(f"  worst p95 {worst * 1000:.1f} ms (goal < {GOAL_S * 1000:.0f} ms)")
    return {"worst_p95_s": worst, "queries": timings.to_dict(orient="records")}


def main(argv: list[str] | None = None) -> int:
    """Build the synthetic atlas if needed, time the page queries, print (and save) the p95."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=12_000)
    ap.add_argument("--ggis", type=int, default=50_000)
    ap.add_argument("--out", type=Path, default=REPO / "build" / "bench-atlas")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument(
        "--atlas",
        type=Path,
        action="append",
        default=[],
        help="also time every atlas under this directory (repeatable)",
    )
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", type=Path, help="write the timings here")
    args = ap.parse_args(argv)

    results = {}
    manifest = args.out / "manifest.json"
    fresh = (
        manifest.exists()
        and json.loads(manifest.read_text()).get("tables", {}).get("scores")
        == args.samples * args.ggis
    )
    if args.rebuild or not fresh:
        t = time.monotonic()
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if time.monotonic() - last[0] > 10 or done == total:
                last[0] = time.monotonic()
                print(
                    f"  built {done:,}/{total:,} GGIs ({time.monotonic() - t:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )

        build_synthetic_expression(
            args.out,
            n_samples=args.samples,
            n_ggis=args.ggis,
            genes=_annotation(),
            progress=progress,
        )
        results["build_s"] = time.monotonic() - t
        print(f"built {args.out} in {results['build_s']:.0f} s", file=sys.stderr)
    store = AtlasStore([args.out])
    name = store.names()[0]
    size = sum(p.stat().st_size for p in args.out.glob("*.parquet"))
    title = (
        f"SYNTHETIC atlas {name}: {args.samples:,} samples x {args.ggis:,} GGIs "
        f"({size / 1e9:.2f} GB of Parquet), {args.repeats} runs per query"
    )
    results["synthetic"] = _report(
        title, time_queries(page_queries(store, name), repeats=args.repeats)
    )
    for root in args.atlas:
        real = AtlasStore([root])
        for name in real.names():
            timings = time_queries(page_queries(real, name), repeats=args.repeats)
            results[name] = _report(f"atlas {name} ({root})", timings)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    worst = max(r["worst_p95_s"] for r in results.values() if isinstance(r, dict))
    return 0 if worst < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
