"""Step 3 of a run, training: the critic and generator steps, the loop around them, checkpoint selection,
device and precision, FLOP counting and data parallelism."""
