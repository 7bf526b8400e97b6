"""Search drivers (Optuna, Ray Tune). The only package, with scalesearch.cli, that imports them."""
