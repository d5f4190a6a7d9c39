"""The parse stage: every accepted shape and quirk, identities, refusals, and the sample events in events/."""

from __future__ import annotations

import base64
import hashlib
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ebs_failover.triggers import (
    MAX_DEPTH,
    MAX_EVENT_BYTES,
    Batch,
    HttpRequestInfo,
    InvalidEvent,
    Trigger,
    _schema,
    decode,
    parse,
)

from .conftest import run_fresh_python

EVENTS = Path(__file__).resolve().parent.parent / "events"
#: Files in events/ that are not events (the expectations, and the other stages' demo configuration).
NOT_EVENTS = {"expected.json", "config.json"}

# The documented form sample, verbatim (cloudmonitor-events.md §1), stray ")" included.
DOC_CALLBACK = (
    "expression=$Average>=95&metricName=Host.mem.usedutilization&instanceName=instance-name-****"
    "&signature=eEq1zHuCUp0XSmLD8p8VtTKF****&metricProject=acs_ecs&userId=12****&curValue=97.39"
    "&alertName=Basic monitoring-ECS-memory usage&namespace=acs_ecs&triggerLevel=WARN&alertState=ALERT"
    "&preTriggerLevel=WARN&ruleId=applyTemplateee147e59-664f-4033-a1be-e9595746****"
    "&dimensions={userId=12****), instanceId=i-12****}&timestamp=1508136760"
)

DOC_EBS_EVENT: dict[str, Any] = {
    "id": "45ef4dewdwe1-7c35-447a-bd93-fab****",
    "source": "acs.ebs",
    "specversion": "1.0",
    "subject": "acs.ebs:cn-hangzhou:123456789098****:215672",
    "time": "2020-11-19T21:04:41+08:00",
    "type": "ebs:Disk:DiskIOHang",
    "aliyunaccountid": "123456789098****",
    "aliyunpublishtime": "2020-11-19T21:04:42Z",
    "aliyuneventbusname": "default",
    "aliyunregionid": "cn-hangzhou",
    "aliyunpublishaddr": "172.25.XX.XX",
    "data": {
        "eventId": "e-2zec86*******",
        "resourceId": "d-2zef8thfnbx*****",
        "eventLevel": "INFO",
        "eventCategory": "Disk",
        "eventStatus": "WillExecute",
        "eventName": "DiskIOHang",
        "startTime": 1694507354000,
        "extraAttributes": {"EcsInstanceId": "i-bp1dj*****"},
        "resourceType": "Disk",
    },
}

DOC_ECS_EVENT: dict[str, Any] = {
    "eventTime": "20181226T220114.058+0800",
    "id": "9435EAD6-3CF6-4494-8F7A-3A********77",
    "level": "INFO",
    "name": "Instance:StateChange",
    "product": "ECS",
    "regionId": "cn-hangzhou",
    "resourceId": "acs:ecs:cn-hangzhou:169070********30:instance/i-bp1ecr********5go2go",
    "userId": "169070********30",
    "ver": "1.0",
    "content": {
        "resourceId": "i-bp1ecr********5go2go",
        "resourceType": "ALIYUN::ECS::Instance",
        "state": "Stopping",
    },
}

DOC_CMS_SYSTEM_EVENT = (
    '{"product":"CloudMonitor","content":"{\\"ipGroup\\":\\"112.126.XX.XX,10.163.XX.XX\\",'
    '\\"tianjimonVersion\\":\\"1.2.22\\"}","groupId":"176,177,178,179,180,692,120812,1663836,96,2028302",'
    '"time":"1552209568000","resourceId":"acs:ecs:cn-beijing:173651113438****:instance/i-25k35****",'
    '"level":"CRITICAL","status":"stopped","instanceName":"cmssiteprobebj-6","name":"Agent_Status_Stopped",'
    '"regionId":"cn-beijing"}'
)


def form(**fields: str) -> str:
    """A form body encoded like CMS does: percent-encoded UTF-8, ``+`` for spaces."""
    return "&".join(f"{quote(key)}={quote(value, safe='{}=,')}" for key, value in fields.items())


def callback(**overrides: str) -> dict[str, str]:
    """Real-world callback fields (API Gateway-style body: transId, 13-digit timestamp, "null" values)."""
    fields = {
        "lastTime": "0分钟",
        "rawMetricName": "disk_readiops",
        "expression": "$Value >= 5",
        "metricName": "disk_readiops",
        "instanceName": "null",
        "signature": "q3Vw1Vb1p3E9YlQz0f6mD4bX5oA=",
        "transId": "4f1b2c3e-6a7d-11ef-9b2c-00163e0a1b2c",
        "groupId": "239541",
        "regionName": "null",
        "productGroupName": "数据库主机",
        "metricProject": "acs_ecs_dashboard",
        "userId": "1234567890123456",
        "curValue": "8",
        "unit": "次/秒",
        "alertName": "磁盘读IOPS过高",
        "regionId": "null",
        "namespace": "acs_ecs_dashboard",
        "triggerLevel": "CRITICAL",
        "alertState": "ALERT",
        "preTriggerLevel": "null",
        "ruleId": "alarmRule_uuid_7f3c2a10d4e94b5f9c1e2d3a4b5c6d7e",
        "dimensions": "{userId=1234567890123456, instanceId=i-bp1demo0app01}",
        "timestamp": "1726120800000",
    }
    fields.update(overrides)
    return fields


