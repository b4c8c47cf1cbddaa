"""Cloud Custodian's side of the benchmark: its own virtualenv, the two policies, and its result count.

c7n pins its own boto3 and must not be installed into the project environment (PROTOCOLS F), so it
lives in `.venv-tools/c7n`, created here on first use. c7n builds its clients with plain boto3
sessions and passes no endpoint of its own, so botocore's standard `AWS_ENDPOINT_URL` points it at
the moto server (checked: the per-region counts it logs are moto's estate).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

C7N_PIN = "c7n==0.9.53"
C7N_ORG_PIN = "c7n-org==0.6.52"  # its multi-account runner, for bench/scan_org.py (pins c7n 0.9.53 too)
POLICIES = """\
policies:
  - name: ebs-unattached
    resource: aws.ebs
    filters:
      - Attachments: []
  - name: eip-unassociated
    resource: aws.network-addr
    filters:
      - AssociationId: absent
"""
KIND_OF_POLICY = {"ebs-unattached": "ebs-volume", "eip-unassociated": "elastic-ip"}


def ensure_custodian(root: Path) -> Path:
    """The `custodian` executable of the tools venv, creating the venv (c7n and c7n-org) when missing."""
    venv = root / ".venv-tools" / "c7n"
    custodian = venv / "bin" / "custodian"
    if custodian.exists() and (venv / "bin" / "c7n-org").exists():
        return custodian
    print(f"creating {venv} with {C7N_PIN} and {C7N_ORG_PIN} (once)", file=sys.stderr, flush=True)
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            C7N_PIN,
            C7N_ORG_PIN,
        ],
        check=True,
    )
    return custodian


def ensure_c7n_org(root: Path) -> Path:
    """The `c7n-org` executable of the same tools venv."""
    return ensure_custodian(root).parent / "c7n-org"


def write_policies(directory: Path) -> Path:
    path = directory / "policies.yml"
    path.write_text(POLICIES)
    return path


def custodian_command(custodian: Path, policies: Path, output_dir: Path, regions: Sequence[str]) -> list[str]:
    command = [str(custodian), "run", "--cache-period", "0", "-s", str(output_dir)]
    for region in regions:
        command += ["--region", region]
    return [*command, str(policies)]


def count_found(output_dir: Path, regions: Sequence[str]) -> dict[str, int]:
    """Resources matched per kind, from the resources.json c7n writes per region and policy.

    With more than one region c7n writes under `<output>/<region>/<policy>/`; every one must be there.
    """
    counts = dict.fromkeys(KIND_OF_POLICY.values(), 0)
    for region in regions:
        for policy, kind in KIND_OF_POLICY.items():
            path = output_dir / region / policy / "resources.json"
            if not path.exists():
                raise RuntimeError(f"custodian wrote no {path}")
            counts[kind] += len(json.loads(path.read_text()))
    return counts
