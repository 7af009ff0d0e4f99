"""bin/t1114_protocol/splunklib_seam.py: the fast record path runs only on the splunklib it
was written for. Any other splunklib (a newer version, or one lacking an internal the seam
uses) gets splunklib's own record path, the same output and one job-inspector warning.
"""

import os
import re
import shutil
import sys

from tools.chunked_client import run, script_path
from tests.helpers import comparable, rule_event_records


def _with_splunklib_version(built_app, tmp_path, version_info):
    app_copy = str(tmp_path / "t1114_email_collection")
    shutil.copytree(built_app, app_copy)
    init = os.path.join(app_copy, "lib", "splunklib", "__init__.py")
    with open(init, encoding="utf-8") as handle:
        text = handle.read()
    text, replaced = re.subn(r"__version_info__ = \([0-9, ]+\)", "__version_info__ = %r" % (version_info,), text)
    assert replaced == 1
    with open(init, "w", encoding="utf-8") as handle:
        handle.write(text)
    return app_copy


def test_another_splunklib_falls_back_to_its_own_record_path(built_app, tmp_path):
    records = rule_event_records()
    shipped = run(script_path(built_app), records, args=["mode=all"], chunk_size=9)
    other = run(script_path(_with_splunklib_version(built_app, tmp_path, (2, 2, 0))), records, args=["mode=all"],
                chunk_size=9)
    assert shipped["exit_code"] == other["exit_code"] == 0, other["stderr"]
    assert comparable(other["records"]) == comparable(shipped["records"])
    assert any(r["t1114_status"] == "finding" for r in other["records"])
    fallback = [text for level, text in other["messages"] if "record path" in text]
    assert len(fallback) == 1 and "splunklib 2.2.0 is not 2.1.1" in fallback[0], other["messages"]
    assert not any("record path" in text for _, text in shipped["messages"])
    assert [m for m in other["messages"] if "record path" not in m[1]] == shipped["messages"]


def test_a_missing_internal_is_named(built_app):
    sys.path[:0] = [os.path.join(built_app, "lib"), os.path.join(built_app, "bin")]
    try:
        from t1114_protocol import splunklib_seam

        class WithoutWriter:
            _metadata = _allow_empty_input = None

        problem = splunklib_seam.seam_problem(WithoutWriter())
        assert "lacks SearchCommand._record_writer, RecordWriterV2._inspector, RecordWriterV2.ofile" in problem
        assert splunklib_seam.seam_problem(WithoutWriter(), version="3.0.1").startswith("splunklib 3.0.1 is not 2.1.1")
    finally:
        del sys.path[:2]
