"""Pytest fixtures for the Slack test harness.

Import them into a conftest: `from tests.slack.fixtures import fake_slack  # noqa: F401`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.slack.fake_slack import FakeSlack


def assert_no_violations(fake: FakeSlack) -> None:
    """Fail with every call that broke a Slack rule (unknown method, missing arg, Block Kit limit)."""
    if fake.violations:
        lines = "\n".join(f"  - {violation}" for violation in fake.violations)
        raise AssertionError(f"the app made {len(fake.violations)} call(s) Slack would refuse:\n{lines}")


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A started FakeSlack for one test; at teardown the test fails if any call broke a Slack rule.

    A test that provokes a violation on purpose clears `fake_slack.violations` after asserting it.
    """
    with FakeSlack() as fake:
        yield fake
        assert_no_violations(fake)
