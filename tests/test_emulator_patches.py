"""The embedded AWS's speed-ups answer exactly what moto answers (services/emulator_*.py).

Each patch keeps moto's own code as the reference: the same inputs go through moto's original and
through the patch, and the answers must be equal, byte for byte where moto writes bytes. Then one
round trip through the running emulator shows the patched server still serves real clients.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import pytest
from moto.core.serialize import JSONSerializer, XFormedAttributePicker
from moto.core.utils import get_service_model
from moto.ec2.models.tags import TagBackend

from services.emulator.dynamodb_json import write_items_directly
from services.emulator.dynamodb_update import update_items_lightly
from services.emulator.ec2_tags import look_up_tags_by_id
from services.emulator.query import MOTO_ORIGINALS, speed_up_queries
from shared.config import Settings
from shared.worker import open_runtime

write_items_directly()
look_up_tags_by_id()
update_items_lightly()
speed_up_queries()
_DYNAMODB = get_service_model("dynamodb")  # moto's own model classes, as its server uses


class Colour(Enum):
    RED = "red"


ITEMS: list[dict[str, Any]] = [
    {"pk": {"S": "decision#1"}, "state": {"S": "EXECUTED"}, "version": {"N": "3"}},
    {
        "pk": {"S": "card#1"},
        "members": {"L": [{"S": "a"}, {"S": "b"}, {"M": {"x": {"N": "1.5"}, "y": {"NULL": True}}}]},
        "tally_done": {"SS": ["a", "b"]},
        "amounts": {"NS": ["1", "2.50"]},
        "flag": {"BOOL": False},
        "nothing": {"NULL": True},
        "empty_map": {"M": {}},
        "empty_list": {"L": []},
        "empty_string": {"S": ""},
        "nested": {"M": {"deeper": {"L": [{"M": {"z": {"SS": ["q"]}}}, {"BOOL": True}]}}},
    },
    # What the direct path leaves to moto: binaries, odd member names, Nones, enums, not a dict.
    {"pk": {"S": "b"}, "blob": {"B": "aGVsbG8="}, "blobs": {"BS": ["aGk=", "eW8="]}},
    {"pk": {"S": "lower"}, "odd": {"s": "lower-case member"}},
    {"pk": {"S": "none"}, "half": {"S": None, "N": "1"}, "map": {"M": {"gone": None, "kept": {"S": "k"}}}},
    {"pk": {"S": "list-none"}, "list": {"L": [None, {"S": "x"}]}},
    {"pk": {"S": "enum"}, "colour": {"S": Colour.RED}},
    {"pk": {"S": "numbers"}, "n": {"N": 7}, "set": {"SS": ("t", "u")}},
    {"pk": {"S": "string-set"}, "set": {"SS": "not a list"}},
    {"pk": {"S": "empty-key"}, "map": {"M": {"": {"S": "x"}}}},
    {"pk": {"S": "empty-in-set"}, "set": {"SS": ["", "a"]}, "both": {"S": "s", "N": "1"}},
]


def serialise(
    operation: str, result: dict[str, Any], structure: Callable[..., None] | None = None
) -> dict[str, Any]:
    """moto's JSON serialiser on one DynamoDB answer; `structure` replaces its structure writer."""
    cls: type[JSONSerializer] = JSONSerializer
    if structure is not None:
        cls = type("Original", (JSONSerializer,), {"_serialize_type_structure": structure})
    serializer = cls(_DYNAMODB.operation_model(operation), value_picker=XFormedAttributePicker())
    return serializer.serialize(result)  # type: ignore[return-value]


@pytest.mark.parametrize("item", ITEMS, ids=[i["pk"]["S"] for i in ITEMS])
def test_dynamodb_items_are_written_as_moto_writes_them(item: dict[str, Any]) -> None:
    original = JSONSerializer._serialize_type_structure.original  # type: ignore[attr-defined]
    answers = {
        "GetItem": {"Item": item, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 0.5}},
        "UpdateItem": {"Attributes": item},
        "Query": {"Items": [item, item], "Count": 2, "LastEvaluatedKey": {"pk": item["pk"]}},
        "BatchGetItem": {"Responses": {"t": [item]}, "UnprocessedKeys": {}},
    }
    for operation, result in answers.items():
        patched = serialise(operation, result)
        reference = serialise(operation, result, original)
        assert patched == reference, operation
        assert patched["body"].encode() == reference["body"].encode()


def test_the_direct_path_is_taken_for_plain_items() -> None:
    """Not a vacuous comparison: the plain items do go through the direct path."""
    from services.emulator.dynamodb_json import _Unusual, attribute_value

    assert attribute_value(ITEMS[1]["nested"]) == ITEMS[1]["nested"]
    with pytest.raises(_Unusual):
        attribute_value({"B": "aGVsbG8="})


