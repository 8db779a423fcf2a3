"""Re-check that the suite catches the twelve bugs of issue 23. Each bug is a one-line edit applied to a
scratch copy of the working tree; the test named beside it must pass on the unedited copy and fail on the
edited one. Nothing in the working tree is touched.

    python mutation/known_bugs.py            # all of them (86 s on 2 cores, 2026-11-28)
    python mutation/known_bugs.py 4 12       # some of them

Exit status 0 when every bug is caught. When an edit no longer applies (the code moved), the script says so:
update the line here, not the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# id: (what the bug does, file, original line fragment, buggy replacement, the pytest selection that catches it)
BUGS = {
    1: ("the trainer drops the gradient penalty from the critic loss", "ganbench/train/steps.py",
        "total = critic_loss if reg is None else critic_loss + reg", "total = critic_loss",
        "tests/plugins/test_recipes.py::test_the_gradient_penalty_changes_the_critics_update_by_its_own_gradient"),
    2: ("the critic's BatchNorm stays per process under torchrun", "ganbench/train/networks.py",
        "globalize_batchnorm(generator), globalize_batchnorm(critic)", "globalize_batchnorm(generator), critic",
        "tests/train/test_distributed.py::test_two_processes_equal_one_process_with_the_same_global_batch[dcgan]"),
    3: ("the multi-tensor (CUDA) clipping path loses its upper clamp", "plugins/ganbench_plugins/losses.py",
        "torch._foreach_clamp_max_(params, clip)", "pass",
        "tests/plugins/test_recipes.py::test_weight_clipping_clamps_both_bounds_on_either_path"),
    4: ("lab_to_uint8 truncates instead of rounding", "ganbench/data/color.py",
        "rgb.mul(255.0).round_().to(torch.uint8)", "rgb.mul(255.0).to(torch.uint8)",
        "tests/data/test_color.py::test_lab_to_uint8_rounds_to_the_nearest_level"),
    5: ("the fewer-than-5-photos rule removed", "ganbench/score/verdicts.py",
        'enough = t.get("n_photos", 0) >= MIN_PHOTOS', "enough = True",
        "tests/report/test_report.py::test_fewer_than_five_photos_are_never_significant"),
    6: ("the model − gray sign flipped", "ganbench/score/stats.py",
        "d = a2.mean(axis=0) - b2.mean(axis=0)", "d = b2.mean(axis=0) - a2.mean(axis=0)",
        "tests/report/test_report.py::test_model_minus_gray_sign_verdict_and_table_mark"),
    7: ("significance made one-sided", "ganbench/score/stats.py",
        "return float(2 * _special.stdtr(dof, -abs(mean) / math.sqrt(v)))",
        "return float(_special.stdtr(dof, -abs(mean) / math.sqrt(v)))",
        "tests/report/test_report.py::test_significance_is_two_sided_at_95_percent"),
    8: ("a 90 % interval instead of 95 %", "ganbench/score/stats.py",
        "LEVEL = 0.95", "LEVEL = 0.90",
        "tests/report/test_report.py::test_significance_is_two_sided_at_95_percent"),
    9: ("the above/below-gray mark in the table flipped", "ganbench/report/comparison.py",
        'marks.append("above gray" if s["better"] == model else "below gray")',
        'marks.append("below gray" if s["better"] == model else "above gray")',
        "tests/report/test_report.py::test_model_minus_gray_sign_verdict_and_table_mark"),
    10: ("EMA weights not restored on resume", "ganbench/train/checkpoint.py",
         "trainer.ema.load_state_dict(state[\"ema\"])", "pass",
         "tests/train/test_reliability.py::test_resume_restores_the_ema_and_the_best_so_far_pick_on_a_falling_validation_curve"),
    11: ("the best-so-far pick not restored on resume", "ganbench/train/checkpoint.py",
         "trainer.validation.best = state[\"best\"]", "trainer.validation.best = None",
         "tests/train/test_reliability.py::test_resume_restores_the_ema_and_the_best_so_far_pick_on_a_falling_validation_curve"),
    12: ("batched colorize gives each photo the next photo's colours", "ganbench/tools/colorize.py",
         "out[i] = _combine(images[i], ab[j], device)", "out[i] = _combine(images[i], ab[(j + 1) % len(idx)], device)",
         "tests/tools/test_colorize.py::test_batched_colorize_equals_one_at_a_time"),
}


def scratch_copy() -> Path:
    """The tracked and untracked (not ignored) files of the working tree, importable as ganbench and
    ganbench_plugins ahead of the editable install."""
    dest = Path(tempfile.mkdtemp(prefix="ganbench-bug-"))
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"], check=True,
                           capture_output=True, text=True).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    (dest / "ganbench_plugins").symlink_to("plugins/ganbench_plugins")
    return dest


def subprocess_env(copy: Path) -> dict[str, str]:
    """The environment tests of ``copy`` run in: its modules first on the path, one OpenMP thread unless
    OMP_NUM_THREADS says otherwise (two torch processes on 2 cores with a thread per core slow each other
    several-fold)."""
    return {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


def _pytest(copy: Path, *tests: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                          cwd=copy, env=subprocess_env(copy), capture_output=True, text=True)


def check(bug: int, copy: Path) -> bool:
    what, rel, old, new, test = BUGS[bug]
    path = copy / rel
    original = path.read_text()
    if original.count(old) != 1:
        print(f"bug {bug}: '{old}' is not (once) in {rel}: update mutation/known_bugs.py")
        return False
    path.write_text(original.replace(old, new))
    try:
        res = _pytest(copy, test)
    finally:
        path.write_text(original)
    caught = res.returncode == 1  # 1: tests failed (not 2-5: an error collecting or running pytest)
    print(f"bug {bug:2d} ({what}): {'caught' if caught else 'NOT CAUGHT'} by {test.split('::')[-1]}")
    if not caught:
        print(res.stdout[-2000:])
    return caught


def main(argv: list[str]) -> int:
    bugs = [int(a) for a in argv] or list(BUGS)
    copy = scratch_copy()
    try:
        baseline = _pytest(copy, *sorted({BUGS[b][4] for b in bugs}))
        if baseline.returncode != 0:  # a test that fails without the bug proves nothing about it
            print("the catching tests fail on the unedited code:\n" + baseline.stdout[-2000:])
            return 1
        print("the catching tests pass on the unedited code")
        results = [check(b, copy) for b in bugs]
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
