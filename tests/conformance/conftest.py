"""Adds the conformance counts to pytest's terminal summary."""

import collections


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from .cases import RECORDED

    if not RECORDED:
        return
    counts = collections.defaultdict(collections.Counter)
    for o in RECORDED:
        counts[o.suite][o.status] += 1
    terminalreporter.section("cnncc conformance")
    for suite, c in sorted(counts.items()):
        terminalreporter.write_line(f"{suite:18} passed {c['passed']:5}  failed {c['failed']:4}  skipped {c['skipped']:5}")
    terminalreporter.write_line("per-op counts and skip reasons: python -m tests.conformance.summary")
