"""Speed-up of ganbench's training step over the plain eager loop, from one saved benchmark run.

    python benchmarks/ratios.py results/benchmarks/cpu-2core.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict


def ratios(path: str) -> list[tuple[str, str, float, float]]:
    with open(path) as fh:
        data = json.load(fh)
    by_group: dict[str, dict[str, float]] = defaultdict(dict)
    for b in data["benchmarks"]:
        impl = b["extra_info"].get("impl")
        if impl:
            by_group[b["group"]][impl] = b["stats"]["mean"]
    rows = []
    for group, impls in sorted(by_group.items()):
        ref = impls.get("reference")
        for impl, mean in sorted(impls.items()):
            if impl != "reference" and ref:
                rows.append((group, impl, mean, ref / mean))
    return rows


if __name__ == "__main__":
    for group, impl, mean, speedup in ratios(sys.argv[1]):
        print(f"{group:32s} {impl:16s} {mean * 1000:9.1f} ms/step  {speedup:5.2f}x the plain loop")
