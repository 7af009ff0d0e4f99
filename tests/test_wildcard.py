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


# ---------------------------------------------------------------------------------------------
# Windows path columns (PathWildcard): canonical paths, `*` and `?` within one folder.

import ntpath  # noqa: E402
import re  # noqa: E402

from hypothesis import given, strategies as st  # noqa: E402

from app.wildcard import PathWildcard  # noqa: E402
from app.windows_path import canonical_path  # noqa: E402

_PIECES = st.lists(st.sampled_from(["a", "B", "ab", ".", "..", "...", "/", "\\", "\\\\", " "]), max_size=12)


@given(st.sampled_from(["C:\\", "d:/", "\\\\fs01\\tools\\"]), _PIECES)
def test_canonical_path_agrees_with_ntpath_normpath(root, pieces):
    """Python's ntpath.normpath resolves a full path as Win32 does (lexically): the reference.
    Whitespace around a whole value is not part of it (a field's padding), as for every lookup key."""
    path = root + "".join(pieces)
    assert canonical_path(path) == ntpath.normpath(path.strip()).lower().rstrip("\\")


def test_canonical_path_prefixes_and_what_it_leaves_alone():
    assert canonical_path("\\\\?\\C:\\Program Files\\Windows Defender\\MsMpEng.exe") == \
        "c:\\program files\\windows defender\\msmpeng.exe"
    assert canonical_path("\\??\\C:\\Windows\\System32\\wbengine.exe") == "c:\\windows\\system32\\wbengine.exe"
    assert canonical_path("\\\\.\\C:\\x.exe") == "c:\\x.exe"
    assert canonical_path("\\\\?\\UNC\\fs01\\tools\\..\\x.exe") == "\\\\fs01\\tools\\x.exe"
    assert canonical_path("\\\\?\\Volume{0b1c}\\x.exe") == "\\\\?\\volume{0b1c}\\x.exe"   # not a drive: kept
    assert canonical_path("C:\\Windows\\..\\..\\..\\x.exe") == "c:\\x.exe"                # never above the drive
    assert canonical_path("\\Device\\HarddiskVolume3\\Tools\\..\\x.exe") == "\\device\\harddiskvolume3\\x.exe"
    assert canonical_path("C:\\PROGRA~1\\x.exe") == "c:\\progra~1\\x.exe"               # 8.3 names are not expanded
    assert canonical_path("C:\\Tools.\\x.exe ") == "c:\\tools.\\x.exe"                  # nor trailing dots trimmed
    assert canonical_path("..\\x.exe") == "..\\x.exe"


def _reference_path_match(pattern, value):
    """`*` any run of non-separators, `?` one non-separator, over the canonical texts."""
    regex = "".join("[^\\\\]*" if char == "*" else "[^\\\\]" if char == "?" else re.escape(char)
                    for char in canonical_path(pattern))
    return re.fullmatch(regex, canonical_path(value), re.DOTALL) is not None


@given(st.lists(st.text(st.sampled_from("ab*?."), min_size=1, max_size=3), min_size=1, max_size=3),
       st.sampled_from(["C:\\", "\\\\?\\C:\\", "c:/"]), _PIECES)
def test_path_wildcard_matches_folder_by_folder(folders, prefix, pieces):
    pattern = "C:\\" + "\\".join(folders)
    value = prefix + "".join(pieces)
    assert PathWildcard(pattern).matches(value) == _reference_path_match(pattern, value)


def test_a_star_in_a_path_is_one_folder():
    platform = PathWildcard("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\*\\MsMpEng.exe")
    assert platform.matches("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.25010.7-0\\MsMpEng.exe")
    assert not platform.matches("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\x\\Users\\MsMpEng.exe")
    assert not platform.matches("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\MsMpEng.exe")
    assert not PathWildcard("C:\\Tools\\x?.exe").matches("C:\\Tools\\x\\.exe")
    inbox = PathWildcard("C:\\Program Files\\Windows Defender\\MsMpEng.exe")
    assert not inbox.matches("C:\\Program Files\\Windows Defender\\..\\..\\Users\\Public\\MsMpEng.exe")
    assert inbox.matches("c:/program files//windows defender/./MsMpEng.exe")
    assert not inbox.matches("C:\\Program Files\\Windows Defender \\MsMpEng.exe")   # another folder