def cms_alarm(**overrides: Any) -> dict[str, Any]:
    """The CMS alarm JSON for MNS/FC targets, shaped like the documented sample."""
    alarm: dict[str, Any] = {
        "ruleId": "putNewAlarm_group_778af9ba-a291-46ab-ac53-3983bcee0001",
        "ruleName": "test",
        "curLevel": "WARN",
        "preLevel": "OK",
        "resources": '{"instanceId": "i-bp1demo0app01", "diskId": "d-bp1demo0primary01"}',
        "escalation": {
            "comparisonOperator": "GreaterThanYesterday",
            "level": 3,
            "threshold": "0",
            "times": 1,
        },
        "metricData": {"timestamp": 1534736160000, "userId": "127067667954", "instanceId": "i-bp1demo0app01"},
        "metricName": "memory_actualusedspace#60",
        "namespace": "acs_ecs_dashboard",
        "lastTime": 327362743,
        "time": 1534736160000,
        "userId": "173651113438",
        "eventName": "AlertOk",
        "eventType": "Alert",
        "batchId": "4272653-1520820000-0",
        "version": "1.0",
    }
    alarm.update(overrides)
    return alarm


def invalid(event: Any, **kwargs: Any) -> InvalidEvent:
    with pytest.raises(InvalidEvent) as caught:
        parse(event, **kwargs)
    return caught.value


# --- CloudMonitor callback (form) ---------------------------------------------------------------------------


def test_documented_callback_sample_verbatim() -> None:
    trigger = parse(DOC_CALLBACK.encode())
    assert trigger.kind == "cms_callback"
    assert trigger.identity == "cms:applyTemplateee147e59-664f-4033-a1be-e9595746****:1508136760"
    assert (trigger.state, trigger.level) == ("ALERT", "WARN")
    assert trigger.rule == "applyTemplateee147e59-664f-4033-a1be-e9595746****"
    assert trigger.time == 1508136760.0
    assert trigger.event_type is None
    assert trigger.resource_ids == ()  # "i-12****" is masked, not an id
    assert trigger.summary["alertName"] == "Basic monitoring-ECS-memory usage"
    assert trigger.summary["metricName"] == "Host.mem.usedutilization"
    assert trigger.summary["expression"] == "$Average>=95"
    assert trigger.http is None


def test_real_world_callback_quirks() -> None:
    trigger = parse(form(**callback()))
    assert trigger.identity == "cms:4f1b2c3e-6a7d-11ef-9b2c-00163e0a1b2c"  # transId, no batchId
    assert trigger.time == 1726120800.0  # 13-digit milliseconds
    assert trigger.resource_ids == ("i-bp1demo0app01",)
    assert (trigger.state, trigger.level) == ("ALERT", "CRITICAL")
    assert trigger.summary["alertName"] == "磁盘读IOPS过高"  # percent-encoded UTF-8 decoded
    assert "instanceName" not in trigger.summary  # literal "null" is absent
    assert "preTriggerLevel" not in trigger.summary
    assert "signature" not in trigger.summary  # unknown / unsummarised fields are ignored


def test_plus_means_space_in_form_values() -> None:
    trigger = parse("alertState=ALERT&ruleId=r1&timestamp=1508136760&alertName=disk+io+hang")
    assert trigger.summary["alertName"] == "disk io hang"


def test_recovery_callback_is_ok_without_level() -> None:
    trigger = parse(form(**callback(triggerLevel="OK", alertState="OK", preTriggerLevel="CRITICAL")))
    assert (trigger.state, trigger.level) == ("OK", None)
    assert trigger.summary["preTriggerLevel"] == "CRITICAL"


@pytest.mark.parametrize(
    ("alert_state", "state"),
    [("ALERT", "ALERT"), ("ALARM", "ALERT"), ("OK", "OK"), ("INSUFFICIENT_DATA", "INSUFFICIENT_DATA")],
)
def test_alert_state_spellings(alert_state: str, state: str) -> None:
    assert parse(form(**callback(alertState=alert_state, triggerLevel="WARN"))).state == state


@pytest.mark.parametrize("level", ["CRITICAL", "WARN", "INFO"])
def test_trigger_levels(level: str) -> None:
    assert parse(form(**callback(triggerLevel=level))).level == level


def test_ten_and_thirteen_digit_timestamps_agree() -> None:
    seconds = parse(form(**callback(timestamp="1726120800"))).time
    millis = parse(form(**callback(timestamp="1726120800000"))).time
    assert seconds == millis == 1726120800.0
    assert parse(form(**callback(timestamp="1726120800123"))).time == pytest.approx(1726120800.123)


def test_redelivered_callback_has_the_same_identity() -> None:
    body = form(**callback())
    assert parse(body).identity == parse(body.encode()).identity == parse(body).identity


def test_batch_id_wins_and_distinguishes_alarms() -> None:
    first = parse(form(**callback(batchId="4272653-1520820000-0")))
    again = parse(form(**callback(batchId="4272653-1520820000-0")))
    second = parse(form(**callback(batchId="4272653-1520820000-1")))
    assert first.identity == again.identity == "cms:4272653-1520820000-0"
    assert second.identity != first.identity


def test_null_batch_id_falls_back_to_trans_id_then_rule_and_timestamp() -> None:
    assert parse(form(**callback(batchId="null"))).identity == "cms:4f1b2c3e-6a7d-11ef-9b2c-00163e0a1b2c"
    fields = callback(batchId="null", transId="null")
    expected = "cms:alarmRule_uuid_7f3c2a10d4e94b5f9c1e2d3a4b5c6d7e:1726120800000"
    assert parse(form(**fields)).identity == expected
    later = parse(form(**{**fields, "timestamp": "1726120860000"}))
    assert later.identity != expected


