"""The search engine: Optuna chooses, Ray Tune trains, the database remembers.

In import order: `state` (`RunState`, what one run of a study shares: spec, store, Optuna study, counts, queue, jobs
in flight, finished results), `tell` (`Results`: epochs and results in, Optuna told, lost workers requeued), `ask`
(`Claims`: candidates claimed from reruns, points, the grid or the sampler; rejection; dedupe), `driver` (`Driver`,
composing the two over one RunState; it fails the Optuna trials a killed run left), `run` (`run_study`: Ray Tune
around the driver), `api` (`run` and `resume`, what `scalesearch.run` is); beside them `searcher` (a Ray Tune
Searcher asking the driver), `trainable` (the Ray adapter around `scalesearch.trial.job.run`), `cluster` (a local Ray
bound to 127.0.0.1, or an existing cluster), `constraints` (spec constraints as Optuna constraint values),
`progress` (the live display), `study` (opening, claiming and deleting a study) and `summary` (the texts
`scalesearch run`, `status` and `studies` print). With `scalesearch.cli`, the only package that imports Ray and
Optuna, always inside functions: importing this package imports neither and changes nothing (no environment
variable): `cluster.connect` and `run.run_study` set the environment Ray reads (`cluster.set_ray_environment`) just
before they import it.
"""
