"""The offline scan: exported log files through the T1114 detection engine, without Splunk.

The engine (the app's `app/` package), its rules and shipped rows come from one of two places:
installed (`pip install .`), from the copy the build puts in t1114_scan/_app/ (compiled rules,
shipped lookups, default/t1114.conf and transforms.conf, the protocol's CSV layout); in a
checkout, from the checkout itself. Either way they are imported by the names the app uses
(`app`, `t1114_protocol`), so the scan runs the very modules `| t1114` runs. Those names are
put on sys.path by this process only: nothing named `app` lands at the top of site-packages.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_BUNDLED = os.path.join(_HERE, "_app")

# The app folder whose engine, rules, lookups and default/ the scan uses unless --app names another.
APP_ROOT = _BUNDLED if os.path.isdir(os.path.join(_BUNDLED, "app")) else os.path.dirname(_HERE)
INSTALLED = APP_ROOT == _BUNDLED

for _path in (os.path.join(APP_ROOT, "bin"), APP_ROOT):
    if _path not in sys.path:
        sys.path.insert(0, _path)
