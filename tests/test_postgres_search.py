"""The same search with `--db sqlite:///...` and with `--db postgresql+psycopg://...` (a throw-away PostgreSQL on
127.0.0.1, tests/support/pgserver.py; skipped with the reason where none can start): the store and the Optuna study both
live in PostgreSQL, and the two databases hold the same trials (keys, states, metrics, errors, rejections; training
is deterministic on CPU with the same seeds) and the same Optuna trials.
"""

from __future__ import annotations

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support.search import cli, optuna_trials, spec_text

import scalesearch
from scalesearch.store import Reader

HOSTILE = "x'; DROP TABLE scalesearch_trials; --"

# 12 grid points: 4 trained (lr 1e6 diverges on the narrowest net: failed), 2 over the constraint and 6 invalid
# architectures (rejected; their shortcut value is a hostile string, stored verbatim)
SPEC = spec_text("pg", f"""\
architecture: {{family: cifar_resnet, args: {{depth: 8, width: w, shortcut: s}}}}
parameters:
  w: {{grid: [4, 6, 16]}}
  s: {{choice: ["A", "{HOSTILE}"]}}
  lr: {{grid: [0.1, 1000000.0]}}
constraints: ["w < 16"]
search: {{sampler: grid}}
""", train="epochs: 2, batch_size: 50, warmup_epochs: 0, lr: lr, nan_check_every: 1")

_FIELDS = ("state", "config_key", "parameters", "values", "netspec", "macs", "params", "acts", "seed", "repeat",
           "val_acc", "best_val_acc", "epochs_done", "rejected_by", "point", "optuna_trial", "attempts")


def _trials(db: str) -> dict[str, dict]:
    reader = Reader(db)
    epochs: dict[int, list] = {}
    for e in reader.epochs("pg"):
        epochs.setdefault(e.number, []).append((e.epoch, e.steps, e.train_loss, e.val_loss, e.val_acc))
    out = {}
    for t in reader.trials("pg"):
        d = {f: getattr(t, f) for f in _FIELDS}
        d["error"] = t.error.split(":", 1)[0] if t.error else None
        d["epochs"] = epochs.get(t.number, [])
        out[t.key] = d
    return out


def _optuna(db: str) -> list:
    return sorted((sorted(o.params.items(), key=lambda kv: kv[0]), o.state.name, o.values, o.user_attrs)
                  for o in optuna_trials(db, "pg"))


def test_the_same_search_on_sqlite_and_postgresql(tmp_path, postgres, ray_session, monkeypatch):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    lite = f"sqlite:///{tmp_path}/r.db"
    pg = postgres.create_database("scalesearch_pg")
    # SQLite in this process (scalesearch.run, what the command runs), PostgreSQL through the command (its summary
    # names the database); both in tmp_path: a server database's kept weights go under ./results/<study>/checkpoints
    monkeypatch.chdir(tmp_path)
    assert scalesearch.run(str(spec), db=lite, address=ray_session.address, progress=False).state == "finished"
    r = cli("run", str(spec), "--db", pg, "--address", ray_session.address, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    a, b = _trials(lite), _trials(pg)
    assert set(a) == set(b) and len(a) == 12
    for key in a:
        assert a[key] == b[key], key
    states = [t["state"] for t in a.values()]
    assert states.count("rejected") == 8 and states.count("completed") >= 2 and states.count("failed") >= 1
    assert {t["error"] for t in a.values() if t["state"] == "failed"} == {"DivergenceError"}
    hostile = [t for t in b.values() if t["values"]["s"] == HOSTILE]
    assert len(hostile) == 6 and all(t["state"] == "rejected" and HOSTILE in t["rejected_by"][0] for t in hostile)
    assert _optuna(lite) == _optuna(pg)  # the Optuna study lives in PostgreSQL too, with the same trials
    # both sets of tables are in PostgreSQL, and the read side works on it
    import sqlalchemy as sa

    engine = sa.create_engine(pg)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"scalesearch_studies", "scalesearch_trials", "scalesearch_epochs", "studies", "trials"} <= tables
    status = cli("status", "pg", "--db", pg)
    done = f"{states.count('completed')} completed"
    assert status.returncode == 0 and "pg: finished" in status.stdout and done in status.stdout, status.stdout
    assert "scalesearch_pg" in r.stdout and "***" not in pg  # the summary names the PostgreSQL database
