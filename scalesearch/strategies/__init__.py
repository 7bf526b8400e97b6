"""The compute-wise strategies the driver and the simulator share: regularized evolution (`rea`, an Optuna sampler),
successive-halving rungs (`rungs`) and multi-objective ASHA (`moasha`)."""
