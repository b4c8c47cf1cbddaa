"""The embedded AWS's speed-ups for the executor's path (issue 20): each in a module of its own.

- services/emulator/ec2_tags.py: one resource's tags looked up by id, not among all the region's;
- services/emulator/dynamodb_json.py: DynamoDB items written out directly, not walked through the model;
- services/emulator/dynamodb_update.py: UpdateItem without a stream's copy of the item, expressions
  parsed once;

A projected read converting the item once, not once per name (a group card's tally read deep-copied its
member list eleven times), is services/emulator/query.py's `Item.project`, shared with the report's
queries.

All keep moto's answers (tests/test_emulator_patches.py) and are installed once per process.
"""

from __future__ import annotations


def speed_up_executor_path() -> None:
    """Install the patches; moto is imported here, so a production install never loads them."""
    from services.emulator.dynamodb_json import write_items_directly
    from services.emulator.dynamodb_update import update_items_lightly
    from services.emulator.ec2_tags import look_up_tags_by_id

    look_up_tags_by_id()
    write_items_directly()
    update_items_lightly()
