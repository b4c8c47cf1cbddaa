"""The bench's stand-in for the analyzer: consume one analyze queue while a CloudThrift scan publishes to it.

    python bench/scan_drain.py --endpoint URL --queue NAME

Run by bench/scan_vs_custodian.py as its own process (never the measured one, and not the bench parent:
boto3 stays out of that one, see scan_moto.py), started before each CloudThrift run and stopped after
it. It consumes the way the analyzer's consumer does, minus the analysing: ReceiveMessage of up to 10
with a 1 s long poll, then one DeleteMessageBatch for what it got. That keeps the queue short, as it is
in the pipeline; moto's SQS otherwise charges every SendMessageBatch for the whole queue's depth.

It runs 4 such receive loops (threads, one client each), not one: moto charges a ReceiveMessage the
queue's depth per message returned as well (a retention check that builds the queue's attributes), so a
single loop, at two requests per 10 messages against the publisher's one, falls behind, the queue
grows, and both sides slow down together. Measured alone (1,710 messages in 171 sequential batches):
publishing took 31 s with no consumer, 51 s with one loop, 28 s with two, 7 s with four, 9 s with eight.
Concurrent receives on moto occasionally hand the same message to two loops (its receive is not
atomic); real SQS is at-least-once too, so these are counted as duplicates, once.

Protocol: it prints `{"ready": true}` once its client and queue URL are resolved; on SIGTERM it stops
waiting for the scanner, keeps receiving until one long poll comes back empty, and prints one JSON line:
how many distinct messages it consumed (by finding kind and by scan id), how many of them had been
consumed when it was told to stop, and any duplicate receives or failed deletes.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config
from scan_moto import CREDENTIALS

BATCH = 10
WAIT_SECONDS = 1
RECEIVERS = 4


class Drainer:
    def __init__(self, endpoint: str, queue: str, receivers: int) -> None:
        self.endpoint = endpoint
        self.url = self._client().get_queue_url(QueueName=queue)["QueueUrl"]
        self.receivers = receivers
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        self.by_kind: Counter[str] = Counter()
        self.by_scan: Counter[str] = Counter()
        self.duplicates = 0
        self.unparsed = 0
        self.failed_deletes = 0
        self.receives = 0
        self.stopping = threading.Event()
        self.consumed_at_stop: int | None = None
        self.stop_started = 0.0

    def _client(self) -> Any:
        return boto3.session.Session().client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=self.endpoint,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=CREDENTIALS["AWS_SESSION_TOKEN"],
            config=Config(retries={"mode": "standard", "max_attempts": 5}),
        )

    def stop(self, *_: object) -> None:
        if not self.stopping.is_set():
            with self.lock:
                self.consumed_at_stop = len(self.seen)
            self.stop_started = time.monotonic()
            self.stopping.set()

    def run(self) -> dict[str, object]:
        clients = [self._client() for _ in range(self.receivers)]  # before "ready": no start-up lag
        threads = [threading.Thread(target=self._receive_loop, args=(c,), daemon=True) for c in clients]
        sys.stdout.write(json.dumps({"ready": True}) + "\n")
        sys.stdout.flush()
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.2)  # short joins, so SIGTERM's handler runs in this thread
        return {
            "consumed": len(self.seen),
            "consumed_at_stop": self.consumed_at_stop,
            "tail_s": round(time.monotonic() - self.stop_started, 3),
            "by_kind": dict(self.by_kind),
            "by_scan": dict(self.by_scan),
            "duplicates": self.duplicates,
            "unparsed": self.unparsed,
            "failed_deletes": self.failed_deletes,
            "receives": self.receives,
            "receivers": self.receivers,
        }

    def _receive_loop(self, sqs: Any) -> None:
        while True:
            stopping = self.stopping.is_set()  # before the poll: an empty poll after this is final
            answer = sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=BATCH,
                WaitTimeSeconds=WAIT_SECONDS,
                VisibilityTimeout=60,
            )
            messages = answer.get("Messages", [])
            with self.lock:
                self.receives += 1
                for message in messages:
                    self._count(message)
            if not messages:
                if stopping:  # told to stop, and one whole long poll after that found nothing more
                    return
                continue
            deleted = sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": message["ReceiptHandle"]}
                    for i, message in enumerate(messages)
                ],
            )
            with self.lock:
                self.failed_deletes += len(deleted.get("Failed", []))

    def _count(self, message: dict[str, Any]) -> None:
        if message["MessageId"] in self.seen:
            self.duplicates += 1
            return
        self.seen.add(message["MessageId"])
        try:
            envelope = json.loads(message["Body"])
            finding = envelope["payload"]["finding"]
            assert envelope["type"] == "ResourceFound"
            self.by_kind[finding["key"]["kind"]] += 1
            self.by_scan[finding["scan_id"]] += 1
        except (ValueError, KeyError, TypeError, AssertionError):
            self.unparsed += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument(
        "--receivers", type=int, default=RECEIVERS, help=f"Concurrent receive loops (default {RECEIVERS})."
    )
    args = parser.parse_args(argv)
    drainer = Drainer(args.endpoint, args.queue, args.receivers)
    signal.signal(signal.SIGTERM, drainer.stop)
    result = drainer.run()
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
