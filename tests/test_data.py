"""The data registry: pinned files, fetched from a mirror or a download, sha256 checked."""

from __future__ import annotations

import io
import json
import os
import urllib.parse
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from ai4loop_core import data
from ai4loop_core.cli import cli
from ai4loop_core.errors import BadInputError

SMALL = "genome-hg19/hg19.len"
ORGDB = "org.Hs.eg.db/usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite"


@pytest.fixture(scope="module")
def mirror() -> Path:
    value = os.environ.get("AI4LOOP_DATA_MIRROR")
    if not value or not Path(value).is_dir():
        pytest.skip("needs the data mirror (AI4LOOP_DATA_MIRROR)")
    return Path(value)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_registry_has_one_row_per_sources_file(mirror):
    expected = []
    for sources in sorted(mirror.glob("*/SOURCES.tsv")):
        table = pd.read_csv(sources, sep="\t", dtype=str)
        table.insert(0, "path", sources.parent.name + "/" + table.pop("file"))
        expected.append(table)
    expected = pd.concat(expected, ignore_index=True)
    reg = data.registry()
    github = reg[reg["kind"] == "github"].reset_index(drop=True)
    pd.testing.assert_frame_equal(github[expected.columns], expected)
    assert len(expected) == 118
    assert github["size"].tolist() == [(mirror / p).stat().st_size for p in github["path"]]
    urls = [
        "https://raw.githubusercontent.com/"
        f"{r.upstream_repo}/{r.upstream_commit}/{urllib.parse.quote(r.upstream_path)}"
        for r in github.itertuples()
    ]
    assert github["url"].tolist() == urls
    assert "pan-cancer%20GGI%20database/GGI-all.csv" in github["url"].iloc[0]


def test_registry_debian_entry():
    reg = data.registry()
    deb = reg[reg["kind"] == "deb"]
    assert deb[["path", "upstream_repo", "upstream_commit", "upstream_path"]].values.tolist() == [
        [
            ORGDB,
            "r-bioc-org.hs.eg.db",
            "3.16.0-1",
            "usr/lib/R/site-library/org.Hs.eg.db/extdata/org.Hs.eg.sqlite",
        ]
    ]
    assert deb["sha256"].str.fullmatch("[0-9a-f]{64}").all()
    assert deb["archive_sha256"].str.fullmatch("[0-9a-f]{64}").all()
    assert reg["path"].is_unique
    assert reg["sha256"].str.fullmatch("[0-9a-f]{64}").all()


def test_ensure_file_copies_from_mirror(mirror, tmp_path):
    path = data.ensure_file(SMALL, data_dir=tmp_path)
    assert path == tmp_path / SMALL
    assert path.read_bytes() == (mirror / SMALL).read_bytes()
    assert _files(tmp_path) == [".sha256-cache.json", SMALL]
    assert path.stat().st_mode & 0o777 == data._FILE_MODE  # not the 0600 of a temporary file


def test_corrupt_mirror_file_is_refused(mirror, tmp_path, monkeypatch):
    bad_mirror = tmp_path / "mirror"
    (bad_mirror / "genome-hg19").mkdir(parents=True)
    content = bytearray((mirror / SMALL).read_bytes())
    content[10] ^= 0x01
    (bad_mirror / SMALL).write_bytes(bytes(content))
    monkeypatch.setenv("AI4LOOP_DATA_MIRROR", str(bad_mirror))
    root = tmp_path / "data"
    with pytest.raises(BadInputError) as err:
        data.ensure_file(SMALL, data_dir=root)
    expected = data.registry().set_index("path").at[SMALL, "sha256"]
    message = str(err.value)
    assert SMALL in message and expected in message and "mismatch" in message
    assert data._sha256(bad_mirror / SMALL) in message
    assert "not saved" in message
    assert not (root / SMALL).exists()
    assert [f for f in _files(root) if not f.startswith(".sha256")] == []


def test_wrong_file_in_place_is_replaced(mirror, tmp_path):
    path = data.ensure_file(SMALL, data_dir=tmp_path)
    good = path.read_bytes()
    path.write_bytes(good[:-1] + b"!")  # same size, new mtime: the hash cache must not trust it
    assert data.ensure_file(SMALL, data_dir=tmp_path).read_bytes() == good


def test_wrong_file_is_removed_when_refetch_fails(mirror, tmp_path, monkeypatch):
    path = tmp_path / SMALL
    path.parent.mkdir(parents=True)
    path.write_bytes(b"wrong")
    monkeypatch.setenv("AI4LOOP_DATA_MIRROR", str(tmp_path / "empty-mirror"))

    def offline(*args, **kwargs):
        raise data.urllib.error.URLError("no network")

    monkeypatch.setattr(data.urllib.request, "urlopen", offline)
    with pytest.raises(BadInputError, match="could not download .*--mirror"):
        data.ensure_file(SMALL, data_dir=tmp_path)
    assert not path.exists()


class _Response(io.BytesIO):
    """A urlopen response that can break half-way, like a dropped connection."""

    def __init__(self, content: bytes, *, break_after: int | None = None) -> None:
        super().__init__(content)
        self.break_after = break_after

    def read(self, size: int = -1) -> bytes:
        if self.break_after is not None and self.tell() >= self.break_after:
            raise ConnectionResetError("connection dropped")
        return super().read(min(size, 1000))


