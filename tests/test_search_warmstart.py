"""Warm starts (`search.warm_start`, scalesearch.search.warmstart): the spec's section, the rule that maps an old
study's results into a new space, a real search warm-started from a committed study (whose database is not written),
and the one-line refusals before anything is stored."""

from __future__ import annotations

import pytest
from support.cli import main_in_process
from support.search import REPO, dump, optuna_trials, run_study_inprocess, spec_text

from scalesearch.search.warmstart import WARM_ATTR, in_domain, warm_trials
from scalesearch.spec import SpecError, parse_spec
from scalesearch.spec.write import format_spec
from scalesearch.store import Reader

OLD = REPO / "results" / "degradation_look1" / "study.jsonl.gz"  # depth 56 or 20, shortcut none or A; val_acc: max


def _spec(warm: str, sampler: str = "random", trials: int = 3) -> str:
    return spec_text("warm", f"""\
architecture: {{family: cifar_resnet, args: {{depth: depth, width: 4, shortcut: shortcut}}}}
parameters:
  depth: {{grid: [8, 20]}}
  shortcut: {{choice: [none, A]}}
search: {{sampler: {sampler}, trials: {trials}, warm_start: {warm}}}
""", train="epochs: 1, batch_size: 50, warmup_epochs: 0")


def test_the_section_reads_writes_back_and_names_its_faults():
    s = parse_spec(_spec("{study: old_one, db: 'sqlite:///x.db', enqueue_front: true}"), "w.yaml")
    w = s.search.warm_start
    assert (w.study, w.db, w.enqueue_front) == ("old_one", "sqlite:///x.db", True)
    assert parse_spec(format_spec(s), "again.yaml") == s
    assert parse_spec(_spec("{study: old_one}"), "w.yaml").search.warm_start.db is None
    for warm, sampler, needle in [
        ("{study: old_one}", "grid", "the grid sampler walks every point whatever it is told"),
        ("{db: 'sqlite:///x.db'}", "random", "study"),
        ("{study: old_one, seeds: 2}", "random", "seeds"),
        ("{study: '../x'}", "random", "study name '../x' is not allowed"),
        ("{study: old_one, enqueue_front: 1}", "random", "true or false"),
    ]:
        text = _spec(warm, sampler).replace("trials: 3, ", "" if sampler == "grid" else "trials: 3, ")
        with pytest.raises(SpecError, match=None) as e:
            parse_spec(text, "w.yaml")
        assert needle in str(e.value) and "w.yaml:" in str(e.value), str(e.value)


def test_the_rule_keeps_each_shared_value_in_the_new_domain_and_drops_the_rest():
    spec = parse_spec(_spec("{study: old_one}"), "w.yaml")
    old = [({"depth": 20, "shortcut": "A"}, [0.8], 0),       # both in the new space: told whole
           ({"depth": 56, "shortcut": "none"}, [0.7], 1),    # 56 is not a new depth: told with its shortcut only
           ({"depth": 56, "shortcut": "B"}, [0.6], 2),       # nothing in the new space: not told
           ({"depth": 20, "lr": 0.1}, [0.5], 3),             # a parameter the new space lacks: dropped
           ({"depth": 8, "shortcut": "A"}, [float("nan")], 4)]  # no value to tell
    told = warm_trials(spec, old, "old_one")
    assert [(t.params, t.values, t.user_attrs) for t in told] == [
        ({"depth": 20, "shortcut": "A"}, [0.8], {WARM_ATTR: "old_one", "scalesearch_warm_trial": 0}),
        ({"shortcut": "none"}, [0.7], {WARM_ATTR: "old_one", "scalesearch_warm_trial": 1}),
        ({"depth": 20}, [0.5], {WARM_ATTR: "old_one", "scalesearch_warm_trial": 3})]


