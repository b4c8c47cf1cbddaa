"""The AWS client factory: what it changes in botocore must leave botocore's data and answers intact."""

from __future__ import annotations

import os
import sys
from collections import OrderedDict

import botocore
import pytest
from botocore.loaders import JSONFileLoader

from shared.aws import AwsClients, CompactJSONFileLoader
from shared.config import Settings

DATA = os.path.join(os.path.dirname(botocore.__file__), "data")


def _plain(value: object) -> object:
    """OrderedDicts as dicts, recursively, keeping order: what the two loaders must agree on."""
    if isinstance(value, dict):
        return [(key, _plain(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@pytest.mark.parametrize(
    "relative",
    [
        "endpoints",
        "partitions",
        "dynamodb/2012-08-10/service-2",
        "sqs/2012-11-05/service-2",
        "ec2/2016-11-15/service-2",
    ],
)
def test_the_compact_loader_reads_botocores_data_exactly_as_botocore_does(relative: str) -> None:
    path = os.path.join(DATA, relative)
    theirs = JSONFileLoader().load_file(path)
    ours = CompactJSONFileLoader().load_file(path)
    assert theirs is not None and isinstance(theirs, OrderedDict)
    assert type(ours) is dict
    assert _plain(ours) == _plain(theirs)  # same keys, values and order


def test_the_compact_loader_shares_repeated_strings() -> None:
    endpoints = CompactJSONFileLoader().load_file(os.path.join(DATA, "endpoints"))
    assert endpoints is not None
    regions = [partition["regions"] for partition in endpoints["partitions"]]
    descriptions = [region["description"] for partition in regions for region in partition.values()]
    assert all(text is sys.intern(text) for text in descriptions)


def test_the_factory_installs_it_before_any_client_loads_data(settings: Settings) -> None:
    clients = AwsClients(settings)
    loader = clients._session.get_component("data_loader")
    assert isinstance(loader.file_loader, CompactJSONFileLoader)
    assert CompactJSONFileLoader().load_file(os.path.join(DATA, "no-such-file")) is None


async def test_clients_made_through_it_still_talk_to_aws(settings: Settings) -> None:
    async with AwsClients(settings) as aws:
        sqs = await aws.client("sqs")
        url = (await sqs.create_queue(QueueName="compact-loader"))["QueueUrl"]
        await sqs.send_message(QueueUrl=url, MessageBody="hello")
        answer = await sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
        assert [m["Body"] for m in answer["Messages"]] == ["hello"]


async def test_a_plain_http_endpoint_loads_no_ca_bundle_and_https_still_verifies(settings: Settings) -> None:
    """Over http:// (the embedded AWS) there is no TLS: loading the CA bundle into each client's TLS
    context was 0.1 s of CPU per client. An https endpoint keeps botocore's certificate verification."""
    assert settings.aws_endpoint_url and settings.aws_endpoint_url.startswith("http://")
    async with AwsClients(settings) as aws:
        sqs = await aws.client("sqs")
        await sqs.list_queues()
        session = sqs._endpoint.http_session
        (client_session,) = session._sessions.values()
        assert client_session.connector._ssl.cert_store_stats()["x509_ca"] == 0
    tls = settings.model_copy(update={"aws_endpoint_url": "https://sqs.us-east-1.amazonaws.com"})
    async with AwsClients(tls) as aws:
        sqs = await aws.client("sqs")
        assert sqs._endpoint.http_session._verify not in (False, None)  # True or a CA bundle path


async def test_a_service_the_embedded_aws_does_not_serve_is_refused_at_once_in_one_clean_error(
    settings: Settings,
) -> None:
    """Recycle Bin is not in moto: the embedded AWS answered 500 with a traceback on its console, and
    botocore retried it four times (~1.4 s per call). Now: one 501 UnknownOperationException, no retry."""
    from botocore.exceptions import ClientError

    async with AwsClients(settings) as aws:
        rbin = await aws.client("rbin", max_attempts=4)
        with pytest.raises(ClientError) as refused:
            await rbin.list_rules(ResourceType="EBS_SNAPSHOT")
    answer = refused.value.response
    assert answer["Error"]["Code"] == "UnknownOperationException"
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert answer["ResponseMetadata"]["RetryAttempts"] == 0
