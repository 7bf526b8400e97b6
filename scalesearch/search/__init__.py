"""The search engine: Optuna chooses, Ray Tune trains, the database remembers.

`driver` (the study: ask/tell, reconcile, run and resume), `searcher` (a Ray Tune Searcher asking the driver),
`trainable` (the Ray adapter around `scalesearch.trial.run`), `cluster` (a local Ray bound to 127.0.0.1, or an
existing cluster), `constraints` (spec constraints as Optuna constraint values), `progress` (the live display),
`study` (opening, claiming and deleting a study), `api` (`run` and `resume`, what `scalesearch.run` is) and
`summary` (the texts `scalesearch run`, `status` and `studies` print). With `scalesearch.cli`, the only package
that imports Ray and Optuna, always inside functions: importing this package imports neither, but sets the
environment Ray reads when it is first imported (see `cluster.set_ray_environment`).
"""

from scalesearch.search.cluster import set_ray_environment

set_ray_environment()