def _tag_backend() -> TagBackend:
    backend = TagBackend()
    backend.create_tags(["vol-0123", "vol-01234", "snap-0123"], {"Name": "a", "team": "x"})
    backend.create_tags(["vol-0123"], {"cloudthrift:decision-id": "d-1"})
    backend.create_tags(["i-abc"], {"Name": "instance"})
    backend.create_tags(["vol-[x]"], {"odd": "id"})
    return backend


@pytest.mark.parametrize(
    "filters",
    [
        {"resource-id": ["vol-0123"]},
        {"resource-id": ["vol-01234"]},
        {"resource-id": ["vol-missing"]},
        {"resource-id": ["vol-0123*"]},
        {"resource-id": ["vol-01?3"]},
        {"resource-id": ["vol-[x]"]},
        {"resource-id": ["vol-0123", "snap-0123"]},
        {"resource-id": ["vol-0123"], "key": ["Name"]},
        {"key": ["team"]},
        None,
        {},
    ],
)
def test_ec2_tags_by_id_are_moto_s_answer(filters: dict[str, list[str]] | None) -> None:
    backend = _tag_backend()
    original = TagBackend.describe_tags.original  # type: ignore[attr-defined]
    before = {k: dict(v) for k, v in backend.tags.items()}
    assert backend.describe_tags(filters) == original(backend, filters)
    assert {k: dict(v) for k, v in backend.tags.items()} == before  # nothing added by a lookup


async def test_the_patched_emulator_serves_items_and_tags(make_settings: Callable[..., Settings]) -> None:
    """A round trip through the running emulator (patched at start): what goes in comes out."""
    settings = make_settings()
    async with open_runtime(settings, queues=()) as runtime:
        db = await runtime.aws.client("dynamodb")
        await db.create_table(
            TableName="patched",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        item = {k: v for k, v in ITEMS[1].items()} | {"blob": {"B": b"\x00\x01binary"}}
        await db.put_item(TableName="patched", Item=item)
        got = (await db.get_item(TableName="patched", Key={"pk": item["pk"]}, ConsistentRead=True))["Item"]
        assert got["blob"] == {"B": b"\x00\x01binary"}
        assert got["members"] == item["members"] and got["nested"] == item["nested"]
        assert sorted(got["tally_done"]["SS"]) == ["a", "b"]
        # Updates answer with the values from before them (the copies the patch skips only for NONE).
        for returns, added in (("NONE", "c"), ("ALL_OLD", "d"), ("UPDATED_OLD", "e"), ("ALL_NEW", "f")):
            answer = await db.update_item(
                TableName="patched",
                Key={"pk": item["pk"]},
                UpdateExpression="ADD tally_done :m",
                ExpressionAttributeValues={":m": {"SS": [added]}},
                ReturnValues=returns,
            )
            done = sorted(answer.get("Attributes", {}).get("tally_done", {}).get("SS", []))
            assert done == {"NONE": [], "ALL_OLD": ["a", "b", "c"], "UPDATED_OLD": ["a", "b", "c", "d"]}.get(
                returns, ["a", "b", "c", "d", "e", "f"]
            ), returns
        ec2 = await runtime.aws.client("ec2")
        volume = await ec2.create_volume(
            AvailabilityZone="us-east-1a",
            Size=1,
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "v"}]}],
        )
        described = await ec2.describe_volumes(VolumeIds=[volume["VolumeId"]])
        assert described["Volumes"][0]["Tags"] == [{"Key": "Name", "Value": "v"}]


UPDATES: list[dict[str, Any]] = [
    {"update_expression": "SET #s = :s, v = if_not_exists(v, :zero) + :one", "names": {"#s": "state"},
     "values": {":s": {"S": "EXECUTING"}, ":zero": {"N": "0"}, ":one": {"N": "1"}}},
    {"update_expression": "SET history = list_append(if_not_exists(history, :empty), :h)", "names": {},
     "values": {":empty": {"L": []}, ":h": {"L": [{"M": {"to": {"S": "EXECUTED"}}}]}}},
    {"update_expression": "ADD done :m, n :one", "names": {},
     "values": {":m": {"SS": ["a", "b"]}, ":one": {"N": "1"}},
     "condition_expression": "attribute_exists(pk) AND NOT contains(done, :x)",
     "extra_values": {":x": {"S": "c"}}},
    {"update_expression": "ADD done :m", "names": {}, "values": {":m": {"SS": ["c"]}},
     "condition_expression": "NOT contains(done, :x)", "extra_values": {":x": {"S": "a"}}},  # refused
    {"update_expression": "DELETE done :m REMOVE n", "names": {}, "values": {":m": {"SS": ["a"]}}},
    {"update_expression": "SET #s = :s", "names": {"#s": "state"}, "values": {":s": {"S": "EXECUTED"}},
     "condition_expression": "#s = :old", "extra_values": {":old": {"S": "EXECUTING"}}},
    {"update_expression": "SET #s = :s", "names": {"#s": "state"}, "values": {":s": {"S": "X"}},
     "condition_expression": "#s = :old", "extra_values": {":old": {"S": "EXECUTING"}}},  # refused
    {"update_expression": "SET = broken", "names": {}, "values": {}},  # a parse error, twice
    {"update_expression": "SET = broken", "names": {}, "values": {}},
]  # fmt: skip


