"""Every rule is in the table of its sub-technique (tests/rule_docs.py: README.md for
T1114.003, docs/local_collection.md and docs/remote_collection.md), and every row of those
tables names a rule that exists, of that sub-technique."""

import os

from tests.conftest import REPO
from tests.rule_docs import RULE_TABLES, table_rule_ids, undocumented


def test_every_rule_is_in_its_sub_techniques_table(engine):
    assert undocumented(engine.rules) == []


def test_every_table_row_names_a_rule_of_that_sub_technique(engine):
    techniques = {rule.id: rule.technique for rule in engine.rules}
    for technique, path in RULE_TABLES.items():
        for rule_id in table_rule_ids(os.path.join(REPO, path)):
            assert techniques.get(rule_id) == technique, "%s lists %s, which is not a %s rule" % (path, rule_id, technique)
