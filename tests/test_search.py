"""The search driver in this process: real Optuna, real Ray Tune (one Ray for the session), real SQLite.

Tiny nets on synthetic data: what is checked is what gets trained, how often, and what is stored.
"""

from __future__ import annotations

import itertools

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support.search import optuna_trials, run_study_inprocess, spec_text

from scalesearch.spec import parse_spec, resolve_candidate
from scalesearch.store import Reader
from scalesearch.trial.job import job_for_candidate

GRID = spec_text("grid", """\
architecture: {family: cifar_resnet, args: {depth: "6 * n + 2", width: w}}
parameters:
  n: {grid: [1, 2]}
  k: {grid: [1, 2, 3]}
  w: {derived: "4 * k"}
constraints: ["macs <= 2.5 * base_macs"]
baseline: {n: 1, k: 1}
search: {sampler: grid, max_concurrency: 2}
""")


def _keys(text: str, points: list[dict]) -> dict[str, dict]:
    spec = parse_spec(text, "t.yaml")
    out = {}
    for p in points:
        c = resolve_candidate(spec, p)
        if c.feasible:
            out[job_for_candidate(c, spec.dataset, study_seed=spec.seed, device="cpu").key] = p
    return out


def test_grid_with_derived_parameter_and_constraint_trains_each_feasible_point_once(tmp_path, ray_session,
                                                                                    monkeypatch):
    from scalesearch.search import ask

    db = f"sqlite:///{tmp_path}/r.db"
    grid = [{"n": n, "k": k} for n, k in itertools.product([1, 2], [1, 2, 3])]
    feasible = _keys(GRID, grid)
    assert 1 < len(feasible) < len(grid)  # the constraint rejects some points, keeps several
    resolved: list[tuple] = []
    real = ask.resolve_candidate
    monkeypatch.setattr(ask, "resolve_candidate", lambda spec, p: resolved.append(tuple(p.items())) or real(spec, p))
    out = run_study_inprocess(GRID, db, ray_session)
    assert out.state == "finished"
    assert sorted(resolved) == sorted(set(resolved)) and len(resolved) == len(grid)  # planned and claimed: once each
    trials = Reader(db).trials("grid")
    done = [t for t in trials if t.state == "completed"]
    assert sorted(t.key for t in done) == sorted(feasible)  # exactly the feasible points ...
    assert all(t.attempts == 1 and t.epochs_done == 2 for t in done)  # ... each trained once
    assert {t.values["w"] for t in done} == {4 * feasible[t.key]["k"] for t in done}  # the derived parameter
    rejected = [t for t in trials if t.state == "rejected"]
    assert len(rejected) == len(grid) - len(feasible)
    assert all(t.rejected_by == ("macs <= 2.5 * base_macs",) and t.epochs_done == 0 for t in rejected)
    assert [t.point for t in trials].count("baseline") == 1  # the baseline is a grid point: trained once
    ot = optuna_trials(db, "grid")
    by_state = {s: [t for t in ot if t.state.name == s] for s in ("COMPLETE", "PRUNED")}
    assert len(by_state["COMPLETE"]) == len(feasible) and len(by_state["PRUNED"]) == len(rejected)
    assert all(max(t.constraints.values()) > 0 for t in by_state["PRUNED"])  # infeasible in Optuna's terms
    assert all(max(t.constraints.values()) <= 0 for t in by_state["COMPLETE"])
    assert len(ot) == len(grid)  # no point asked twice
    assert {t.number: t.val_acc for t in done} == {
        t.number: next(o.values[0] for o in ot if o.number == t.optuna_trial) for t in done}
    # running the same spec again trains nothing and asks Optuna nothing
    again = run_study_inprocess(GRID, db, ray_session)
    assert again.state == "finished" and len(optuna_trials(db, "grid")) == len(grid)
    assert [(t.key, t.attempts, t.finished) for t in Reader(db).trials("grid")] == \
        [(t.key, t.attempts, t.finished) for t in trials]


def test_lr_sweep_trains_each_value_and_repeats_are_averaged(tmp_path, ray_session):
    text = spec_text("lr", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: 4}}
