"""The embedded AWS's faster DynamoDB queries (services/emulator/query.py) answer exactly as moto does.

Every query below runs twice against the same test server, page by page: with the replacements, and
with moto's own functions put back for the duration. Pages (items in order, counts, the key to go
on from) must be identical, for items holding every attribute type, ties on the index's sort key,
forwards and backwards, limits, range conditions, filters and projections of nested paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import boto3
import pytest

from services.emulator.query import MOTO_ORIGINALS, item_size

TABLE = "emulator-query"


@pytest.fixture
def dynamodb(moto_endpoint: str) -> Any:
    client = boto3.client(
        "dynamodb",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "state", "updated_at")
        ]
        + [{"AttributeName": "x_rank", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-state",
                "KeySchema": [
                    {"AttributeName": "state", "KeyType": "HASH"},
                    {"AttributeName": "updated_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by-rank",
                "KeySchema": [
                    {"AttributeName": "state", "KeyType": "HASH"},
                    {"AttributeName": "x_rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x_note"]},
            },
        ],
    )
    for start in range(0, 90, 25):
        client.batch_write_item(
            RequestItems={
                TABLE: [{"PutRequest": {"Item": _item(i)}} for i in range(start, min(start + 25, 90))]
            }
        )
    client.put_item(TableName=TABLE, Item={"pk": {"S": "no-state"}, "x_note": {"S": "not in the indexes"}})
    for i in range(30):  # 30 items of about 45 kB: 1.3 MB in one state, so pages end on moto's 1 MB
        big = _item(i) | {"pk": {"S": f"big#{i:02d}"}, "state": {"S": "BIG"}, "x_text": {"S": "é" * 22_000}}
        client.put_item(TableName=TABLE, Item=big)
    return client


def _item(i: int) -> dict[str, Any]:
    """Every attribute type; updated_at repeats (ties broken by pk), some items lack `x_rank`."""
    item: dict[str, Any] = {
        "pk": {"S": f"item#{(i * 37) % 90:03d}"},
        "state": {"S": ("FOUND", "EXECUTED", "REJECTED")[i % 3]},
        "updated_at": {"S": f"2026-11-{1 + i % 7:02d}T00:00:00+00:00"},
        "x_note": {"S": f"<note {i}> é"},
        "x_amount": {"N": str(Decimal(i) / 4)},
        "x_exp": {"N": f"{i}.50E+2"},
        "x_blob": {"B": bytes([i, 0, 255])},
        "x_flag": {"BOOL": i % 2 == 0},
        "x_nothing": {"NULL": True},
        "x_history": {"L": [{"M": {"to": {"S": "FOUND"}, "at": {"N": str(i)}}}, {"S": "second"}]},
        "x_finding": {"M": {"cost": {"M": {"monthly": {"N": "3.65"}, "lines": {"L": [{"S": "x"}]}}}}},
        "x_tags": {"SS": ["a", f"t{i}"]},
        "x_sizes": {"NS": ["1", str(i + 2)]},
        "x_blobs": {"BS": [b"\x00", bytes([i + 1])]},
    }
    if i % 4:
        item["x_rank"] = {"N": str(i % 10)}
    return item


@contextmanager
def moto_as_shipped() -> Iterator[None]:
    assert MOTO_ORIGINALS, "the embedded AWS installs its replacements when it starts"
    with pytest.MonkeyPatch.context() as patch:
        for owner, name, original in MOTO_ORIGINALS:
            patch.setattr(owner, name, original)
        yield


def _pages(client: Any, **request: Any) -> list[dict[str, Any]]:
    pages = []
    while True:
        page = client.query(TableName=TABLE, **request)
        page.pop("ResponseMetadata")
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


FOUND = {"KeyConditionExpression": "#s = :s", "ExpressionAttributeNames": {"#s": "state"}}
REQUESTS = [
    {"IndexName": "by-state", **FOUND},
    {"IndexName": "by-state", "Limit": 7, **FOUND},
    {"IndexName": "by-state", "Limit": 4, "ScanIndexForward": False, **FOUND},
    {
        "IndexName": "by-state",
        "Limit": 5,
        "KeyConditionExpression": "#s = :s AND updated_at < :before",
        "ExpressionAttributeNames": {"#s": "state"},
        "ExpressionAttributeValues": {":before": {"S": "2026-11-05"}},
    },
    {
        "IndexName": "by-state",
        "Limit": 6,
        "ProjectionExpression": "pk, #s, x_amount, x_finding.cost.monthly, x_history[0].#to, x_blob, x_no",
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": "state", "#to": "to"},
    },
    {
        "IndexName": "by-state",
        "Limit": 9,
        "FilterExpression": "x_flag = :yes",
        "ProjectionExpression": "pk, x_note, x_sizes, x_blobs, x_exp, x_flag, x_nothing",
        "ExpressionAttributeValues": {":yes": {"BOOL": True}},
        **FOUND,
    },
    {"IndexName": "by-rank", "Limit": 3, "ScanIndexForward": False, **FOUND},
    {"IndexName": "by-rank", "ProjectionExpression": "pk, x_note, x_amount", "Limit": 8, **FOUND},
    {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": "item#003"}}},
]


@pytest.mark.parametrize(
    "request_", REQUESTS, ids=lambda r: ",".join(sorted(k for k in r if k != "IndexName"))
)
@pytest.mark.parametrize("state", ["FOUND", "EXECUTED", "BIG"])
def test_each_page_is_the_one_moto_gives(dynamodb: Any, request_: dict[str, Any], state: str) -> None:
    request = {**request_}
    if request.get("KeyConditionExpression", "").startswith("#s"):
        request["ExpressionAttributeValues"] = {
            **request.get("ExpressionAttributeValues", {}),
            ":s": {"S": state},
        }
    faster = _pages(dynamodb, **request)
    with moto_as_shipped():
        shipped = _pages(dynamodb, **request)
    assert faster == shipped
    assert sum(page["Count"] for page in faster) > 0


def test_a_page_ends_at_moto_s_megabyte(dynamodb: Any) -> None:
    request = {"IndexName": "by-state", **FOUND, "ExpressionAttributeValues": {":s": {"S": "BIG"}}}
    assert [page["Count"] for page in _pages(dynamodb, **request)] == [22, 8]


def test_item_sizes_are_counted_as_moto_counts_them(dynamodb: Any) -> None:
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends["123456789012"]["us-east-1"].get_table(TABLE)
    assert len(table.items) == 121
    for item in table.items.values():
        assert item_size(item) == item.size()


def test_errors_are_moto_s_own(dynamodb: Any) -> None:
    """Invalid requests are left to moto's validation: same error either way."""
    bad = {"IndexName": "by-nothing", **FOUND, "ExpressionAttributeValues": {":s": {"S": "FOUND"}}}
    with pytest.raises(dynamodb.exceptions.ClientError) as faster:
        dynamodb.query(TableName=TABLE, **bad)
    with moto_as_shipped(), pytest.raises(dynamodb.exceptions.ClientError) as shipped:
        dynamodb.query(TableName=TABLE, **bad)
    assert faster.value.response["Error"] == shipped.value.response["Error"]


def test_a_scan_and_a_projected_get_answer_as_moto_does(dynamodb: Any) -> None:
    """The projection and the items' JSON serve GetItem and Scan too."""
    get = {"Key": {"pk": {"S": "item#010"}}, "ProjectionExpression": "x_history[1], x_finding.cost, x_blob"}
    faster = [dynamodb.get_item(TableName=TABLE, **get)["Item"], dynamodb.scan(TableName=TABLE, Limit=13)]
    with moto_as_shipped():
        shipped = [
            dynamodb.get_item(TableName=TABLE, **get)["Item"],
            dynamodb.scan(TableName=TABLE, Limit=13),
        ]
    for answer in (faster[1], shipped[1]):
        answer.pop("ResponseMetadata")
    assert faster == shipped
