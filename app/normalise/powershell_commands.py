"""The commands a PowerShell text invokes, each with its resolved name and its arguments, read
as PowerShell reads them: in command position only (never in a comment, a string that is not
run, or Get-Help's argument), through aliases the script defines and PowerShell's own, call
operators on literal names (pieces joined with + or formatted with -f), splatted literal
hashtables, and the literal strings Invoke-Expression (given or piped) or a powershell.exe /
cmd.exe command line runs (read again, within a budget).

Used by cmdlet_text.find_invocations; never raises on any text.
"""

import re

from .powershell_names import resolve_alias
from .powershell_tokens import (DASHES, NEWLINE, PARAMETER, PUNCT, SPLAT, STRING, VARIABLE, WORD,
                                tokenize)

# Statement keywords: at the start of a statement they are no command.
_BLOCK_KEYWORDS = frozenset((
    "if", "elseif", "else", "while", "do", "until", "for", "foreach", "switch", "try", "catch", "finally",
    "trap", "param", "begin", "process", "end", "clean", "dynamicparam", "data", "class", "enum", "using",
    "break", "continue", "in", "parallel", "sequence", "inlinescript"))
_NAMED_KEYWORDS = frozenset(("function", "filter", "workflow", "configuration"))
_PIPELINE_KEYWORDS = frozenset(("return", "throw", "exit"))
_STATEMENT_ENDS = frozenset((NEWLINE, ";", "|", "&&", "||", ")", "}"))
_OPENERS = {"(": ")", "$(": ")", "@(": ")", "{": "}", "@{": "}", "[": "]"}
_ASSIGNMENTS = frozenset(("=", "+=", "-=", "*=", "/="))

# A `+` joining literal pieces into a name has, after white space and opening brackets, a
# quote, a variable, a here-string or a comment; a format operator is `-f`. The evaluator
# joins and formats no other, and cmdlet_text's pre-check lets every text holding one through
# (the same patterns). The two parts alone each start with a literal character, which the regex
# engine finds by a fast scan: a search for either in a whole text is PLUS_JOIN or FORMAT_JOIN.
PLUS_JOIN = re.compile("\\+[\\s(]*[<#'\"@$\u2018\u2019\u201a\u201b\u201c\u201d\u201e]")
FORMAT_JOIN = re.compile(r"-[fF](?![\w-])")
CONCATENATION = re.compile(PLUS_JOIN.pattern + "|" + FORMAT_JOIN.pattern)
_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:,\s*-?\d+)?(?::[^}]*)?\}")

# powershell.exe / pwsh options that take a value (the value is no script), in lower case.
_HOST_VALUE_OPTIONS = ("executionpolicy", "ep", "ex", "exec", "windowstyle", "w", "win", "version", "v",
                       "psconsolefile", "inputformat", "if", "outputformat", "of", "o", "configurationname",
                       "config", "workingdirectory", "wd", "custompipename", "settingsfile")
_HOSTS = frozenset(("powershell", "pwsh", "powershell_ise"))
MAX_DEPTH = 4   # strings run by strings run by ...: deeper ones are not read
# Brackets in brackets, and pipelines in assignments (`$a = $b = ...`), followed for commands
# over a text and the strings it runs; deeper ones are skipped whole (and said so), which keeps
# the reader's recursion far inside Python's limit.
_MAX_NESTING = 100
_UNREAD = object()   # a group's literal value not evaluated yet


class Invocation(object):
    """One command invoked: `name` as resolved (alias, escapes, literal pieces), `written` as
    the name's token stands in the text (or '' when not a plain word), and `elements`:
    ("parameter", name as written, Token), ("value", [strings], Token) and ("splat", {key: value}
    or None, Token), in order. `depth` is 0 for a command written in the text itself, 1 for one
    in a string the text runs, and so on."""

    __slots__ = ("name", "written", "elements", "depth")

    def __init__(self, name, written, depth=0):
        self.name = name
        self.written = written
        self.elements = []
        self.depth = depth

    def __repr__(self):
        return "Invocation(%r, %r)" % (self.name, self.elements)


class _State(object):
    """What a script has set up so far (its aliases and literal variables), shared with the
    strings it runs, and what reading it may still cost."""

    def __init__(self, budget, max_invocations):
        self.aliases = {}
        self.variables = {}
        self.budget = budget
        self.max_invocations = max_invocations
        self.found = []
        self.exhausted = False   # the budget ran out
        self.skipped = False     # something nested deeper than _MAX_NESTING was skipped
        self.nesting = 0


