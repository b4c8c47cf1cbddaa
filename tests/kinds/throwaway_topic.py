"""A throwaway kind, written as a contributor would write a new one: everything in this one module.

SNS topics that published nothing over the usage window (CloudWatch AWS/SNS NumberOfMessagesPublished,
read in bulk by the scanner) are waste; the remedy deletes the topic. It exists to show that a kind,
one check and one remedy, plus their price rows, go through the whole pipeline without any other file
changing (tests/kinds/test_throwaway_kind.py). Importing it registers the kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from shared.events import FactValue
from shared.kinds import register
from shared.kinds.base import Check, Clients, Done, Job, Kind, Metric, Observation, Priced, Remedy, Usage
from shared.kinds.estate import Estate
from shared.kinds.pricing import Rates, line

PRICE_ROWS = {"test.topic.month": Decimal("2.50")}  # the rows the test adds to its price table
PREFIX = "throwaway-"  # only our own topics: the account may hold others


@register
class ThrowawayTopic(Kind):
    name = "throwaway-topic"
    service = "sns"
    summary = "SNS topic (test kind)"
    permissions = ("sns:ListTopics", "sns:GetTopicAttributes", "sns:ListTagsForResource")
    gone_codes = frozenset({"NotFound"})
    gemini_facts = frozenset({"topic_name", "subscriptions"})
    dimensions = tuple(PRICE_ROWS)

    async def list(
        self, clients: Clients, filters: tuple[Mapping[str, Any], ...]
    ) -> AsyncIterator[Mapping[str, Any]]:
        sns = await clients("sns")
        async for page in sns.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                if topic["TopicArn"].rsplit(":", 1)[-1].startswith(PREFIX):
                    raw = await self.describe(clients, topic["TopicArn"])
                    if raw is not None:
                        yield raw

    async def describe(self, clients: Clients, resource_id: str) -> Mapping[str, Any] | None:
        sns = await clients("sns")
        try:
            attributes = (await sns.get_topic_attributes(TopicArn=resource_id))["Attributes"]
            tags = (await sns.list_tags_for_resource(ResourceArn=resource_id)).get("Tags", [])
        except Exception as exc:
            if self.is_gone(exc):
                return None
            raise
        return {"TopicArn": resource_id, "Attributes": attributes, "Tags": tags}

    def observe(self, raw: Mapping[str, Any]) -> Observation:
        arn = str(raw["TopicArn"])
        facts: dict[str, FactValue] = {
            "topic_name": arn.rsplit(":", 1)[-1],
            "subscriptions": int(raw["Attributes"].get("SubscriptionsConfirmed", 0)),
        }
        tags = {tag["Key"]: tag["Value"] for tag in raw.get("Tags", [])}
        return Observation(arn, facts, tags, None)

    def price(self, observation: Observation, rates: Rates) -> Priced:
        return Priced([line("topic", 1, "month", rates["test.topic.month"])])

    def details(self, facts: Mapping[str, FactValue]) -> str:
        return str(facts.get("topic_name"))

    async def seed(self, estate: Estate) -> None:
        sns = await estate.clients("sns")
        for name, expectation in (("quiet", "idle"), ("busy", "busy")):
            arn = (await sns.create_topic(Name=f"{PREFIX}{name}"))["TopicArn"]
            estate.add(self.name, arn, expectation)


# SNS publishes NumberOfMessagesPublished only for topics that publish: no datapoint means none sent.
PUBLISHED = Metric(
    "AWS/SNS",
    "NumberOfMessagesPublished",
    "Sum",
    "TopicName",
    missing_means_zero=True,
    dimension_fact="topic_name",
)


@ThrowawayTopic.check("unused")
class Unused(Check):
    summary = "published no message over the usage window"
    metrics = (PUBLISHED,)
    window = timedelta(days=14)
    permissions = ("cloudwatch:GetMetricData",)
    remedies = ("delete",)

    def verdict(self, observation: Observation, usage: Usage | None) -> str | None:
        if usage is None or usage.values.get(PUBLISHED.name):
            return None
        return f"published 0 messages over {self.window.days} days"

    def busy_reason(self, observation: Observation) -> str:
        return "the topic published messages since it was approved"


@ThrowawayTopic.remedy("delete")
class Delete(Remedy):
    action = "delete"
    summary = "delete the topic"
    permissions = ("sns:DeleteTopic",)

    async def apply(self, clients: Clients, job: Job) -> Done:
        await job.guard()
        await (await clients("sns")).delete_topic(TopicArn=job.resource_id)
        return Done(self.action)

    async def rehearse(self, clients: Clients, job: Job) -> Done:
        # SNS has no DryRun: the rehearsal proves the topic can still be read, and says what it would do.
        await (await clients("sns")).get_topic_attributes(TopicArn=job.resource_id)
        return Done(self.action)
