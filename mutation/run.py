"""Mutation testing of the modules where a silent bug changes the numbers, with cosmic-ray.

    pip install -e ".[mutation]"
    nice -n 10 python mutation/run.py color            # one module: mutation/color.toml
    nice -n 10 python mutation/run.py color --tests-from main   # the same mutants against another rev's tests

Each module has a session configuration here (``NAME.toml``: the module, the tests that guard it, the
operators left out). The run works on a scratch copy of the working tree (cosmic-ray edits the module in
place), so an interrupted run never leaves a mutant behind. It writes ``mutation/results/NAME.txt``: the
score (killed / mutants tested) and every surviving mutant's diff, which docs/mutation.md explains or a
new test kills.

``--survivors-of FILE`` re-tests only the mutants listed as surviving in a previous results file (a quick
"after" score once tests were added: mutants the old tests killed stay killed, tests having only grown).
Ctrl-C stops a run and writes what was tested (marked PARTIAL); ``--session FILE`` writes the results of
an existing session.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from known_bugs import ROOT, scratch_copy, subprocess_env  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _config(name: str) -> dict:
    import tomllib

    return tomllib.loads((HERE / f"{name}.toml").read_text())["cosmic-ray"]


def _replace_tests(copy: Path, rev: str) -> None:
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "tests"], check=True, capture_output=True).stdout
    shutil.rmtree(copy / "tests")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(copy, filter="data")


def _cr(copy: Path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("cosmic-ray", path=os.path.dirname(sys.executable)) or "cosmic-ray"
    return subprocess.run([exe, *args], cwd=copy, env=subprocess_env(copy), capture_output=True, text=True)


def _tool(copy: Path, name: str, *args: str) -> str:
    exe = shutil.which(name, path=os.path.dirname(sys.executable)) or name
    res = subprocess.run([exe, *args], cwd=copy, env=subprocess_env(copy), capture_output=True, text=True, check=True)
    return res.stdout


def full_run(name: str, copy: Path) -> tuple[Path, bool]:
    """Init, filter and execute a session in the copy; Ctrl-C stops it and keeps what was tested."""
    cfg = copy / "mutation" / f"{name}.toml"
    session = copy / f"{name}.sqlite"
    res = _cr(copy, "init", str(cfg), str(session))
    if res.returncode:
        sys.exit(f"cosmic-ray init failed:\n{res.stderr[-3000:]}")
    _tool(copy, "cr-filter-operators", str(session), str(cfg))
    exe = shutil.which("cosmic-ray", path=os.path.dirname(sys.executable)) or "cosmic-ray"
    proc = subprocess.Popen([exe, "exec", str(cfg), str(session)], cwd=copy, env=subprocess_env(copy),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return session, False
    if proc.returncode:
        sys.exit(f"cosmic-ray exec failed:\n{err[-3000:]}")
    return session, True


def session_results(session: Path) -> tuple[list[str], int, int, str]:
    """(summary lines, mutants tested, killed, surviving mutants with their diffs) of a session."""
    exe = shutil.which("cosmic-ray", path=os.path.dirname(sys.executable)) or "cosmic-ray"
    dump = subprocess.run([exe, "dump", str(session)], capture_output=True, text=True, check=True).stdout
    jobs = [json.loads(line) for line in dump.splitlines()]
    done = [(j, r) for j, r in jobs if r and r.get("worker_outcome") == "normal"]
    killed = sum(r["test_outcome"] == "killed" for _, r in done)
    filtered = sum(1 for _, r in jobs if r and r.get("worker_outcome") == "skipped")
    pending = sum(1 for _, r in jobs if not r)
    alive = "\n".join(f"{m['module_path']} {m['operator_name']} {m['occurrence']}"
                      for j, r in done if r["test_outcome"] != "killed" for m in j["mutations"])
    report = subprocess.run([shutil.which("cr-report", path=os.path.dirname(sys.executable)) or "cr-report",
                             "--surviving-only", "--show-diff", str(session)], capture_output=True, text=True).stdout
    lines = [f"skipped by the operator filter: {filtered}"]
    if pending:
        lines.append(f"PARTIAL: {pending} mutants not tested (the run was stopped)")
    return lines, len(done), killed, alive + "\n\n" + report


def survivors_run(name: str, copy: Path, previous: Path) -> list[str]:
    """Re-test the survivors listed in a previous results file; those still alive."""
    cfg = _config(name)
    listed = re.findall(r"^(\S+\.py) (core/\S+) (\d+)$", previous.read_text(), re.M)
    alive = []
    for module, op, occ in dict.fromkeys(listed):  # the cr-report part repeats each line
        res = _cr(copy, "mutate-and-test", module, op, occ, cfg["test-command"])
        if '"killed"' not in res.stdout:
            alive.append(f"{module} {op} {occ}")
    return alive


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", help="a session configuration in mutation/ (color, losses, stats, ...)")
    ap.add_argument("--tests-from", metavar="REV", help="use the tests/ of this git revision")
    ap.add_argument("--survivors-of", metavar="FILE", type=Path, help="re-test only these survivors")
    ap.add_argument("--session", metavar="FILE", type=Path, help="only write the results of this session")
    ap.add_argument("--out", metavar="FILE", type=Path, help="results file (default mutation/results/NAME.txt)")
    args = ap.parse_args(argv)
    out = args.out or RESULTS / f"{args.name}.txt"
    cfg = _config(args.name)
    head = [f"module: {cfg['module-path']}", f"tests: {cfg['test-command']}",
            f"tests from: {args.tests_from or 'the working tree'}"]
    copy = None if args.session else scratch_copy()
    try:
        if copy is not None and args.tests_from:
            _replace_tests(copy, args.tests_from)
        if args.survivors_of:
            before = args.survivors_of.read_text()
            tested, killed = (int(x) for x in re.search(r"mutants tested: (\d+), killed: (\d+)", before).groups())
            alive = survivors_run(args.name, copy, args.survivors_of)
            body, killed, listing = [f"the survivors of {args.survivors_of.name} re-tested"], tested - len(alive), \
                "\n".join(alive)
        else:
            session = args.session or full_run(args.name, copy)[0]
            body, tested, killed, listing = session_results(session)
        score = f"mutants tested: {tested}, killed: {killed}, score: {100 * killed / max(tested, 1):.1f}%"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join([*head, *body, score, "", "surviving mutants:", listing]) + "\n")
        print(score, f"-> {out}")
    finally:
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
