"""The invariant checks of test_terraform.py catch what they are meant to catch (fed bad modules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.terraform_model import ModuleConfig, destructive_grants, is_destructive, unanalysable_iam


def _module_from(tmp_path: Path, text: str) -> ModuleConfig:
    (tmp_path / "main.tf").write_text(text)
    return ModuleConfig.load(tmp_path)


_BAD_ROLE = """
resource "aws_iam_role" "scanner" { name = "s" }
resource "aws_iam_role_policy" "scanner" {
  role   = aws_iam_role.scanner.id
  policy = data.aws_iam_policy_document.scanner.json
}
data "aws_iam_policy_document" "scanner" {
  statement {
    actions   = ["ec2:DescribeVolumes", "ec2:DeleteVolume"]
    resources = ["*"]
  }
}
"""


def test_the_destructive_check_flags_a_wrong_role_a_star_and_no_region(tmp_path: Path) -> None:
    problems = destructive_grants(_module_from(tmp_path, _BAD_ROLE))
    assert any("reach roles ['scanner']" in p for p in problems)
    assert any("need resource ARNs" in p for p in problems)
    assert any("aws:RequestedRegion" in p for p in problems)


def test_the_destructive_check_follows_source_documents(tmp_path: Path) -> None:
    text = (
        _BAD_ROLE.replace('"ec2:DescribeVolumes", "ec2:DeleteVolume"', '"ec2:DescribeVolumes"')
        + """
data "aws_iam_policy_document" "sneaky" {
  statement {
    actions   = ["ec2:*"]
    resources = ["arn:aws:ec2:us-east-1:1:volume/*"]
  }
}
data "aws_iam_policy_document" "wrapper" {
  source_policy_documents = [data.aws_iam_policy_document.sneaky.json]
}
"""
    )
    problems = destructive_grants(_module_from(tmp_path, text))
    assert any(p.startswith("sneaky") and "via wrapper" in p for p in problems)


def test_inline_and_managed_policies_are_refused(tmp_path: Path) -> None:
    text = """
resource "aws_iam_role" "r" {
  name                = "r"
  managed_policy_arns = ["arn:aws:iam::aws:policy/AdministratorAccess"]
}
resource "aws_iam_role_policy_attachment" "a" {
  role       = aws_iam_role.r.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonEC2FullAccess"
}
"""
    assert len(unanalysable_iam(_module_from(tmp_path, text))) == 2


@pytest.mark.parametrize(
    ("action", "destructive"),
    [
        ("ec2:DescribeVolumes", False),
        ("ec2:Describe*", False),
        ("ec2:DeleteVolume", True),
        ("ec2:CreateTags", True),
        ("ec2:*", True),
        ("*", True),
        ("sqs:DeleteMessage", False),
    ],
)
def test_destructive_means_any_ec2_change(action: str, destructive: bool) -> None:
    assert is_destructive(action) is destructive