def invocations(text, budget=None, max_invocations=None):
    """([Invocation] in text order, why some of the text was not read: None, "budget" or
    "nesting"). `budget` bounds the characters read over the text and every string it runs;
    `max_invocations`, if given, the commands read."""
    budget = 4 * len(text) + 20000 if budget is None else budget
    state = _State(budget, max_invocations)
    _read_script(text, state, 0)
    return state.found, "budget" if state.exhausted else "nesting" if state.skipped else None


def _read_script(text, state, depth):
    if depth > MAX_DEPTH or not text:
        return
    if len(text) > state.budget:
        state.exhausted = True
    limit = min(len(text), max(state.budget, 0))
    state.budget -= limit
    _Reader(text, tokenize(text, limit), state, depth).statements(0)


class _Reader(object):
    """One text's tokens, read statement by statement. Each group (brackets) is read once:
    `groups` keeps, by its opening token's index, where it closes and its literal value."""

    def __init__(self, text, tokens, state, depth):
        self.text = text
        self.tokens = tokens
        self.state = state
        self.depth = depth
        self.groups = {}
        self.piped = None   # the literal piped into the element being read, if any

    def at_end(self, index):
        token = self.tokens[index] if index < len(self.tokens) else None
        return token is None or token.kind == PUNCT and token.value in _STATEMENT_ENDS

    def statements(self, index):
        """Read statements from `index` to the token closing the group or the end; return the
        index after it."""
        tokens = self.tokens
        previous = None   # where the pipeline's last element started and ended
        while index < len(tokens):
            if self.state.exhausted or self.state.max_invocations is not None and \
                    len(self.state.found) >= self.state.max_invocations:
                self.state.exhausted = True
                return len(tokens)
            token = tokens[index]
            if token.kind == PUNCT and token.value in (NEWLINE, ";", "|", "&&", "||"):
                previous = previous if token.value == "|" else None
                index += 1
                continue
            if token.kind == PUNCT and token.value in (")", "}", "]"):
                return index + 1   # a closer: ours, or a stray one that ends the group all the same
            # What a literal piped into this element is: `'Set-Mailbox ...' | iex` runs the string.
            self.piped = self.literal(*previous) if previous and tokens[index - 1].is_punct("|") else None
            start = index
            index = max(self.pipeline_element(index), index + 1)
            self.piped = None
            previous = (start, index)
        return index

    def pipeline_element(self, index):
        """One command or expression from `index` (at command position); the index after it."""
        state = self.state
        if state.nesting >= _MAX_NESTING:
            state.skipped = True
            return self.skip_statement(index)
        state.nesting += 1
        try:
            return self._pipeline_element(index)
        finally:
            state.nesting -= 1

    def skip_statement(self, index):
        """The index at the end of the statement from `index`, its groups skipped whole."""
        while not self.at_end(index):
            token = self.tokens[index]
            index = self.skip_group(index) if token.kind == PUNCT and token.value in _OPENERS else index + 1
        return index

    def _pipeline_element(self, index):
        token = self.tokens[index]
        if token.kind == PUNCT and token.value in ("&", "."):
            return self.command(index + 1)
        if token.kind == WORD and not token.value[:1].isdigit():
            keyword = token.value.lower()
            if keyword in _PIPELINE_KEYWORDS:
                return self.pipeline_element(index + 1) if not self.at_end(index + 1) else index + 1
            if keyword in _NAMED_KEYWORDS:
                return self.expression(index + 2)
            if keyword in _BLOCK_KEYWORDS:
                return self.expression(index + 1)
            return self.command(index)
        if token.kind == STRING and _host_name(token.value) is not None:
            return self.command(index)   # a quoted program path on a command line
        return self.expression(index)

    def expression(self, index):
        """An expression statement: its groups are read for commands, an assignment's right side
        is a pipeline, and a variable assigned a literal is remembered."""
        tokens = self.tokens
        start = index
        while not self.at_end(index):
            token = tokens[index]
            if token.kind == PUNCT and token.value in _ASSIGNMENTS:
                right = index + 1
                while right < len(tokens) and tokens[right].is_punct(NEWLINE):
                    right += 1
                end = self.pipeline_element(right) if not self.at_end(right) else right
                if index - start == 1 and tokens[start].kind == VARIABLE and token.value == "=":
                    self.state.variables[tokens[start].value] = self.literal(right, end)
                return end
            if token.kind == WORD and token.value.lower() == "in" and not self.at_end(index + 1):
                return self.pipeline_element(index + 1)   # foreach ($m in <pipeline>)
            index = self.group(index) if token.kind == PUNCT and token.value in _OPENERS else index + 1
        return index

    def group(self, index):
        """Read the group opening at `index` for commands (once); the index after its closer."""
        known = self.groups.get(index)
        if known is not None:
            return known[0]
        opener = self.tokens[index].value
        state = self.state
        if opener != "[" and state.nesting >= _MAX_NESTING:
            state.skipped = True
        state.nesting += 1
        try:
            if opener == "[" or state.nesting > _MAX_NESTING:
                close, value = self.skip_group(index), None   # a type name, or brackets too deep to follow
            elif opener == "@{":
                entries, close = self.hashtable(index)
                value = {key: entry for key, (_, entry) in entries.items()}
            else:
                close, value = self.statements(index + 1), _UNREAD
        finally:
            state.nesting -= 1
        self.groups[index] = [close, value]
        return close

    def group_value(self, index):
        """The literal value of the group opening at `index` (None when not a literal)."""
        close = self.group(index)
        known = self.groups[index]
        if known[1] is _UNREAD:
            known[1] = None   # while it is evaluated: a group is never its own operand
            value = self.literal(index + 1, close - 1) if self.tokens[index].value in ("(", "@(", "$(") else None
            if self.tokens[index].value == "@(" and isinstance(value, str):
                value = [value]
            known[1] = value
        return known[1]

    def skip_group(self, index):
        """The index after the bracket closing the one at `index`, counting brackets only."""
        depth = 0
        tokens = self.tokens
        while index < len(tokens):
            token = tokens[index]
            if token.kind == PUNCT and token.value in _OPENERS:
                depth += 1
            elif token.kind == PUNCT and token.value in (")", "}", "]"):
                depth -= 1
                if depth <= 0:
                    return index + 1
            index += 1
        return index

    def hashtable(self, index):
        """({lower-case key: (key, its literal value or its text)}, index after the closing brace) of
        the @{ at `index`; each value is read as a pipeline for commands too."""
        tokens = self.tokens
        entries = {}
        index += 1
        while index < len(tokens):
            token = tokens[index]
            if token.kind == PUNCT and token.value in (NEWLINE, ";"):
                index += 1
                continue
            if token.kind == PUNCT and token.value in ("}", ")", "]"):
                return entries, index + 1
            if index + 1 < len(tokens) and tokens[index + 1].is_punct("=") and \
                    token.kind in (WORD, STRING, VARIABLE):
                start = index + 2
                while start < len(tokens) and tokens[start].is_punct(NEWLINE):
                    start += 1
                end = max(self.pipeline_element(start), start + 1) if not self.at_end(start) else start
                value = self.literal(start, end)
                if value is None and end > start:   # not a literal: as written ($true, $addr)
                    value = self.text[tokens[start].start:tokens[end - 1].end]
                entries[token.name.lower()] = (token.name, value)
                index = end
                continue
            index = self.group(index) if token.kind == PUNCT and token.value in _OPENERS else index + 1
        return entries, index

    def literal(self, start, end):
        """The value tokens[start:end] hold when they are literals only: a string, an array of
        strings, a hashtable, pieces joined with +, a variable holding one; else None."""
        tokens = self.tokens
        while start + 2 < end and tokens[start].is_punct("[") and tokens[start + 2].is_punct("]"):
            start += 3   # a cast: [string], [ordered]
        items, index = [], start
        while index < end:
            piece, index = self.concatenation(index, end)
            if piece is None:
                return None
            items.append(piece)
            if index < end and tokens[index].is_punct(","):
                index += 1
                continue
            if index < end:
                return None
        if len(items) == 1:
            return items[0]
        return [item for item in items if isinstance(item, str)] if items else None

    def concatenation(self, index, end):
        """(value, next index) of operand (+ operand)* from `index`, or (None, index)."""
        value, index = self.formatted(index, end)
        while value is not None and index < end and self.tokens[index].is_punct("+"):
            if not isinstance(value, str) or not CONCATENATION.match(self.text, self.tokens[index].start):
                return None, index
            following, index = self.formatted(index + 1, end)
            if not isinstance(following, str):
                return None, index
            value += following
        return value, index

    def formatted(self, index, end):
        """(value, next index) of an operand, formatted when `-f` and literal arguments follow it
        ("{1}{0}" -f 'InboxRule','New-'); the arguments are the comma list after -f."""
        value, index = self.operand(index, end)
        tokens = self.tokens
        if not (isinstance(value, str) and index < end and tokens[index].kind == PARAMETER and
                tokens[index].value.lower() == "f" and CONCATENATION.match(self.text, tokens[index].start)):
            return value, index
        arguments = []
        index += 1
        while index < end:
            argument, index = self.operand(index, end)
            if not isinstance(argument, str):
                return None, index
            arguments.append(argument)
            if index < end and tokens[index].is_punct(","):
                index += 1
                continue
            break
        return _format(value, arguments), index

    def operand(self, index, end):
        if index >= end:
            return None, index
        token = self.tokens[index]
        if token.kind == STRING:
            return token.name if not token.dynamic else token.value, index + 1
        if token.kind == VARIABLE:
            return self.state.variables.get(token.value), index + 1
        if token.kind == PUNCT and token.value in _OPENERS:
            return self.group_value(index), self.group(index)
        return None, index + 1

    def command(self, name_index):
        """An invocation whose name element is at `name_index`; the index after its arguments."""
        tokens = self.tokens
        if name_index >= len(tokens) or self.at_end(name_index):
            return name_index
        piped, self.piped = self.piped, None   # its own arguments' groups pipe nothing into it
        name, written, index = self.command_name(name_index)
        name = resolve_alias(name, self.state.aliases) if name else ""
        invocation = Invocation(name, written, self.depth)
        self.state.found.append(invocation)
        found_before = len(self.state.found)
        while not self.at_end(index):
            index = self.element(invocation, index)
        host = _host_name(name)
        if host is not None:
            index = self.host_command(host, invocation, index, found_before)
        self.apply(invocation, piped)
        return index

    def command_name(self, index):
        """(name as resolved, name as written or '', index after it) of the name element."""
        token = self.tokens[index]
        if token.kind == WORD:
            return token.name, token.name, index + 1
        if token.kind == STRING:
            return token.name, "", index + 1
        if token.kind == VARIABLE:
            value = self.state.variables.get(token.value)
            return value if isinstance(value, str) else "", "", index + 1
        if token.kind == PUNCT and token.value in _OPENERS:
            close = self.group(index)
            value = self.group_value(index) if token.value in ("(", "$(") else None
            if value is None and token.value in ("(", "$("):
                value = self._command_lookup(index + 1, close - 1)
            return value if isinstance(value, str) else "", "", close
        return "", "", index + 1

    def _command_lookup(self, start, end):
        """The name in `(Get-Command New-InboxRule)` / `(gcm New-InboxRule)`, a literal one only."""
        tokens = self.tokens
        if end - start == 2 and tokens[start].kind == WORD and tokens[start + 1].kind in (WORD, STRING):
            if resolve_alias(tokens[start].name, self.state.aliases).lower() == "get-command":
                return tokens[start + 1].name
        return None

    def element(self, invocation, index):
        """Read one argument element at `index` into `invocation`; the index after it."""
        token = self.tokens[index]
        if token.kind == PARAMETER:
            invocation.elements.append(("parameter", token.value, token))
            if token.colon and not self.at_end(index + 1):
                return self.value_element(invocation, index + 1)
            return index + 1
        if token.kind == SPLAT:
            value = self.state.variables.get(token.value)
            invocation.elements.append(("splat", value if isinstance(value, dict) else None, token))
            return index + 1
        if token.is_punct(","):
            return index + 1
        return self.value_element(invocation, index)

    def value_element(self, invocation, index):
        token = self.tokens[index]
        if token.kind == PUNCT and token.value in _OPENERS:
            close = self.group(index)
            value = self.group_value(index) if token.value in ("(", "@(") else None
            if isinstance(value, str):
                values = [value]
            elif isinstance(value, list):
                values = value
            else:   # not a literal: its text, as written between the brackets
                inner = self.text[token.end:self.tokens[close - 1].start] if close - 1 > index else ""
                values = [inner]
            invocation.elements.append(("value", values, token))
            return close
        if token.kind == STRING:
            values = [token.value]
        elif token.kind == VARIABLE:
            value = self.state.variables.get(token.value)
            values = [value] if isinstance(value, str) else [self.text[token.start:token.end]]
        elif token.kind == WORD:
            values = [token.name]
        else:
            values = []   # an operator between arguments (+, =, .) is no value
        invocation.elements.append(("value", values, token))
        return index + 1

    def apply(self, invocation, piped=None):
        """What an invocation changes for the rest of the script: an alias, or a string it runs
        (its argument, or the literal `piped` into it)."""
        name = invocation.name.lower()
        if name in ("set-alias", "new-alias"):
            arguments = _arguments(invocation, ("name", "value"))
            alias, target = arguments.get("name"), arguments.get("value")
            if alias and target:
                self.state.aliases[alias.lower()] = target
        elif name == "invoke-expression":
            script = _arguments(invocation, ("command",)).get("command")
            if not script and isinstance(piped, str):
                script = piped
            if script:
                _read_script(script, self.state, self.depth + 1)

    def host_command(self, host, invocation, index, found_before):
        """A powershell.exe / cmd.exe invocation: the script its command line runs (the rest
        of the line after -Command, /c, or the first argument that is no option) is read as a
        script; the index after the line."""
        line_end = index
        while line_end < len(self.tokens) and not self.tokens[line_end].is_punct(NEWLINE):
            line_end += 1
        script_start = _script_start(host, invocation.elements)
        if script_start is None:
            return index
        text_end = self.tokens[line_end].start if line_end < len(self.tokens) else len(self.text)
        script = _command_line_script(self.text[script_start:text_end])
        del invocation.elements[:]
        # The line is read again as the shell's script: what its brackets called is found there.
        del self.state.found[found_before:]
        _read_script(script, self.state, self.depth + 1)
        return line_end


