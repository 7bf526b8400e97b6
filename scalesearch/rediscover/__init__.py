"""The rediscovery experiments: from a study's trials, each finding's verdict with intervals over seeds.

The redesigned experiments, each one study per planned look with a declared primary claim, a positive
control and the regime guards:

    efficientnet-looks   efficientnet_look1, _look2        compound vs depth-, width- and resolution-only at phi = 1,
                                                           matched MACs (intersection-union primary claim)
    resnext-looks        resnext_look1, _look2             cardinality vs width at 2x, the 1x positive control
    degradation-looks    degradation_look1, _look2         plain vs residual at two depths, equal steps

The first designs (their verdicts withdrawn: results/REDISCOVERY.md says why), four experiments and two follow-ups,
each one or two spec files in `spaces/` (an experiment's `_pilot` twin measures the seed noise first):

    efficientnet-step1   rediscover_efficientnet_step1     grid over alpha, beta at phi = 1; the paper's point ranked
    efficientnet-step2   rediscover_efficientnet_step2     compound vs depth/width/resolution-only vs fast dWr at the
                                                           compound model's MACs, phi = 1..3; scaling fit phi <= 2
    resnext              rediscover_resnext_cwd,           2x complexity by cardinality/width/depth; the cardinality
                         rediscover_resnext_cardinality    sweep at fixed complexity; both at two training lengths
    resnext-seeds        rediscover_resnext_seeds          follow-up: cardinality vs width at 2x, 22 seeds
    degradation          rediscover_degradation            plain vs residual at two depths: final training error
    degradation-residual rediscover_degradation_residual   follow-up: the residual pair, 16 seeds, 16 epochs

`analyse(experiment, db)` reads the studies (read-only), computes the verdicts with `scalesearch.analysis.paired`
(Student t intervals, paired by seed: every configuration's repeat r trains with the same seed) and
`scalesearch.analysis.verdict` against a smallest effect that matters declared here (`MIN_EFFECT`, never tuned to
the data), and `write(...)` puts results/<study>/rediscovery.md (+ .json, + figures) beside the study's report and
rebuilds results/REDISCOVERY.md from every experiment's JSON found. `efficientnet_b_table` is the B0 -> B7 analysis
(no training): the phi each released model's multipliers imply, and its exact MACs against the nominal 2**phi.

Each output says whether it comes from a pilot, a partial run or a full run, and gives the hardware, the wall time,
the seeds and the budget. The command is `scalesearch rediscover EXPERIMENT [--pilot] [--run] [--db URL]`.

The modules, imports running down the list only (each imports from the ones above it):

    stats          MIN_EFFECT, LEVEL, POWER, `Finding`, the power statement, `compare` rows -> findings, aggregates
    studies        DEFAULT_DB; loading a study read-only, its completed trials, status and provenance
    figures        saving figures (PNG + SVG), the error-bar plot, the looks' curves per arm
    efficientnet   experiments 1 and 2: step 1's and step 2's analyses, step 2's spec generator, the proxy B0
    btable         the B0 -> B7 table (no training) and its markdown, CSV and figure
    efficientnet_looks  the redesigned experiment 1: compound vs each single dimension, planned looks
    resnext        experiment 3: 2x complexity by cardinality/width/depth, the cardinality sweep; its redesign
    degradation    experiment 4: plain vs residual training error at two depths
    experiments    `Experiment`, `Outcome`, the registry `EXPERIMENTS` and `analyse`
    outputs        `render` (rediscovery.md), `write` (+ JSON, CSV)
    page           `write_summary` (results/REDISCOVERY.md, REDISCOVERY_withdrawn.md, the forest plot)
    workflow       what the command does: `run_specs`, `analyse_and_write`, `write_b0_b7`, `write_step2_specs`
                   (`found_coefficients`: experiment 1's, from a full run)

This package imports numpy and pandas: the CLI (`scalesearch.cli.rediscover`) imports it only for the
`rediscover` command.
"""

from __future__ import annotations

from scalesearch.rediscover.btable import efficientnet_b_table, write_b_table
from scalesearch.rediscover.claims import LEVEL, MIN_EFFECT, POWER, Finding, detectable_difference, seeds_needed
from scalesearch.rediscover.efficientnet import (
    DWR_ALPHA,
    PAPER_COEFFICIENTS,
    PROXY_B0,
    STEP2_STRATEGIES,
    step2_spec_text,
)
from scalesearch.rediscover.experiments import EXPERIMENTS, Experiment, Outcome, analyse
from scalesearch.rediscover.outputs import render, write
from scalesearch.rediscover.page import write_summary
from scalesearch.rediscover.reading import DEFAULT_DB
from scalesearch.rediscover.workflow import (
    analyse_and_write,
    found_coefficients,
    run_specs,
    write_b0_b7,
    write_step2_specs,
)

__all__ = ["DEFAULT_DB", "DWR_ALPHA", "EXPERIMENTS", "LEVEL", "MIN_EFFECT", "PAPER_COEFFICIENTS", "POWER", "PROXY_B0",
           "STEP2_STRATEGIES", "Experiment", "Finding", "Outcome", "analyse", "analyse_and_write",
           "detectable_difference", "efficientnet_b_table", "found_coefficients", "render", "run_specs",
           "seeds_needed", "step2_spec_text", "write", "write_b0_b7", "write_b_table", "write_step2_specs",
           "write_summary"]
