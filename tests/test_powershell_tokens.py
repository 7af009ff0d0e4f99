"""app/normalise/powershell_tokens.py: PowerShell text as tokens, as PowerShell reads its characters."""

import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from app.normalise import powershell_tokens
from app.normalise.powershell_tokens import NEWLINE, PARAMETER, PUNCT, SPLAT, STRING, VARIABLE, WORD, tokenize


def kinds(text):
    return [(token.kind, token.value) for token in tokenize(text)]


def test_comments_are_dropped_and_line_ends_kept():
    assert kinds("a # New-InboxRule\nb <# Set-Mailbox\n -x #> c") == [
        (WORD, "a"), (PUNCT, NEWLINE), (WORD, "b"), (WORD, "c")]


def test_a_backtick_line_continuation_ending_in_crlf_or_lf_is_white_space():
    assert kinds("a `\r\n -b `\n c") == [(WORD, "a"), (PARAMETER, "b"), (WORD, "c")]


def test_backticks_inside_words_stand_for_the_next_character():
    token, = tokenize("New-In`boxRule")
    assert (token.kind, token.value, token.name) == (WORD, "New-InboxRule", "New-InboxRule")


def test_double_quotes_apply_escapes_and_keep_the_name_reading_apart():
    token, = tokenize('"New-In`boxRule`t""x"""')
    assert token.value == 'New-In\boxRule\t"x"' and token.name == 'New-InboxRulet"x"'
    assert not token.dynamic and tokenize('"a $b"')[0].dynamic


def test_single_quotes_are_verbatim_and_doubled_quotes_stand_for_one():
    token, = tokenize("'a`b''c'")
    assert token.value == "a`b'c"


def test_smart_quotes_and_unicode_dashes_read_as_plain_ones():
    assert kinds("\u2018Set-Mailbox\u2019 \u2013Identity \u2014x \u2015y \u201cz\u201d") == [
        (STRING, "Set-Mailbox"), (PARAMETER, "Identity"), (PARAMETER, "x"), (PARAMETER, "y"), (STRING, "z")]


def test_here_strings_are_one_string():
    assert kinds("$d = @'\nNew-InboxRule -ForwardTo x\n'@\nWrite-Output $d") == [
        (VARIABLE, "d"), (PUNCT, "="), (STRING, "New-InboxRule -ForwardTo x"), (PUNCT, NEWLINE),
        (WORD, "Write-Output"), (VARIABLE, "d")]


def test_variables_splats_groups_and_parameters_with_a_colon():
    tokens = tokenize("$env:x ${a b} @p @{k='v'} $(1) @(2) -Name:$true")
    assert [(t.kind, t.value) for t in tokens] == [
        (VARIABLE, "env:x"), (VARIABLE, "a b"), (SPLAT, "p"), (PUNCT, "@{"), (WORD, "k"), (PUNCT, "="), (STRING, "v"),
        (PUNCT, "}"), (PUNCT, "$("), (WORD, "1"), (PUNCT, ")"), (PUNCT, "@("), (WORD, "2"), (PUNCT, ")"),
        (PARAMETER, "Name"), (VARIABLE, "true")]
    assert tokens[-2].colon


def test_the_limit_bounds_what_is_read_and_unclosed_text_ends_the_token():
    assert kinds("'unclosed string") == [(STRING, "unclosed string")]
    assert kinds("a\u00a0b") == [(WORD, "a"), (WORD, "b")]   # any Unicode space separates
    assert [t.value for t in tokenize("New-InboxRule -ForwardTo x", limit=13)] == ["New-InboxRule"]


# The common tokens are read by one pattern match each, the rest by the careful per-character
# reading; the tests below pin each path's exact tokens (kind, value, start, end, name, dynamic, colon).

def full(text, limit=None):
    return [(t.kind, t.value, t.start, t.end, t.name, t.dynamic, t.colon) for t in tokenize(text, limit)]


def test_plain_words_punctuation_and_space_runs():
    assert full("Get-Mailbox  ;\tx,y") == [
        (WORD, "Get-Mailbox", 0, 11, "Get-Mailbox", False, False), (PUNCT, ";", 13, 14, ";", False, False),
        (WORD, "x", 15, 16, "x", False, False), (PUNCT, ",", 16, 17, ",", False, False),
        (WORD, "y", 17, 18, "y", False, False)]


def test_two_character_operators_win_over_their_first_character():
    assert full("a&&b||c+=1") == [
        (WORD, "a", 0, 1, "a", False, False), (PUNCT, "&&", 1, 3, "&&", False, False),
        (WORD, "b", 3, 4, "b", False, False), (PUNCT, "||", 4, 6, "||", False, False),
        (WORD, "c+", 6, 8, "c+", False, False), (PUNCT, "=", 8, 9, "=", False, False),
        (WORD, "1", 9, 10, "1", False, False)]


def test_a_dot_before_space_is_dot_sourcing_and_before_a_path_starts_a_word():
    assert full(". .\\x.ps1 .;") == [
        (PUNCT, ".", 0, 1, ".", False, False), (WORD, ".\\x.ps1", 2, 9, ".\\x.ps1", False, False),
        (WORD, ".", 10, 11, ".", False, False), (PUNCT, ";", 11, 12, ";", False, False)]


def test_a_run_of_line_ends_is_one_newline_token_at_the_first():
    assert full("a\n\n  \r\n # c\n b") == [
        (WORD, "a", 0, 1, "a", False, False), (PUNCT, NEWLINE, 1, 2, NEWLINE, False, False),
        (WORD, "b", 13, 14, "b", False, False)]


