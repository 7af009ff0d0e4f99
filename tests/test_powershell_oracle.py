"""The PowerShell reader (app/normalise/powershell_commands.py) against tree-sitter-powershell, a
maintained PowerShell grammar, as an oracle: over the test scripts and their variants, the
commands each finds in the text itself and the parameter names each command is given agree.

tree-sitter-powershell publishes wheels for Python 3.10 and later only (abi3, cp310): on 3.9 the
test is skipped with that reason; on every later Python it must run (requirements-test.txt
installs it there), so a missing oracle is a failure, not a skip.
"""

import random
import sys

import pytest

from app.normalise.powershell_commands import invocations
from tests.test_powershell_commands import CORPUS, variants

if sys.version_info < (3, 10):
    pytest.skip("tree-sitter-powershell has no wheel for Python 3.9 (its wheels are abi3 from 3.10)",
                allow_module_level=True)

import tree_sitter_powershell  # noqa: E402  (after the version check: absent on 3.9)
from tree_sitter import Language, Parser  # noqa: E402

PARSER = Parser(Language(tree_sitter_powershell.language()))


def _plain(text):
    """A name as compared: backticks (escapes) and a parameter's dash and colon taken off, lower case."""
    return text.replace("`", "").strip().lstrip("-").rstrip(":").lower()


def oracle_commands(script):
    """[(command name, [parameter names])] tree-sitter finds (commands named by a plain word), or
    None when the grammar reports an error in the script (it then says nothing about it)."""
    tree = PARSER.parse(script.encode("utf-8"))
    if tree.root_node.has_error:
        return None
    found = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "command":
            name = node.child_by_field_name("command_name")
            elements = node.child_by_field_name("command_elements")
            if name is not None and name.type == "command_name":
                parameters = [_plain(child.text.decode("utf-8")) for child in (elements.children if elements else ())
                              if child.type == "command_parameter"]
                found.append((_plain(name.text.decode("utf-8")), parameters))
        stack.extend(reversed(node.children))
    return found


def reader_commands(script):
    """The same from the reader: commands written in the text itself, named by a plain word."""
    found, _ = invocations(script)
    return [(_plain(command.written), [_plain(payload) for kind, payload, _ in command.elements if kind == "parameter"])
            for command in found if command.depth == 0 and command.written]


# A process command line is no script; the grammar takes no Unicode dash for -.
BASES = [script for script in CORPUS
         if "powershell" not in script and "cmd.exe" not in script and "\u2013" not in script and "\u2014" not in script]


def _scripts():
    for script in BASES:
        yield script
        for seed in range(8):
            yield variants(script, seed)


_WRAPPERS = ("if ($ok) {\n%s\n}", "try {\n%s\n} catch { Write-Warning $_ }", "Invoke-Command -ScriptBlock {\n%s\n}",
             "function Invoke-Step {\n%s\n}", "foreach ($m in Get-Mailbox) {\n%s\n}", "%s")


def composed(seed):
    """Scripts made of two or three corpus scripts (or their variants), joined and wrapped in blocks."""
    rng = random.Random(seed)
    pieces = [rng.choice(BASES) for _ in range(rng.randint(2, 3))]
    pieces = [variants(piece, rng.randrange(1000)) if rng.random() < 0.5 else piece for piece in pieces]
    body = rng.choice(("\n", "; ", "\r\n")).join(pieces)
    return rng.choice(_WRAPPERS) % body


def test_the_reader_finds_the_commands_and_parameters_tree_sitter_finds():
    compared = 0
    for script in list(_scripts()) + [composed(seed) for seed in range(300)]:
        expected = oracle_commands(script)
        if expected is None:
            continue
        assert sorted(reader_commands(script)) == sorted(expected), script
        compared += 1
    assert compared >= 300, "the oracle parsed too few scripts to compare: %d" % compared
