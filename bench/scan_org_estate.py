"""The organization bench's estate, seeded with plain boto3 straight into the emulator (not timed).

    python bench/scan_org_estate.py --endpoint URL --accounts 20 --regions r1,r2 --idle 16 --role NAME

The caller's account (moto's default, 123456789012) creates an organization and the member accounts in
it; then, in every member account, through the role both tools will assume (moto lets any role be
assumed, and its credentials act in the role's account), each region gets `idle` idle resources: seven
in eight unattached volumes, the rest unassociated Elastic IPs. It prints one JSON line: the accounts
(id and name) and the idle count per account and region, read back from the emulator.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.config import Config
from scan_moto import CREDENTIALS

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})
_TYPES = ("gp2", "gp3", "st1", "sc1", "standard")


_SESSION = boto3.session.Session()  # one for every client: a session parses botocore's data once


def _client(endpoint: str, service: str, region: str, keys: dict[str, str] | None = None) -> Any:
    """A client with these credentials (default: the management account, moto's default account)."""
    keys = keys or {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": CREDENTIALS["AWS_SESSION_TOKEN"],
    }
    return _SESSION.client(service, region_name=region, endpoint_url=endpoint, config=_CONFIG, **keys)


def create_accounts(endpoint: str, count: int) -> list[dict[str, str]]:
    organizations = _client(endpoint, "organizations", "us-east-1")
    organizations.create_organization(FeatureSet="ALL")
    accounts = []
    for index in range(count):
        name = f"member-{index:02d}"
        created = organizations.create_account(AccountName=name, Email=f"{name}@example.com")
        accounts.append({"id": created["CreateAccountStatus"]["AccountId"], "name": name})
    return accounts


def member_clients(endpoint: str, account_id: str, role: str, regions: list[str]) -> dict[str, Any]:
    """EC2 clients acting in the member account through the role, one per region (made in one thread:
    a boto3 session is not safe to make clients from in several)."""
    sts = _client(endpoint, "sts", "us-east-1")
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}", RoleSessionName="seed")[
        "Credentials"
    ]
    keys = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }
    owner = _client(endpoint, "sts", "us-east-1", keys).get_caller_identity()["Account"]
    if owner != account_id:
        raise RuntimeError(f"the role's credentials act in {owner}, not {account_id}")
    return {region: _client(endpoint, "ec2", region, keys) for region in regions}


def seed_region(ec2: Any, region: str, idle: int) -> int:
    addresses = max(1, idle // 8)
    for index in range(idle - addresses):
        ec2.create_volume(
            AvailabilityZone=f"{region}a", VolumeType=_TYPES[index % len(_TYPES)], Size=10 + index
        )
    for _ in range(addresses):
        ec2.allocate_address(Domain="vpc")
    volumes = ec2.describe_volumes(Filters=[{"Name": "status", "Values": ["available"]}])["Volumes"]
    unassociated = [a for a in ec2.describe_addresses()["Addresses"] if not a.get("AssociationId")]
    return len(volumes) + len(unassociated)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--regions", required=True, help="Comma-separated regions.")
    parser.add_argument("--idle", type=int, default=16, help="Idle resources per account and region.")
    parser.add_argument("--role", default="cloudthrift-scan")
    args = parser.parse_args(argv)
    regions = args.regions.split(",")
    accounts = create_accounts(args.endpoint, args.accounts)
    jobs = [
        (account["id"], region, ec2)
        for account in accounts
        for region, ec2 in member_clients(args.endpoint, account["id"], args.role, regions).items()
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda job: seed_region(job[2], job[1], args.idle), jobs))
    idle: dict[str, dict[str, int]] = {}
    for (account_id, region, _), count in zip(jobs, counts, strict=True):
        idle.setdefault(account_id, {})[region] = count
    print(json.dumps({"accounts": accounts, "idle": idle}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
