"""Training-free scores in a real search: computed by a worker before training, once per configuration, stored with
every trial (equal over its repeats, equal to a recomputation from the stored netspec), read back as score_<name>
columns, and ranked against the trained accuracy by `scalesearch scores`."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support.search import REPO, cli, run_study_inprocess, spec_text

from scalesearch.results import load_trials
from scalesearch.store import Reader
from scalesearch.train.scores import SCORES, score_batch, score_candidate

SPEC = spec_text("scored", """\
architecture: {family: cifar_resnet, args: {depth: d, width: w}}
parameters:
  d: {grid: [8, 14]}
  w: {grid: [4, 8, 12]}
search: {sampler: grid, repeats: 2, keep: none, max_concurrency: 2}
""")


@pytest.fixture(scope="module")
def scored(tmp_path_factory, ray_session) -> tuple[str, list[tuple[str, bool]]]:
    """The study, and (config key, whether its worker was asked to score) of each job started, in order."""
    from scalesearch.search.ask import Claims

    db = f"sqlite:///{tmp_path_factory.mktemp('scores')}/r.db"
    started: list[tuple[str, bool]] = []
    real = Claims.job_config

    def job_config(self, job):
        cfg = real(self, job)
        started.append((job.config_key, "score_seed" in cfg))
        return cfg

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Claims, "job_config", job_config)
        assert run_study_inprocess(SPEC, db, ray_session).state == "finished"
    return db, started


def test_one_worker_scores_each_configuration_and_every_repeat_gets_its_scores(scored):
    """A configuration's scores depend on its network, the study's seed and the batch drawn with it, not on the
    repeat: one of its jobs computes them, the other repeat's row gets them, even where the two start together."""
    db, started = scored
    assert len(started) == 12
    asked = {ck: [s for c, s in started if c == ck] for ck, _ in started}
    assert len(asked) == 6 and all(sorted(v) == [False, True] for v in asked.values()), asked
    rows = Reader(db).trials("scored")
    assert all(t.scores and list(t.scores) == list(SCORES) for t in rows)


def test_scores_are_stored_once_per_candidate_and_recompute_exactly(scored):
    scored, _ = scored
    from scalesearch.spec import parse_spec
    from scalesearch.trial.job import DATA_SEED, _cached_dataset, _canonical, _plain

    spec = parse_spec(SPEC, "t.yaml")
    trials = Reader(scored).trials("scored")
    assert len(trials) == 12 and all(t.state == "completed" for t in trials)
    by_config: dict[str, dict] = {}
    for t in trials:
        assert list(t.scores) == list(SCORES) and all(isinstance(v, float) for v in t.scores.values()), t.scores
        assert by_config.setdefault(t.config_key, dict(t.scores)) == dict(t.scores)  # its repeats share them
    assert len({tuple(s.values()) for s in by_config.values()}) == 6  # six architectures, six sets of scores
    # the same batch the driver drew (the study's seed) and the stored netspec give the stored values exactly
    data = _cached_dataset(_canonical(_plain({"name": "synthetic", **dict(spec.dataset.load_kwargs()),
                                              "seed": DATA_SEED})), "cpu", None)
    x, y = score_batch(data.train.x, data.train.y, size=64, seed=spec.seed)
    t = trials[0]
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the worker (one thread per trial): the same float sums, so the same bits
    try:
        assert score_candidate(t.netspec_dict(), x, y, data.mean, data.std, seed=spec.seed) == dict(t.scores)
    finally:
        torch.set_num_threads(threads)


def test_scores_are_columns_of_the_trials_and_the_scores_command_ranks_them(scored):
    scored, _ = scored
    df = load_trials(scored, "scored")
    assert [c for c in df.columns if c.startswith("score_")] == [f"score_{s}" for s in SCORES]
    assert "score_naswot" not in df.attrs["parameters"]
    r = cli("scores", "scored", "--db", scored, "--boot", "200")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "over 6 configurations" in lines[0]
    assert [ln.split()[0] for ln in lines[2:8]] == ["params", "macs", *SCORES]
    # params' own rho against params is 0 by construction; the same draws give the differences
    assert lines[2].split()[-4:-1] == ["+0.000", "[+0.000,", "+0.000]"]


