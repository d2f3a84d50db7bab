"""``ai4loop preprocess``: Hi-C loops to a labelled, distance-matched gene-pair set."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--loops", type=click.Path(path_type=Path), required=True, help="Loop BEDPE (.gz allowed)."
)
@click.option(
    "--genes",
    default="default",
    show_default=True,
    help="'default' (the project's hg19 gene annotation) or a gene BED (4th column = name).",
)
@click.option("--name", required=True, help="Output prefix (NAME_pairs.csv, NAME_report.json...).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output directory.")
@click.option(
    "--ctcf",
    type=click.Path(path_type=Path),
    multiple=True,
    help="CTCF peaks: BED/narrowPeak, a per-chromosome start/end list, or a directory of them "
    "(repeatable). Adds CTCF-pair negatives.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
@click.option(
    "--gene-site",
    type=click.Choice(["start", "body"]),
    default="start",
    show_default=True,
    help="A gene is at an anchor when its start base (AI4Loop's rule) or its body overlaps it.",
)
@click.option(
    "--negative-regions",
    type=click.Choice(["genes", "genome"]),
    default="genes",
    show_default=True,
    help="Random negative anchors from CTCF peaks and gene sites on the loops' bin grid (genes), "
    "or from anywhere on the chromosome, off the grid, like AI4Loop's published sets (genome: "
    "gene-poor negatives, an easier benchmark; no --ctcf).",
)
@click.option(
    "--negatives-per-positive", "fold", type=int, default=5, show_default=True, help="Fold."
)
def preprocess(
    loops: Path,
    genes: str,
    name: str,
    out: Path,
    ctcf: tuple[Path, ...],
    seed: int,
    gene_site: str,
    negative_regions: str,
    fold: int,
) -> None:
    """Build positives (loops joining two genes) and distance-matched negatives from LOOPS."""
    from preprocess import preprocess as run

    report = run(
        loops,
        name=name,
        out_dir=out,
        genes=genes,
        ctcf=list(ctcf),
        seed=seed,
        gene_site=gene_site,
        negative_regions=negative_regions,
        fold=fold,
    )
    counts = report["counts"]
    click.echo(
        f"{name}: {counts['positives']} positives, {counts['negatives']['total']} negatives "
        f"(KS p = {report['distance']['ks_pvalue']:.3g}) -> {report['outputs']['csv']}",
        err=True,
    )
