"""Step 4 of a run, the results store: one folder per run (config, history, metrics, samples, checkpoints),
written atomically and claimed by one worker at a time."""
