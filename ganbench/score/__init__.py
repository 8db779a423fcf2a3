"""Step 5 of a run, scoring: the metric plugins over the held-out photos beside the gray baseline, and the
statistics (confidence intervals, paired tests, Holm) behind every verdict."""
