"""python -m t1114_scan: the same command as t1114-scan."""

from .cli import run

run()
