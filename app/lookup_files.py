"""Which file in lookups/ each of the app's lookup definitions names.

The engine reads exactly the files the definitions in default/transforms.conf (with
local/transforms.conf over it, key by key, as Splunk layers .conf files) name, so what
`| inputlookup <definition>` shows in Splunk is what the command applies. A shipped file whose
rows change is shipped under a new name and its definition pointed at it; the old file an
upgrade leaves behind is then never read. transforms.conf is in Splunk's default replication
lists, so indexers read the same definitions from the knowledge bundle.
"""

import os

from .conf_files import CONF_ERRORS, error_text, read_conf

TRANSFORMS_FILE = "transforms.conf"
LOOKUPS_DIR = "lookups"


class LookupFiles:
    """{definition: file name} for the app's definitions, and the folder the files are in."""

    def __init__(self, lookups_dir, filenames):
        self.lookups_dir = lookups_dir
        self._filenames = dict(filenames)

    def filename(self, definition, default=None):
        """The file a definition names, or `default` when no layer defines it."""
        return self._filenames.get(definition, default)

    def path(self, definition, default=None):
        name = self.filename(definition, default)
        return None if name is None else os.path.join(self.lookups_dir, name)


def load_lookup_files(app_root, problems, definitions):
    """The files `definitions` name in default/ then local/transforms.conf of the app.

    A definition whose `filename` is not a plain file name (a path, `..`) is reported and left
    out: the command reads only the app's own lookups/ folder."""
    filenames = {}
    for layer in ("default", "local"):
        path = os.path.join(app_root, layer, TRANSFORMS_FILE)
        if not os.path.exists(path):
            continue
        try:
            parser = read_conf(path)
        except CONF_ERRORS as error:
            problems.report("transforms_unreadable:" + layer,
                            "%s/%s could not be read (%s); the t1114 lookups it defines were looked for under "
                            "their default names." % (layer, TRANSFORMS_FILE, error_text(error)))
            continue
        for definition in definitions:
            if not parser.has_section(definition):
                continue
            keys = {name.strip().lower(): value.strip() for name, value in parser.items(definition)}
            if "filename" not in keys:
                continue
            name = keys["filename"]
            if not name or name != os.path.basename(name) or name in (".", "..") or "\\" in name:
                problems.report("transforms_filename:%s:%s" % (layer, definition),
                                "%s/%s [%s] filename = %r: give a file name in the app's lookups/ folder, not a path; "
                                "the previous definition applies." % (layer, TRANSFORMS_FILE, definition, name))
                continue
            filenames[definition] = name
    return LookupFiles(os.path.join(app_root, LOOKUPS_DIR), filenames)
