"""Where each sub-technique's rule table is documented, and reading those tables."""

import os
import re

from tests.conftest import REPO

# The table listing every rule of a sub-technique: one row per rule, its id in the first cell.
RULE_TABLES = {
    "T1114.001": "docs/local_collection.md",
    "T1114.002": "docs/remote_collection.md",
    "T1114.003": "README.md",
}
_ROW = re.compile(r"^\|\s*`(t1114_00[1-3]_[a-z0-9_]+)`\s*\|", re.MULTILINE)


def table_rule_ids(path):
    """The rule ids that start a table row of a Markdown file."""
    with open(path, encoding="utf-8") as handle:
        return _ROW.findall(handle.read())


def undocumented(rules, root=REPO):
    """[(rule id, table file)] for each rule missing from its sub-technique's table."""
    return sorted((rule.id, RULE_TABLES[rule.technique]) for rule in rules
                  if rule.id not in table_rule_ids(os.path.join(root, RULE_TABLES[rule.technique])))
