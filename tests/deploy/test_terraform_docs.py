"""The modules' READMEs list every input and output, as the .tf files declare them today."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.terraform_docs import DOCUMENTED, blocks, refresh, render, section
from tests.deploy.terraform_model import MODULE, TERRAFORM


@pytest.mark.parametrize("directory", DOCUMENTED, ids=lambda d: str(d.relative_to(TERRAFORM)))
def test_every_variable_and_output_is_in_the_readme(directory: Path) -> None:
    readme = (directory / "README.md").read_text()
    for kind in ("variable", "output"):
        declared = blocks(directory, kind)
        assert declared, f"{directory} declares no {kind}"
        anchor = "input" if kind == "variable" else "output"
        missing = [name for name in declared if f'<a name="{anchor}_{name}"></a>' not in readme]
        assert not missing, f"{directory}/README.md lacks {kind}s {missing}"


@pytest.mark.parametrize("directory", DOCUMENTED, ids=lambda d: str(d.relative_to(TERRAFORM)))
def test_the_readme_tables_are_current(directory: Path) -> None:
    assert section(directory / "README.md") == render(directory), (
        f"{directory}/README.md is stale: run .venv/bin/python -m tests.deploy.terraform_docs"
    )


def test_the_tables_show_types_defaults_and_what_is_required() -> None:
    table = render(MODULE)
    assert "| `list(string)` | n/a | yes |" in table  # regions: required
    assert "[vpc\\_id](#input\\_vpc\\_id)" in table
    assert '| `string` | `"cloudthrift"` | no |' in table  # prefix
    assert "| `bool` | `true` | no |" in table
    assert "`map(object({cpu = number, memory = number, min = number, max = number}))`" in table
    rows = [line for line in table.split("## Outputs")[0].splitlines() if line.startswith("| <a")]
    required = [row.endswith("| yes |") for row in rows]
    assert required == sorted(required, reverse=True), "required inputs come first"


def test_a_new_variable_makes_the_readme_stale_and_refresh_fixes_it(tmp_path: Path) -> None:
    for name in ("variables.tf", "outputs.tf", "README.md"):
        (tmp_path / name).write_text((MODULE / name).read_text())
    assert section(tmp_path / "README.md") == render(tmp_path)
    with (tmp_path / "variables.tf").open("a") as tf:
        tf.write('\nvariable "brand_new" {\n  description = "A | pipe."\n  type = number\n  default = 3\n}\n')
    assert section(tmp_path / "README.md") != render(tmp_path)
    assert refresh(tmp_path / "README.md", tmp_path) is True
    assert "[brand\\_new](#input\\_brand\\_new) | A \\| pipe. | `number` | `3` | no |" in section(
        tmp_path / "README.md"
    )
    assert refresh(tmp_path / "README.md", tmp_path) is False
    assert (tmp_path / "README.md").read_text().startswith("# CloudThrift module")
