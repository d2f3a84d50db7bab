"""``ai4loop data``: list the registry, fetch its files (thin over :mod:`ai4loop_core.data`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

_DATA_DIR = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory [default: $AI4LOOP_DATA_DIR or ./data].",
)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


@click.group()
def data() -> None:
    """Reference data: the registry of files, and fetching them into the data directory."""


@data.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records instead of a table.")
@_DATA_DIR
def list_(as_json: bool, data_dir: Path | None) -> None:
    """List registry files: path, licence, source, size, and whether present (and right)."""
    from ai4loop_core.data import list_files

    table = list_files(data_dir=data_dir)
    if as_json:
        click.echo(json.dumps(table.to_dict(orient="records"), indent=1))
        return
    rows = [
        (
            row.path,
            row.licence,
            row.source,
            _size(row.size),
            ("yes" if row.verified else "bad sha256") if row.present else "no",
        )
        for row in table.itertuples()
    ]
    header = ("path", "licence", "source", "size", "present")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=True)]
        cells[3] = r[3].rjust(widths[3])  # sizes right-aligned
        click.echo("  ".join(cells).rstrip())


@data.command("fetch")
@click.option(
    "--mirror",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Local copy of the data to copy from [default: $AI4LOOP_DATA_MIRROR; else download].",
)
@click.option("--only", multiple=True, metavar="GLOB", help="Only paths matching GLOB (repeat).")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@_DATA_DIR
def fetch(mirror: Path | None, only: tuple[str, ...], quiet: bool, data_dir: Path | None) -> None:
    """Fetch registry files (sha256 checked); files already present and right are kept."""
    from ai4loop_core.data import fetch as fetch_files

    fetch_files(mirror=mirror, data_dir=data_dir, only=list(only) or None, progress=not quiet)
