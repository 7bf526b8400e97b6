"""Training: the recipe as data (`config.TrainConfig`), the loop (`loop.fit`), and the training-free scores of an
untrained network (`scores`)."""
