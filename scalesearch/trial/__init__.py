"""One trial: the `Job` as data with its key, the one builder of a job from a spec's point and of the data it trains
on, and what a worker runs (`job`); one network trained outside a study, as `scalesearch train` does
(`standalone`)."""
