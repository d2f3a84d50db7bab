"""``ai4loop atlas``: build GGI atlases from cohorts, import the published one, build the demo."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def atlas() -> None:
    """Build and import GGI atlases (Parquet tables, see docs/atlas-schema.md)."""


@atlas.command("build")
@click.option(
    "--cohort",
    "cohorts",
    multiple=True,
    required=True,
    help="Cohort spec FORMAT:PATH[,KEY=VALUE...] (repeatable), e.g. tcga-rnasum:ACC, "
    "gtex-yarn:skin, hpa:tissue, encode:, matrix:expr.tsv,samples=s.tsv,group=type "
    "(see atlas/cohorts.py).",
)
@click.option(
    "--catalog",
    default="default",
    show_default=True,
    help="default|published|expressed|all-pairs|PATH (docs/atlas-schema.md)",
)
@click.option("--all-pairs", is_flag=True, help="Score every annotated gene pair 5 kb-2 Mb.")
@click.option("--model", default="upstream:K562", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--name", help="Atlas name (default: the out directory's name).")
@click.option("--workers", type=int, default=0, help="Run on a local Dask cluster of N workers.")
@click.option("--scheduler", help="Address of an existing Dask scheduler.")
@click.option("--chunk-samples", type=int, default=32, show_default=True)
def build(
    cohorts: tuple[str, ...],
    catalog: str,
    all_pairs: bool,
    model: str,
    out: Path,
    name: str | None,
    workers: int,
    scheduler: str | None,
    chunk_samples: int,
) -> None:
    """Score a catalog of GGIs in every sample of the cohorts and write the atlas tables."""
    from atlas.build import build_atlas

    build_atlas(
        cohorts=list(cohorts),
        catalog="all-pairs" if all_pairs else catalog,
        model=model,
        out=out,
        name=name,
        workers=workers,
        scheduler=scheduler,
        chunk_samples=chunk_samples,
    )


@atlas.command("import-published")
@click.option("--out", type=click.Path(path_type=Path), required=True)
def import_published_cmd(out: Path) -> None:
    """Turn the published AI4Loop pan-cancer summary into an atlas (group_summary schema)."""
    from atlas.published import import_published

    import_published(out=out)


@atlas.command("build-demo")
@click.option("--out", type=click.Path(path_type=Path), default=Path("atlases"), show_default=True)
@click.option("--workers", type=int, default=0)
def build_demo_cmd(out: Path, workers: int) -> None:
    """Build every demo atlas from the real reference data (<= 10 minutes on 2 cores)."""
    from atlas.demo import build_demo

    build_demo(out=out, workers=workers)
