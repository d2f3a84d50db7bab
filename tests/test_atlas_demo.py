"""build-demo wiring (the full demo is timed in bench/RESULTS.md, not run in the test suite)."""

from __future__ import annotations

import importlib

import pytest

import atlas.demo as demo
from atlas.cohorts import READERS, parse_spec


def test_demo_cohort_specs_name_known_readers():
    for spec in demo.DEMO_COHORTS:
        fmt, _, _ = parse_spec(spec)
        assert fmt in READERS
    assert demo.DEMO_MODEL == "upstream:K562"


def test_build_demo_calls_every_part_and_skips_missing_ones(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(demo, "build_atlas", lambda **kw: calls.append(("atlas", kw["out"].name)))
    real_import = importlib.import_module

    def fake_import(name):
        if name == "atlas.drugs":
            raise ImportError("not written yet")
        if name == "atlas.published":
            module = type(importlib)("atlas.published")
            module.import_published = lambda *, out: calls.append(("published", out.name))
            return module
        return real_import(name)

    monkeypatch.setattr(demo.importlib, "import_module", fake_import)
    timings = demo.build_demo(out=tmp_path, progress=False)
    assert calls == [("atlas", "tcga-demo"), ("published", "published")]
    assert "SKIPPED atlas.drugs.build_drug_atlas" in capsys.readouterr().out
    assert set(timings) == {"tcga-demo", "published", "total"}


@pytest.mark.parametrize("spec", ["tcga-rtcga:CHOL,only=normal", "ai4loop-bed:aml-example"])
def test_demo_specs_parse_options(spec):
    fmt, path, options = parse_spec(spec)
    assert path and fmt in READERS and isinstance(options, dict)