def test_json_dimensions_in_a_form_callback() -> None:
    dimensions = json.dumps({"userId": "1", "diskId": "d-bp1demo0primary01", "instanceId": "i-bp1demo0app01"})
    trigger = parse(form(**callback(dimensions=dimensions)))
    assert trigger.resource_ids == ("d-bp1demo0primary01", "i-bp1demo0app01")


def test_java_map_dimensions_with_arns_and_duplicates() -> None:
    arn = "acs:ecs:cn-hangzhou:1:disk/d-bp1demo0primary01"
    dimensions = f"{{instanceId=i-bp1demo0app01, diskId={arn}, x=i-bp1demo0app01}}"
    trigger = parse(form(**callback(dimensions=dimensions)))
    assert trigger.resource_ids == ("i-bp1demo0app01", "d-bp1demo0primary01")


def test_historical_json_callback_variant() -> None:
    event = {
        "userId": "12345",
        "alertName": "disk hang",
        "timestamp": 1508136760,
        "alertState": "ALARM",
        "dimensions": [{"instanceId": "i-bp1demo0app01", "diskId": "d-bp1demo0primary01"}],
        "metricName": "DiskIOHang",
        "metricProject": "acs_ebs_dashboard",
        "ruleId": "rule-1",
    }
    trigger = parse(json.dumps(event))
    assert trigger.kind == "cms_callback"
    assert trigger.state == "ALERT"
    assert trigger.time == 1508136760.0
    assert trigger.resource_ids == ("i-bp1demo0app01", "d-bp1demo0primary01")
    assert trigger.identity == "cms:rule-1:1508136760"
    assert parse(event) == trigger  # an already-decoded dict gives the same result


def test_invalid_alert_state_message() -> None:
    error = invalid(form(**callback(alertState="BOOM")))
    assert error.field == "alertState"
    assert str(error) == (
        "event field 'alertState': expected one of ALERT, ALARM, OK, INSUFFICIENT_DATA, got 'BOOM'"
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ruleId": "null"}, "ruleId"),
        ({"alertState": "null"}, "alertState"),
        ({"timestamp": "172612080000"}, "timestamp"),  # 12 digits
        ({"timestamp": "1726120800.5"}, "timestamp"),
        ({"triggerLevel": "FATAL"}, "triggerLevel"),
        ({"triggerLevel": "OK"}, "triggerLevel"),  # recovery level on an ALERT: contradictory
        ({"dimensions": "instance"}, "dimensions"),
        ({"dimensions": '{"instanceId": '}, "dimensions"),
    ],
)
def test_invalid_callbacks_name_the_field(overrides: dict[str, str], field: str) -> None:
    error = invalid(form(**callback(**overrides)))
    assert error.field == field
    assert f"'{field}'" in str(error)


def test_timestamp_error_says_what_is_expected() -> None:
    error = invalid(form(**callback(timestamp="172612080000")))
    assert error.expected == "a 10-digit (seconds) or 13-digit (milliseconds) unix timestamp"
    assert error.got == "172612080000"


def test_duplicate_form_field_is_refused() -> None:
    assert invalid(form(**callback()) + "&alertState=OK").field == "alertState"


@pytest.mark.parametrize("separator", ["&&", "&\n&"])
@pytest.mark.parametrize("end", ["", "&"])
def test_a_stray_separator_does_not_refuse_an_alarm(separator: str, end: str) -> None:
    """An empty field (a doubled or trailing ``&``) is skipped: refusing it would miss a failover."""
    body = form(**callback()).replace("&", separator, 1) + end
    assert parse(body) == parse(form(**callback()))


def test_a_form_field_without_a_value_is_blank() -> None:
    trigger = parse(form(**callback()) + "&someFlag")
    assert trigger == parse(form(**callback()))


def test_more_form_fields_than_the_limit_are_refused() -> None:
    error = invalid(form(**callback()) + "".join(f"&extra{n}=1" for n in range(300)))
    assert (error.field, error.expected) == ("", "at most 256 form fields")


