"""app/normalise/powershell_tokens.py: PowerShell text as tokens, as PowerShell reads its characters."""

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
