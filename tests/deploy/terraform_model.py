"""The Terraform tree as python-hcl2 reads it, with the few queries the deployment tests need.

Providers cannot be downloaded here, so there is no `terraform validate` or plan: the invariants are
checked on the parsed source instead. That only works if the source stays readable, so the helpers
refuse what they cannot analyse (an IAM action written as an expression, an inline JSON policy) rather
than silently passing it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
MODULE = TERRAFORM / "modules" / "cloudthrift"

_OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
_DOC_REF = re.compile(r"data\.aws_iam_policy_document\.(\w+)")
_ROLE_REF = re.compile(r"aws_iam_role\.(\w+)")
_LOCAL_REF = re.compile(r"local\.(\w+)")


def tf_files(root: Path = TERRAFORM) -> list[Path]:
    return sorted(path for path in root.rglob("*.tf") if ".terraform" not in path.parts)


def parse(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return hcl2.load(handle, serialization_options=_OPTIONS)


@dataclass(frozen=True)
class Statement:
    doc: str
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    resources: Any
    conditions: tuple[dict[str, Any], ...]


@dataclass
class ModuleConfig:
    """Every block of one Terraform module directory, merged across its files."""

    directory: Path
    resources: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path) -> ModuleConfig:
        config = cls(directory)
        for path in sorted(directory.glob("*.tf")):
            parsed = parse(path)
            for kind, target in (("resource", config.resources), ("data", config.data)):
                for block in parsed.get(kind, []):
                    for type_name, named in block.items():
                        for name, body in named.items():
                            target.setdefault(type_name, {})[name] = body
            for block in parsed.get("locals", []):
                config.locals.update(block)
            for block in parsed.get("variable", []):
                config.variables.update(block)
        return config

    def resource(self, type_name: str) -> dict[str, dict[str, Any]]:
        return self.resources.get(type_name, {})

    # --- IAM ----------------------------------------------------------------------------------

    def policy_docs(self) -> dict[str, dict[str, Any]]:
        return self.data.get("aws_iam_policy_document", {})

    def statements(self, doc: str, *, follow_sources: bool = True) -> list[Statement]:
        """The statements of a policy document, its dynamic ones and those of its source documents."""
        body = self.policy_docs()[doc]
        raw = list(body.get("statement", []))
        for dynamic in body.get("dynamic", []):
            for name, block in dynamic.items():
                if name == "statement":
                    raw.extend(block.get("content", []))
        found = [_statement(doc, item) for item in raw]
        if follow_sources:
            for key in ("source_policy_documents", "override_policy_documents"):
                for source in _DOC_REF.findall(str(body.get(key, ""))):
                    found.extend(self.statements(source))
        return found

    def role_policies(self) -> dict[str, set[str]]:
        """Policy document name → the names of the aws_iam_role resources it is attached to."""
        attached: dict[str, set[str]] = {}
        for name, body in self.resource("aws_iam_role_policy").items():
            docs = _DOC_REF.findall(str(body.get("policy", "")))
            roles = _ROLE_REF.findall(str(body.get("role", "")))
            if len(docs) != 1 or len(roles) != 1:
                raise AssertionError(
                    f"aws_iam_role_policy.{name} must attach one aws_iam_policy_document to one role"
                )
            attached.setdefault(docs[0], set()).add(roles[0])
        return attached

    def resolve_locals(self, value: Any, depth: int = 0) -> Iterator[str]:
        """Every string a value stands for, following `local.x` references until an ARN template shows.

        Expressions stay text: `[for r in var.regions : "arn:...:volume/*"]` is one string, and the
        references inside an ARN (partition, account) are not followed, they are part of the ARN.
        """
        if depth > 5:
            raise AssertionError(f"local references nest too deep: {value!r}")
        if isinstance(value, list):
            for item in value:
                yield from self.resolve_locals(item, depth)
            return
        text = str(value)
        names = _LOCAL_REF.findall(text)
        if not names or "arn:" in text:
            yield text
            return
        for name in names:
            yield from self.resolve_locals(self.locals[name], depth + 1)


@functools.cache
def load_module(directory: Path) -> ModuleConfig:
    """The parsed module of a directory of this tree, parsed once per test session (read-only)."""
    return ModuleConfig.load(directory)


def _statement(doc: str, raw: dict[str, Any]) -> Statement:
    actions = raw.get("actions")
    if not isinstance(actions, list) or not all(isinstance(a, str) and "${" not in a for a in actions):
        raise AssertionError(f"{doc}: statement {raw.get('sid')!r} must list its actions literally")
    if "not_actions" in raw:
        raise AssertionError(f"{doc}: not_actions cannot be analysed; list the actions")
    return Statement(
        doc=doc,
        sid=raw.get("sid"),
        effect=raw.get("effect", "Allow"),
        actions=tuple(actions),
        resources=raw.get("resources"),
        conditions=tuple(raw.get("condition", [])),
    )


# Services holding the estate CloudThrift cleans up (shared/kinds/): in them, only reads are harmless.
ESTATE_SERVICES = ("ec2", "elasticloadbalancing", "rds")
_READ_ONLY = re.compile(rf"^({'|'.join(ESTATE_SERVICES)}):(Describe|Get|List|Search)[A-Za-z*]*$")


def is_destructive(action: str) -> bool:
    """Any estate action that can change it: everything but Describe/Get/List/Search, and `*`."""
    lowered = action.lower()
    if lowered == "*" or lowered in {f"{service}:*" for service in ESTATE_SERVICES}:
        return True
    return lowered.split(":", 1)[0] in ESTATE_SERVICES and not _READ_ONLY.match(action)


# --- invariants, as functions returning problems so tests can also feed them bad configurations ---

_FORBIDDEN_IAM = (
    "aws_iam_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_attachment",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
)


def unanalysable_iam(config: ModuleConfig) -> list[str]:
    """Permissions granted any way other than a policy document attached with aws_iam_role_policy."""
    problems = [
        f"{kind}.{name}: grant permissions through aws_iam_role_policy + aws_iam_policy_document"
        for kind in _FORBIDDEN_IAM
        for name in config.resource(kind)
    ]
    for name, role in config.resource("aws_iam_role").items():
        for key in ("inline_policy", "managed_policy_arns"):
            if key in role:
                problems.append(f"aws_iam_role.{name}: {key} hides permissions from the checks")
    return problems


def destructive_grants(config: ModuleConfig, allowed_role: str = "executor") -> list[str]:
    """Problems with statements allowing EC2 changes: wrong role, `*` resource, or no region bound."""
    problems: list[str] = []
    attached = config.role_policies()
    used_as_source = {
        source: name
        for name, body in config.policy_docs().items()
        for key in ("source_policy_documents", "override_policy_documents")
        for source in _DOC_REF.findall(str(body.get(key, "")))
    }
    for doc in config.policy_docs():
        risky = [
            s
            for s in config.statements(doc, follow_sources=False)
            if s.effect == "Allow" and any(is_destructive(action) for action in s.actions)
        ]
        if not risky:
            continue
        roles = attached.get(doc, set())
        if roles != {allowed_role} or doc in used_as_source:
            problems.append(
                f"{doc}: destructive EC2 actions reach roles {sorted(roles)}"
                + (f" via {used_as_source[doc]}" if doc in used_as_source else "")
            )
        for statement in risky:
            where = f"{doc}/{statement.sid}"
            resources = list(config.resolve_locals(statement.resources))
            if not resources or any(r.strip() in {"*", "${*}"} or "arn:" not in r for r in resources):
                problems.append(f"{where}: destructive actions need resource ARNs, got {resources}")
            if not _bound_to_regions(statement):
                problems.append(f"{where}: destructive actions need an aws:RequestedRegion condition")
    return problems


def _bound_to_regions(statement: Statement) -> bool:
    return any(
        c.get("variable") == "aws:RequestedRegion"
        and c.get("test") in {"StringEquals", "ForAnyValue:StringEquals"}
        and "var.regions" in str(c.get("values"))
        for c in statement.conditions
    )
