"""Tunable numbers rules refer to by name (`gte: {setting: name}`), read once per process
from default/t1114.conf with local/t1114.conf overriding it, the way Splunk layers .conf files."""

import configparser
import os

SETTINGS_FILE = "t1114.conf"
SETTINGS_SECTION = "thresholds"


def load_settings(app_root, problems):
    """{lower-case name: value text} from the [thresholds] stanza of default/ then local/."""
    settings = {}
    for layer in ("default", "local"):
        path = os.path.join(app_root, layer, SETTINGS_FILE)
        if not os.path.exists(path):
            if layer == "default":
                problems.report("settings_missing",
                                "default/%s is missing; rules that use a threshold from it are off." % SETTINGS_FILE)
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except (OSError, UnicodeDecodeError, configparser.Error) as error:
            problems.report("settings_unreadable:" + layer,
                            "%s/%s could not be read (%s); its settings do not apply."
                            % (layer, SETTINGS_FILE, str(error).splitlines()[0] if str(error) else type(error).__name__))
            continue
        if parser.has_section(SETTINGS_SECTION):
            for name, value in parser.items(SETTINGS_SECTION):
                settings[name.lower()] = value.strip()
    return settings
