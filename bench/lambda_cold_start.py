"""Cold start of the Lambda functions, from the zip bench/lambda_package.py builds, against moto.

Each run is a fresh interpreter (`python3.11 -I -S`: the standard library and the unzipped artifact on
sys.path, nothing else, as in Lambda's /var/task) that times, with the handlers Lambda calls:

- `import_s`: importing the interactions entry (services.serverless.interactions);
- `first_click_s`: the first click on the cold container: settings, one SQS client, the signature, the
  click queued (ClickReceived) and answered DEFERRED_UPDATE_MESSAGE. This plus `import_s` is what
  Discord waits for (its deadline is 3 s, network included);
- `deferred_s`: the clicks queue's invocation that decides it: opening the runtime (ledger, the eight
  queue URLs) and the click's conditional write and SendMessage. `import_s + first_click_s +
  deferred_s` is what a cold click would cost if it were decided inline;
- `warm_click_s`: a click on another card, decided inline, on the now warm container;
- `worker_import_s`, `worker_first_batch_s`: a worker function (the notifier) importing and handling
  its first (empty-bodied, dead-lettered) record, in a second fresh interpreter.

Tracing and DogStatsD are off (no Datadog extension here); `--tracing` turns ddtrace on to count its
import. Medians of 3 runs are printed and appended to bench/results/lambda_cold_start.jsonl.

    .venv/bin/python bench/lambda_package.py        # build/lambda/cloudthrift-lambda.zip
    .venv/bin/python bench/lambda_cold_start.py [--zip build/lambda/cloudthrift-lambda.zip] [--tracing]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nacl.signing import SigningKey  # noqa: E402
from rich.console import Console  # noqa: E402

from services.embedded_aws import EmbeddedAws  # noqa: E402
from services.notifier.handler import GroupPolicy, NotifierDeps, handle_analyzed  # noqa: E402
from shared.aws import AwsClients  # noqa: E402
from shared.bootstrap import bootstrap  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.discord import ConsoleDiscord  # noqa: E402
from shared.worker import open_runtime  # noqa: E402
from tests.notifier.helpers import analyzed, finding  # noqa: E402
from tests.notifier.signed_cases import APPROVER, click_body  # noqa: E402
from tests.serverless.aws_events import url_event  # noqa: E402

RESULTS = ROOT / "bench" / "results"
DEFAULT_ZIP = ROOT / "build" / "lambda" / "cloudthrift-lambda.zip"

CHILD = r"""
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, sys.argv[1])
events = json.load(open(sys.argv[2]))
out = {}
if events["kind"] == "interactions":
    import services.serverless.interactions as entry
    out["import_s"] = time.perf_counter() - started
    t = time.perf_counter(); answer = entry.handler(events["cold_click"], None)
    out["first_click_s"] = time.perf_counter() - t
    assert json.loads(answer["body"]) == {"type": 6}, answer
    import botocore.session
    sqs = botocore.session.get_session().create_client("sqs")
    got = sqs.receive_message(QueueUrl=events["clicks_url"], WaitTimeSeconds=5,
                              MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"])
    [m] = got["Messages"]
    record = {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
              "attributes": m.get("Attributes", {}), "messageAttributes": {},
              "eventSource": "aws:sqs", "eventSourceARN": events["clicks_arn"], "awsRegion": "us-east-1"}
    t = time.perf_counter(); result = entry.handler({"Records": [record]}, None)
    out["deferred_s"] = time.perf_counter() - t
    assert result == {"batchItemFailures": []}, result
    t = time.perf_counter(); answer = entry.handler(events["warm_click"], None)
    out["warm_click_s"] = time.perf_counter() - t
    assert json.loads(answer["body"])["type"] == 7, answer
else:
    import services.serverless.worker as entry
    out["worker_import_s"] = time.perf_counter() - started
    t = time.perf_counter(); result = entry.handler(events["batch"], None)
    out["worker_first_batch_s"] = time.perf_counter() - t
    assert result == {"batchItemFailures": []}, result
out["modules"] = len(sys.modules)
print(json.dumps(out))
"""


async def seed(settings: Settings, count: int) -> tuple[list[str], str]:
    """Decisions awaiting approval, carded as the notifier does: their Approve buttons' custom_ids, and
    the clicks queue's URL."""
    async with AwsClients(settings) as aws:
        await bootstrap(settings, aws)
        sqs = await aws.client("sqs")
        await sqs.create_queue(QueueName="cloudthrift-clicks-dlq")
        clicks_url = (await sqs.create_queue(QueueName="cloudthrift-clicks"))["QueueUrl"]
    ids = []
    async with open_runtime(settings, short_lived=True) as runtime:
        for index in range(count):
            sink = ConsoleDiscord(Console(file=io.StringIO()))
            deps = NotifierDeps(runtime.ledger, sink, "c", GroupPolicy(threshold=0))
            await handle_analyzed(await analyzed(runtime.ledger, finding(f"vol-{index:017x}")), deps)
            _, payload = sink.posted[-1]
            ids.append(next(b["custom_id"] for b in payload["components"][0]["components"]))
    return ids, clicks_url


def signed(key: SigningKey, custom_id: str) -> dict[str, Any]:
    # Without the interaction's token: the deferred invocation would edit the card through Discord's
    # webhook (one PATCH to discord.com, unreachable here), which is not what this measures.
    body = {k: v for k, v in click_body(custom_id).items() if k not in ("token", "application_id")}
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Signature-Ed25519": key.sign(stamp.encode() + raw).signature.hex(),
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }
    return url_event(raw, headers)


