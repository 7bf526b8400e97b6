"""scalesearch.trial.standalone: `scalesearch train` trains what a search trains (one builder of a job, one loader)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scalesearch.cli import main
from scalesearch.spec import SpecError, default_candidate, load_spec
from scalesearch.trial.job import build_job, job_for_candidate, run, trial_seed
from scalesearch.trial.standalone import standalone_job

REPO = Path(__file__).resolve().parents[1]
SPACES = sorted(str(p.relative_to(REPO)) for p in (REPO / "spaces").rglob("*.yaml"))

TINY = """
study: trainjobtest
seed: 11
dataset: {name: synthetic, num_classes: 3, in_channels: 1, image_size: 8, num_train: 120, num_test: 30, val_size: 30}
train: {epochs: 1, batch_size: 40, warmup_epochs: 0, eval_test: true}
architecture: {family: cifar_resnet, args: {depth: 8, width: 4}}
baseline: {}
search: {sampler: grid, trials: 1}
"""


def _search_job(spec, repeat=0):
    """The job a search of `spec` trains for its baseline's repeat `repeat` (the driver's device rule: CUDA only
    for a spec that asks for GPUs)."""
    device = "cuda" if spec.search.resources.gpus > 0 else "cpu"
    return job_for_candidate(default_candidate(spec), spec.dataset, study_seed=spec.seed, repeat=repeat,
                             device=device)


@pytest.mark.parametrize("path", SPACES)
def test_train_builds_the_search_baseline_job_for_every_committed_spec(path, monkeypatch):
    monkeypatch.chdir(REPO)
    spec = load_spec(path)
    device = "cuda" if spec.search.resources.gpus > 0 else "auto"
    try:
        search = _search_job(spec)
    except SpecError as e:  # no baseline or point: a search samples, and `train` refuses in the same words
        with pytest.raises(SpecError, match="no baseline or points"):
            standalone_job(path, device=device)
        assert "no baseline or points" in str(e)
        return
    tj = standalone_job(path, device=device)
    assert tj.job.key == search.key, path
    assert tj.job.seed == trial_seed(spec.seed, 0)
    assert tj.job.to_dict() == search.to_dict()


def test_options_override_the_spec_and_change_the_key(tmp_path):
    f = tmp_path / "tiny.yaml"
    f.write_text(TINY)
    base = standalone_job(str(f)).job
    assert standalone_job(str(f), seed=5).job.seed == 5 != base.seed
    assert standalone_job(str(f), options={"lr": 0.05}).job.key != base.key
    assert standalone_job(str(f), eval_test=False).job.train["eval_test"] is False and base.train["eval_test"] is True
    scaled = standalone_job(str(f), options={"resolution": 16})
    assert scaled.netspec.resolution == 16 and scaled.job.data["resolution"] == 16


def test_a_preset_job_comes_from_the_same_builder():
    tj = standalone_job("cifar_resnet20", dataset="synthetic", options={"train_size": 64})
    spec_ds = load_spec(str(REPO / "spaces" / "quickstart.yaml")).dataset
    assert set(tj.job.data) >= {"name", "seed", "train_size", "val_size", "test_size", "resolution"}
    again = build_job(tj.netspec, {"eval_test": True}, type(spec_ds)(name="synthetic", train_size=64), seed=0,
                      device=tj.job.train["device"])
    assert again.key == tj.job.key


def test_train_gives_the_search_trials_val_acc(tmp_path, capsys):
    """`scalesearch train SPEC` and the search's repeat 0 of the baseline: one key, one result on one thread."""
    import torch

    f = tmp_path / "tiny.yaml"
    f.write_text(TINY)
    spec = load_spec(str(f))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        searched = run(_search_job(spec))
        assert main(["train", str(f), "--json"]) == 0
    finally:
        torch.set_num_threads(threads)
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert searched["state"] == "completed"
    assert trained["key"] == searched["key"]
    assert trained["val_acc"] == searched["val_acc"] and trained["test_acc"] == searched["test_acc"]


DUMPS = sorted(str(p.relative_to(REPO)) for p in (REPO / "results").glob("*/study.jsonl.gz"))


@pytest.mark.parametrize("dump", DUMPS)
def test_every_committed_trial_gets_its_stored_key_from_the_one_builder(dump):
    """A database written before resumes without retraining: for every trial of every committed dump, the job the
    one builder makes from the stored spec and the trial's values, seed and repeat has the stored key (what a
    resumed study looks its finished trials up by)."""
    import gzip

    from scalesearch.spec import parse_spec, resolve_candidate

    study, trials = None, []
    with gzip.open(REPO / dump, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("table") == "study":
                study = rec["row"]
            elif rec.get("table") == "trial" and rec["row"].get("data"):
                trials.append(rec["row"])
    assert study is not None and trials
    spec = parse_spec(study["spec_text"], study.get("spec_file") or dump)
    device = "cuda" if spec.search.resources.gpus > 0 else "cpu"
    for t in trials:
        cand = resolve_candidate(spec, t["parameters"])
        job = job_for_candidate(cand, spec.dataset, study_seed=spec.seed, repeat=t["repeat"], device=device)
        assert (job.key, job.config_key) == (t["key"], t["config_key"]), (dump, t["number"])