def test_a_trigger_is_immutable() -> None:
    import dataclasses

    trigger = parse(form(**callback()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        trigger.identity = "cms:another"  # type: ignore[misc]
    with pytest.raises(TypeError):
        trigger.summary["alertName"] = "changed"  # type: ignore[index]


def test_form_without_callback_keys_is_unrecognised() -> None:
    error = invalid("a=1&b=2")
    assert error.field == ""
    assert error.expected.startswith("one of: manual request")


def test_bad_percent_encoding_is_refused() -> None:
    assert invalid("alertState=ALERT&ruleId=%FF%FE&timestamp=1508136760").field == ""


# --- FC HTTP-trigger envelope -------------------------------------------------------------------------------


def http_envelope(body: str, *, b64: bool = False, **extra: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "version": "v1",
        "rawPath": "/cms",
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
        "headers": {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "47.74.206.5"},
        "queryParameters": {"token": "s3cret", "tag": ["a", "b"]},
        "requestContext": {"requestId": "r-1", "http": {"method": "POST", "sourceIp": "47.74.206.5"}},
    }
    envelope.update(extra)
    return envelope


@pytest.mark.parametrize("b64", [False, True])
def test_http_envelope_plain_and_base64(b64: bool) -> None:
    body = form(**callback())
    trigger = parse(json.dumps(http_envelope(body, b64=b64)).encode())
    assert trigger.kind == "cms_callback"
    assert trigger.identity == parse(body).identity
    assert trigger.resource_ids == ("i-bp1demo0app01",)
    assert trigger.http == HttpRequestInfo(
        query={"token": "s3cret", "tag": "a,b"},
        headers={"content-type": "application/x-www-form-urlencoded", "x-forwarded-for": "47.74.206.5"},
        source_ip="47.74.206.5",
    )


def test_http_envelope_minimal() -> None:
    trigger = parse({"body": form(**callback()), "isBase64Encoded": False})
    assert trigger.http == HttpRequestInfo(query={}, headers={}, source_ip=None)


@pytest.mark.parametrize(
    ("envelope", "field"),
    [
        (http_envelope("", b64=False), "body"),
        ({**http_envelope("x"), "body": "not*base64!", "isBase64Encoded": True}, "body"),
        (http_envelope(form(**callback(alertState="BOOM"))), "body/alertState"),
        (http_envelope(json.dumps({"action": "failover"})), "body"),
        (http_envelope(json.dumps(http_envelope("x"))), "body"),
        (http_envelope("x", headers={"a": 1}), "headers"),
        (http_envelope("x", isBase64Encoded="yes"), "isBase64Encoded"),
    ],
)
def test_invalid_http_envelopes(envelope: dict[str, Any], field: str) -> None:
    assert invalid(envelope).field == field


def test_manual_request_inside_http_envelope_is_refused() -> None:
    request = {
        "action": "failover",
        "replicaPairId": "pair-cn-demo0db01",
        "reason": "r",
        "idempotencyKey": "k",
    }
    error = invalid(http_envelope(json.dumps(request)))
    assert error.field == "body"
    assert "not a manual request" in error.expected


# --- CMS alarm JSON (MNS / FC target) -----------------------------------------------------------------------


def test_cms_alarm_json_with_resources_string() -> None:
    trigger = parse(json.dumps(cms_alarm()))
    assert trigger.kind == "cms_alarm"
    assert trigger.identity == "cms:4272653-1520820000-0"
    assert (trigger.state, trigger.level) == ("ALERT", "WARN")
    assert trigger.resource_ids == ("i-bp1demo0app01", "d-bp1demo0primary01")
    assert trigger.time == 1534736160.0
    assert trigger.rule == "putNewAlarm_group_778af9ba-a291-46ab-ac53-3983bcee0001"
    assert trigger.summary["ruleName"] == "test"
    assert trigger.summary["eventName"] == "AlertOk"


def test_cms_alarm_json_resources_object_and_recovery() -> None:
    trigger = parse(
        cms_alarm(resources={"diskId": "d-bp1demo0primary01"}, curLevel="OK", preLevel="CRITICAL")
    )
    assert (trigger.state, trigger.level) == ("OK", None)
    assert trigger.resource_ids == ("d-bp1demo0primary01", "i-bp1demo0app01")  # then metricData.instanceId


def test_cms_alarm_identity_fallbacks() -> None:
    assert parse(cms_alarm(batchId="null", transId="t-1")).identity == "cms:t-1"
    alarm = cms_alarm()
    del alarm["batchId"]
    assert parse(alarm).identity == "cms:putNewAlarm_group_778af9ba-a291-46ab-ac53-3983bcee0001:1534736160000"
    del alarm["time"]
    assert invalid(alarm).field == "batchId"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"resources": "{instanceId=i-1"}, "resources"),
        ({"resources": "[1]"}, "resources"),
        ({"resources": 5}, "resources"),
        ({"curLevel": "SEVERE"}, "curLevel"),
        ({"ruleId": ""}, "ruleId"),
        ({"time": 15347361600}, "time"),
        ({"time": "yesterday"}, "time"),
    ],
)
def test_invalid_cms_alarms(overrides: dict[str, Any], field: str) -> None:
    assert invalid(cms_alarm(**overrides)).field == field


def test_cms_alarm_missing_cur_level() -> None:
    alarm = cms_alarm()
    del alarm["curLevel"]
    error = invalid(alarm)
    assert error.field == "curLevel"
    assert "required" in error.expected


@pytest.mark.parametrize("key", ["Message", "message"])
def test_mns_message_wrapping_the_alarm(key: str) -> None:
    message = {"TopicOwner": "1", "TopicName": "cms", "MessageId": "m-1", key: json.dumps(cms_alarm())}
    trigger = parse(json.dumps(message))
    assert trigger.kind == "cms_alarm"
    assert trigger.identity == "cms:4272653-1520820000-0"


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"Message": "not json"}, "Message"),
        ({"Message": json.dumps(cms_alarm(curLevel="BAD"))}, "Message/curLevel"),
        ({"message": json.dumps({"action": "failover"})}, "message"),
        ({"Message": json.dumps({"Message": json.dumps(cms_alarm())})}, "Message"),
    ],
)
def test_invalid_mns_messages(message: dict[str, Any], field: str) -> None:
    assert invalid(message).field == field


# --- EventBridge --------------------------------------------------------------------------------------------


def test_documented_ebs_event_verbatim() -> None:
    trigger = parse(json.dumps(DOC_EBS_EVENT).encode())
    assert trigger.kind == "eventbridge"
    assert trigger.identity == "eb:acs.ebs:45ef4dewdwe1-7c35-447a-bd93-fab****"
    assert (trigger.state, trigger.level) == ("ALERT", "INFO")
    assert trigger.event_type == trigger.rule == "ebs:Disk:DiskIOHang"
    assert trigger.time == datetime(2020, 11, 19, 13, 4, 41, tzinfo=timezone.utc).timestamp()
    assert trigger.resource_ids == ()  # masked ids
    assert trigger.summary["eventName"] == "DiskIOHang"


def test_ebs_event_resource_ids_from_data() -> None:
    event = json.loads(json.dumps(DOC_EBS_EVENT))
    event["data"]["resourceId"] = "d-bp1demo0primary01"
    event["data"]["extraAttributes"]["EcsInstanceId"] = "i-bp1demo0app01"
    trigger = parse(event)
    assert trigger.resource_ids == ("d-bp1demo0primary01", "i-bp1demo0app01")


