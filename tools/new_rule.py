"""Start a new detection: its rule, its test events and its row in the docs, in one command.

    python3 tools/new_rule.py t1114_003_example

Writes app/rules/<id>.yml and app/rules/<id>.test.yml from the README's "Adding a rule"
example (its id and sub-technique set from <id>), and adds a row for <id> to its
sub-technique's table (T1114.001 docs/local_collection.md, T1114.002
docs/remote_collection.md, T1114.003 README.md). Then edit the three to say what the rule
finds and run the README's single-rule command. Refuses to overwrite an existing rule.
"""

import argparse
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULE_TABLES = {
    "T1114.001": "docs/local_collection.md",
    "T1114.002": "docs/remote_collection.md",
    "T1114.003": "README.md",
}
_RULE_ID = re.compile(r"^t1114_00([1-3])_[a-z0-9_]+$")
_ROW = re.compile(r"^\|\s*`(t1114_00[1-3]_[a-z0-9_]+)`\s*\|", re.MULTILINE)
EXAMPLE_ID = "t1114_003_example"


def readme_example(root):
    """The rule and test-file YAML blocks of the README's "Adding a rule" section."""
    with open(os.path.join(root, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    start = text.index("## Adding a rule")
    section = text[start:text.index("\n## ", start + 1)]
    rule, cases = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[:2]
    return rule, cases


def with_docs_row(text, rule_id, technique):
    """The Markdown text with a row for `rule_id` after the last row of its rule table."""
    rows = list(_ROW.finditer(text))
    rows = [row for row in rows if row.group(1).startswith("t1114_00" + technique[-1])]
    if not rows:
        raise SystemExit("no %s rule table found to add a row to" % technique)
    last = rows[-1]
    line_end = text.index("\n", last.start())
    cells = text[last.start():line_end].count("|") - 1
    filler = ["TODO: what it finds"] + ["TODO"] * (cells - 2)
    if technique == "T1114.003" and cells == 4:
        filler = [technique, "TODO: what it finds", "TODO"]
    row = "| `%s` | %s |" % (rule_id, " | ".join(filler))
    return text[:line_end + 1] + row + "\n" + text[line_end + 1:]


def new_rule(rule_id, root=REPO):
    """Writes the three pieces; returns the paths written."""
    found = _RULE_ID.match(rule_id)
    if not found:
        raise SystemExit("%s: a rule id is t1114_00N_<what>, N the sub-technique (1-3), lower case" % rule_id)
    technique = "T1114.00" + found.group(1)
    rules_dir = os.path.join(root, "app", "rules")
    rule_path = os.path.join(rules_dir, rule_id + ".yml")
    test_path = os.path.join(rules_dir, rule_id + ".test.yml")
    if os.path.exists(rule_path) or os.path.exists(test_path):
        raise SystemExit("%s already exists; pick another id" % os.path.relpath(rule_path, root))
    rule, cases = readme_example(root)
    rule = rule.replace(EXAMPLE_ID, rule_id).replace("technique: T1114.003", "technique: " + technique)
    with open(rule_path, "w", encoding="utf-8") as handle:
        handle.write(rule)
    with open(test_path, "w", encoding="utf-8") as handle:
        handle.write(cases)
    table = os.path.join(root, RULE_TABLES[technique])
    with open(table, encoding="utf-8") as handle:
        text = handle.read()
    with open(table, "w", encoding="utf-8") as handle:
        handle.write(with_docs_row(text, rule_id, technique))
    return [rule_path, test_path, table]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rule_id", help="the new rule's id, t1114_00N_<what> (also its file name)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    for path in new_rule(args.rule_id):
        print("wrote %s" % os.path.relpath(path, REPO))
    print('now edit them, then: python3 -m pytest -q tests/test_rules.py tests/test_rule_docs.py -k "%s or rule_docs"'
          % args.rule_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
