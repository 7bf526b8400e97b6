"""The spec file's `search:` section: sampler, trials, repeats, objectives, early stopping, resources, concurrency,
time budget, kept weights, REA's sizes, the training-free prefilter and the warm start, each read with its line
(`SearchConfig`). Checks that need other sections (ASHA's grace period against the epochs, points_only without
points) are `parse.check_spec`'s."""

from __future__ import annotations

from scalesearch.spec.schema import (
    DIRECTIONS,
    EARLY_STOPPING,
    ES_METRICS,
    KEEP,
    OBJECTIVES,
    SAMPLERS,
    STUDY_RE,
    EarlyStopping,
    Objective,
    Prefilter,
    Resources,
    SearchConfig,
    WarmStart,
    rea_sizes,
)
from scalesearch.spec.yamlnodes import (
    Node,
    check_keys,
    did_you_mean,
    read_bool,
    read_int,
    read_mapping,
    read_num,
    read_str,
)
from scalesearch.strategies.names import PREFILTER_SCORES
from scalesearch.util.text import short

__all__ = ["SEARCH_KEYS", "parse_search"]

SEARCH_KEYS = ("sampler", "trials", "repeats", "objectives", "early_stopping", "resources", "max_concurrency",
                "time_budget_s", "points_only", "keep", "population", "tournament", "prefilter", "warm_start")


def parse_search(n: Node) -> SearchConfig:
    """The `search:` section."""
    m = check_keys(n, SEARCH_KEYS, required=("sampler",), what="search settings")
    sampler = read_str(m["sampler"], SAMPLERS)
    objectives: tuple[Objective, ...] = (Objective("val_acc", "max"),)
    if "objectives" in m:
        om = read_mapping(m["objectives"], "a mapping of objectives to max or min, e.g. {val_acc: max, macs: min}")
        if not om:
            raise m["objectives"].err("no objectives", "at least one of " + ", ".join(OBJECTIVES))
        objs = []
        for k, dn in om.items():
            if k not in OBJECTIVES:
                hint = did_you_mean(k, OBJECTIVES)
                raise dn.key_err(f"unknown objective {k!r}{hint}", f"one of {', '.join(OBJECTIVES)}")
            objs.append(Objective(k, read_str(dn, DIRECTIONS)))
        objectives = tuple(objs)
    es = None
    if "early_stopping" in m and m["early_stopping"].v is not None:
        em = check_keys(m["early_stopping"], ("type", "grace_epochs", "reduction_factor", "metric", "brackets",
                                               "cost_band"), required=("type",), what="early-stopping settings")
        es = EarlyStopping(type=read_str(em["type"], EARLY_STOPPING),
                           grace_epochs=read_int(em["grace_epochs"], 1) if "grace_epochs" in em else 1,
                           reduction_factor=read_int(em["reduction_factor"], 2) if "reduction_factor" in em else 3,
                           metric=read_str(em["metric"], ES_METRICS) if "metric" in em else "val_acc",
                           brackets=read_int(em["brackets"], 1, 20) if "brackets" in em else None,
                           cost_band=read_num(em["cost_band"], 1.0, 1e6, low_open=True) if "cost_band" in em else None,
                           loc=(em.get("grace_epochs") or m["early_stopping"]).loc)
        if es.brackets is not None and es.type != "hyperband":
            raise em["brackets"].key_err(f"brackets is a setting of hyperband, not of {es.type}",
                                         "type: hyperband, or no brackets")
        if es.cost_band is not None and es.type != "moasha":
            raise em["cost_band"].key_err(f"cost_band is a setting of moasha (its rungs rank by cost), not of {es.type}",
                                          "type: moasha, or no cost_band")
    res = Resources()
    if "resources" in m:
        rm = check_keys(m["resources"], ("cpus", "gpus", "memory_gb"), what="per-trial resources")
        res = Resources(cpus=read_num(rm["cpus"], 0.0, 1024, low_open=True) if "cpus" in rm else 1.0,
                        gpus=read_num(rm["gpus"], 0.0, 64) if "gpus" in rm else 0.0,
                        memory_gb=read_num(rm["memory_gb"], 0.0, 2 ** 20, low_open=True, null=True)
                        if "memory_gb" in rm else None)
    trials = read_int(m["trials"], 1, 10 ** 7, null=True) if "trials" in m else None
    points_only = read_bool(m["points_only"]) if "points_only" in m else False
    if trials is None and sampler != "grid" and not points_only:
        raise n.err(f"the {sampler} sampler needs a number of trials", "trials: an integer >= 1")
    budget = read_num(m["time_budget_s"], 0.0, null=True, low_open=True) if "time_budget_s" in m else None
    population = read_int(m["population"], 2, 10 ** 6) if "population" in m else None
    tournament = read_int(m["tournament"], 1, 10 ** 6) if "tournament" in m else None
    for k in ("population", "tournament"):
        if k in m and sampler != "rea":
            raise m[k].key_err(f"{k} is a setting of the rea sampler, not of {sampler}", "sampler: rea, or no " + k)
    if tournament is not None and tournament > (population or rea_sizes(trials)[0]):
        raise m["tournament"].err(f"a tournament of {tournament} out of a population of "
                                  f"{population or rea_sizes(trials)[0]}", "tournament <= population")
    prefilter = None
    if "prefilter" in m and m["prefilter"].v is not None:
        pm = check_keys(m["prefilter"], ("score", "pool", "keep"), required=("score", "pool", "keep"),
                        what="prefilter settings")
        pool = read_int(pm["pool"], 2, 100000)
        prefilter = Prefilter(score=read_str(pm["score"], PREFILTER_SCORES), pool=pool,
                              keep=read_int(pm["keep"], 1, pool - 1), loc=m["prefilter"].loc)
        if sampler == "grid":
            raise m["prefilter"].key_err("a prefilter draws its pool from the sampler; the grid sampler walks every "
                                         "point", "sampler: random, tpe, rea or nsga2")
    warm = None
    if "warm_start" in m and m["warm_start"].v is not None:
        wm = check_keys(m["warm_start"], ("study", "db", "enqueue_front"), required=("study",),
                        what="warm-start settings")
        old = read_str(wm["study"])
        if not STUDY_RE.match(old):
            raise wm["study"].err(f"study name {short(old)!r} is not allowed",
                                  "the name of a stored study (letters, digits, '_', '-', '.')")
        db = read_str(wm["db"]) if "db" in wm else None
        if db is not None and not db.strip():
            raise wm["db"].err("an empty database URL", "a database URL, or no db (the new study's database)")
        warm = WarmStart(study=old, db=db, enqueue_front=read_bool(wm["enqueue_front"]) if "enqueue_front" in wm
                         else False, loc=m["warm_start"].loc)
        if sampler == "grid":
            raise m["warm_start"].key_err("a warm start tells the sampler an old study's results; the grid sampler "
                                          "walks every point whatever it is told", "sampler: random, tpe, rea or nsga2")
    return SearchConfig(sampler=sampler, trials=trials,
                        repeats=read_int(m["repeats"], 1, 1000) if "repeats" in m else 1,
                        objectives=objectives, early_stopping=es, resources=res,
                        max_concurrency=read_int(m["max_concurrency"], 1, 10000) if "max_concurrency" in m else 1,
                        time_budget_s=budget, points_only=points_only, loc=n.loc,
                        keep=read_str(m["keep"], KEEP) if "keep" in m else "pareto", population=population,
                        tournament=tournament, prefilter=prefilter, warm_start=warm)