def test_eventbridge_identity_is_source_and_id() -> None:
    other_id = {**DOC_EBS_EVENT, "id": "another-id"}
    other_source = {**DOC_EBS_EVENT, "source": "acs.ecs"}
    identities = {parse(e).identity for e in (DOC_EBS_EVENT, other_id, other_source)}
    assert len(identities) == 3
    assert parse(DOC_EBS_EVENT).identity == parse(json.dumps(DOC_EBS_EVENT)).identity


def test_eventbridge_finished_status_is_ok() -> None:
    event = {**DOC_EBS_EVENT, "data": {**DOC_EBS_EVENT["data"], "eventStatus": "Executed"}}
    assert parse(event).state == "OK"


def test_cms_alert_webhook_via_eventbridge() -> None:
    data = {"alertState": "OK", "triggerLevel": "OK", "dimensions": "{diskId=d-bp1demo0primary01}"}
    event = {
        "id": "e-1",
        "source": "acs.cms",
        "specversion": "1.0",
        "type": "cms:CloudMonitor:AlertWebHook",
        "data": json.dumps(data),  # a JSON string is accepted as data
    }
    trigger = parse(event)
    assert (trigger.kind, trigger.state, trigger.level) == ("eventbridge", "OK", None)
    assert trigger.resource_ids == ("d-bp1demo0primary01",)
    assert trigger.time is None


def test_ecs_event_via_eventbridge_subject_and_data() -> None:
    event = {
        "id": "e-2",
        "source": "acs.ecs",
        "specversion": "1.0",
        "type": "ecs:Disk:Stalled:Executing",
        "subject": "acs.ecs:cn-hangzhou:1:disk/d-bp1demo0primary01",
        "time": "2024-09-12T06:12:00.5Z",
        "data": {"ecsInstanceId": "i-bp1demo0app01", "eventId": "e-x"},
    }
    trigger = parse(event)
    assert trigger.resource_ids == ("i-bp1demo0app01", "d-bp1demo0primary01")
    assert trigger.time == datetime(2024, 9, 12, 6, 12, 0, 500000, tzinfo=timezone.utc).timestamp()
    assert trigger.identity == "eb:acs.ecs:e-2"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"source": "acs:aliyuncvc"}, "source"),
        ({"specversion": "0.3"}, "specversion"),
        ({"id": ""}, "id"),
        ({"time": "19 Nov 2020"}, "time"),
        ({"data": "[1, 2]"}, "data"),
        ({"data": {"alertState": "BOOM"}}, "data/alertState"),
        ({"data": 7}, "data"),
    ],
)
def test_invalid_eventbridge_events(overrides: dict[str, Any], field: str) -> None:
    assert invalid({**DOC_EBS_EVENT, **overrides}).field == field


def test_eventbridge_missing_type() -> None:
    event = dict(DOC_EBS_EVENT)
    del event["type"]
    assert invalid(event).field == "type"


# --- legacy system events -----------------------------------------------------------------------------------


def test_documented_ecs_event_verbatim() -> None:
    trigger = parse(json.dumps(DOC_ECS_EVENT))
    assert trigger.kind == "system_event"
    assert trigger.identity == "sys:9435EAD6-3CF6-4494-8F7A-3A********77"
    assert (trigger.state, trigger.level) == ("ALERT", "INFO")
    assert trigger.event_type == trigger.rule == "Instance:StateChange"
    expected = datetime(2018, 12, 26, 22, 1, 14, 58000, tzinfo=timezone(timedelta(hours=8))).timestamp()
    assert trigger.time == pytest.approx(expected)
    assert trigger.resource_ids == ()


def test_documented_cms_system_event_verbatim() -> None:
    trigger = parse(DOC_CMS_SYSTEM_EVENT)
    assert trigger.kind == "system_event"
    assert trigger.identity == (
        "sys:Agent_Status_Stopped:acs:ecs:cn-beijing:173651113438****:instance/i-25k35****:1552209568000"
    )
    assert trigger.level == "CRITICAL"
    assert trigger.time == 1552209568.0
    assert trigger.summary["instanceName"] == "cmssiteprobebj-6"


def disk_stalled(status: str = "Executing", **overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "eventTime": "20240912T141200.120+0800",
        "id": "A1B2C3D4-E5F6-4789-9ABC-DEF012345678",
        "level": "CRITICAL",
        "name": f"Disk:Stalled:{status}",
        "product": "ECS",
        "resourceId": "acs:ecs:cn-hangzhou:1234567890123456:disk/d-bp1demo0primary01",
        "content": {
            "eventId": "e-bp1demo0stall01",
            "diskId": "d-bp1demo0primary01",
            "device": "/dev/xvdb",
            "eventType": "Stalled",
            "ecsInstanceId": "i-bp1demo0app01",
        },
    }
    event.update(overrides)
    return event


def test_disk_stalled_executing_and_executed() -> None:
    executing = parse(disk_stalled())
    assert executing.resource_ids == ("d-bp1demo0primary01", "i-bp1demo0app01")
    assert (executing.state, executing.level) == ("ALERT", "CRITICAL")
    assert executing.identity == "sys:A1B2C3D4-E5F6-4789-9ABC-DEF012345678"
    assert executing.time == pytest.approx(
        datetime(2024, 9, 12, 6, 12, 0, 120000, tzinfo=timezone.utc).timestamp()
    )
    assert parse(disk_stalled("Executed")).state == "OK"


