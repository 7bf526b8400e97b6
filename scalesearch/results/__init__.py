"""The read side of the results database as pandas: one row per trial, one row per epoch, one row per study.

`load_trials` reads a study's trials (or every study's) from one consistent snapshot of the database, opened
read-only (SQLite with `mode=ro` and `query_only`; PostgreSQL in a READ ONLY transaction), and returns one row per
trial:

    study, number, state        the study's name, the trial's number in it, its state (see `STATES`)
    arch, family, point         a short label (the named point, else the sampled values), the architecture
                                family of the study's spec, the named point ("baseline", ...) or None
    <parameters>                every parameter of the spec, one column each (sampled, derived and matched
                                values); a parameter whose name is taken by a column below is called `p_<name>`
    macs, params, acts          the analytic cost (MACs, not FLOPs), `latency_ms` when measured
    val_acc, best_val_acc, test_acc, test_loss, epochs
                                validation accuracy after the last epoch run, its best, the test accuracy (when
                                the spec asks for it), epochs run
    seed, repeat, node, device  the training seed, the repeat of the configuration, the host and device
    wall_s, train_s, total_s, images_per_s, steps, started_at, finished_at, attempts
                                times (seconds) and throughput
    config_key, key, netspec_hash, optuna_trial, error, rejected_by
                                ids (`config_key` groups the repeats of one configuration) and failure reasons
    score_<name>                training-free scores of the candidate (naswot, synflow, snip, grad_norm), when the
                                study recorded them (`scalesearch.train.scores`; `results.scores` correlates them)

States are spelled as `scalesearch.analysis` and Optuna spell them: the store's completed, failed, stopped (by
ASHA), rejected, queued, running and interrupted become COMPLETE, FAILED, PRUNED, REJECTED, QUEUED, RUNNING and
INTERRUPTED. Only COMPLETE trials count for fronts and statistics.

`load_epochs` gives the learning curves, `load_studies` one row per study, `aggregate` (from
`scalesearch.analysis`) collapses the repeats of each configuration. Nothing here writes.

Modules: `load` (the snapshot, trials, epochs, studies, labels) and `query` (filter, front, sort, select,
`aggregate_configs`, `query`). This package re-exports their public names.

Example:
    >>> import os, tempfile
    >>> from scalesearch.store import Store
    >>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "r.db")
    >>> st = Store(url)
    >>> _ = st.create_study(name="demo", spec_text="study: demo", spec_canonical="study: demo", spec_hash="h",
    ...                     seed=0, sampler="grid", objectives=[["val_acc", "max"]], repeats=1)
    >>> _ = st.queue_trial("demo", {"key": "k0", "config_key": "c0", "parameters": {"n": 1}, "values": {"n": 1},
    ...                             "macs": 1000, "params": 10, "acts": 5, "seed": 3, "repeat": 0})
    >>> _ = st.finish_trial("demo", "k0", "completed", val_acc=0.5)
    >>> load_trials(url)[["study", "number", "state", "arch", "n", "macs", "val_acc"]].to_dict("records")
    [{'study': 'demo', 'number': 0, 'state': 'COMPLETE', 'arch': 'n=1', 'n': 1, 'macs': 1000, 'val_acc': 0.5}]
"""

from scalesearch.analysis import aggregate
# The store's Reader is re-exported too.
from scalesearch.results.load import (DB, EPOCH_COLUMNS, STATES, TRIAL_COLUMNS, arch_label, load_epochs, load_studies,
                                      load_trials, open_reader, parameter_names, study_family, study_objectives)
from scalesearch.results.query import (aggregate_configs, filter_rows, front_objectives, pareto_rows, parse_objectives,
                                       query, select_columns, sort_rows)
from scalesearch.store import Reader

__all__ = ["EPOCH_COLUMNS", "STATES", "TRIAL_COLUMNS", "aggregate", "aggregate_configs", "arch_label", "filter_rows",
           "front_objectives", "load_epochs", "load_studies", "load_trials", "open_reader", "parameter_names",
           "pareto_rows", "parse_objectives", "query", "select_columns", "sort_rows", "study_family",
           "study_objectives"]
