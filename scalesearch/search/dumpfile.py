"""`scalesearch dump` and `load`: a study, our tables and Optuna's study, moved between databases through one
gzip-compressed JSON-lines file.

The file: a header line ({"format": "scalesearch-dump", "version": 1, "study": NAME}), our tables' records
(`scalesearch.store.rows.study_rows`: the study, its trials, their epochs), then Optuna's study (directions and
attributes) and each Optuna trial in number order (state, values, params with their distributions, attributes,
intermediate values, times). Loading recreates both halves under the dumped name or `as_name`, Optuna's trials
added in order so that their numbers (which our trials point to) are the same; loading over an existing study is
refused before anything is written, and so is a file that is not a dump (each line is checked as it is read; a
line of more than `MAX_RECORD_BYTES` is refused without reading the rest of it). A study moved from one database
to another and back reads the same: the same `query --format csv` and the same Optuna trials.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from scalesearch.errors import ConflictError, InputError, MissingFileError
from scalesearch.util.text import short

__all__ = ["DUMP_FORMAT", "MAX_RECORD_BYTES", "dump_study", "load_study"]

DUMP_FORMAT = "scalesearch-dump"
_VERSION = 1
# The most bytes one line (one record) of a dump may hold, its newline included. The largest record of the committed
# dumps (results/*/study.jsonl.gz) is 7,220 bytes: a study record, which carries the spec's text twice (spec_text
# and spec_canonical). A spec file is at most 1 MiB (scalesearch.util.files.MAX_FILE_BYTES) and JSON's escapes at most
# sextuple a byte (\u001f), so a real study record stays near 12 MiB at worst, and trial and epoch records far
# below. 32 MiB is well above every real record and bounds what reading a line holds: a file that inflates to one
# huge line is refused once 32 MiB of it is read, however far it would inflate.
MAX_RECORD_BYTES = 32 << 20
_CHUNK = 1 << 20  # a line is read a chunk at a time: reading one holds at most MAX_RECORD_BYTES + _CHUNK bytes
_RECORD_TABLES = ("study", "trial", "epoch", "optuna_study", "optuna_trial")


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
    from scalesearch.store.rows import study_rows

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


def _lines(f: BinaryIO, path: Path) -> Iterator[tuple[int, bytearray]]:
    """(line number, line) of a dump opened in binary mode, blank lines skipped; a line of more than
    MAX_RECORD_BYTES is refused as soon as that much of it has been read (never more than the bound plus one chunk
    is held)."""
    n = 0
    while True:
        n += 1
        line = bytearray()
        while True:
            chunk = f.readline(_CHUNK)
            line += chunk
            if len(line) > MAX_RECORD_BYTES:
                raise InputError(f"{path}:{n}: a line longer than {MAX_RECORD_BYTES:,} bytes; expected a dump's "
                                 f"records, one JSON object a line, each at most {MAX_RECORD_BYTES:,} bytes")
            if not chunk or chunk.endswith(b"\n"):
                break
        if not line:
            return
        if not line.isspace():
            yield n, line


def _records(f: BinaryIO, path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, decoded JSON) of each line of a dump opened in binary mode."""
    for n, line in _lines(f, path):
        try:
            yield n, json.loads(line)
        except (ValueError, RecursionError) as e:  # RecursionError: JSON nested too deep
            raise InputError(f"{path}:{n}: not JSON ({short(e, 80)}); expected a file written by `scalesearch "
                             "dump`, one JSON object a line") from None


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the records of a dump, each checked as it is read (before anything is written): a file that
    is not a dump is refused at its first line that is wrong."""
    from scalesearch.store.rows import record_problem

    if not path.is_file():
        raise MissingFileError(f"{path}: no such file; expected a file written by `scalesearch dump`")
    header, records, trials, optuna_study = None, [], None, False
    try:
        with gzip.open(path, "rb") as f:
            for n, rec in _records(f, path):
                if header is None:
                    header = _header(rec, path, n)
                    continue
                if not isinstance(rec, dict) or rec.get("table") not in _RECORD_TABLES:
                    raise InputError(f"{path}:{n}: unexpected record {short(repr(rec), 60)}; expected a JSON object "
                                     f"whose table is one of {', '.join(_RECORD_TABLES)}")
                if rec["table"].startswith("optuna_"):
                    problem = _optuna_problem(rec, optuna_study)
                    optuna_study = True
                else:
                    problem = record_problem(rec, trials)
                    trials = set() if trials is None else trials  # the study record is the first of ours
                if problem:
                    raise InputError(f"{path}:{n}: {problem}; expected a file written by `scalesearch dump`")
                records.append(rec)
    except (OSError, EOFError, zlib.error) as e:  # not gzip (BadGzipFile), truncated (EOFError), corrupt (zlib)
        kind = "zlib.error" if isinstance(e, zlib.error) else type(e).__name__
        raise InputError(f"{path}: not a scalesearch dump ({kind}: {short(e, 80)}); expected a gzip-compressed "
                         "JSON-lines file written by `scalesearch dump`") from None
    if header is None:
        raise InputError(f"{path}: empty; expected a file written by `scalesearch dump`")
    if trials is None:
        raise InputError(f"{path}: no study record; expected a file written by `scalesearch dump`")
    return header, records


# The fields of Optuna's records and their JSON types (None where a field may be null).
_OPTUNA_FIELDS: dict[str, dict[str, tuple[type, ...]]] = {
    "optuna_study": {"directions": (list,), "user_attrs": (dict,), "system_attrs": (dict,)},
    "optuna_trial": {"number": (int,), "state": (str,), "values": (list, type(None)), "params": (dict,),
                     "distributions": (dict,), "user_attrs": (dict,), "system_attrs": (dict,),
                     "intermediate_values": (list,), "datetime_start": (str, type(None)),
                     "datetime_complete": (str, type(None))},
}


def _optuna_problem(rec: dict[str, Any], after_study: bool) -> str:
    """What is wrong with one of Optuna's records ('' when nothing): its fields, its place (the study first)."""
    table = rec["table"]
    if (table == "optuna_study") == after_study:
        return "a second optuna_study record" if after_study else "an optuna_trial record before the optuna_study"
    for key, types in _OPTUNA_FIELDS[table].items():
        if key not in rec:
            return f"an {table} record without its {key}"
        if not isinstance(rec[key], types):
            return f"an {table} record whose {key} is {short(repr(rec[key]), 30)}"
    return ""


def _header(rec: Any, path: Path, n: int) -> dict[str, Any]:
    """The dump's first record, checked: format, version and study name."""
    if not isinstance(rec, dict) or rec.get("format") != DUMP_FORMAT:
        raise InputError(f"{path}:{n}: not a scalesearch dump (no '{DUMP_FORMAT}' header); expected a file written "
                         "by `scalesearch dump`")
    if rec.get("version") != _VERSION:
        raise InputError(f"{path}: dump format version {rec.get('version')}; this scalesearch reads {_VERSION}")
    if not isinstance(rec.get("study"), str):
        raise InputError(f"{path}:{n}: the header names no study; expected a file written by `scalesearch dump`")
    return rec


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
    from scalesearch.store.rows import insert_rows

    check_driver(normalize_url(db))  # a URL that cannot be opened is the first thing said
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "A new study created" line: load says what it did
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
