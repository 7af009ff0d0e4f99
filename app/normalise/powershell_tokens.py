"""PowerShell text as tokens: words, strings, variables, parameters and punctuation, with
comments dropped and escapes applied, so names and values read as PowerShell reads them.

One mode for the whole text (PowerShell switches between argument and expression mode as it
parses): the reader of the tokens (powershell_commands.py) decides what a token means where it
stands. Never raises; reads at most `limit` characters.
"""

import re

# PowerShell takes these as quotes and dashes too (its tokenizer's CharExtensions):
# a script written with "smart" punctuation runs the same.
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES = "\"\u201c\u201d\u201e"
DASHES = "-\u2013\u2014\u2015"

# Kinds of token.
WORD = "word"          # a bare word: command name, argument, keyword, number
STRING = "string"      # a quoted string (value with escapes applied)
VARIABLE = "variable"  # $name (value: the name, lower case)
SPLAT = "splat"        # @name
PARAMETER = "parameter"  # -Name or -Name: (value: Name as written, dash normalised away)
PUNCT = "punct"        # ; | & && || ( ) { } [ ] , = += . $( @( @{ newline ...
NEWLINE = "\n"

# A bare word ends at these (and at white space).
# `=` too, though PowerShell keeps a=b as one argument: a hashtable's `Key=value` must split.
_WORD_END = frozenset(" \t\f\v\r\n;|&(){}[],=\u00a0\u2028\u2029") | frozenset(SINGLE_QUOTES + DOUBLE_QUOTES)
# A backtick before one of these makes a control character, inside double quotes.
_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_TWO_CHAR_PUNCT = frozenset(("&&", "||", "+=", "-=", "*=", "/=", "::", "..", ">>", "2>", "$(", "@(", "@{"))
# Runs read in one step: white space within a line, and a bare word's characters up to an end or a backtick.
_SPACE = re.compile(r"[^\S\r\n]+")
_PLAIN_WORD = re.compile("[^\\s;|&(){}\\[\\],=`%s%s]+" % (SINGLE_QUOTES, DOUBLE_QUOTES))


# The common tokens, each read by one match of _COMMON (after any white space within the line).
# Each alternative matches only where _next_token would read the same token the same way, and
# stops short of what needs its careful reading: backticks (escapes), doubled quotes, $( ) inside
# double quotes, here-strings, unclosed strings. There no alternative matches and _next_token
# reads the token. Where two alternatives could start alike they are in _next_token's order.
# Each alternative ends in an empty group that names it (the match's lastindex): an alternative
# that starts with a character or a set, not a group, is skipped by sre on its first character.
def _chars(chars):
    """A regex character class body for the characters `chars`."""
    return "".join(re.escape(char) for char in sorted(set(chars)))


