"""Step 2 of a run, data: decode and resize photos once (cached), split them, sample training batches and
fixed evaluation crops, and convert RGB to the networks' Lab coordinates."""

from ganbench._moved import moved

# file_item, list_images, is_gray and UnusableImage were importable from here: now from ganbench.api
__getattr__ = moved(__name__)