def _backend(stream: bool) -> Any:
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend("us-east-1", "123456789012")
    backend.create_table(
        "t", schema=[{"AttributeName": "pk", "KeyType": "HASH"}], throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}], global_indexes=None, indexes=None,
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"} if stream else None,
        billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[], deletion_protection_enabled=None,
        warm_throughput=None,
    )  # fmt: skip
    backend.put_item("t", {"pk": {"S": "one"}, "state": {"S": "APPROVED"}, "done": {"SS": ["z"]}})
    return backend


def _apply(backend: Any, update_item: Callable[..., Any], update: dict[str, Any]) -> Any:
    """One update as moto's request handler makes it; its answer (the item) or the error's name."""
    try:
        item = update_item(
            backend, "t", {"pk": {"S": "one"}},
            update_expression=update["update_expression"],
            expression_attribute_names=update["names"],
            expression_attribute_values=update["values"] | update.get("extra_values", {}),
            condition_expression=update.get("condition_expression"),
        )  # fmt: skip
    except Exception as exc:
        return type(exc).__name__
    return item.to_json()


@pytest.mark.parametrize("stream", [False, True], ids=["no stream", "stream"])
def test_dynamodb_updates_store_and_answer_as_moto_does(
    stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    patched, reference = _backend(stream), _backend(stream)
    patched_answers = [_apply(patched, DynamoDBBackend.update_item, u) for u in UPDATES]
    monkeypatch.setattr(UpdateExpressionParser, "make", classmethod(UpdateExpressionParser.make.original))
    original = DynamoDBBackend.update_item.original  # type: ignore[attr-defined]
    reference_answers = [_apply(reference, original, u) for u in UPDATES]

    assert patched_answers == reference_answers
    assert sum(isinstance(a, str) for a in patched_answers) == 4  # two refusals, two parse errors
    stored = [b.get_table("t").get_item(_key()).to_json() for b in (patched, reference)]
    assert stored[0] == stored[1]
    if stream:  # the stream still gets the item as it was before each update, not the same object
        images = [r.record["dynamodb"] for r in patched.get_table("t").stream_shard.items]
        assert len(images) > 1 and all(i["OldImage"] != i["NewImage"] for i in images[1:])


def _key() -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": "one"})


@pytest.mark.parametrize(
    "projection",
    [
        [["member_count"], ["tally_executed"], ["tally_latest"], ["tally_done"], ["nothing_here"]],
        [["members"]],
        [["m"], ["l"], ["b"], ["flag"]],
        [["member_count"], ["member_count"]],  # a name twice: moto's own code
        [["m", "x"], ["l[1]"]],  # nested and indexed: moto's own code
        [["l[0]"], ["l"]],
    ],
)
def test_dynamodb_projections_are_moto_s_answer(projection: list[list[str]]) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    attrs = {
        "pk": {"S": "card#1"},
        "member_count": {"N": "3"},
        "tally_executed": {"N": "2"},
        "tally_latest": {"S": "latest"},
        "tally_done": {"SS": ["a", "b"]},
        "members": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}]},
        "m": {"M": {"x": {"N": "1"}, "y": {"L": [{"BOOL": True}]}}},
        "l": {"L": [{"M": {"z": {"S": "q"}}}, {"NULL": True}]},
        "b": {"B": b"\x00bin"},
        "flag": {"BOOL": False},
    }
    item = Item(hash_key=DynamoType(attrs["pk"]), range_key=None, attrs=attrs)
    before = item.to_json()
    patched = item.project(projection)
    [moto_project] = [own for _, name, own in MOTO_ORIGINALS if name == "project"]
    reference = moto_project(item, projection)
    assert patched.to_json() == reference.to_json()
    assert item.to_json() == before  # the item itself untouched
