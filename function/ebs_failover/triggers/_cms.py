"""CloudMonitor threshold alarms: the alarm callback (form or historical JSON) and the JSON alarm body.

Identity (both shapes, prefix ``cms``): ``batchId`` if present (and not ``"null"``), else ``transId``, else
``ruleId + ":" + timestamp`` (the callback's ``timestamp``, the JSON body's ``time``), taken verbatim. The
historical JSON callback (the ~2017 doc: ``alertState`` ``ALARM``, ``dimensions`` an array of objects) has no
``ruleId``: its ``alertName`` names the rule (``putNewAlarm_group_…``) and stands in for it.
"""

from __future__ import annotations

import json
from typing import Any

from . import _values as values
from ._decode import load_json
from ._model import InvalidEvent, Trigger
from ._schema import validate

_CALLBACK_SUMMARY = (
    "alertName",
    "metricName",
    "namespace",
    "metricProject",
    "instanceName",
    "curValue",
    "expression",
    "triggerLevel",
    "preTriggerLevel",
    "regionId",
    "dimensions",
)
_ALARM_SUMMARY = (
    "ruleName",
    "metricName",
    "namespace",
    "curLevel",
    "preLevel",
    "eventName",
    "productGroupName",
)
_DIMENSIONS_EXPECTED = "a {key=value, ...} map or a JSON object"


def callback_fields(raw: dict[str, Any]) -> dict[str, str]:
    """The callback's fields as strings, without the absent ones (missing, ``""`` or the literal ``"null"``).

    A form body is all strings already; the historical JSON variant may hold numbers (kept as their text)
    and a structured ``dimensions`` (kept as its JSON text, parsed later like a JSON dimensions string).
    """
    fields: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, (dict, list)):
            fields[key] = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, bool):
            fields[key] = "true" if value else "false"
        else:
            present = values.text(value)
            if present is not None:
                fields[key] = present
    return fields


def parse_dimensions(raw: str) -> dict[str, Any]:
    """Parse ``dimensions``: Java ``Map.toString()`` style (``{instanceId=i-x, userId=1}``) or JSON.

    JSON may be an object or (historical) an array of objects, merged in order. In the Java style a part
    without ``=`` is taken as the continuation of the previous value (a value that contained ``", "``).
    """
    stripped = raw.strip()
    if stripped.startswith(("[", '{"')) or stripped == "{}":
        parsed = load_json(stripped, "dimensions")
        items = parsed if isinstance(parsed, list) else [parsed]
        merged: dict[str, Any] = {}
        for item in items:
            if not isinstance(item, dict):
                raise InvalidEvent("dimensions", _DIMENSIONS_EXPECTED, raw)
            merged.update(item)
        return merged
    inner = stripped[1:-1] if stripped.startswith("{") and stripped.endswith("}") else stripped
    pairs: dict[str, Any] = {}
    last: str | None = None
    for part in inner.split(","):
        key, separator, value = part.strip().partition("=")
        if separator and key:
            last = key
            pairs[key] = value.strip()
        elif last is not None:
            pairs[last] = f"{pairs[last]},{part}"
    if not pairs:
        raise InvalidEvent("dimensions", _DIMENSIONS_EXPECTED, raw)
    return pairs


def _identity(batch_id: str | None, trans_id: str | None, rule_id: str | None, time_text: str | None) -> str:
    if batch_id is not None:
        return values.identity("cms", batch_id)
    if trans_id is not None:
        return values.identity("cms", trans_id)
    if rule_id is not None and time_text is not None:
        return values.identity("cms", f"{rule_id}:{time_text}")
    raise InvalidEvent("batchId", "a value (or transId, or ruleId with a time) to identify the alarm")


def callback_trigger(raw: dict[str, Any], *, form: bool = True) -> Trigger:
    """A :class:`Trigger` from an alarm callback's fields (form-urlencoded, or historical JSON: ``form``
    false, where ``alertName`` stands in for a missing ``ruleId``)."""
    fields = callback_fields(raw)
    if not form and "ruleId" not in fields and "alertName" in fields:
        fields["ruleId"] = fields["alertName"]
    validate("cms_callback", fields)
    state = values.ALERT_STATES[fields["alertState"]]
    trigger_level = fields.get("triggerLevel")
    if state == "ALERT" and trigger_level is not None and trigger_level.strip().upper() == "OK":
        raise InvalidEvent("triggerLevel", "CRITICAL, WARN or INFO when alertState is ALERT", trigger_level)
    ids = values.ResourceIds()
    if "dimensions" in fields:
        ids.add_values(parse_dimensions(fields["dimensions"]))
    ids.add_keyed(fields, max_depth=1)
    return Trigger(
        kind="cms_callback",
        identity=_identity(
            fields.get("batchId"), fields.get("transId"), fields["ruleId"], fields["timestamp"]
        ),
        state=state,
        level=values.level(trigger_level),
        resource_ids=ids.result(),
        rule=fields["ruleId"],
        time=values.epoch_seconds(fields["timestamp"], "timestamp"),
        event_type=None,
        summary=values.summary(fields, _CALLBACK_SUMMARY),
    )


def alarm_trigger(data: dict[str, Any]) -> Trigger:
    """A :class:`Trigger` from the CloudMonitor alarm JSON sent to an MNS or FC target.

    ``curLevel`` decides: ``OK`` is a recovery (state ``OK``, level ``None``), any other level an ``ALERT``.
    ``resources`` may be an object or a JSON string holding one; ids come from its values, then from
    id-like keys in ``metricData``.
    """
    validate("cms_alarm", data)
    resources: Any = data.get("resources")
    if isinstance(resources, str):
        resources = load_json(resources, "resources") if values.text(resources) is not None else None
    ids = values.ResourceIds()
    for item in resources if isinstance(resources, list) else [resources]:
        if isinstance(item, dict):
            ids.add_values(item)
        elif item is not None:
            raise InvalidEvent("resources", "a JSON object, or a string holding one")
    ids.add_keyed(data.get("metricData"))
    time_raw = data.get("time", data.get("timestamp"))
    time_text = values.text(time_raw)
    field = "time" if "time" in data else "timestamp"
    cur_level = data["curLevel"].strip().upper()
    return Trigger(
        kind="cms_alarm",
        identity=_identity(
            values.text(data.get("batchId")), values.text(data.get("transId")), data["ruleId"], time_text
        ),
        state="OK" if cur_level == "OK" else "ALERT",
        level=values.level(cur_level),
        resource_ids=ids.result(),
        rule=data["ruleId"],
        time=None if time_text is None else values.epoch_seconds(time_raw, field),
        event_type=None,
        summary=values.summary(data, _ALARM_SUMMARY),
    )