parameters: {lr: {grid: [0.05, 0.1, 0.2]}}
search: {sampler: grid, repeats: 2}
""", train="epochs: 1, batch_size: 50, warmup_epochs: 0, lr: lr")
    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(text, db, ray_session).state == "finished"
    trials = Reader(db).trials("lr")
    assert len(trials) == 6 and all(t.state == "completed" for t in trials)
    assert len({t.netspec_hash for t in trials}) == 1  # one network ...
    assert sorted(t.train["lr"] for t in trials) == [0.05, 0.05, 0.1, 0.1, 0.2, 0.2]  # ... three lr, two seeds
    assert len({t.key for t in trials}) == 6 and len({t.config_key for t in trials}) == 3
    assert {t.seed for t in trials if t.repeat == 0} != {t.seed for t in trials if t.repeat == 1}
    ot = {o.number: o for o in optuna_trials(db, "lr")}
    assert len(ot) == 3 and all(o.state.name == "COMPLETE" for o in ot.values())
    for o in ot.values():
        mine = [t.val_acc for t in trials if t.optuna_trial == o.number]
        assert len(mine) == 2 and o.values[0] == pytest.approx(sum(mine) / 2)  # repeats averaged, told once


def test_points_only_with_two_points_of_one_configuration_train_it_once_and_plan_for_once(tmp_path, ray_session):
    """Two named points that resolve to the same network and training (step 2's resolution-only and compound arms
    when alpha = beta = 1) are one configuration: trained once, and the plan counts it once, so the study ends
    with done == planned."""
    text = spec_text("pts", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: "4 * k"}}
parameters:
  k: {fixed: 1}
  label: {fixed: 0}
constraints: ["label >= 0"]
baseline: {k: 1}
points:
  same_a: {k: 2, label: 1}
  same_b: {k: 2, label: 1}
  other: {k: 3, label: 2}
search: {sampler: grid, points_only: true, repeats: 2, max_concurrency: 2}
""", train="epochs: 1, batch_size: 50, warmup_epochs: 0")
    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(text, db, ray_session).state == "finished"
    trials = Reader(db).trials("pts")
    assert all(t.state == "completed" and t.attempts == 1 for t in trials)
    assert len({t.config_key for t in trials}) == 3 and len(trials) == 6  # baseline, k = 2 once, k = 3
    assert Reader(db).study("pts").planned == 6


@pytest.mark.parametrize("sampler", ["random", "tpe", "nsga2"])
def test_samplers_store_the_trials_they_asked_for(tmp_path, ray_session, sampler):
    text = spec_text(f"s-{sampler}", f"""\
architecture: {{family: cifar_resnet, args: {{depth: "6 * n + 2", width: w}}}}
parameters:
  n: {{int: [1, 2]}}
  w: {{choice: [4, 6, 16]}}
  lr: {{float: [0.01, 0.3], log: true}}
constraints: ["w < 16"]
search: {{sampler: {sampler}, trials: 3, objectives: {{val_acc: max, macs: min}}}}
""", train="epochs: 1, batch_size: 50, warmup_epochs: 0, lr: lr")
    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(text, db, ray_session).state == "finished"
    trials = Reader(db).trials(f"s-{sampler}")
    ot = {o.number: o for o in optuna_trials(db, f"s-{sampler}")}
    trained = [t for t in trials if t.state == "completed"]
    assert len({t.config_key for t in trained}) == 3  # `trials` configurations trained
    for t in trials:  # every stored trial is what Optuna asked, and Optuna knows how it ended
        o = ot[t.optuna_trial]
        assert dict(t.parameters) == o.params
        assert o.state.name == {"completed": "COMPLETE", "rejected": "PRUNED"}[t.state]
        if t.state == "completed":
            assert o.values == pytest.approx([t.val_acc, t.macs])
    assert all(t.values["w"] == 16 for t in trials if t.state == "rejected")
    assert all(o.state.name in ("COMPLETE", "PRUNED") for o in ot.values())


def test_failures_are_stored_and_the_search_goes_on(tmp_path, ray_session):
    text = spec_text("faults", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: 4}}
parameters:
  dev: {choice: [cpu, "cuda:99"]}
  lr: {grid: [0.1, 1000000.0]}
search: {sampler: grid}
""", train="epochs: 2, batch_size: 50, warmup_epochs: 0, lr: lr, device: dev, nan_check_every: 1")
    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(text, db, ray_session).state == "finished"
    by = {(t.values["dev"], t.values["lr"]): t for t in Reader(db).trials("faults")}
    assert by[("cpu", 0.1)].state == "completed"
    nan = by[("cpu", 1e6)]
    assert nan.state == "failed" and nan.error.startswith("DivergenceError") and "Traceback" in nan.traceback
    raised = by[("cuda:99", 0.1)]
    assert raised.state == "failed" and "cuda:99" in raised.error
    states = sorted(o.state.name for o in optuna_trials(db, "faults"))
    assert states == ["COMPLETE", "FAIL", "FAIL", "FAIL"]


def test_asha_stopped_trials_are_stored_as_stopped_with_their_last_metrics(tmp_path, ray_session):
    text = spec_text("asha", """\
