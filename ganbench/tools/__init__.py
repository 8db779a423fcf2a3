"""The side commands beside the main flow: ``ganbench bench`` (throughput and FLOPs), ``ganbench colorize``
(a trained generator on your photos) and ``ganbench data info`` (what a dataset holds)."""