def test_a_study_without_scores_is_refused_in_one_line(tmp_path):
    db = f"sqlite:///{tmp_path}/r.db"
    dumped = REPO / "results" / "degradation_look1" / "study.jsonl.gz"  # recorded before scores were stored
    assert cli("load", str(dumped), "--db", db).returncode == 0
    r = cli("scores", "degradation_look1", "--db", db)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no training-free scores" in r.stderr


PREFILTERED = spec_text("prefiltered", """\
architecture: {family: cifar_resnet, args: {depth: d, width: w}}
parameters:
  d: {grid: [8, 14]}
  w: {int: [4, 16], step: 2}
search: {sampler: random, trials: 4, keep: none, prefilter: {score: params, pool: 4, keep: 2}}
""", train="epochs: 1, batch_size: 50, warmup_epochs: 0")


def test_the_prefilter_trains_the_best_of_each_pool_and_stores_the_rest_as_rejected(tmp_path, ray_session):
    from support.search import optuna_trials

    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(PREFILTERED, db, ray_session).state == "finished"
    trials = Reader(db).trials("prefiltered")
    trained = [t for t in trials if t.state == "completed"]
    dropped = [t for t in trials if t.state == "rejected"]
    assert len({t.config_key for t in trained}) == 4  # the spec's 4 trials, each trained
    assert dropped and all(t.rejected_by[0].startswith("prefilter: params ") for t in dropped)
    assert all(t.scores is not None and list(t.scores) == list(SCORES) for t in trained + dropped)
    ot = {o.number: o for o in optuna_trials(db, "prefiltered")}
    for t in dropped:
        assert ot[t.optuna_trial].state.name == "PRUNED"
        assert ot[t.optuna_trial].user_attrs["scalesearch_state"] == "rejected"
    # each pool is 4 consecutive Optuna trials: what it trained has at least the params of what it dropped
    pools: dict[int, dict[str, list[int]]] = {}
    for t in trained + dropped:
        pool = pools.setdefault(t.optuna_trial // 4, {"kept": [], "dropped": []})
        pool["kept" if t.state == "completed" else "dropped"].append(t.params)
    for pool in pools.values():
        if pool["kept"] and pool["dropped"]:
            assert min(pool["kept"]) >= max(pool["dropped"]), pools


def test_a_configuration_proposed_twice_in_one_pool_is_trained_once_and_never_dropped_by_itself(tmp_path,
                                                                                                ray_session):
    """Two configurations, pools of 4 (so every pool repeats one): the copy of a kept configuration is told with it,
    not stored as rejected; nothing is left RUNNING in Optuna."""
    from support.search import optuna_trials

    text = PREFILTERED.replace("prefiltered", "twice").replace("  d: {grid: [8, 14]}\n", "").replace(
        "depth: d", "depth: 8").replace("w: {int: [4, 16], step: 2}", "w: {grid: [4, 8]}").replace(
        "trials: 4", "trials: 2").replace("keep: 2}", "keep: 1}")
    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(text, db, ray_session).state == "finished"
    trials = Reader(db).trials("twice")
    completed = {t.parameters["w"] for t in trials if t.state == "completed"}
    rejected = {t.parameters["w"] for t in trials if t.state == "rejected"}
    assert 8 in completed and not completed & rejected  # the bigger net is kept in the first pool
    assert Reader(db).counts("twice").get("rejected", 0) == len(rejected)
    ot = optuna_trials(db, "twice")
    assert len(ot) >= 4 and not [o for o in ot if o.state.name in ("RUNNING", "WAITING")]
    w8 = [o for o in ot if o.params["w"] == 8]
    assert len(w8) >= 2 and all(o.state.name == "COMPLETE" for o in w8)  # its copies told its result
