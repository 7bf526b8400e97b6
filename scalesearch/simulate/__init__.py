"""The simulator: a recorded study as a table (`table`) and its replay under other strategies and schedulers
(`replay`), without training."""
