"""T1114 Email Collection detection engine: normalisers, rules, allowlists and findings.

Plain Python with no splunklib import, so it runs and is tested without Splunk.
"""