# White space spelt out (str.isspace, as \s in a str pattern; none is above U+3000, a test checks):
# a class of plain characters is one table lookup per character in sre, \s a walk of the class.
_WHITE = _chars(char for char in map(chr, range(0x3001)) if char.isspace())
_QUOTES = _chars(SINGLE_QUOTES + DOUBLE_QUOTES)
_SQ, _DQ, _DASH = _chars(SINGLE_QUOTES), _chars(DOUBLE_QUOTES), _chars(DASHES)
_WORD_STOP = _WHITE + r";|&(){}\[\],=" + _QUOTES   # where _PLAIN_WORD ends, a backtick apart
# A word's characters that no backtick continues: next, a stop or the end (said as "not a word
# character nor a backtick", a lookahead with no alternatives in it, quicker in sre).
_WORD_RUN = r"[^{stop}`]*(?![^{stop}])".format(stop=_WORD_STOP)
# What each alternative reads, so tokenize knows what to make of its text.
_PUNCT_TEXT, _WORD_TEXT, _NEWLINE_RUN, _VARIABLE_NAME, _SINGLE_QUOTED, _PARAMETER_NAME = range(6)
_DOUBLE_QUOTED, _BRACED_VARIABLE, _SPLAT_NAME, _READ_OVER = range(6, 10)
# The most frequent first: sre tries the alternatives in turn.
_ALTERNATIVES = [
    (_PUNCT_TEXT, r"[;(){}\[\],=]"),   # none starts a two-character token
    # a word first where its first character starts nothing else (a later alternative takes the
    # other words): not $ @ (variables), dashes (parameters), < (<# is a comment even when the
    # limit falls between < and #), # + . : > 2 * / (comments, operators)
    (_WORD_TEXT, r"[^{stop}`$@<#+.:>2*/{dash}]".format(stop=_WORD_STOP, dash=_DASH) + _WORD_RUN),
    (_NEWLINE_RUN, r"[\r\n][%s]*" % _WHITE),
    # _variable's name: word characters, a colon only before one (one repeat per character is slow in sre)
    (_VARIABLE_NAME, r"\$:?\w+(?::\w+)*"),
    # a closing quote followed by another is a doubled quote, not the end
    (_SINGLE_QUOTED, r"[{q}][^{q}]*[{q}](?![{q}])".format(q=_SQ)),
    # a name that a backtick continues is not matched: the lookahead needs its true end
    (_PARAMETER_NAME, r"[{dash}](?=[^\W\d])[^{stop}:`]+(?![^{stop}:]):?".format(dash=_DASH, stop=_chars(_WORD_END))),
    (_READ_OVER, r"#[^\r\n]*"),
    (_DOUBLE_QUOTED, r"[{q}][^{q}`$]*(?:\$(?!\()[^{q}`$]*)*[{q}](?![{q}])".format(q=_DQ)),
] + [(_PUNCT_TEXT, re.escape(pair)) for pair in sorted(_TWO_CHAR_PUNCT)] + [
    (_PUNCT_TEXT, r"[&|+]"),
    (_PUNCT_TEXT, r"\.(?![^%s%s$({])" % (_WHITE, _QUOTES)),
    (_WORD_TEXT, r"[^{stop}`$@<{dash}]".format(stop=_WORD_STOP, dash=_DASH) + _WORD_RUN),
    (_VARIABLE_NAME, r"\$[$^?]"),
    (_BRACED_VARIABLE, r"\$\{[^}]*\}?"),
    (_SPLAT_NAME, r"@:?\w+(?::\w+)*"),
    (_READ_OVER, r"<#[\s\S]*?(?:#>|\Z)"),
    (_READ_OVER, r"`(?:\r\n?|\n)"),
    (_WORD_TEXT, r"[{dash}](?=\d)".format(dash=_DASH) + _WORD_RUN),
]
_COMMON = re.compile(r"([^\S\r\n]*)(?:%s)" % "|".join("%s()" % pattern for _, pattern in _ALTERNATIVES))
# _COMMON's lastindex -> what the alternative reads (group 1 is the white space before it).
_READS = (None, None) + tuple(reads for reads, _ in _ALTERNATIVES)
# Inside quotes, the characters with no meaning there.
_SINGLE_PLAIN = re.compile("[^%s]+" % _SQ)
_DOUBLE_PLAIN = re.compile("[^%s`$]+" % _DQ)
# A $ that makes a double-quoted string expand (_double_quoted's test).
_EXPANDS = re.compile(r"\$[\w{]")


class Token(object):
    """One token: kind, value (escapes applied), start and end offsets in the text.

    `name` is the value as a command name is resolved from it: a backtick before any letter
    stands for the letter. PowerShell turns `b `n `t ... into control characters, so a name
    written New-In`boxRule does not run as typed; it is read as New-InboxRule all the same,
    as an attempt to hide the call is evidence of it. `dynamic` marks a double-quoted string
    whose value holds $variables or $( ) PowerShell would expand.
    """

    __slots__ = ("kind", "value", "start", "end", "name", "dynamic", "colon")

    def __init__(self, kind, value, start, end, name=None, dynamic=False, colon=False):
        self.kind = kind
        self.value = value
        self.start = start
        self.end = end
        self.name = value if name is None else name
        self.dynamic = dynamic
        self.colon = colon

    def __repr__(self):
        return "Token(%s, %r)" % (self.kind, self.value)

    def is_punct(self, *values):
        return self.kind == PUNCT and self.value in values


