"""How Splunk presents one Office 365 audit record to a search command, in the two shapes
the command must handle: only `_raw` (Fast mode, or no add-on extractions) and the add-on's
extracted fields (flattened parameters, `{}` multivalue arrays, and no `_raw`).
"""

import json

SOURCETYPE = "o365:management:activity"


def raw_only(audit, time="1764216000"):
    return {"_time": time, "sourcetype": SOURCETYPE, "_raw": json.dumps(audit)}


def _scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def extracted(audit, time="1764216000"):
    """Fields as KV_MODE=json extraction gives them: empty values vanish from multivalue
    arrays (so Name and Value lists can differ in length), Parameters are also flattened."""
    record = {"_time": time, "sourcetype": SOURCETYPE}
    for key, value in audit.items():
        if key in ("Parameters", "OperationProperties") and isinstance(value, list):
            names = [str(item.get("Name", "")) for item in value if isinstance(item, dict) and item.get("Name")]
            values = [_scalar(item.get("Value")) for item in value
                      if isinstance(item, dict) and item.get("Value") not in (None, "")]
            if names:
                record["%s{}.Name" % key] = names if len(names) > 1 else names[0]
            if values:
                record["%s{}.Value" % key] = values if len(values) > 1 else values[0]
            if key == "Parameters":
                for item in value:
                    if isinstance(item, dict) and item.get("Name") and item.get("Value") not in (None, ""):
                        record.setdefault(str(item["Name"]), _scalar(item["Value"]))
        elif isinstance(value, (dict, list)):
            record[key] = json.dumps(value)
        elif value not in (None, ""):
            record[key] = _scalar(value)
    record.setdefault("user", _scalar(audit.get("UserId")))
    return record


def both_shapes(audit):
    """The two records a search command may get for one audit record: _raw only, and fields only."""
    return [raw_only(audit), extracted(audit)]
