"""The side commands beside the main flow: ``ganbench colorize`` (a trained generator on your photos),
``ganbench evaluate`` (a run scored again) and ``ganbench data info`` (what a dataset holds)."""
