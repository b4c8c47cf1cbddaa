"""Make docs/report.png, the README's picture of `cloudthrift report` over the demo estate.

    .venv/bin/python docs/report_screenshot.py

The demo estate (one region) goes through the real pipeline exactly as in the report's tests
(tests/report/pipeline.py: a dry run first, then real clean-ups, a skip, a rejection, a snooze), on
the embedded AWS; the report is written and Debian's headless Chromium photographs its top part.
Pillow (installed with matplotlib) reduces it to a 256-colour PNG to keep the repository small.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "report.png"


async def main(folder: Path) -> Path:
    from services.embedded_aws import EmbeddedAws
    from services.report import write_report
    from shared.aws import AwsClients
    from shared.config import load_settings
    from shared.ledger import Ledger
    from tests.report.pipeline import seed_by_pipeline

    server = EmbeddedAws()
    endpoint = server.start()
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION="us-east-1",
        DD_TRACE_ENABLED="false",
        DD_DOGSTATSD_DISABLE="true",
        CLOUDTHRIFT_LOG_LEVEL="warning",
    )
    try:
        settings = load_settings(cloudthrift_wait_time_seconds=1, cloudthrift_snapshot_wait_seconds=5)
        await seed_by_pipeline(settings)
        async with AwsClients(settings) as aws:
            ledger = Ledger(await aws.client("dynamodb"), settings.table_name)
            return await write_report(ledger, folder / "report.html")
    finally:
        server.stop()


def photograph(page: Path, folder: Path) -> None:
    from PIL import Image

    shot = folder / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={folder / 'profile'}",
            "--window-size=1200,1500",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
    )
    Image.open(shot).convert("RGB").quantize(colors=256).save(OUT, optimize=True)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        photograph(asyncio.run(main(folder)), folder)
    print(f"{OUT} ({OUT.stat().st_size // 1024} KiB)")
