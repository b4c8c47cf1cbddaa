"""The kinds' remedies are tested through the executor's real handler: its fixtures, shared."""

from tests.executor.conftest import aws, botocore_session, clock, ec2, ledger, make_deps, metrics, reporter

__all__ = ["aws", "botocore_session", "clock", "ec2", "ledger", "make_deps", "metrics", "reporter"]