def test_download_checks_and_interrupted_download_leaves_nothing(mirror, tmp_path, monkeypatch):
    monkeypatch.delenv("AI4LOOP_DATA_MIRROR")
    content = (mirror / SMALL).read_bytes()
    urls = []

    def urlopen(url, timeout):
        urls.append(url)
        return _Response(content, break_after=1000 if len(urls) == 1 else None)

    monkeypatch.setattr(data.urllib.request, "urlopen", urlopen)
    with pytest.raises(BadInputError, match="connection dropped"):
        data.ensure_file(SMALL, data_dir=tmp_path)
    assert not (tmp_path / SMALL).exists()
    assert [f for f in _files(tmp_path) if not f.startswith(".sha256")] == []
    assert data.ensure_file(SMALL, data_dir=tmp_path).read_bytes() == content
    assert urls == [data.registry().set_index("path").at[SMALL, "url"]] * 2


def test_fetch_is_idempotent(mirror, tmp_path, monkeypatch):
    only = ["genome-hg19/*", "cancer-genes/*"]
    paths = data.fetch(mirror=mirror, data_dir=tmp_path, only=only, progress=False)
    names = [
        "genome-hg19/hg19-blacklist.v2.bed",
        "genome-hg19/hg19.len",
        "cancer-genes/CancerGenesList.txt.gz",
        "cancer-genes/umccr_cancer_genes.2019-03-20.tsv.gz",
    ]
    assert sorted(paths) == sorted(tmp_path / n for n in names)
    for p in paths:
        assert p.read_bytes() == (mirror / p.relative_to(tmp_path)).read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in paths}
    cache = json.loads((tmp_path / data.HASH_CACHE).read_text())
    assert sorted(cache) == sorted(names)

    def no_hashing(path):
        raise AssertionError(f"re-hashed {path}")

    monkeypatch.setattr(data, "_sha256", no_hashing)  # a re-run trusts the (size, mtime) cache
    again = data.fetch(mirror=mirror, data_dir=tmp_path, only=only, progress=False)
    assert again == paths
    assert {p: p.stat().st_mtime_ns for p in paths} == stamps


def test_unknown_path_lists_close_matches():
    with pytest.raises(BadInputError) as err:
        data.ensure_file("allRNAseq.tsv")
    assert "'allRNAseq.tsv' is not a file of the data registry" in str(err.value)
    assert "Close matches: ai4loop-upstream/data/allRNAseq.tsv" in str(err.value)
    with pytest.raises(BadInputError, match="ai4loop-upstream/data/allRNAseq.tsv"):
        data.ensure_file("ai4loop-upstream/data/allRNAseq.csv")
    with pytest.raises(BadInputError, match="matches no registry file"):
        data.fetch(only=["nowhere/*"], progress=False)


def test_debian_entry_without_apt_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv("AI4LOOP_DATA_MIRROR", raising=False)
    monkeypatch.setattr(data.shutil, "which", lambda name: None)
    with pytest.raises(BadInputError) as err:
        data.ensure_file(ORGDB, data_dir=tmp_path)
    message = str(err.value)
    assert "apt-get is not available" in message
    assert "apt-get download r-bioc-org.hs.eg.db=3.16.0-1" in message
    assert str(tmp_path / "org.Hs.eg.db") in message
    assert not (tmp_path / ORGDB).exists()
    assert _files(tmp_path) == []


def test_cli_fetch_and_list(mirror, tmp_path):
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path)]
    done = runner.invoke(
        cli, ["data", "fetch", "--mirror", str(mirror), "--only", SMALL, "-q", *args]
    )
    assert done.exit_code == 0, done.output
    assert (tmp_path / SMALL).read_bytes() == (mirror / SMALL).read_bytes()

    done = runner.invoke(cli, ["data", "list", "--json", *args])
    assert done.exit_code == 0, done.output
    records = pd.DataFrame(json.loads(done.output))
    assert records.columns.tolist() == ["path", "licence", "source", "size", "present", "verified"]
    assert len(records) == len(data.registry())
    assert records.loc[records["present"], "path"].tolist() == [SMALL]
    assert records.loc[records["verified"], "path"].tolist() == [SMALL]
    assert records.set_index("path").at[SMALL, "source"] == "mjflab/chinn@fba7917"
    assert records.set_index("path").at[ORGDB, "source"] == "r-bioc-org.hs.eg.db=3.16.0-1"

    (tmp_path / SMALL).write_bytes(b"changed")
    done = runner.invoke(cli, ["data", "list", *args])
    assert done.exit_code == 0, done.output
    lines = done.output.splitlines()
    assert lines[0].split() == ["path", "licence", "source", "size", "present"]
    row = next(line for line in lines if line.startswith(SMALL + " "))
    assert row.split() == [
        SMALL,
        "Apache-2.0",
        "mjflab/chinn@fba7917",
        "2.0",
        "kB",
        "bad",
        "sha256",
    ]
    assert sum(line.endswith("  no") for line in lines) == len(data.registry()) - 1
