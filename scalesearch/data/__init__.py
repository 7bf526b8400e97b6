"""Datasets: what is known of each without loading it (`catalog`), reading the built-in files (`sources`), a
researcher's own images (`own`), derived tasks (`cluttered`), and the tensors a trial trains on with their
augmentation (`loader`)."""
