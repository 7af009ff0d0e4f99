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
