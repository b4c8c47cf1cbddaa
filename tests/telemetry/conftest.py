"""Fixtures for telemetry: a UDP DogStatsD listener, and the Datadog APM test agent as a subprocess.

Both are real endpoints on loopback: the `datadog` package and ddtrace talk to them exactly as they
talk to a Datadog Agent, found through the standard DD_* variables.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ENV, VERSION = "test", "1.2.3"


@dataclass(frozen=True)
class Datagram:
    """One DogStatsD metric line: `name:value|type|@rate|#tags|c:container`."""

    name: str
    value: float
    type: str
    tags: tuple[str, ...]
    raw: str

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(tag.split(":", 1) for tag in self.tags if ":" in tag)

    @classmethod
    def parse(cls, line: str) -> Datagram:
        head, kind, *sections = line.split("|")
        name, value = head.rsplit(":", 1)
        tags = next((s[1:].split(",") for s in sections if s.startswith("#")), [])
        return cls(name, float(value), kind, tuple(tags), line)


class StatsdListener:
    """Collects every datagram sent to its UDP port, from a thread."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.datagrams: list[Datagram] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._closed.is_set():
            try:
                packet = self._sock.recv(65_535)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in packet.decode().splitlines():
                if line and not line.startswith(("_e{", "_sc|")):
                    self.datagrams.append(Datagram.parse(line))

    def named(self, name: str) -> list[Datagram]:
        return [d for d in list(self.datagrams) if d.name == name]

    def wait_for(self, predicate: Callable[[list[Datagram]], bool], timeout: float = 5.0) -> list[Datagram]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(list(self.datagrams)):
                break
            time.sleep(0.02)
        return list(self.datagrams)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsdListener]:
    """A DogStatsD listener, named to the `datadog` package by DD_DOGSTATSD_URL, with env and version."""
    listener = StatsdListener()
    monkeypatch.delenv("DD_DOGSTATSD_DISABLE", raising=False)
    monkeypatch.setenv("DD_DOGSTATSD_URL", f"udp://127.0.0.1:{listener.port}")
    monkeypatch.setenv("DD_ENV", ENV)
    monkeypatch.setenv("DD_VERSION", VERSION)
    yield listener
    listener.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class ApmTestAgent:
    url: str

    def start_session(self) -> str:
        token = uuid.uuid4().hex
        urllib.request.urlopen(f"{self.url}/test/session/start?test_session_token={token}", timeout=5).read()
        return token

    def traces(self, token: str) -> list[list[dict]]:
        import json

        answer = urllib.request.urlopen(
            f"{self.url}/test/session/traces?test_session_token={token}", timeout=5
        )
        return json.loads(answer.read())


@pytest.fixture(scope="session")
def test_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApmTestAgent]:
    """`ddapm-test-agent` on a free loopback port, for the whole session."""
    port = _free_port()
    binary = Path(sys.executable).with_name("ddapm-test-agent")
    log = (tmp_path_factory.mktemp("ddapm") / "agent.log").open("w")
    process = subprocess.Popen(
        # It also serves OTLP, on 4318 and 4317 unless told otherwise: free ports, so that two test
        # runs on one machine (or anything else on those ports) cannot stop it from starting.
        [
            str(binary),
            f"--port={port}",
            f"--otlp-http-port={_free_port()}",
            f"--otlp-grpc-port={_free_port()}",
            "--host=127.0.0.1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("DD_")},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/test/traces", timeout=1).read()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"ddapm-test-agent did not start (exit {process.poll()}); see {log.name}")
            time.sleep(0.1)
    yield ApmTestAgent(url)
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
