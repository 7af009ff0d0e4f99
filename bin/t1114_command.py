#!/usr/bin/env python
"""`| t1114`: Splunk's entry point for the T1114 detection engine (SCP v2, streaming).

A thin adapter: parse options, build the engine once, pass every record through it and
report the engine's problems to the job inspector. All detection logic lives in app/.

splunklib handles getinfo, options, metadata and inspector messages. Execute chunks take
a faster record path (t1114_protocol/chunk_csv.py), joined to splunklib in
t1114_protocol/splunklib_seam.py, the one module that uses splunklib's private names and
checks the splunklib version they were written for; splunklib's own path stays one switch
away (T1114_RECORD_PATH=splunklib in the environment), and the tests show both give the same
output.

Logging: default/logging.conf (splunklib loads it) -> $SPLUNK_HOME/var/log/splunk/t1114_command.log.
"""

import os
import sys
import time

# Located from this file, never $SPLUNK_HOME/etc/apps: on indexers the app runs from the
# replicated knowledge bundle, wherever splunkd unpacked it.
APP_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(APP_ROOT, "lib"))
sys.path.insert(0, APP_ROOT)

from t1114_protocol import deferred_client  # noqa: E402  (bin/, this script's folder)

# Before splunklib.searchcommands is imported: it would import splunklib.client, which this
# command never uses (t1114_protocol/deferred_client.py says what that saves).
deferred_client.defer()

from splunklib.searchcommands import Configuration, Option, StreamingCommand, dispatch, validators  # noqa: E402

from app.engine import Engine  # noqa: E402
from app.finding import expanded_fields  # noqa: E402
from t1114_protocol.splunklib_seam import FastRecordPath  # noqa: E402  (bin/, this script's folder)

# Internal switch for tests and diagnosis: "splunklib" runs every chunk through
# splunklib's own record reader and writer instead of t1114_protocol/chunk_csv.py; "plain"
# runs chunk_csv.py's plain record path (every row parsed by the csv module) instead of its
# block record path ("block", the default). The names are docs/architecture.md's glossary's.
RECORD_PATH = os.environ.get("T1114_RECORD_PATH", "block")