def test_system_event_identity_fallback_to_content_event_id() -> None:
    event = disk_stalled()
    del event["id"]
    assert parse(event).identity == "sys:e-bp1demo0stall01"
    del event["content"]
    del event["eventTime"]
    error = invalid(event)
    assert error.field == "id"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"eventTime": "yesterday"}, "eventTime"),
        ({"content": "not json"}, "content"),
        ({"product": 5}, "product"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_system_events(overrides: dict[str, Any], field: str) -> None:
    assert invalid(disk_stalled(**overrides)).field == field


# --- manual requests ----------------------------------------------------------------------------------------


def manual(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "action": "failover",
        "replicaPairId": "pair-cn-demo0db01",
        "reason": "region down",
        "idempotencyKey": "CHG-1",
    }
    request.update(overrides)
    return {key: value for key, value in request.items() if value is not None}


def test_manual_request() -> None:
    trigger = parse(json.dumps(manual()).encode(), request_id="fc-req-1")
    assert trigger == Trigger(
        kind="manual",
        identity="manual:CHG-1",
        state="MANUAL",
        level=None,
        resource_ids=(),
        rule=None,
        time=None,
        event_type=None,
        target_id="pair-cn-demo0db01",
        reason="region down",
        summary={"replicaPairId": "pair-cn-demo0db01", "reason": "region down"},
    )


def test_manual_request_falls_back_to_request_id() -> None:
    assert parse(manual(idempotencyKey=None), request_id="fc-req-1").identity == "manual:fc-req-1"
    error = invalid(manual(idempotencyKey=None))
    assert error.field == "idempotencyKey"
    assert invalid(manual(idempotencyKey=None), request_id=" ").field == "idempotencyKey"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"action": "failback"}, "action"),
        ({"action": "Failover"}, "action"),
        ({"replicaPairId": "pair_cn"}, "replicaPairId"),
        ({"replicaPairId": "pair-"}, "replicaPairId"),
        ({"replicaPairId": "pair-" + "a" * 61}, "replicaPairId"),
        ({"replicaPairId": "pair-abc\n"}, "replicaPairId"),
        ({"replicaPairId": None}, "replicaPairId"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": 5}, "reason"),
        ({"idempotencyKey": ""}, "idempotencyKey"),
        ({"idempotencyKey": 12}, "idempotencyKey"),
        ({"replicaPairID": "pair-x"}, "replicaPairID"),  # unknown field: likely a typo
    ],
)
def test_invalid_manual_requests(overrides: dict[str, Any], field: str) -> None:
    assert invalid(manual(**overrides), request_id="fc-req-1").field == field


def test_a_manual_request_may_name_a_group_or_a_resource_and_its_own_cap() -> None:
    group = parse(manual(replicaPairId=None, replicaGroupId="pg-orders0cluster", maxTargets=5))
    assert (group.target_id, group.max_targets, group.resource_ids) == ("pg-orders0cluster", 5, ())
    assert group.summary == {
        "replicaGroupId": "pg-orders0cluster",
        "reason": "region down",
        "maxTargets": "5",
    }
    resource = parse(manual(replicaPairId=None, resourceId="i-bp1demo0app01"))
    assert (resource.target_id, resource.resource_ids, resource.max_targets) == (
        "i-bp1demo0app01",
        ("i-bp1demo0app01",),
        None,
    )


_EXACTLY_ONE = "exactly one of replicaPairId, replicaGroupId, resourceId"


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"replicaPairId": None}, "replicaPairId", _EXACTLY_ONE),  # nothing named
        ({"replicaGroupId": "pg-a"}, "replicaGroupId", _EXACTLY_ONE),  # two named
        ({"replicaPairId": None, "replicaGroupId": "pair-cn-x"}, "replicaGroupId", "pg-"),
        ({"replicaPairId": None, "resourceId": "pair-cn-x"}, "resourceId", "disk (d-…) or instance (i-…)"),
        ({"maxTargets": 0}, "maxTargets", "from 1 to 1000"),
        ({"maxTargets": 1001}, "maxTargets", "from 1 to 1000"),
        ({"maxTargets": "5"}, "maxTargets", "from 1 to 1000"),
    ],
)
def test_a_manual_request_names_exactly_one_target_and_a_sane_cap(
    overrides: dict[str, Any], field: str, expected: str
) -> None:
    error = invalid(manual(**overrides), request_id="fc-req-1")
    assert (error.field, expected in error.expected) == (field, True), error.expected


def test_manual_limits_are_inclusive() -> None:
    trigger = parse(manual(replicaPairId="pair-" + "a" * 60, reason="x" * 500))
    assert trigger.target_id == "pair-" + "a" * 60
    assert trigger.reason == "x" * 500
    assert len(trigger.summary["reason"]) == 200


# --- identity hygiene ---------------------------------------------------------------------------------------


def test_non_ascii_ids_are_hashed() -> None:
    key = "变更-1"
    trigger = parse(manual(idempotencyKey=key))
    assert trigger.identity == "manual:" + hashlib.sha256(key.encode()).hexdigest()
    control = parse(form(**callback(transId="t\x01x")))
    assert control.identity == "cms:" + hashlib.sha256(b"t\x01x").hexdigest()
    assert all(" " <= char <= "~" for char in control.identity)


# --- refusals before deep parsing ---------------------------------------------------------------------------


def test_oversize_events_are_refused() -> None:
    padding = "x" * MAX_EVENT_BYTES
    for event in (
        form(**callback(curValue=padding)),
        form(**callback(curValue=padding)).encode(),
        {**cms_alarm(), "pad": padding},
        json.dumps({**cms_alarm(), "pad": padding}),
    ):
        error = invalid(event)
        assert error.field == ""
        assert error.expected.startswith(f"at most {MAX_EVENT_BYTES} bytes")


