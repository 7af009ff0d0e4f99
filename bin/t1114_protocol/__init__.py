"""The Splunk side of the command: the chunk CSV codec, the log handler and the one module
that reaches into splunklib's internals (splunklib_seam). Ships in bin/ beside the command;
the detection engine in app/ never imports it.
"""
