#!/usr/bin/env python
"""`| t1114`: Splunk's entry point for the T1114 detection engine (SCP v2, streaming).

A thin adapter: parse options, build the engine once, pass every record through it and
report the engine's problems to the job inspector. All detection logic lives in app/.
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

from splunklib.searchcommands import Configuration, Option, StreamingCommand, dispatch, validators  # noqa: E402

from app.engine import Engine  # noqa: E402


@Configuration(distributed=True)
class T1114Command(StreamingCommand):
    """Marks events showing MITRE ATT&CK T1114 Email Collection with the sub-technique found.

    ##Syntax
    | t1114 [mode=findings|all] [allowlist=true|false]

    ##Description
    mode=findings (default) returns only events with a finding no allowlist suppresses;
    mode=all returns every event, annotated. allowlist=false turns suppression off.
    """

    mode = Option(
        doc="findings (default): only events with an unsuppressed finding; all: every event, annotated",
        require=False, default="findings", validate=validators.Set("findings", "all"))
    allowlist = Option(
        doc="true (default): apply the allowlist lookups; false: report suppressed findings too, for tuning",
        require=False, default=True, validate=validators.Boolean())

    def prepare(self):
        self.engine = Engine.load(APP_ROOT)
        self._events = self._returned = self._problems_logged = 0
        self._started = time.time()
        self.logger.info("search started: sid=%s mode=%s allowlist=%s rules=%d allowlist_rows=%d",
                         self._sid(), self.mode, bool(self.allowlist), len(self.engine.rules),
                         len(self.engine.allowlist_rows))
        self._log_progress()
        self._report_problems()

    def stream(self, records):
        engine = self.engine
        keep_all = self.mode == "all"
        use_allowlist = bool(self.allowlist)
        for record in records:
            self._events += 1
            if engine.annotate(record, use_allowlist) or keep_all:
                self._returned += 1
                yield record
        self._log_progress()
        self._report_problems()

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


if __name__ == "__main__":
    dispatch(T1114Command, sys.argv, sys.stdin, sys.stdout, __name__, allow_empty_input=True)
