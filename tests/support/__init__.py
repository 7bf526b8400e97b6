"""Helpers shared by the tests, one module per concern: `procs` (processes: descendants, waits, signals),
`search` (a search run in-process or as the CLI, spec texts, dumps), `results_db` (studies written through the store),
`pgserver` (a throw-away PostgreSQL server on 127.0.0.1), `raycluster` (a multi-node Ray cluster on one machine)."""
