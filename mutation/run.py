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
from known_bugs import ROOT, scratch_copy  # noqa: E402

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


def _env(copy: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": "1"}


def _cr(copy: Path, *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("cosmic-ray", path=os.path.dirname(sys.executable)) or "cosmic-ray"
    return subprocess.run([exe, *args], cwd=copy, env=_env(copy), capture_output=True, text=True)


def _tool(copy: Path, name: str, *args: str) -> str:
    exe = shutil.which(name, path=os.path.dirname(sys.executable)) or name
    res = subprocess.run([exe, *args], cwd=copy, env=_env(copy), capture_output=True, text=True, check=True)
    return res.stdout


def full_run(name: str, copy: Path) -> tuple[list[dict], str]:
    cfg = copy / "mutation" / f"{name}.toml"
    session = copy / f"{name}.sqlite"
    for step in (("init", str(cfg), str(session)),):
        res = _cr(copy, *step)
        if res.returncode:
            sys.exit(f"cosmic-ray {step[0]} failed:\n{res.stderr[-3000:]}")
    _tool(copy, "cr-filter-operators", str(session), str(cfg))
    res = _cr(copy, "exec", str(cfg), str(session))
    if res.returncode:
        sys.exit(f"cosmic-ray exec failed:\n{res.stderr[-3000:]}")
    jobs = [json.loads(line) for line in _cr(copy, "dump", str(session)).stdout.splitlines()]
    return jobs, _tool(copy, "cr-report", "--surviving-only", "--show-diff", str(session))


def survivors_run(name: str, copy: Path, previous: Path) -> tuple[int, int, list[str]]:
    """Re-test the survivors listed in a previous results file; (tested before, killed before, still alive)."""
    text = previous.read_text()
    tested, killed = (int(x) for x in re.search(r"mutants tested: (\d+), killed: (\d+)", text).groups())
    cfg = _config(name)
    alive = []
    for module, op, occ in re.findall(r"^(\S+\.py) (core/\S+) (\d+)$", text, re.M):
        res = _cr(copy, "mutate-and-test", module, op, occ, cfg["test-command"])
        outcome = json.loads(res.stdout.strip().splitlines()[-1]) if res.stdout.strip() else {}
        if outcome.get("test_outcome") != "killed":
            alive.append(f"{module} {op} {occ}")
    return tested, killed, alive


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", help="a session configuration in mutation/ (color, losses, stats, ...)")
    ap.add_argument("--tests-from", metavar="REV", help="use the tests/ of this git revision")
    ap.add_argument("--survivors-of", metavar="FILE", type=Path, help="re-test only these survivors")
    ap.add_argument("--out", metavar="FILE", type=Path, help="results file (default mutation/results/NAME.txt)")
    args = ap.parse_args(argv)
    out = args.out or RESULTS / f"{args.name}.txt"
    copy = scratch_copy()
    try:
        if args.tests_from:
            _replace_tests(copy, args.tests_from)
        cfg = _config(args.name)
        head = [f"module: {cfg['module-path']}", f"tests: {cfg['test-command']}",
                f"tests from: {args.tests_from or 'the working tree'}"]
        if args.survivors_of:
            tested, killed_before, alive = survivors_run(args.name, copy, args.survivors_of)
            killed = tested - len(alive)
            body = [f"survivors of {args.survivors_of.name} re-tested"]
            listing = "\n".join(alive)
        else:
            jobs, report = full_run(args.name, copy)
            done = [r for _, r in jobs if r and r.get("worker_outcome") == "normal"]
            tested = len(done)
            killed = sum(r["test_outcome"] == "killed" for r in done)
            alive_jobs = [j for j, r in jobs if r and r.get("worker_outcome") == "normal"
                          and r["test_outcome"] != "killed"]
            filtered = sum(1 for _, r in jobs if r and r.get("worker_outcome") == "skipped")
            body = [f"skipped by the operator filter: {filtered}"]
            listing = "\n".join(f"{m['module_path']} {m['operator_name']} {m['occurrence']}"
                                for j in alive_jobs for m in j["mutations"]) + "\n\n" + report
        score = f"mutants tested: {tested}, killed: {killed}, score: {100 * killed / max(tested, 1):.1f}%"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join([*head, *body, score, "", "surviving mutants:", listing]) + "\n")
        print(score, f"-> {out}")
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
