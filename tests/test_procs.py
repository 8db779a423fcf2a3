"""The suite's guard against hanging: a command past its time is killed with everything under it."""

import sys
import time
from pathlib import Path

import pytest
from procs import run_bounded


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_command_past_its_time_is_killed_with_a_grandchild_in_its_own_session(tmp_path):
    # torchrun starts each worker in a session of its own: killing the process group would miss them
    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
            f" start_new_session=True); open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(600)")
    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match="did not finish within 3 s"):
        run_bounded([sys.executable, "-c", code], timeout=3)
    assert time.monotonic() - start < 60
    grandchild = int(pid_file.read_text())
    for _ in range(100):  # SIGKILL is delivered asynchronously
        if not _alive(grandchild):
            break
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_finished_command_returns_its_output():
    res = run_bounded([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                      timeout=60)
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
