"""app/wildcard.py: lookup wildcards (`*`, `?`, case ignored), and their cost counted, not timed."""

from app.wildcard import Wildcard


def test_wildcards():
    assert Wildcard("svc-*@contoso.com").matches("SVC-backup@contoso.com")
    assert Wildcard("a?c").matches("abc") and not Wildcard("a?c").matches("abbc")
    assert not Wildcard("svc-*").matches("xsvc-1")
    assert Wildcard("*").matches("")
    assert Wildcard("[abc").matches("[ABC")  # brackets are literal, not a class


def test_wildcard_is_linear_on_hostile_patterns():
    """Counted, not timed (tests/wildcard_work.py): each of the 51 pieces is placed at most once."""
    from tests.wildcard_work import match_work

    pattern = "*a" * 50 + "b"
    matched, calls, comparisons = match_work(pattern, "a" * 100000)
    assert not matched
    assert calls <= 51
    assert comparisons <= 100000 * len(pattern)
    _, _, doubled = match_work(pattern, "a" * 200000)
    assert doubled <= 2 * comparisons + len(pattern) * 51


def test_a_pattern_compiles_its_regex_only_when_first_tried(monkeypatch):
    """A site allowlist of thousands of `?` rows compiles none of them at start-up; a row an
    event reaches compiles once, however often it is tried. Counted, not timed."""
    from app import wildcard

    compiled = []
    real_compile = wildcard.re.compile
    monkeypatch.setattr(wildcard.re, "compile", lambda *args: compiled.append(args[0]) or real_compile(*args))
    patterns = [Wildcard("backup?%05d*@contoso.com" % index) for index in range(1000)]
    assert compiled == []
    assert patterns[7].matches("BACKUPx00007-svc@contoso.com")
    assert not patterns[7].matches("backup00007@contoso.com")
    assert patterns[7].matches("backup_00007@contoso.com")
    assert len(compiled) == 1
    assert not patterns[8].matches("bob@contoso.com")   # shorter than the pattern: ruled out, nothing compiled
    assert len(compiled) == 1
