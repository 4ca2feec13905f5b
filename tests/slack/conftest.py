"""Makes the Slack harness fixtures available to the harness's own tests."""

from tests.slack.fixtures import fake_slack  # noqa: F401