def run_child(python: str, artifact: Path, events: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(events, handle)
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-I", "-S", "-c", CHILD, str(artifact), handle.name],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    os.unlink(handle.name)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tracing", action="store_true", help="DD_TRACE_ENABLED=true (ddtrace imported)")
    # The interpreter behind the virtualenv: the same 3.11 the zip was compiled with, without its packages.
    parser.add_argument(
        "--python",
        default=getattr(sys, "_base_executable", sys.executable),
        help="a Python 3.11 like Lambda's",
    )
    args = parser.parse_args()
    aws = EmbeddedAws()
    endpoint = aws.start()
    key = SigningKey.generate()
    base_env = {
        "PATH": "/usr/bin:/bin",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "CLOUDTHRIFT_LOG_FORMAT": "json",
        "DD_TRACE_ENABLED": "true" if args.tracing else "false",
        "DD_DOGSTATSD_DISABLE": "true",
        "DISCORD_PUBLIC_KEY": key.verify_key.encode().hex(),
        "DISCORD_APPROVER_IDS": APPROVER,
    }
    settings = Settings(_env_file=None, aws_endpoint_url=endpoint, aws_region="us-east-1")  # type: ignore[call-arg]
    runs: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="cloudthrift-task-") as task:
            zipfile.ZipFile(args.zip).extractall(task)
            os.environ.update({k: v for k, v in base_env.items() if k.startswith("AWS_")})
            ids, clicks_url = asyncio.run(seed(settings, 2 * args.runs))
            clicks_arn = "arn:aws:sqs:us-east-1:123456789012:cloudthrift-clicks"
            env = dict(base_env, CLOUDTHRIFT_CLICKS_QUEUE_URL=clicks_url)
            for run in range(args.runs):
                events = {
                    "kind": "interactions",
                    "cold_click": signed(key, ids[2 * run]),
                    "warm_click": signed(key, ids[2 * run + 1]),
                    "clicks_url": clicks_url,
                    "clicks_arn": clicks_arn,
                }
                result = run_child(args.python, Path(task), events, env)
                batch = {
                    "Records": [
                        {
                            "messageId": f"m-{run}",
                            "receiptHandle": "not-used",
                            "body": "{not json",
                            "attributes": {"ApproximateReceiveCount": "1"},
                            "messageAttributes": {},
                            "eventSource": "aws:sqs",
                            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:cloudthrift-notify",
                            "awsRegion": "us-east-1",
                        }
                    ]
                }
                worker = run_child(
                    args.python,
                    Path(task),
                    {"kind": "worker", "batch": batch},
                    dict(env, CLOUDTHRIFT_STAGE="notifier"),
                )
                result.update({k: v for k, v in worker.items() if k.startswith("worker_")})
                runs.append(result)
                print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))
    finally:
        aws.stop()
    keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
    medians = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}
    medians["cold_answer_s"] = round(medians["import_s"] + medians["first_click_s"], 3)
    medians["cold_inline_s"] = round(medians["cold_answer_s"] + medians["deferred_s"], 3)
    line = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tracing": args.tracing,
        "runs": args.runs,
        **medians,
    }
    print(json.dumps(line))
    RESULTS.mkdir(parents=True, exist_ok=True)
    with (RESULTS / "lambda_cold_start.jsonl").open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
