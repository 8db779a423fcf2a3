"""The Reporter protocol is complete: the core calls every method directly; an incomplete reporter written
before is completed at the boundary (with a DeprecationWarning); run statuses are str-valued."""

from __future__ import annotations

import json

import pytest

from ganbench.core.reporting import REPORTER_METHODS, BaseReporter, Reporter, SilentReporter, as_reporter
from ganbench.store.results import RunStatus


def test_the_base_reporter_has_every_method_and_grid_rows_become_messages():
    rep = SilentReporter()
    assert isinstance(rep, Reporter) and all(callable(getattr(rep, m)) for m in REPORTER_METHODS)
    rep.run_start("dcgan seed 0", 10)
    rep.run_finish("dcgan seed 0", "complete", "18.2 dB")
    assert rep.messages == ["dcgan seed 0: complete (18.2 dB)"]
    assert as_reporter(rep) is rep


def test_an_incomplete_reporter_is_completed_with_a_warning():
    class OnlyMessages:
        def __init__(self):
            self.seen = []

        def message(self, text):
            self.seen.append(text)

    old = OnlyMessages()
    with pytest.warns(DeprecationWarning, match="OnlyMessages lacks Reporter methods start, advance"):
        rep = as_reporter(old)
    rep.start("x", 3)
    rep.opened(None)
    rep.run_finish("x", "failed")
    assert old.seen == ["x: failed"] and isinstance(rep, BaseReporter)


def test_none_is_a_silent_reporter():
    assert isinstance(as_reporter(None), SilentReporter)


def test_statuses_are_an_enum_written_as_the_same_strings():
    assert json.dumps({"status": RunStatus.COMPLETE}) == '{"status": "complete"}'
    assert RunStatus("interrupted") is RunStatus.INTERRUPTED and RunStatus.FAILED == "failed"
    assert [s.value for s in RunStatus] == ["running", "interrupted", "complete", "diverged", "failed"]