@Configuration(distributed=True)
class T1114Command(FastRecordPath, StreamingCommand):
    """Marks events showing MITRE ATT&CK T1114 Email Collection with the sub-technique found.

    ##Syntax
    | t1114 [mode=findings|all] [allowlist=true|false] [expand=true|false]

    ##Description
    mode=findings (default) returns only events with a finding no allowlist suppresses;
    mode=all returns every event, annotated. allowlist=false turns suppression off.
    expand=true returns one row per finding, its fields describing that finding alone.
    """

    mode = Option(
        doc="findings (default): only events with an unsuppressed finding; all: every event, annotated",
        require=False, default="findings", validate=validators.Set("findings", "all"))
    allowlist = Option(
        doc="true (default): apply the allowlist lookups; false: report suppressed findings too, for tuning",
        require=False, default=True, validate=validators.Boolean())
    expand = Option(
        doc="false (default): one row per event, its fields summarising its findings; true: one row per "
            "finding, a copy of its event whose t1114 and CIM fields describe that finding alone",
        require=False, default=False, validate=validators.Boolean())

    @classmethod
    def declared_options(cls):
        """{name: Option} of the options this command declares, in the order declared.

        splunklib's own options (logging_configuration, logging_level, record,
        show_configuration) are not among them: a search may not load another logging file
        (logging.config runs code from it) or record its input to disk.
        """
        # @Configuration copies splunklib's plain options (record, show_configuration) onto
        # this class, so they are told apart by name: whatever a splunklib class declares.
        splunklib_names, options = set(), {}
        for klass in reversed(cls.__mro__):
            from_splunklib = klass.__module__.split(".")[0] == "splunklib"
            for attribute, value in vars(klass).items():
                if isinstance(value, Option):
                    name = value.name or attribute
                    if from_splunklib:
                        splunklib_names.add(name)
                    elif name not in splunklib_names:
                        options[name] = value
        return options

    def prepare(self):
        if self.fieldnames:
            self.write_error("t1114: {}", refused_arguments_message(self.fieldnames, self.declared_options()))
            # As splunklib does for an option it refuses: the error goes to the job inspector in
            # the getinfo reply, and splunkd stops the search.
            raise SystemExit(1)
        self.engine = Engine.load(APP_ROOT)
        fallback = self.choose_record_path(forced_splunklib=RECORD_PATH == "splunklib",
                                           plain_rows=RECORD_PATH == "plain")
        if fallback:
            self.engine.problems.report("record_path_fallback", fallback)
        self._events = self._returned = self._problems_logged = 0
        self._started = time.time()
        self.logger.info("search started: sid=%s mode=%s allowlist=%s expand=%s rules=%d allowlist_rows=%d",
                         self._sid(), self.mode, bool(self.allowlist), bool(self.expand), len(self.engine.rules),
                         len(self.engine.allowlist_rows))
        self._log_progress()
        self._report_problems()

    def stream(self, records):
        engine = self.engine
        keep_all = self.mode == "all"
        use_allowlist = bool(self.allowlist)
        expand = bool(self.expand)
        for record in records:
            self._events += 1
            if expand:
                for row in self._expanded(engine, record, keep_all, use_allowlist):
                    self._returned += 1
                    yield row
            elif engine.annotate(record, use_allowlist) or keep_all:
                self._returned += 1
                yield record
        self._log_progress()
        self._report_problems()

    @staticmethod
    def _expanded(engine, record, keep_all, use_allowlist):
        """expand=true: one copy of the record per finding; once, unannotated, without findings."""
        findings = engine.findings(record, use_allowlist)
        if not findings:
            if keep_all:
                engine.annotate_empty(record)
                yield record
            return
        for finding in findings:
            if keep_all or finding.returned_by_default:
                row = record.copy()
                row.update(expanded_fields(finding, record))
                yield row

    def _sid(self):
        return getattr(getattr(self.metadata, "searchinfo", None), "sid", "")

    def _log_progress(self):
        """Each problem's first message once to the log, and a summary when the search ends.
        Events themselves are never logged."""
        messages = self.engine.problems.messages()
        for message in messages[self._problems_logged:]:
            self.logger.warning("sid=%s %s", self._sid(), message)
        self._problems_logged = len(messages)
        # splunklib sets _finished from the last chunk's metadata: the search is ending.
        if getattr(self, "_finished", False):
            self.logger.info("search ended: sid=%s events=%d returned=%d seconds=%.1f problems=%s",
                             self._sid(), self._events, self._returned, time.time() - self._started,
                             self.engine.problems.counts())

    def _report_problems(self):
        for message in self.engine.problems.drain():
            # splunklib runs str.format() on the text: pass ours as an argument so braces in
            # it (Parameters{}.Name, DiscoverySearchMailbox{...}) are not read as fields.
            self.write_warning("t1114: {}", message)


def option_values(option):
    """The values an option takes, as a user writes them: `all|findings`, `true|false`."""
    validate = option.validate
    if isinstance(validate, validators.Set):
        return sorted(validate.membership)
    if isinstance(validate, validators.Boolean):
        return ["true", "false"]
    return ["<value>"]


def refused_arguments_message(arguments, options):
    """One sentence for the job inspector: what was not understood, what was perhaps meant,
    and every option with its values."""
    clauses = []
    for argument in arguments:
        name, equals, value = argument.partition("=")
        if equals and name in options:
            clauses.append("%s: %s takes %s" % (argument, name, "|".join(option_values(options[name]))))
            continue
        guesses = []
        for option_name, option in options.items():
            if not equals and name.lower() in option_values(option):
                guesses.append("%s=%s" % (option_name, name.lower()))  # a bare value: `| t1114 all`
            elif equals and name.lower() == option_name.lower():
                guesses.append("%s=%s" % (option_name, value))         # a miscased name: `Mode=all`
        clauses.append('"%s" is not an option%s' % (argument, " (did you mean %s?)" % " or ".join(guesses)
                                                      if guesses else ""))
    described = ", ".join("%s=%s" % (name, "|".join(option_values(option))) for name, option in options.items())
    return "%s. Options are written name=value; t1114 takes %s." % ("; ".join(clauses), described)


if __name__ == "__main__":
    dispatch(T1114Command, sys.argv, sys.stdin, sys.stdout, __name__, allow_empty_input=True)
