"""``ai4loop atlas build-demo``: the embedded default atlases, from real reference data only.

Builds under ``out`` (default ``atlases/``), on 2 cores in about 10 minutes:

``tcga-demo``
    One expression atlas: every TCGA tumour of ``tcga-rnasum`` (ACC, CHOL, DLBC, KICH, UCS, UVM
    and the 20 PAAD samples of RNAsum's TEST set; HTSeq counts -> TPM by gene-body length), the
    normals (the 9 TCGA CHOL normals of ``tcga-rtcga``, matched to the CHOL tumours; GTEx skin and
    bladder; the 61 HPA consensus tissue profiles), the 7 ENCODE cell lines and the 2 AML samples
    of the AI4Loop example; model ``upstream:K562`` (:data:`DEMO_MODEL`), catalog ``published``
    (the published GGIs, so the demo's scores and the published fractions cover the same pairs
    and the build fits the time budget). Normals in the same atlas give ``differential`` its
    references (CHOL vs its matched normals, every other type vs the pooled normals). Caveat:
    the CHOL normals are RSEM counts (Firehose), the CHOL tumours HTSeq counts (GDC).
``published``
    The published AI4Loop pan-cancer summary (:func:`atlas.published.import_published`).
``lincs-demo``
    The drug atlas from the L1000 plate in ``lincs/`` (:func:`atlas.drugs.build_drug_atlas`),
    with its coverage caveat: L1000 measures 978 genes, so most anchor windows hold no measured
    gene and only well-covered GGIs are kept.

A part whose module is missing is skipped with a logged message, never silently.
"""

from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path

from atlas.build import build_atlas

__all__ = ["DEMO_COHORTS", "DEMO_MODEL", "build_demo"]

log = logging.getLogger(__name__)
DEMO_MODEL = "upstream:K562"
DEMO_CATALOG = "published"
DEMO_COHORTS = [
    *(f"tcga-rnasum:{t}" for t in ("ACC", "CHOL", "DLBC", "KICH", "UCS", "UVM", "PAAD")),
    "tcga-rtcga:CHOL,only=normal",
    "gtex-yarn:skin",
    "gtex-yarn:bladder",
    "hpa:tissue",
    "encode:",
    "ai4loop-bed:aml-example",
]


DEMO_CAVEATS = [
    "Read counts (TCGA HTSeq and RSEM, GTEx) were converted to TPM by gene-body length, since "
    "exonic lengths are not in the reference data; see bench/RESULTS.md (Counts to TPM).",
    "HPA tissues are consensus nTPM profiles (one aggregate per tissue, another normalisation "
    "with lower totals than TPM from counts): they score lower than per-sample data, and they "
    "are part of the pooled normals that tumour types without matched normals are compared to.",
    "The CHOL normals (Firehose RSEM counts) and CHOL tumours (GDC HTSeq counts) come from "
    "different pipelines.",
]


def _optional(module: str, attr: str):
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        log.warning("build-demo: skipping %s.%s (%s)", module, attr, exc)
        print(f"build-demo: SKIPPED {module}.{attr}: not available ({exc})", flush=True)
        return None


def build_demo(
    *, out: Path | str = Path("atlases"), workers: int = 0, progress: bool = True
) -> dict[str, float]:
    """Build the demo atlases (module docstring) into ``out``; returns seconds per atlas.

    Reruns resume: finished score shards are kept (see :mod:`atlas.build`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    start = time.monotonic()
    build_atlas(
        cohorts=DEMO_COHORTS, catalog=DEMO_CATALOG, model=DEMO_MODEL, out=out / "tcga-demo",
        name="tcga-demo", workers=workers, progress=progress, caveats=DEMO_CAVEATS,
    )  # fmt: skip
    timings["tcga-demo"] = time.monotonic() - start

    import_published = _optional("atlas.published", "import_published")
    if import_published is not None:
        t = time.monotonic()
        import_published(out=out / "published")
        timings["published"] = time.monotonic() - t

    build_drug_atlas = _optional("atlas.drugs", "build_drug_atlas")
    if build_drug_atlas is not None:
        t = time.monotonic()
        build_drug_atlas(out / "lincs-demo", model=DEMO_MODEL, progress=progress)
        timings["lincs-demo"] = time.monotonic() - t
    timings["total"] = time.monotonic() - start
    summary = ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
    print(f"build-demo: {summary} -> {out}", flush=True)
    return timings
