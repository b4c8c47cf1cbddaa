"""`cloudthrift doctor`: is this set-up able to run? One line per check, with the fix when it fails.

    checks/aws.py      identity, queues and table, each stage's EC2 permissions (DryRun)
    checks/outside.py  Discord token and channel, Gemini key and model, Datadog Agent, the executor

A check returns a `Check`; `FAIL` is kept for what a configured stage cannot work without, so the exit
code (1 when anything failed) can gate a deployment. What is optional and missing is `skip` or `warn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "FAIL", "warn", "skip"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self, width: int = 22) -> str:
        return f"{self.status:<5} {self.name:<{width}} {self.detail}"
