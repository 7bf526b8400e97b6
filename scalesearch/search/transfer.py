"""`scalesearch dump` and `load`: a study, our tables and Optuna's study, moved between databases through one
gzip-compressed JSON-lines file.

The file: a header line ({"format": "scalesearch-dump", "version": 1, "study": NAME}), our tables' records
(`scalesearch.store.transfer.study_rows`: the study, its trials, their epochs), then Optuna's study (directions and
attributes) and each Optuna trial in number order (state, values, params with their distributions, attributes,
intermediate values, times). Loading recreates both halves under the dumped name or `as_name`, Optuna's trials
added in order so that their numbers (which our trials point to) are the same; loading over an existing study is
refused before anything is written. A study moved from one database to another and back reads the same: the same
`query --format csv` and the same Optuna trials.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scalesearch.errors import ConflictError, InputError, MissingFileError

__all__ = ["DUMP_FORMAT", "dump_study", "load_study"]

DUMP_FORMAT = "scalesearch-dump"
_VERSION = 1


def _dt(v: Any) -> Any:
    return None if v is None else v.isoformat()


def _optuna_records(url: str, name: str) -> Iterator[dict[str, Any]]:
    import optuna

    from scalesearch.search.study import open_optuna_storage

    storage = open_optuna_storage(url)
    try:
        try:
            sid = storage.get_study_id_from_name(name)
        except KeyError:
            return  # a study that never started has no Optuna study yet
        yield {"table": "optuna_study", "directions": [d.name for d in storage.get_study_directions(sid)],
               "user_attrs": storage.get_study_user_attrs(sid), "system_attrs": storage.get_study_system_attrs(sid)}
        for t in storage.get_all_trials(sid, deepcopy=False):
            yield {"table": "optuna_trial", "number": t.number, "state": t.state.name, "values": t.values,
                   "params": t.params,
                   "distributions": {k: optuna.distributions.distribution_to_json(d)
                                     for k, d in t.distributions.items()},
                   "user_attrs": t.user_attrs, "system_attrs": t.system_attrs,
                   "intermediate_values": [[k, v] for k, v in sorted(t.intermediate_values.items())],
                   "datetime_start": _dt(t.datetime_start), "datetime_complete": _dt(t.datetime_complete)}
    finally:
        storage.engine.dispose()


def dump_study(db: str | None, study: str, out: str | os.PathLike[str]) -> tuple[Path, int]:
    """Write study `study` of `db` (read-only) to `out` (.jsonl.gz); returns the path and the trials written.

    Raises:
        NotFoundError, MissingFileError: no such study or database. InputError: `out`'s folder does not exist.
    """
    from scalesearch.store import normalize_url
    from scalesearch.store.transfer import study_rows

    path = Path(out)
    if not path.parent.is_dir():
        raise InputError(f"--out {path}: the folder {path.parent} does not exist")
    url = normalize_url(db)
    records = list(study_rows(url, study))  # raises before the file is created
    records += list(_optuna_records(url, study))
    tmp = path.with_name(path.name + ".part")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        f.write(json.dumps({"format": DUMP_FORMAT, "version": _VERSION, "study": study}) + "\n")
        for rec in records:
            f.write(json.dumps(rec, allow_nan=True) + "\n")
    os.replace(tmp, path)
    return path, sum(1 for r in records if r["table"] == "trial")


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file; expected a file written by `scalesearch dump`")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not a scalesearch dump ({type(e).__name__}: {' '.join(str(e).split())[:120]})") \
            from None
    if not lines or not isinstance(lines[0], dict) or lines[0].get("format") != DUMP_FORMAT:
        raise InputError(f"{path}: not a scalesearch dump (no '{DUMP_FORMAT}' header)")
    if lines[0].get("version") != _VERSION:
        raise InputError(f"{path}: dump format version {lines[0].get('version')}; this scalesearch reads {_VERSION}")
    return lines[0], lines[1:]


def load_study(path: str | os.PathLike[str], db: str | None, *, as_name: str | None = None) -> tuple[str, int]:
    """Load a dump into `db` under its own name or `as_name`; returns the name and the trials loaded.

    Raises:
        ConflictError: the name exists in `db` (our study or Optuna's); nothing is written.
        InputError, MissingFileError: not a dump, or no such file.
    """
    import optuna

    from scalesearch.search.study import open_optuna_storage
    from scalesearch.spec.schema import STUDY_RE
    from scalesearch.store import Store, describe_url
    from scalesearch.store.engine import check_driver, normalize_url
    from scalesearch.store.transfer import insert_rows

    check_driver(normalize_url(db))  # a URL that cannot be opened is the first thing said
    header, records = _read(Path(path))
    name = as_name or header["study"]
    if not STUDY_RE.match(name):
        raise InputError(f"--as {name!r}: expected a study name of letters, digits, '_', '.' and '-'")
    ours = [r for r in records if r.get("table") in ("study", "trial", "epoch")]
    theirs = [r for r in records if r.get("table") in ("optuna_study", "optuna_trial")]
    with Store(db) as store:
        if store.find_study(name) is not None or store.has_optuna_study(name):
            hint = "load it under a new name with --as NAME" if as_name is None else "choose another --as NAME"
            raise ConflictError(f"study {name!r} already exists in {describe_url(store.url)}; {hint}")
        storage = open_optuna_storage(store.url)
        try:
            if theirs:
                head = theirs[0]
                study = optuna.create_study(study_name=name, storage=storage,
                                            directions=[optuna.study.StudyDirection[d].name.lower()
                                                        for d in head["directions"]])
                for k, v in head["user_attrs"].items():
                    study.set_user_attr(k, v)
                for k, v in head["system_attrs"].items():
                    storage.set_study_system_attr(study._study_id, k, v)
                for t in theirs[1:]:
                    study.add_trial(_frozen(t))
            n = insert_rows(store, ours, name, source=str(path))
        except BaseException:
            if theirs:  # our rows are one transaction; Optuna's study goes with them
                try:
                    optuna.delete_study(study_name=name, storage=storage)
                except KeyError:
                    pass
            raise
        finally:
            storage.engine.dispose()
    return name, n


def _frozen(t: dict[str, Any]) -> Any:
    import datetime as dt

    import optuna
    from optuna.trial import FrozenTrial, TrialState

    when = lambda v: None if v is None else dt.datetime.fromisoformat(v)
    return FrozenTrial(number=t["number"], state=TrialState[t["state"]], value=None, values=t["values"],
                       datetime_start=when(t["datetime_start"]), datetime_complete=when(t["datetime_complete"]),
                       params=t["params"],
                       distributions={k: optuna.distributions.json_to_distribution(d)
                                      for k, d in t["distributions"].items()},
                       user_attrs=t["user_attrs"], system_attrs=t["system_attrs"],
                       intermediate_values={int(k): v for k, v in t["intermediate_values"]}, trial_id=0)
