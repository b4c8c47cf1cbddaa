"""The benchmark's AWS endpoint: a moto server in its own process, and the environment that points at it.

Standard library only, on purpose: the bench parent must stay small, because a child's ru_maxrss starts
from the parent's peak RSS (the kernel keeps the larger of the pre-exec and post-exec images), so a
parent that had imported boto3 would put a floor of ~35 MiB under both tools' figures.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """`moto_server -H 127.0.0.1 -p PORT` as a child process, stopped on exit."""

    def __init__(self, venv_bin: Path, log_path: Path) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._command = [str(venv_bin / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> MotoServer:
        log = self._log_path.open("wb")
        self.process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited early; see {self._log_path}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto_server did not answer on {self.endpoint} within 30 s")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cpu_seconds(self) -> float:
        """user+sys CPU the server has used so far (from /proc), to show the load each tool puts on it."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15)


def aws_env(endpoint: str) -> dict[str, str]:
    """The environment both tools run with: the standard AWS_ENDPOINT_URL plus fake credentials."""
    return CREDENTIALS | {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
