"""The code's conventions, checked by code: keyword-only options and a docstring on public API."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

# Library modules of every package (CLI files and Streamlit scripts are not API).
SKIP = {"ai4loop_core.cli", "dashboard.app", "dashboard.views"}
MODULES = [
    f"{package}.{m.name}"
    for package in ("ai4loop_core", "preprocess", "atlas", "dashboard")
    for m in pkgutil.iter_modules(importlib.import_module(package).__path__)
    if f"{package}.{m.name}" not in SKIP
]


@pytest.mark.parametrize("module", MODULES)
def test_public_functions_take_few_positional_arguments_and_say_what_they_do(module):
    mod = importlib.import_module(module)
    offenders = []
    for name, obj in vars(mod).items():
        if name.startswith("_") or not inspect.isfunction(obj) or obj.__module__ != mod.__name__:
            continue
        params = inspect.signature(obj).parameters.values()
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(positional) > 3 or not (obj.__doc__ or "").strip():
            offenders.append(name)
    assert offenders == []


def test_cli_reports_bad_input_without_traceback(tmp_path):
    import subprocess
    import sys

    missing = tmp_path / "nope.bedpe"
    done = subprocess.run(
        [sys.executable, "-c", "from ai4loop_core.cli import main; main()", "predict",
         "--model", "upstream:K562", "--pairs", str(missing), "--expression", str(missing),
         "--out", str(tmp_path / "o.csv")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("error: ") and "nope.bedpe" in done.stderr
    assert "Traceback" not in done.stderr
