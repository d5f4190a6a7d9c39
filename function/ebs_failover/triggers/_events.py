"""Events: EventBridge CloudEvents (``acs.ebs``, ``acs.cms``, ``acs.ecs``) and legacy system events.

State: an event is an ``ALERT`` unless it says its trouble is over: an ``alertState``/``curLevel`` of OK in
``acs.cms`` alarm data; a finished status (``Executed``, ``Finished``, ``Avoided``, ``Canceled``) in
``data.eventStatus`` or as the last segment of the type / name (``Disk:Stalled:Executed``); or an end time.
ECS's end notice of a ``Disk:Stalled`` event keeps the name ``Disk:Stalled:Executing`` and the id, and adds
``content.executeFinishTime`` (ECS's event-notification docs); EventBridge's EBS events carry ``endTime``
once over. Those give ``OK``, with :attr:`Trigger.over` saying why.
"""

from __future__ import annotations

from typing import Any

from . import _values as values
from ._cms import parse_dimensions
from ._decode import load_json_object
from ._model import InvalidEvent, Trigger
from ._schema import validate

_EB_SUMMARY = ("source", "type", "subject", "aliyunregionid")
_EB_DATA_SUMMARY = ("eventName", "eventStatus", "resourceType", "alertName", "metricName", "namespace")
_SYSTEM_SUMMARY = ("product", "name", "status", "instanceName", "regionId", "level")


def _object_or_json(value: Any, field: str) -> dict[str, Any]:
    """``value`` if it is an object, the object a JSON string holds, or ``{}`` if absent."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return load_json_object(value, field)
    raise InvalidEvent(field, "a JSON object, or a string holding one")


#: The fields whose presence says an event is over: ECS's end notice, EventBridge's EBS events.
_END_TIMES = ("executeFinishTime", "endTime")


def _ended(data: dict[str, Any], where: str) -> str | None:
    """Why ``data`` (an event's ``content`` or ``data``) says the event is over, or None."""
    for key in _END_TIMES:
        value = data.get(key)
        if value not in (None, "", 0, "0", "null"):
            shown = str(value)[:40]
            return f"an end notice: {where}/{key} is {shown}, so the event is over (the disk recovered)"
    if values.is_finished(data.get("eventStatus")):
        return f"{where}/eventStatus {str(data['eventStatus'])[:40]} says the event is over"
    return None


def _event_state(data: dict[str, Any], name: str, field: str) -> str:
    if "alertState" in data:
        state = values.ALERT_STATES.get(str(data["alertState"]))
        if state is None:
            raise InvalidEvent(
                f"{field}/alertState", "one of " + ", ".join(values.ALERT_STATES), str(data["alertState"])
            )
        return state
    if "curLevel" in data:
        return "OK" if data["curLevel"] == "OK" else "ALERT"
    if values.is_finished(data.get("eventStatus")) or values.is_finished(name.rsplit(":", 1)[-1]):
        return "OK"
    return "ALERT"


def eventbridge_trigger(event: dict[str, Any]) -> Trigger:
    """A :class:`Trigger` from a CloudEvent; identity ``eb:<source>:<id>`` (source+id is unique per spec)."""
    validate("eventbridge", event)
    data = _object_or_json(event.get("data"), "data")
    event_type: str = event["type"]
    ids = values.ResourceIds()
    ids.add_keyed(data)
    if isinstance(data.get("dimensions"), str):
        ids.add_values(parse_dimensions(data["dimensions"]))
    ids.add(event.get("subject"))
    ids.add(event.get("resources"))
    level = None
    for key in ("eventLevel", "level", "triggerLevel", "curLevel"):
        level = level or values.level(data.get(key))
    over = _ended(data, "data")
    return Trigger(
        kind="eventbridge",
        identity=values.identity("eb", f"{event['source']}:{event['id']}"),
        state="OK" if over else _event_state(data, event_type, "data"),
        over=over,
        level=level,
        resource_ids=ids.result(),
        rule=event_type,
        time=values.iso_seconds(event["time"], "time") if "time" in event else None,
        event_type=event_type,
        summary={**values.summary(event, _EB_SUMMARY), **values.summary(data, _EB_DATA_SUMMARY)},
    )


def system_trigger(event: dict[str, Any]) -> Trigger:
    """A :class:`Trigger` from a legacy system event (ECS/block-storage notification or CMS system event).

    Identity ``sys:<id>``: the notification ``id``, else ``content.eventId``, else
    ``name:resourceId:time`` (the CMS system-event object has no id). ``content`` may be a JSON string.
    """
    validate("system_event", event)
    content = _object_or_json(event.get("content"), "content")
    name: str = event["name"]
    raw_id = values.text(event.get("id")) or values.text(content.get("eventId"))
    resource = values.text(event.get("resourceId"))
    time_raw = event.get("eventTime", event.get("time"))
    if raw_id is None:
        if resource is None or values.text(time_raw) is None:
            raise InvalidEvent("id", "a value (or content.eventId, or resourceId with a time)")
        raw_id = f"{name}:{resource}:{time_raw}"
    if "eventTime" in event:
        moment: float | None = values.iso_seconds(event["eventTime"], "eventTime")
    elif "time" in event:
        moment = values.epoch_seconds(event["time"], "time")
    else:
        moment = None
    ids = values.ResourceIds()
    ids.add(resource)
    ids.add_keyed(content)
    over = _ended(content, "content")
    return Trigger(
        kind="system_event",
        identity=values.identity("sys", raw_id),
        state="OK" if over else _event_state({}, name, "content"),
        over=over,
        level=values.level(event.get("level")),
        resource_ids=ids.result(),
        rule=name,
        time=moment,
        event_type=name,
        summary=values.summary(event, _SYSTEM_SUMMARY),
    )