def test_line_and_block_comments_are_read_over():
    assert full("a <# c\n #> b # d") == [(WORD, "a", 0, 1, "a", False, False), (WORD, "b", 11, 12, "b", False, False)]


def test_variables_with_scopes_braces_and_special_names():
    assert full("$env:Path $A:b ${a B} $$ $? $_x @P @:q") == [
        (VARIABLE, "env:path", 0, 9, "env:path", False, False), (VARIABLE, "a:b", 10, 14, "a:b", False, False),
        (VARIABLE, "a b", 15, 21, "a b", False, False), (VARIABLE, "$", 22, 24, "$", False, False),
        (VARIABLE, "?", 25, 27, "?", False, False), (VARIABLE, "_x", 28, 31, "_x", False, False),
        (SPLAT, "p", 32, 34, "p", False, False), (SPLAT, ":q", 35, 38, ":q", False, False)]


def test_plain_quoted_strings_and_a_double_quoted_one_that_expands():
    assert full("'it' \"a\" \"$b\" \"5 $\"") == [
        (STRING, "it", 0, 4, "it", False, False), (STRING, "a", 5, 8, "a", False, False),
        (STRING, "$b", 9, 13, "$b", True, False), (STRING, "5 $", 14, 19, "5 $", False, False)]


def test_parameters_with_and_without_a_colon_and_a_negative_number():
    assert full("-Name:x -Force -1") == [
        (PARAMETER, "Name", 0, 6, "Name", False, True), (WORD, "x", 6, 7, "x", False, False),
        (PARAMETER, "Force", 8, 14, "Force", False, False), (WORD, "-1", 15, 17, "-1", False, False)]


def test_backticks_in_words_and_parameters_take_the_careful_reading():
    assert full("N`ew-Item -Na`me") == [
        (WORD, "New-Item", 0, 9, "New-Item", False, False), (PARAMETER, "Name", 10, 16, "Name", False, False)]


def test_escapes_doubled_quotes_and_subexpressions_in_double_quotes():
    assert full('"a`tb" "a""b" "a $(Get-Date "x") b"') == [
        (STRING, "a\tb", 0, 6, "atb", False, False), (STRING, 'a"b', 7, 13, 'a"b', False, False),
        (STRING, 'a $(Get-Date "x") b', 14, 35, 'a $(Get-Date "x") b', True, False)]


def test_doubled_single_quotes_here_strings_and_unclosed_strings():
    assert full("'it''s' @'\nx\n'@ 'abc") == [
        (STRING, "it's", 0, 7, "it's", False, False), (STRING, "x", 8, 15, "x", False, False),
        (STRING, "abc", 16, 20, "abc", False, False)]
    assert full('"abc') == [(STRING, "abc", 0, 4, "abc", False, False)]


def test_a_limit_between_less_than_and_hash_still_reads_a_comment():
    assert full("<# x #>", 1) == [] and full("a<#", 2) == [(WORD, "a<", 0, 2, "a<", False, False)]


def test_odd_starts_a_lone_dollar_a_numeric_letter_after_a_dash_and_a_line_continuation():
    assert full("$ x -\u00b2 a `\r\n b") == [
        (WORD, "$", 0, 1, "$", False, False), (WORD, "x", 2, 3, "x", False, False),
        (WORD, "-\u00b2", 4, 6, "-\u00b2", False, False), (WORD, "a", 7, 8, "a", False, False),
        (WORD, "b", 13, 14, "b", False, False)]


def test_the_spelt_out_white_space_is_exactly_what_str_isspace_takes():
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert set(re.findall("[%s]" % powershell_tokens._WHITE, every)) == {char for char in every if char.isspace()}


# Text heavy in what PowerShell treats specially, so every path of the reading is drawn.
_SPECIAL = st.sampled_from(list("`'\"\u2018\u2019\u201c\u201d\u2013$@(){}[];|&+=,#<>\r\n:.- \t_aZ09\u00a0\u00b2") + [
    "@'\n", "@\"\n", "\n'@", "\n\"@", "<#", "#>", "$(", "${", "`\r\n", "-Name", "Set-Mailbox", "'x''y'"])
_TEXTS = st.lists(_SPECIAL, max_size=40).map("".join)
# Between tokens only these: white space, comments, line continuations (and a line end after the
# newline token that stands for the run).
_BETWEEN = re.compile(r"(?:\s|`\r?\n|`\r|#[^\r\n]*|<#[\s\S]*?(?:#>|\Z))*")


@settings(max_examples=400, deadline=None)
@given(_TEXTS, st.one_of(st.none(), st.integers(0, 60)))
def test_tokens_are_in_order_within_the_limit_with_only_space_and_comments_between(text, limit):
    end = len(text) if limit is None else min(len(text), limit)
    tokens = tokenize(text, limit)
    previous = 0
    for token in tokens:
        assert previous <= token.start < token.end <= end
        if limit is None:
            assert _BETWEEN.fullmatch(text, previous, token.start), (text, previous, token.start)
        previous = token.end
    if limit is None and previous < end:
        assert _BETWEEN.fullmatch(text, previous, end)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_a_string_read_alone_reads_the_same(text):
    for token in tokenize(text):
        if token.kind == STRING:
            alone, = tokenize(text[token.start:token.end])
            assert (alone.kind, alone.value, alone.name, alone.dynamic) == (STRING, token.value, token.name, token.dynamic)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_a_word_read_alone_reads_the_same(text):
    # A lone "." is dot-sourcing where the text ends, a word before a ; or ) : the rest must agree.
    for token in tokenize(text):
        if token.kind == WORD and token.value != ".":
            alone, = tokenize(text[token.start:token.end])
            assert (alone.kind, alone.value, alone.name) == (WORD, token.value, token.name)
