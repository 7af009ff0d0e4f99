r"""Windows paths as allowlists compare them: one spelling for each path Windows resolves the same way.

canonical_path() does only what Win32 path normalisation (GetFullPathName) does to a full path,
lexically, so a folder an allowlist row names cannot be reached by spelling a path differently,
and a different file is never made to look like a listed one:
- lower case (NTFS names compare case-insensitively);
- `/` read as `\`;
- the `\\?\`, `\\.\` and `\??\` prefixes taken off a drive path (`\\?\C:\x` is `C:\x`), and
  `\\?\UNC\server\share` read as `\\server\share`; any other device path keeps its prefix;
- runs of separators made one, `.` folders dropped, each `..` taking off the folder before it,
  never the root (the drive `C:`, `\\server\share`, or the first folder of a rooted path such
  as `\Device`);
- a trailing separator dropped.
Nothing else: trailing dots and spaces are kept, 8.3 short names are not expanded and device
paths are not mapped to drive letters, so such a spelling matches no row (a finding, never a
silent match). A relative path keeps the `..` it cannot resolve.

main_stream_path() and path_in_profile() read the file an event names the one way every reader
and rule needs it: `bob.pst::$DATA` is bob.pst itself, and a path is inside a user's profile
only when it is under a real profile folder (not Public, Default or All Users).
"""

_PREFIXES = ("\\\\?\\", "\\\\.\\", "\\??\\")


def split_root(path):
    r"""(root, the folders after it) of a lower-cased path with `\` separators; root is `c:`,
    `\\server\share`, `\name` (a rooted path's first folder) or None (a relative path)."""
    if path.startswith("\\\\"):
        parts = path[2:].split("\\")
        named = [part for part in parts if part]
        return "\\\\" + "\\".join(named[:2]), _after(parts, 2)
    if path.startswith("\\"):
        parts = path[1:].split("\\")
        named = [part for part in parts if part]
        return "\\" + (named[0] if named else ""), _after(parts, 1)
    if path[1:2] == ":" and path[2:3] == "\\":
        return path[:2], path[3:].split("\\")
    return None, path.split("\\")


def _after(parts, count):
    """The parts after the first `count` non-empty ones."""
    seen = 0
    for index, part in enumerate(parts):
        if part:
            seen += 1
            if seen == count:
                return parts[index + 1:]
    return []


def without_prefix(text):
    r"""The path lower-cased, with `\` separators and without a `\\?\`, `\\.\` or `\??\` prefix
    before a drive or `UNC\`."""
    path = text.strip().lower().replace("/", "\\")
    for prefix in _PREFIXES:
        if path.startswith(prefix):
            rest = path[len(prefix):]
            if rest.startswith("unc\\"):
                return "\\\\" + rest[4:]
            if rest[1:3] == ":\\":
                return rest
            break
    return path


def canonical_path(text):
    path = without_prefix(text)
    if path[1:2] == ":" and path[2:3] != "\\":
        return path   # `C:x` is relative to the drive's current folder: not a path a process runs from
    root, parts = split_root(path)
    folders = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if folders and folders[-1] != "..":
                folders.pop()
            elif root is None:
                folders.append(part)   # a relative path keeps what it cannot resolve
            continue
        folders.append(part)
    if root is None:
        return "\\".join(folders)
    return "\\".join([root] + folders)


# `name::$DATA` is the file's unnamed (main) data stream, which is the file itself; a named
# stream (`bob.pst:Zone.Identifier`, `bob.pst:x:$DATA`) is other data kept beside the file.
_MAIN_STREAM = "::$data"
# Folders under C:\Users (and the older C:\Documents and Settings) that are no one's profile:
# whatever they hold, it is not a user's own Outlook folder.
NOT_PROFILES = frozenset(("public", "default", "default user", "all users"))
_PROFILE_ROOTS = frozenset(("users", "documents and settings"))


def main_stream_path(path):
    r"""The path without a `::$DATA` suffix (that stream is the file itself), as written
    otherwise: `C:\x\bob.pst::$DATA` -> `C:\x\bob.pst`. A named stream is left on: it is not
    the file's own data."""
    if "::" in path and path[-len(_MAIN_STREAM):].lower() == _MAIN_STREAM:
        return path[:-len(_MAIN_STREAM)]
    return path


def path_in_profile(path):
    r"""The canonical path inside the user profile that holds it, or '' when it is in none:
    `C:\Users\bob\Documents\Outlook Files\a.pst` -> `documents\outlook files\a.pst`; the same
    under `C:\Users\Public\`, `E:\Backup\` or a share is ''. A profile is a folder under a
    drive's `Users` (or `Documents and Settings`) other than NOT_PROFILES."""
    canonical = canonical_path(main_stream_path(path))
    root, parts = split_root(canonical)
    if root is None or len(root) != 2 or len(parts) < 3:
        return ""   # a drive path only: \\server\share\Users\... is a copy on a share
    if parts[0] not in _PROFILE_ROOTS or parts[1] in NOT_PROFILES:
        return ""
    return "\\".join(parts[2:])
