"""A run's claim dies with its holder even while a process it forked (a data-loader worker) lives on."""

import subprocess
import sys
import textwrap

from ganbench.store.results import claim_run

HOLDER = textwrap.dedent("""
    import os, sys, time
    from ganbench.store.results import claim_run
    claim = claim_run(sys.argv[1], "k1")
    assert claim is not None
    if os.fork() == 0:          # the worker: lives on after its parent is gone
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1), os.dup2(null, 2)  # not holding the test's pipes open
        time.sleep(30)
        os._exit(0)
    print("claimed", flush=True)
    os._exit(0)                 # the holder dies without releasing (as under SIGKILL)
""")


def test_a_claim_is_free_once_its_holder_dies_though_its_forked_child_lives(tmp_path):
    proc = subprocess.run([sys.executable, "-c", HOLDER, str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and "claimed" in proc.stdout, proc.stderr
    claim = claim_run(tmp_path, "k1")  # the child still sleeps: it must not hold the claim
    assert claim is not None
    claim.release()
