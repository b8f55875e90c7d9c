"""Shared test set-up.

In CI (``CI`` set in the environment) a skipped test is a failure: every
reference library is installed there, so a skip means something is missing.
"""

import os

import pytest

_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI") and _skipped and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if os.environ.get("CI") and _skipped:
        terminalreporter.write_line(
            f"CI: {len(_skipped)} test(s) skipped; in CI a skip counts as a failure "
            "(install the test extra: pip install -e '.[test]').", red=True)


def requires(module: str):
    """Import ``module`` or skip with a reason naming the extra that provides it."""
    return pytest.importorskip(module, reason=f"{module} is not installed; pip install -e '.[test]'")