def test_multibyte_text_is_measured_in_bytes() -> None:
    event = json.dumps(cms_alarm(ruleName="磁" * (MAX_EVENT_BYTES // 3)), ensure_ascii=False)
    assert len(event) < MAX_EVENT_BYTES < len(event.encode())
    assert parse(json.dumps(cms_alarm(ruleName="磁" * 1000), ensure_ascii=False)).kind == "cms_alarm"
    assert invalid(event).expected.startswith("at most")


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def test_nesting_limit_is_exact() -> None:
    assert invalid(nested(MAX_DEPTH)).field == ""  # well-nested but unrecognised
    assert "levels deep" not in invalid(nested(MAX_DEPTH)).expected
    assert "levels deep" in invalid(nested(MAX_DEPTH + 1)).expected


@pytest.mark.parametrize("depth", [33, 5000, 40_000])
def test_deep_nesting_is_refused_without_recursion_errors(depth: int) -> None:
    assert "levels deep" in invalid(nested(depth)).expected
    assert "levels deep" in invalid("[" * depth + "]" * depth).expected


def test_deep_dict_and_cycles_are_refused() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(10_000):
        node["a"] = {}
        node = node["a"]
    assert "levels deep" in invalid(deep).expected
    cyclic: dict[str, Any] = {"action": "failover"}
    cyclic["self"] = cyclic
    assert "levels deep" in invalid(cyclic).expected


def test_deep_nesting_inside_a_string_field_is_refused() -> None:
    error = invalid(cms_alarm(resources="[" * 50 + "]" * 50))
    assert error.field == "resources"
    assert "levels deep" in error.expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (b"\xff\xfe{}", "UTF-8 text"),
        (b"", "a non-empty event"),
        ("   \n", "a non-empty event"),
        ("{", "valid JSON"),
        ('{"a": NaN}', "valid JSON"),
        ("[1, 2]", "a JSON object, not an array"),
        ("hello", "a JSON object or a form-urlencoded"),
        ('{"ruleId": "a", "ruleId": "b"}', "a key that appears once"),
        ({"a": float("nan")}, "a JSON-serialisable object"),
        ({"a": {1, 2}}, "a JSON-serialisable object"),
    ],
)
def test_malformed_input(event: Any, expected: str) -> None:
    assert expected in invalid(event).expected


def test_wrong_python_types_are_invalid_events() -> None:
    for event in (None, 5, ["a"], object()):
        assert invalid(event).expected == "bytes, str or dict"


def test_unrecognised_object_lists_the_shapes() -> None:
    error = invalid({"hello": "world"})
    assert error.field == ""
    for words in ("manual request", "EventBridge", "HTTP-trigger envelope", "callback", "alarm JSON", "MNS"):
        assert words in error.expected


def test_utf8_bom_is_tolerated() -> None:
    assert parse(b"\xef\xbb\xbf" + json.dumps(manual()).encode()).identity == "manual:CHG-1"


def test_random_and_mutated_bytes_only_raise_invalid_event() -> None:
    rng = random.Random(20240912)
    seeds = [
        form(**callback()).encode(),
        json.dumps(cms_alarm()).encode(),
        json.dumps(DOC_EBS_EVENT).encode(),
        json.dumps(DOC_ECS_EVENT).encode(),
        json.dumps(manual()).encode(),
        json.dumps(http_envelope(form(**callback()), b64=True)).encode(),
    ]
    alphabet = b'{}[]":,=&%+0123456789abcdefnulltrue\\ \x00\xff\xc3'
    samples: list[bytes] = [bytes(rng.randrange(256) for _ in range(rng.randrange(64))) for _ in range(500)]
    for _ in range(2500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 6)):
            position = rng.randrange(len(data))
            operation = rng.randrange(3)
            if operation == 0:
                data[position] = rng.choice(alphabet)
            elif operation == 1:
                del data[position : position + rng.randrange(1, 20)]
            else:
                data[position:position] = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 8)))
        samples.append(bytes(data))
    outcomes = {"parsed": 0, "invalid": 0}
    caught_by_catch_all: list[tuple[bytes, BaseException | None]] = []
    for sample in samples:
        try:
            result = parse(sample)
        except InvalidEvent as error:
            # The catch-all in parse() must not be what caught it: that would be a bug below it.
            if error.expected == "a well-formed event":
                caught_by_catch_all.append((sample, error.__cause__))
            outcomes["invalid"] += 1
        else:
            assert isinstance(result, Trigger)
            assert all(" " <= char <= "~" for char in result.identity)
            outcomes["parsed"] += 1
    assert outcomes["invalid"] > 0
    assert outcomes["parsed"] > 0
    assert caught_by_catch_all == []


def test_unexpected_errors_become_invalid_events(monkeypatch: pytest.MonkeyPatch) -> None:
    from ebs_failover.triggers import _parse

    def boom(*_: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(_parse, "alarm_trigger", boom)
    error = invalid(cms_alarm())
    assert (error.field, error.expected, error.got) == ("", "a well-formed event", "KeyError")
    assert isinstance(error.__cause__, KeyError)


# --- schemas and cold start ---------------------------------------------------------------------------------


def test_every_schema_is_draft_07_and_compiled_once() -> None:
    names = sorted(path.stem for path in _schema.SCHEMA_DIR.glob("*.json"))
    assert names == [
        "cms_alarm",
        "cms_callback",
        "eventbridge",
        "http_envelope",
        "manual",
        "mns_message",
        "mns_queue",
        "system_event",
        "timer",
    ]
    for name in names:
        schema = json.loads((_schema.SCHEMA_DIR / f"{name}.json").read_text())
        assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
        assert _schema.validator(name) is _schema.validator(name)


def test_import_is_light_and_fastjsonschema_is_lazy() -> None:
    code = (
        "import sys\n"
        "import ebs_failover.triggers as t\n"
        "assert 'fastjsonschema' not in sys.modules\n"
        't.parse(b\'{"action": "failover", "replicaPairId": "pair-x", "reason": "r"}\', request_id=\'r\')\n'
        "assert 'fastjsonschema' in sys.modules\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('alibabacloud_ebs20210730', 'alibabacloud_tea_openapi', 'Tea', 'darabonba', 'structlog',"
        " 'requests')]\n"
        "assert not heavy, heavy\n"
    )
    run_fresh_python(code)


# --- the sample events in events/ ---------------------------------------------------------------------------

EXPECTED: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text(encoding="utf-8"))


