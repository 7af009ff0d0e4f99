"""One layer (default/ or local/) of a Splunk .conf file, read as the command reads its own
settings and lookup definitions: stanzas as written, keys keeping their case, no interpolation."""

import configparser

# configparser folds a section named like this into every other one; Splunk's [default] is
# an ordinary stanza, so give configparser a name no .conf uses.
NO_DEFAULT_SECTION = "\x00t1114-no-default\x00"
# What reading a .conf file can raise: a sentence is made of it, the rest of the search goes on.
CONF_ERRORS = (OSError, UnicodeDecodeError, configparser.Error)


def read_conf(path):
    """The parsed file; raises one of CONF_ERRORS when it cannot be read."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, default_section=NO_DEFAULT_SECTION)
    parser.optionxform = str  # Splunk keys keep their case
    with open(path, encoding="utf-8") as handle:
        parser.read_file(handle)
    return parser


def error_text(error):
    """The first line of a read error, for a job-inspector sentence."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__