def tokenize(text, limit=None):
    """[Token] of `text` (its first `limit` characters)."""
    end = len(text) if limit is None else min(len(text), limit)
    tokens = []
    append = tokens.append
    index = 0
    while index < end:
        # The scanner matches _COMMON at index, then where that match ended, and so on, until no
        # common token starts there: one C-level step per token, none per character.
        for found in iter(_COMMON.scanner(text, index, end).match, None):
            reads = _READS[found.lastindex]
            start = found.end(1)
            index = found.end()
            if reads == _PUNCT_TEXT:
                append(Token(PUNCT, text[start:index], start, index))
            elif reads == _WORD_TEXT:
                append(Token(WORD, text[start:index], start, index))
            elif reads == _NEWLINE_RUN:
                # One newline token for a run of line ends (and the white space between them).
                if not tokens or tokens[-1].value != NEWLINE or tokens[-1].kind != PUNCT:
                    append(Token(PUNCT, NEWLINE, start, start + 1))
            elif reads == _VARIABLE_NAME:
                append(Token(VARIABLE, text[start + 1:index].lower(), start, index))
            elif reads == _SINGLE_QUOTED:
                append(Token(STRING, text[start + 1:index - 1], start, index))
            elif reads == _PARAMETER_NAME:
                first = text[start + 1]
                if not (first.isalpha() or first == "_"):
                    index = _next_token(text, start, end, tokens)   # a numeric letter such as ², not a name
                    break
                if text[index - 1] == ":":
                    append(Token(PARAMETER, text[start + 1:index - 1], start, index, colon=True))
                else:
                    append(Token(PARAMETER, text[start + 1:index], start, index))
            elif reads == _DOUBLE_QUOTED:
                value = text[start + 1:index - 1]
                append(Token(STRING, value, start, index, value, "$" in value and _EXPANDS.search(value) is not None))
            elif reads == _BRACED_VARIABLE:
                close = index - 1 if text[index - 1] == "}" else index
                append(Token(VARIABLE, text[start + 2:close].lower(), start, index))
            elif reads == _SPLAT_NAME:
                append(Token(SPLAT, text[start + 1:index].lower(), start, index))
            # else: a comment or a line continuation, read over.
        else:
            # No common token at index: white space to the end, or a token for the careful reading.
            space = _SPACE.match(text, index, end)
            if space:
                index = space.end()
            if index < end:
                index = _next_token(text, index, end, tokens)
    return tokens


def _next_token(text, index, end, tokens):
    """Scan one token (or skip space or a comment) at `index`; return where the next starts."""
    char = text[index]
    if char == "\n" or char == "\r":
        if not tokens or tokens[-1].value != NEWLINE or tokens[-1].kind != PUNCT:
            tokens.append(Token(PUNCT, NEWLINE, index, index + 1))
        return index + 1
    if char.isspace():
        return index + 1
    if char == "`" and index + 1 < end and text[index + 1] in "\r\n":
        # Line continuation: the backtick and the line end (CRLF or LF) are white space.
        return index + (3 if text.startswith("\r\n", index + 1) else 2)
    if char == "#":
        newline = _find_any(text, "\r\n", index, end)
        return newline
    if text.startswith("<#", index):
        close = text.find("#>", index + 2, end)
        return end if close < 0 else close + 2
    if char in SINGLE_QUOTES:
        return _single_quoted(text, index, end, tokens)
    if char in DOUBLE_QUOTES:
        return _double_quoted(text, index, end, tokens)
    if char == "@" and index + 1 < end and text[index + 1] in SINGLE_QUOTES + DOUBLE_QUOTES:
        return _here_string(text, index, end, tokens)
    if char == "$" or char == "@":
        scanned = _variable(text, index, end, tokens)
        if scanned:
            return scanned
    if char in DASHES and index + 1 < end and (text[index + 1].isalpha() or text[index + 1] == "_"):
        return _parameter(text, index, end, tokens)
    pair = text[index:index + 2]
    if pair in _TWO_CHAR_PUNCT and index + 2 <= end:
        tokens.append(Token(PUNCT, pair, index, index + 2))
        return index + 2
    if char in ";|&(){}[],=+":   # [ and ] alone: a type literal's brackets
        tokens.append(Token(PUNCT, char, index, index + 1))
        return index + 1
    if char == "." and (index + 1 >= end or text[index + 1].isspace() or text[index + 1] in
                        SINGLE_QUOTES + DOUBLE_QUOTES + "$({"):
        tokens.append(Token(PUNCT, ".", index, index + 1))   # dot-sourcing operator
        return index + 1
    return _word(text, index, end, tokens)


def _find_any(text, chars, start, end):
    found = end
    for char in chars:
        position = text.find(char, start, end)
        if 0 <= position < found:
            found = position
    return found


def _single_quoted(text, index, end, tokens):
    """'...': verbatim, a doubled quote (of any of the single-quote characters) stands for one."""
    parts = []
    position = index + 1
    while position < end:
        run = _SINGLE_PLAIN.match(text, position, end)
        if run:   # characters that stand for themselves, in one step
            parts.append(run.group())
            position = run.end()
            continue
        char = text[position]
        if char in SINGLE_QUOTES:
            if position + 1 < end and text[position + 1] in SINGLE_QUOTES:
                parts.append(char)
                position += 2
                continue
            value = "".join(parts)
            tokens.append(Token(STRING, value, index, position + 1))
            return position + 1
        parts.append(char)
        position += 1
    tokens.append(Token(STRING, "".join(parts), index, end))
    return end