architecture: {family: cifar_resnet, args: {depth: 8, width: 4}}
parameters: {lr: {grid: [0.1, 0.05, 0.0001, 0.0002, 0.00005, 0.0003]}}
search: {sampler: grid, max_concurrency: 1, early_stopping: {type: asha, grace_epochs: 1, reduction_factor: 2}}
""", train="epochs: 4, batch_size: 50, warmup_epochs: 0, lr: lr")
    db = f"sqlite:///{tmp_path}/r.db"
    assert run_study_inprocess(text, db, ray_session).state == "finished"
    reader = Reader(db)
    trials = reader.trials("asha")
    stopped = [t for t in trials if t.state == "stopped"]
    assert stopped, [(t.state, t.epochs_done) for t in trials]
    ot = {o.number: o for o in optuna_trials(db, "asha")}
    for t in stopped:
        assert 1 <= t.epochs_done < 4 and t.val_acc is not None
        epochs = reader.epochs("asha", t.number)
        assert [e.epoch for e in epochs] == list(range(1, t.epochs_done + 1))
        assert epochs[-1].val_acc == t.val_acc  # the last metrics, including the result ASHA stopped it on
        assert ot[t.optuna_trial].state.name == "PRUNED"  # never told as complete
    for t in trials:
        if t.state == "completed":
            assert t.epochs_done == 4 and ot[t.optuna_trial].state.name == "COMPLETE"


def test_time_budget_ends_the_study_and_leaves_nothing_running(tmp_path, ray_session):
    # The budget must be what ends this study, on any machine: each trial is 100,000 epochs of 50 images at 32 px
    # through a ResNet-8 at least 32 wide (47 M MACs an image, about 6 FLOPs per MAC to train, on one thread, on
    # the CPU), about 1.4e15 FLOPs, so that even at 1e12 FLOP/s (several times what one CPU core does) one trial
    # needs over 100 times the 6 s budget: no trial can complete, however fast the machine, and the study
    # (8 trials, one at a time) would otherwise run on for days. Each epoch is a single step, so that a trial told
    # to stop reaches its next report (where Tune stops it) soon.
    budget_s, epochs, images = 6, 100_000, 50
    text = spec_text("budget", f"""\
architecture: {{family: cifar_resnet, args: {{depth: 8, width: w}}}}
parameters: {{w: {{grid: [32, 33, 34, 35, 36, 37, 38, 39]}}}}
search: {{sampler: grid, max_concurrency: 1, time_budget_s: {budget_s}}}
""", train=f"epochs: {epochs}, batch_size: {images}, warmup_epochs: 0, device: cpu",
        dataset=f"{{name: synthetic, num_classes: 4, in_channels: 1, image_size: 32, num_train: {2 * images}, "
                f"num_test: 50, val_size: {images}}}")
    spec = parse_spec(text, "t.yaml")
    smallest = min(resolve_candidate(spec, {"w": w}).macs for w in range(32, 40))
    assert 6 * smallest * images * epochs / 1e12 > 100 * budget_s  # the claim above, checked
    db = f"sqlite:///{tmp_path}/r.db"
    out = run_study_inprocess(text, db, ray_session)
    assert out.state == "finished" and f"time budget of {budget_s} s" in out.message
    reader = Reader(db)
    counts = reader.counts("budget")
    assert counts.get("running", 0) == 0 and counts.get("completed", 0) == 0
    assert not [o for o in optuna_trials(db, "budget") if o.state.name == "RUNNING"]
    study = reader.study("budget")
    assert study.state == "finished" and study.wall_seconds >= budget_s
    before = [(t.key, t.state, t.attempts) for t in reader.trials("budget")]
    again = run_study_inprocess(text, db, ray_session)  # the budget is the whole study's: nothing more runs
    assert "is used up" in again.message
    assert [(t.key, t.state, t.attempts) for t in Reader(db).trials("budget")] == before


def test_a_new_driver_fails_the_optuna_trials_a_killed_run_left_running_or_waiting(tmp_path):
    """A killed driver leaves Optuna trials RUNNING (asked) and may leave one WAITING (enqueued for a fixed point,
    killed before the ask). The next driver fails both through Optuna's API, so that no later ask of the sampler is
    handed the stale enqueued point; the sampler's next trial is a new one. No Ray: only the driver's set-up."""
    import optuna

    from scalesearch.search.driver import Driver
    from scalesearch.search.study import make_sampler, open_optuna_storage, prepare_study
    from scalesearch.spec import sample_params
    from scalesearch.store import Store

    text = spec_text("killed", """\
architecture: {family: cifar_resnet, args: {depth: "6 * n + 2", width: w}}
parameters:
  n: {int: [1, 2]}
  w: {choice: [4, 6, 16]}
search: {sampler: random, trials: 3}
""")
    spec = parse_spec(text, "t.yaml")
    db = f"sqlite:///{tmp_path}/r.db"
    store = Store(db)
    try:
        prepare_study(store, spec, spec_text=text, spec_file="t.yaml")
        study = optuna.create_study(storage=open_optuna_storage(db), study_name="killed", direction="maximize",
                                    sampler=make_sampler(spec, 0))
        sample_params(spec, study.ask())  # the killed run's trial in training: RUNNING
        study.enqueue_trial({"n": 2, "w": 6}, user_attrs={"scalesearch_point": "p"})  # killed before its ask
        assert [t.state.name for t in study.get_trials()] == ["RUNNING", "WAITING"]
        Driver(spec, store, study, store.study("killed"))
        left = study.get_trials()
        assert [t.state.name for t in left] == ["FAIL", "FAIL"]
        assert left[1].system_attrs["fixed_params"] == {"n": 2, "w": 6}
        assert left[1].user_attrs == {"scalesearch_point": "p", "scalesearch_state": "interrupted"}
        nxt = study.ask()
        assert nxt.number == 2 and "fixed_params" not in study.get_trials()[2].system_attrs
    finally:
        store.close()
