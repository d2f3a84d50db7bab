"""Write ``ai4loop_core/registry.tsv`` from a mirror's ``*/SOURCES.tsv`` and the Debian entries.

Usage: ``python scripts/make_registry.py [MIRROR]`` (default ``../shared/data``). Each mirror file
is hashed and must match its SOURCES.tsv line. The Debian package entries below are downloaded
with ``apt-get download`` (needs apt) to record the package's and the extracted file's sha256.
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "ai4loop_core" / "registry.tsv"
COLUMNS = [
    "path",
    "kind",
    "upstream_repo",
    "upstream_commit",
    "upstream_path",
    "licence",
    "sha256",
    "size",
    "url",
    "archive_sha256",
]
# (path in the data dir, package, version, file inside the package, licence)
DEB_ENTRIES = [
    (
        "org.Hs.eg.db/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite",
        "r-bioc-org.hs.eg.db",
        "3.16.0-1",
        "usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite",
        "Artistic-2.0 (Bioconductor org.Hs.eg.db; NCBI Entrez Gene, Ensembl data)",
    ),
]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def github_rows(mirror: Path) -> list[dict[str, str]]:
    rows = []
    for sources in sorted(mirror.glob("*/SOURCES.tsv")):
        folder = sources.parent.name
        with open(sources, newline="") as handle:
            for line in csv.DictReader(handle, delimiter="\t"):
                local = sources.parent / line["file"]
                actual = sha256(local)
                if actual != line["sha256"]:
                    sys.exit(f"{local}: sha256 {actual} differs from {sources}: {line['sha256']}")
                quoted = urllib.parse.quote(line["upstream_path"], safe="/")
                rows.append(
                    {
                        "path": f"{folder}/{line['file']}",
                        "kind": "github",
                        "upstream_repo": line["upstream_repo"],
                        "upstream_commit": line["upstream_commit"],
                        "upstream_path": line["upstream_path"],
                        "licence": line["licence"],
                        "sha256": line["sha256"],
                        "size": str(local.stat().st_size),
                        "url": "https://raw.githubusercontent.com/"
                        f"{line['upstream_repo']}/{line['upstream_commit']}/{quoted}",
                        "archive_sha256": "",
                    }
                )
    return rows


def deb_rows() -> list[dict[str, str]]:
    rows = []
    for path, package, version, inner, licence in DEB_ENTRIES:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=work, check=True)
            (deb,) = work.glob("*.deb")
            subprocess.run(["dpkg", "-x", str(deb), str(work / "x")], check=True)
            member = work / "x" / inner
            rows.append(
                {
                    "path": path,
                    "kind": "deb",
                    "upstream_repo": package,
                    "upstream_commit": version,
                    "upstream_path": inner,
                    "licence": licence,
                    "sha256": sha256(member),
                    "size": str(member.stat().st_size),
                    "url": f"deb:{package}={version}",
                    "archive_sha256": sha256(deb),
                }
            )
            shutil.rmtree(work / "x")
    return rows


def main() -> None:
    mirror = Path(sys.argv[1] if len(sys.argv) > 1 else REPO.parent / "shared" / "data")
    rows = github_rows(mirror) + deb_rows()
    with open(OUT, "w", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} entries to {OUT}")


if __name__ == "__main__":
    main()
