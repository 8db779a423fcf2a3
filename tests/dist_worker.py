"""``ganbench`` with a spy plugin that saves each process's trained networks, for tests/train/test_distributed.py.

    [torchrun --standalone --nproc-per-node 2] tests/dist_worker.py OUT_DIR run --models M \
        (ganbench args) *spy_sets(M)

The run folder keeps only the selected generator; the critic and every rank's weights are what data
parallelism must get right. The spy is an ordinary plugin, registered in-process with
``ganbench.testing.plugin`` as a plugin author's test would: ``spy-unet`` and ``spy-patchgan`` build the
built-in networks and mark each one that runs a forward pass in training mode with gradients on a real
device (the networks being trained, not those built on the meta device to check shapes, nor the copies
that count FLOPs or score the selected generator). At exit the worker writes ``OUT_DIR/rank<R>.pt`` =
{"generator": ..., "critic": ...}, the trained networks after the last step.
"""

import json
import os
import sys

import torch

from ganbench.api import hookimpl
from ganbench_plugins.patchgan import patchgan
from ganbench_plugins.unet import unet

built: dict[str, list[torch.nn.Module]] = {"generator": [], "critic": []}
trained_ids: set[int] = set()  # by identity: a deep copy (FLOP counting, EMA) carries the hook, not the mark


def _spied(kind, factory):
    def build(hints=None, **options):  # declares ``hints``: the budget's network sizes reach the factory
        net = factory(hints=hints, **options)
        def mark(module, args):
            if module.training and torch.is_grad_enabled() and next(module.parameters()).device.type != "meta":
                trained_ids.add(id(module))

        net.register_forward_pre_hook(mark)
        built[kind].append(net)
        return net

    return build


class SpyPlugin:
    @hookimpl
    def register_generators(self, register):
        register("spy-unet", _spied("generator", unet))

    @hookimpl
    def register_critics(self, register):
        register("spy-patchgan", _spied("critic", patchgan))


def spy_sets(model: str) -> list[str]:
    """``--set`` arguments that put the spies in ``model``'s recipe with the recipe's own network options."""
    from ganbench.core.config import resolve_recipe
    from ganbench.core.registry import load_registry

    recipe = resolve_recipe(load_registry(), model)
    args = ["--set", "generator=spy-unet", "--set", "critic=spy-patchgan"]  # replacing a part drops its options
    for part, options in (("generator", recipe.generator_options), ("critic", recipe.critic_options)):
        for key, value in options.items():
            args += ["--set", f"{part}.{key}={json.dumps(value)}"]
    return args


def trained(kind: str) -> torch.nn.Module:
    nets = [net for net in built[kind] if id(net) in trained_ids]
    assert len(nets) == 1, f"{len(nets)} trained {kind}s"
    return nets[0]


if __name__ == "__main__":
    import faulthandler

    from ganbench.cli import cli
    from ganbench.testing import plugin

    # a stuck rank prints where every thread is and exits: the test fails with that, not a bare timeout
    faulthandler.dump_traceback_later(540, exit=True)
    out, code = sys.argv[1], 1
    try:
        with plugin(SpyPlugin(), name="spy"):
            cli.main(sys.argv[2:], prog_name="ganbench")  # ends in SystemExit, as the console script does
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        if code == 0:
            state = {kind: trained(kind).state_dict() for kind in built}
            torch.save(state, os.path.join(out, f"rank{os.environ.get('RANK', '0')}.pt"))
    # The spy keeps the trained networks, and so what data parallelism wrapped around them, alive after
    # ganbench has destroyed the process group; freeing them then (at interpreter exit) can hang. Leave
    # without freeing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
