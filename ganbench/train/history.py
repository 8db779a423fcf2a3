"""The per-step statistics of a run (the rows of ``history.csv``), gathered on the device and moved to the
host in batches, and the divergence check on them."""

from __future__ import annotations

import math
from typing import Any

import torch

from ganbench.score.diagnostics import RATIO_COLUMN

#: The statistics each step records, named as history.csv's columns: the critic's loss and regulariser
#: (d_loss, d_reg), the generator's adversarial and L1 losses, the loss' distance estimate if it has one.
STAT_NAMES = ("d_loss", "d_reg", "g_adv", "g_l1", "w_estimate")


class StepHistory:
    """Statistics of the steps not yet moved to the host (``record``), and the logged rows (``rows``).
    ``absent``: a callable naming the statistics this loss does not have (logged empty, not as a fake 0)."""

    def __init__(self, batch_size: int, absent) -> None:
        self.batch_size, self.absent = batch_size, absent
        self.rows: list[dict[str, Any]] = []
        self.last_finite: dict[str, float] | None = None
        self.log_every = 1
        self._pending: list[torch.Tensor] = []
        self._ratios: dict[int, torch.Tensor] = {}

    def record(self, stats: dict[str, torch.Tensor], step: int, ratio: torch.Tensor | None = None) -> None:
        self._pending.append(torch.stack([stats[k].float() for k in STAT_NAMES]))
        if ratio is not None:
            self._ratios[step] = ratio

    def last(self) -> dict[str, float]:
        """The last step's statistics as floats (a host sync); those the loss does not have are None."""
        if not self._pending:
            return {}
        return {**dict(zip(STAT_NAMES, self._pending[-1].tolist(), strict=True)), **dict.fromkeys(self.absent())}

    def flush(self, step: int, seconds: float, networks: dict[str, torch.nn.Module]) -> dict[str, Any] | None:
        """Move pending statistics to ``rows`` (every ``log_every``-th step, and the first); return a divergence
        record if a statistic or a weight of ``networks`` is not finite. ``step``: the last step done."""
        if not self._pending:
            return None
        values = torch.stack(self._pending).cpu().tolist()
        first_step = step - len(values) + 1
        self._pending = []
        ratios = {k: float(v) for k, v in self._ratios.items()}
        self._ratios = {}
        for offset, row in enumerate(values):
            at = first_step + offset
            entry = dict(zip(STAT_NAMES, row, strict=True))
            entry.update(dict.fromkeys(self.absent()))  # empty, not a fake 0.0
            bad = [k for k, v in entry.items() if v is not None and not math.isfinite(v)]
            if bad:
                return {"step": at, "losses": bad, "last_finite": self.last_finite}
            self.last_finite = {"step": at, **entry}
            if at % self.log_every == 0 or at == 1:
                self.rows.append({"step": at, "images": at * self.batch_size, **entry, "seconds": seconds})
                if at in ratios:
                    self.rows[-1][RATIO_COLUMN] = ratios[at]
        bad_params = [name for name, net in networks.items()
                      if not all(bool(torch.isfinite(p).all()) for p in net.parameters())]
        if bad_params:
            return {"step": step, "losses": [f"{n} weights" for n in bad_params], "last_finite": self.last_finite}
        return None
