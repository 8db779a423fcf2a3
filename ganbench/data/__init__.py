"""Step 2 of a run, data: decode and resize photos once (cached), split them, sample training batches and
fixed evaluation crops, and convert RGB to the networks' Lab coordinates."""