def test_every_sample_event_has_an_expectation() -> None:
    files = {path.name for path in EVENTS.iterdir() if path.is_file()} - NOT_EVENTS
    assert files == set(EXPECTED)
    assert len(EXPECTED) >= 15
    kinds = {entry.get("kind") for entry in EXPECTED.values()}
    assert {"cms_callback", "cms_alarm", "eventbridge", "system_event", "manual"} <= kinds
    assert sum("invalid" in entry for entry in EXPECTED.values()) >= 3


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_event(name: str) -> None:
    expected = EXPECTED[name]
    raw = (EVENTS / name).read_bytes()
    if "invalid" in expected:
        assert invalid(raw).field == expected["invalid"]
        return
    if "batch" in expected:  # an event-streaming batch: each event as recorded
        batch = decode(raw)
        assert isinstance(batch, Batch)
        assert [_recorded(parse(event)) for event in batch.events] == [
            {k: v for k, v in one.items() if k != "outcome"} for one in expected["batch"]
        ]
        return
    assert _recorded(parse(raw)) == {
        k: v for k, v in expected.items() if k not in ("outcome", "shared_fake", "targets", "check")
    }


def _recorded(trigger: Trigger) -> dict[str, Any]:
    return {
        "kind": trigger.kind,
        "identity": trigger.identity,
        "state": trigger.state,
        "level": trigger.level,
        "resource_ids": list(trigger.resource_ids),
    }


# --- events people really send (issue 27) ----------------------------------------------------------------


def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_bytes())
    return loaded


def test_the_end_notice_of_a_disk_stalled_event_is_a_recovery() -> None:
    """ECS's end notice keeps the name Disk:Stalled:Executing and the id, and adds executeFinishTime."""
    start, end = _sample("system-disk-stalled-executing.json"), _sample("system-disk-stalled-end-notice.json")
    assert (end["name"], end["id"]) == (start["name"], start["id"])
    trigger = parse(json.dumps(end))
    assert trigger.state == "OK"
    assert trigger.over is not None
    assert "executeFinishTime" in trigger.over
    assert parse(json.dumps(start)).state == "ALERT"


def test_an_eventbridge_event_with_an_end_time_is_over() -> None:
    event = _sample("eventbridge-ebs-diskiohang.json")
    assert parse(json.dumps(event)).state == "ALERT"
    event["data"]["endTime"] = 1726121580000
    ended = parse(json.dumps(event))
    assert ended.state == "OK"
    assert ended.over is not None
    assert "data/endTime" in ended.over
    event["data"]["endTime"] = 0  # no end yet
    assert parse(json.dumps(event)).state == "ALERT"


def test_an_alarm_through_fcs_mns_queue_trigger_is_the_alarm_it_carries() -> None:
    queued = parse((EVENTS / "mns-queue-cms-alarm.json").read_bytes())
    alarm = json.loads(_sample("mns-queue-cms-alarm.json")["data"]["messageBody"])
    assert (queued.kind, queued.identity, queued.state) == ("cms_alarm", f"cms:{alarm['batchId']}", "ALERT")
    assert queued.summary["queue"] == "acs:mns:cn-hangzhou:1234567890123456:queues/ebs-failover-alarms"


def test_a_batch_from_the_mns_queue_trigger_holds_plain_and_base64_messages() -> None:
    batch = decode((EVENTS / "mns-queue-batch.json").read_bytes())
    assert isinstance(batch, Batch)
    assert [parse(event).state for event in batch.events] == ["ALERT", "OK"]


@pytest.mark.parametrize(
    ("body", "field"),
    [("not json, not base64!", "data/messageBody"), ('{"action": "failover"}', "data/messageBody")],
)
def test_an_mns_queue_message_that_holds_no_alarm_is_rejected_naming_the_field(body: str, field: str) -> None:
    event = _sample("mns-queue-cms-alarm.json")
    event["data"]["messageBody"] = body
    assert invalid(json.dumps(event).encode()).field == field


def test_the_historical_json_callback_is_accepted_its_identity_from_alert_name_and_timestamp() -> None:
    body = _sample("cms-callback-historical-json.json")
    assert "ruleId" not in body
    trigger = parse(json.dumps(body))
    assert (trigger.kind, trigger.state, trigger.rule) == ("cms_callback", "ALERT", body["alertName"])
    assert trigger.identity == f"cms:{body['alertName']}:{body['timestamp']}"
    assert trigger.resource_ids == ("d-bp1demo0primary01",)


def test_a_form_callback_still_needs_its_rule_id() -> None:
    """Only the historical JSON callback lacks ruleId; a form one without it is malformed."""
    form = (EVENTS / "cms-callback-alert.txt").read_text().strip()
    without = "&".join(part for part in form.split("&") if not part.startswith("ruleId="))
    assert invalid(without.encode()).field == "ruleId"