def _format(template, arguments):
    """`template` -f `arguments` as .NET's String.Format writes it (alignment and format
    strings ignored), or None when it names an argument not given."""
    def item(match):
        if match.group(0) in ("{{", "}}"):
            return match.group(0)[0]
        position = int(match.group(1))
        if position >= len(arguments):
            raise IndexError(position)
        return arguments[position]
    try:
        return _FORMAT_ITEM.sub(item, template)
    except (IndexError, ValueError):
        return None


def _host_name(name):
    """'powershell' or 'cmd' when `name` (a path, quoted or not, with or without .exe) names a
    shell whose command line carries a script; else None."""
    base = name.replace("/", "\\").rsplit("\\", 1)[-1].strip().lower()
    if base.endswith(".exe"):
        base = base[:-4]
    if base in _HOSTS:
        return "powershell" if base != "pwsh" else "pwsh"
    return "cmd" if base == "cmd" else None


def _script_start(host, elements):
    """Where in the text the script of a shell's command line starts, or None when it runs none
    that is written there (-EncodedCommand is decoded by the endpoint reader, -File is a file)."""
    skip_value = False
    for kind, written, token in elements:
        if skip_value:
            skip_value = False
            continue
        option = None
        if kind == "parameter":
            option = written.lower()
        elif kind == "value" and token.kind == WORD and token.value[:1] == "/":
            option = token.value[1:].lower()
        if option is None:
            # The first argument that is no option: powershell.exe runs it as a command, pwsh as a file.
            return token.start if host in ("powershell", "cmd") and kind == "value" else None
        if host == "cmd":
            if option in ("c", "k", "r"):
                return token.end
            continue
        if option in _HOST_VALUE_OPTIONS:
            skip_value = True
        elif option and "command".startswith(option):
            return token.end
        elif option.startswith(("e", "f")):
            return None
    return None


def _command_line_script(text):
    """The script a shell receives from the rest of its command line: one pair of enclosing
    double quotes taken off, and \\" as a quote (the C runtime's rule for arguments)."""
    script = text.strip()
    if script[:1] == '"':
        script = script[1:-1] if len(script) > 1 and script.endswith('"') else script[1:]
    return script.replace('\\"', '"')


def _arguments(invocation, positional_names):
    """{lower-case parameter: first value} of an invocation, positional values named in order
    by `positional_names` (enough for the few commands this reader follows)."""
    found = {}
    current = None
    positions = list(positional_names)
    for kind, payload, _ in invocation.elements:
        if kind == "parameter":
            current = payload.lower().lstrip(DASHES)
            matches = [name for name in positional_names if name.startswith(current)] if current else []
            current = matches[0] if len(matches) == 1 else current
            continue
        if kind != "value" or not payload or not isinstance(payload[0], str):
            continue
        if current is not None:
            found.setdefault(current, payload[0])
            current = None
        else:
            while positions and positions[0] in found:
                positions.pop(0)
            if positions:
                found[positions.pop(0)] = payload[0]
    return found