def test_in_domain_compares_types_ranges_and_steps():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    cat = CategoricalDistribution([1, "a", True])
    assert in_domain(cat, 1) and in_domain(cat, "a") and in_domain(cat, True)
    assert not in_domain(cat, 1.0) and not in_domain(cat, False) and not in_domain(cat, "b")
    ints = IntDistribution(4, 12, step=2)
    assert in_domain(ints, 4) and in_domain(ints, 12) and not in_domain(ints, 5) and not in_domain(ints, 14)
    assert not in_domain(ints, 6.0) and not in_domain(ints, True)
    floats = FloatDistribution(0.1, 0.5, step=0.1)
    assert in_domain(floats, 0.30000000000000004) and in_domain(floats, 0.5) and not in_domain(floats, 0.25)
    assert in_domain(FloatDistribution(1e-3, 1.0, log=True), 0.02) and not in_domain(floats, float("nan"))


def _load_old(tmp_path):
    old_db = f"sqlite:///{tmp_path}/old.db"
    r = main_in_process("load", str(OLD), "--db", old_db)
    assert r.returncode == 0, r.stderr
    return old_db


def test_a_warm_started_search_tells_the_old_results_trains_the_old_front_first_and_never_writes_the_old_study(
        tmp_path, ray_session):
    old_db = _load_old(tmp_path)
    before = dump(tmp_path / "old.db")
    old = {t.number: t for t in optuna_trials(old_db, "degradation_look1") if t.state.name == "COMPLETE"}
    best = max(old.values(), key=lambda t: t.values[0])
    db = f"sqlite:///{tmp_path}/new.db"
    text = _spec(f"{{study: degradation_look1, db: '{old_db}', enqueue_front: true}}")
    out = run_study_inprocess(text, db, ray_session)
    assert out.state == "finished"
    assert dump(tmp_path / "old.db") == before  # read, never written
    ot = optuna_trials(db, "warm")
    told = [t for t in ot if WARM_ATTR in t.user_attrs]
    # every old configuration shares its shortcut (none or A) with the new space; depth 20 is kept, 56 dropped
    assert sorted(t.user_attrs["scalesearch_warm_trial"] for t in told) == sorted(old)
    for t in told:
        o = old[t.user_attrs["scalesearch_warm_trial"]]
        assert t.values == o.values and t.params == {k: v for k, v in o.params.items() if k != "depth" or v == 20}
    trials = Reader(db).trials("warm")
    assert len(trials) == 3 and all(t.state == "completed" for t in trials)  # its own trials only
    first = min(trials, key=lambda t: t.number)
    assert best.params == {"depth": 20, "shortcut": "A"}  # the old front (its best val_acc) lies in the new space:
    assert dict(first.parameters) == best.params  # trained first
    # the study goes on (a second run): the old results are not told twice
    r = main_in_process("resume", "warm", "--db", db, "--address", ray_session.address)
    assert r.returncode == 0, r.stderr
    assert len([t for t in optuna_trials(db, "warm") if WARM_ATTR in t.user_attrs]) == len(told)
    assert dump(tmp_path / "old.db") == before


@pytest.mark.parametrize("warm, needle", [
    ("{study: nosuch, db: OLD}", "search.warm_start: study 'nosuch' in sqlite:///"),
    ("{study: degradation_look1, db: 'sqlite:///MISSING/x.db'}", "search.warm_start.db: cannot read"),
    ("{study: degradation_look1, db: OLD}, objectives: {val_acc: max, macs: min}",
     "its objectives are val_acc: max, this study's val_acc: max, macs: min"),
], ids=["no-such-study", "no-such-database", "other-objectives"])
def test_an_old_study_that_cannot_serve_is_one_line_and_nothing_is_written(tmp_path, warm, needle):
    old_db = _load_old(tmp_path)
    before = dump(tmp_path / "old.db")
    spec = tmp_path / "w.yaml"
    spec.write_text(_spec(warm.replace("OLD", f"'{old_db}'").replace("MISSING", str(tmp_path / "missing"))))
    r = main_in_process("run", str(spec), "--db", f"sqlite:///{tmp_path}/new.db")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
    assert not (tmp_path / "new.db").exists() and dump(tmp_path / "old.db") == before
