"""Golden params/MACs of every spaces/ baseline (and named point): a change in the architecture core or in a
spec that moves a baseline's cost fails here. Regenerate on purpose with SCALESEARCH_ACCEPT=1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scalesearch.spec import load_spec, resolve_point

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "spaces_baselines.json"
SPACES = sorted((ROOT / "spaces").glob("*.yaml"))


def current() -> dict[str, dict[str, dict[str, object]]]:
    out = {}
    for path in SPACES:
        spec = load_spec(str(path))
        out[path.name] = {}
        for name in spec.point_names:
            c = resolve_point(spec, name)
            out[path.name][name] = {"hash": c.netspec.hash, "params": c.params, "macs": c.macs}
    return out


def test_spaces_exist():
    assert {p.name for p in SPACES} >= {"quickstart.yaml", "efficientnet_compound_step1.yaml",
                                        "efficientnet_compound_step2.yaml", "resnext_cwd.yaml", "degradation.yaml"}


def test_baselines_match_golden():
    got = current()
    if os.environ.get("SCALESEARCH_ACCEPT") == "1":
        GOLDEN.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
        pytest.skip("golden file regenerated")
    assert GOLDEN.exists(), "run with SCALESEARCH_ACCEPT=1 once to create tests/golden/spaces_baselines.json"
    assert got == json.loads(GOLDEN.read_text())