def _double_quoted(text, index, end, tokens):
    """"...": backtick escapes, doubled quotes, and $( ) read over as PowerShell expands it."""
    parts, names = [], []
    dynamic = False
    position = index + 1
    while position < end:
        run = _DOUBLE_PLAIN.match(text, position, end)
        if run:   # characters that stand for themselves in the value and the name, in one step
            parts.append(run.group())
            names.append(run.group())
            position = run.end()
            continue
        char = text[position]
        if char == "`" and position + 1 < end:
            following = text[position + 1]
            parts.append(_ESCAPES.get(following, following))
            names.append(following)
            position += 2
            continue
        if char in DOUBLE_QUOTES:
            if position + 1 < end and text[position + 1] in DOUBLE_QUOTES:
                parts.append(char)
                names.append(char)
                position += 2
                continue
            tokens.append(Token(STRING, "".join(parts), index, position + 1, "".join(names), dynamic))
            return position + 1
        if char == "$" and position + 1 < end and (text[position + 1].isalnum() or text[position + 1] in "_({"):
            dynamic = True
            if text[position + 1] == "(":
                close = _subexpression_end(text, position + 1, end)
                parts.append(text[position:close])
                names.append(text[position:close])
                position = close
                continue
        parts.append(char)
        names.append(char)
        position += 1
    tokens.append(Token(STRING, "".join(parts), index, end, "".join(names), dynamic))
    return end


def _subexpression_end(text, position, end):
    """Index after the ')' closing the '(' at `position`, skipping quoted parts inside."""
    depth = 0
    while position < end:
        char = text[position]
        if char == "`":
            position += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return position + 1
        elif char in SINGLE_QUOTES:
            close = _find_any(text, SINGLE_QUOTES, position + 1, end)
            position = close
        position += 1
    return end


def _here_string(text, index, end, tokens):
    """@' ... '@ or @" ... "@: the lines between the opening line and a line starting with the close."""
    quote = text[index + 1]
    closers = SINGLE_QUOTES if quote in SINGLE_QUOTES else DOUBLE_QUOTES
    body_start = _find_any(text, "\n", index + 2, end)
    if body_start >= end:
        tokens.append(Token(PUNCT, "@", index, index + 1))
        return index + 1
    position = body_start + 1
    while position < end:
        line_end = _find_any(text, "\n", position, end)
        if position + 1 < end and text[position] in closers and text[position + 1] == "@":
            value = text[body_start + 1:max(position - 1, body_start + 1)].rstrip("\r")
            tokens.append(Token(STRING, value, index, position + 2, dynamic=quote not in SINGLE_QUOTES))
            return position + 2
        position = line_end + 1
    tokens.append(Token(STRING, text[body_start + 1:end], index, end))
    return end


def _variable(text, index, end, tokens):
    """$name, ${any name}, $scope:name, @name (splatting); 0 when the $ or @ starts no variable."""
    sigil = text[index]
    position = index + 1
    if position < end and text[position] == "{" and sigil == "$":
        close = text.find("}", position, end)
        close = end if close < 0 else close
        tokens.append(Token(VARIABLE, text[position + 1:close].lower(), index, min(close + 1, end)))
        return min(close + 1, end)
    while position < end:
        char = text[position]
        if char.isalnum() or char == "_":
            position += 1
        elif char == ":" and position + 1 < end and (text[position + 1].isalnum() or text[position + 1] == "_"):
            position += 1   # $env:NAME, $script:name
        else:
            break
    if position == index + 1:
        if sigil == "$" and position < end and text[position] in "$^?_":
            tokens.append(Token(VARIABLE, text[position], index, position + 1))
            return position + 1
        return 0
    tokens.append(Token(VARIABLE if sigil == "$" else SPLAT, text[index + 1:position].lower(), index, position))
    return position


def _parameter(text, index, end, tokens):
    """-Name, -Name: (with any of PowerShell's dashes); the value is the name without its dash."""
    position = index + 1
    name = []
    while position < end and text[position] not in _WORD_END and text[position] != ":":
        char = text[position]
        if char == "`" and position + 1 < end and text[position + 1] not in "\r\n":
            name.append(text[position + 1])
            position += 2
            continue
        if char == "`":
            break
        name.append(char)
        position += 1
    colon = position < end and text[position] == ":"
    tokens.append(Token(PARAMETER, "".join(name), index, position + (1 if colon else 0), colon=colon))
    return position + (1 if colon else 0)


def _word(text, index, end, tokens):
    """A bare word up to white space or a statement character; a backtick takes the next character."""
    parts = []
    position = index
    while position < end:
        run = _PLAIN_WORD.match(text, position, end)
        if run:
            parts.append(run.group())
            position = run.end()
            continue
        if text[position] != "`":
            break
        if position + 1 < end and text[position + 1] in "\r\n":
            break   # a line continuation ends the word
        if position + 1 < end:
            parts.append(text[position + 1])
        position += 2
    if position == index:
        position += 1
        parts.append(text[index])
    tokens.append(Token(WORD, "".join(parts), index, min(position, end)))
    return min(position, end)
