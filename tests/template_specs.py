"""What tests/test_template.py knows about ROS: resource property specs and a tiny template evaluator.

Every fact here is copied from ``/work/shared/reference/deploy-ros.md`` (cited by section, "§n");
nothing is invented. Where that reference marks a fact [UNVERIFIED], so does the comment here.

* :data:`RESOURCE_SPECS`: per resource type, every property ROS documents, with its type,
  whether it is required, and the range / length / allowed values the CDK validators enforce.
  :func:`check` validates a properties map against one; a property not in the table is an
  error, so a typo (``Timout``) cannot pass silently.
* :data:`ATTRIBUTES`: the ``Fn::GetAtt`` attributes of each type, with how a stack would
  resolve them (for the evaluator; the ARN forms are the reference's).
* :class:`Stack`: evaluates the intrinsic functions the template uses (Ref, Fn::Sub, Fn::Join,
  Fn::Split, Fn::Select, Fn::Replace, Fn::If, Fn::Equals, Fn::Not, Fn::GetAtt, and Fn::Jq for the
  scripts of :data:`JQ_SCRIPTS`) for given parameter
  values, the way ROS would at CreateStack, so the tests can look at the concrete environment and
  policy; and the Rules section's functions (Fn::Contains, Fn::And, Fn::Or) with
  :meth:`Stack.rule_violations`, the check ROS makes before it creates anything.

The SLS and MNS Subscription specs are not in deploy-ros.md: they are the ROS CDK's generated
validators (``@alicloud/ros-cdk-sls`` 1.11.0 ``sls.generated.js``, ``ros-cdk-mns`` 1.12.0
``mns.generated.js``), which ``make validate-template`` also runs. The OSS bucket's is
``@alicloud/ros-cdk-oss`` 1.12.0 ``oss.generated.js`` (``RosBucketPropsValidator`` and its property
validators), with the name rule of ledger-and-approval.md §1.8.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# -- template structure (§7) ------------------------------------------------------------------------

SECTIONS = frozenset(
    {
        "ROSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Mappings",
        "Conditions",
        "Resources",
        "Outputs",
        "Rules",
    }
)
FORMAT_VERSION = "2015-09-01"
PARAMETER_TYPES = frozenset(
    {
        "String",
        "Number",
        "CommaDelimitedList",
        "Json",
        "Boolean",
        "ALIYUN::OOS::Parameter::Value",
        "ALIYUN::OOS::SecretParameter::Value",
    }
)
PARAMETER_KEYS = frozenset(
    {
        "Type",
        "Default",
        "AllowedValues",
        "AllowedPattern",
        "MinLength",
        "MaxLength",
        "MinValue",
        "MaxValue",
        "NoEcho",
        "Description",
        "ConstraintDescription",
        "Label",
        "AssociationProperty",
        "AssociationPropertyMetadata",
        "Confirm",
        "TextArea",
        "Required",
        "Placeholder",
    }
)
PSEUDO_PARAMETERS = frozenset(
    {
        "ALIYUN::StackName",
        "ALIYUN::StackId",
        "ALIYUN::Region",
        "ALIYUN::AccountId",
        "ALIYUN::TenantId",
        "ALIYUN::ResourceGroupId",
        "ALIYUN::NoValue",
    }
)
#: The functions ros-cdk-core 1.15.0 has (§7 lists these "and more"); the template may use only these.
FUNCTIONS = frozenset(
    {
        "Ref",
        "Fn::GetAtt",
        "Fn::Sub",
        "Fn::Join",
        "Fn::If",
        "Fn::Equals",
        "Fn::And",
        "Fn::Or",
        "Fn::Not",
        "Fn::Select",
        "Fn::Split",
        "Fn::Replace",
        "Fn::Str",
        "Fn::Base64Encode",
        "Fn::Base64Decode",
        "Fn::FindInMap",
        "Fn::GetAZs",
        "Fn::Jq",
        "Fn::GetJsonValue",
        "Fn::ListMerge",
        "Fn::Length",
        "Fn::Indent",
        "Fn::ImportValue",
        "Fn::GetStackOutput",
        # Rules functions, also in ros-cdk-core's Fn (Fn.contains, Fn.eachMemberIn).
        "Fn::Contains",
        "Fn::EachMemberIn",
    }
)
#: Functions of a Rules section (RuleCondition, Assert) the template may use: those of the ROS Rules
#: examples (aliyun/ros-templates) and of ros-cdk-core's Fn (contains, eachMemberIn).
RULE_FUNCTIONS = frozenset({"Ref", "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Fn::Contains"})
#: Keys a resource entry may have besides Type and Properties (the CloudFormation-shaped set ROS documents).
RESOURCE_KEYS = frozenset({"Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "Metadata"})


# -- property specs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prop:
    """One property: ROS type, required flag, and the constraints the CDK validator checks."""

    kind: str  # String | Integer | Number | Boolean | Map | List | Any
    required: bool = False
    range: tuple[float, float] | None = None  # Integer / Number
    length: tuple[int, int] | None = None  # String length, or List item count
    allowed: frozenset[str] | None = None
    pattern: str | None = None
    fields: Mapping[str, Prop] | None = None  # a Map with documented keys (closed)
    items: Prop | None = None  # the items of a List


def _s(**kw: Any) -> Prop:
    return Prop("String", **kw)


def _i(**kw: Any) -> Prop:
    return Prop("Integer", **kw)


def _b(**kw: Any) -> Prop:
    return Prop("Boolean", **kw)


def _m(fields: Mapping[str, Prop] | None = None, **kw: Any) -> Prop:
    return Prop("Map", fields=fields, **kw)


def _l(items: Prop | None = None, **kw: Any) -> Prop:
    return Prop("List", items=items, **kw)


_TAGS = _l(_m({"Key": _s(required=True), "Value": _s()}), length=(0, 20))

# §1: the ROS doc's runtime list. python3.12 is absent from it ([UNVERIFIED] whether ROS accepts it).
FC3_RUNTIMES = frozenset(
    {
        "nodejs8",
        "nodejs10",
        "nodejs12",
        "nodejs14",
        "nodejs16",
        "nodejs18",
        "nodejs20",
        "go1",
        "python3",
        "python3.9",
        "python3.10",
        "java8",
        "java11",
        "php7.2",
        "dotnetcore3.1",
        "custom",
        "custom.debian10",
        "custom-container",
    }
)

#: The regions FC 3.0 runs in: the fc3 component's IRegion enum (devsapp/fc3 src/schema.json at
#: d1472196f74a717199d17d31177b48438ef3f8d4, 2026-05-24). The longest, cn-shanghai-finance-1 (21),
#: bounds FunctionName: the RAM role <FunctionName>-<region>-<stack> must fit in 64 characters.
FC3_REGIONS = frozenset(
    {
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-5",
        "ap-southeast-7",
        "cn-beijing",
        "cn-chengdu",
        "cn-hangzhou",
        "cn-heyuan-acdr-1",
        "cn-hongkong",
        "cn-huhehaote",
        "cn-qingdao",
        "cn-shanghai",
        "cn-shanghai-cloudspe",
        "cn-shanghai-finance-1",
        "cn-shenzhen",
        "cn-wulanchabu",
        "cn-zhangjiakou",
        "eu-central-1",
        "eu-west-1",
        "me-central-1",
        "us-east-1",
        "us-west-1",
    }
)

# §3: trigger types from the FC3 component doc (ROS itself has no enum) and their TriggerConfig keys
# (camelCase, passed to the FC3 API unchanged by ROS: [UNVERIFIED]).
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"})
TRIGGER_CONFIGS: dict[str, Prop] = {
    "http": _m(
        {
            "authType": _s(required=True, allowed=frozenset({"anonymous", "function", "jwt"})),
            "methods": _l(_s(allowed=HTTP_METHODS), required=True, length=(1, len(HTTP_METHODS))),
            "disableURLInternet": _b(),
        }
    ),
    "eventbridge": _m(
        {
            "eventRuleFilterPattern": _s(required=True),
            "eventSourceConfig": _m(
                {
                    "eventSourceType": _s(
                        required=True,
                        allowed=frozenset({"Default", "MNS", "RocketMQ", "RabbitMQ", "Kafka", "DTS"}),
                    ),
                    "eventSourceParameters": _m(),
                },
                required=True,
            ),
            "triggerEnable": _b(),
            "asyncInvocationType": _b(),
            "eventSinkConfig": _m(
                {
                    "deliveryOption": _m(
                        {
                            # devsapp/fc3 docs/zh/yaml/triggers.md (runOptions.mode's values)
                            "mode": _s(allowed=frozenset({"event-driven", "event-streaming"})),
                            "eventSchema": _s(allowed=frozenset({"CloudEvents", "RawData"})),
                        },
                        required=True,
                    )
                }
            ),
            "runOptions": _m(),
        }
    ),
    # FC 3.0 API TimerTriggerConfig: cronExpression (cron with seconds, or @every), enable, payload.
    "timer": _m(
        {
            "cronExpression": _s(required=True),
            "enable": _b(),
            "payload": _s(),
        }
    ),
}
TRIGGER_TYPES = frozenset(
    {"http", "timer", "oss", "log", "mns_topic", "cdn_events", "tablestore", "eventbridge"}
)

_FC_NAME = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"  # §1 doc: letters, digits, _ and -, 1-64, no leading digit or -
_TRIGGER_NAME = r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$"  # §3 doc

_POLICY_STATEMENT = _m(
    {
        "Effect": _s(),
        "Action": _l(_s()),
        "Resource": _l(_s()),
        "NotAction": _l(_s()),
        "Condition": _m(),
    }
)

RESOURCE_SPECS: dict[str, dict[str, Prop]] = {
    # §1, fc3.generated.js RosFunctionPropsValidator
    "ALIYUN::FC3::Function": {
        "FunctionName": _s(required=True, length=(1, 64), pattern=_FC_NAME),
        "Handler": _s(required=True),
        "Runtime": _s(required=True, allowed=FC3_RUNTIMES),
        "Code": _m(
            {
                "ZipFile": _s(),
                "OssBucketName": _s(),
                "OssObjectName": _s(),
                "Checksum": _s(),
                "SourceCode": _s(length=(0, 4096)),
            }
        ),
        "MemorySize": _i(range=(128, 65536)),
        "Timeout": _i(range=(1, 86400)),
        "Cpu": Prop("Number", range=(0.05, 16)),
        "DiskSize": _i(),
        "Role": _s(),
        "EnvironmentVariables": _m(),
        "InstanceConcurrency": _i(range=(1, 200)),
        "InstanceLifecycleConfig": _m(),
        "LogConfig": _m(
            {
                "Project": _s(),
                "Logstore": _s(),
                "LogBeginRule": _s(),
                "EnableInstanceMetrics": _b(),
                "EnableRequestMetrics": _b(),
            }
        ),
        "Layers": _l(_s(), length=(1, 100)),
        "Description": _s(length=(0, 256)),
        "InternetAccess": _b(),
        "DisableOndemand": _b(),
        "InstanceIsolationMode": _s(allowed=frozenset({"SHARE", "SESSION_EXCLUSIVE", "REQUEST_EXCLUSIVE"})),
        "SessionAffinity": _s(allowed=frozenset({"MCP_SSE", "GENERATED_COOKIE", "HEADER_FIELD", "NONE"})),
        "VpcConfig": _m(),
        "NasConfig": _m(),
        "OssMountConfig": _m(),
        "CustomDns": _m(),
        "CustomRuntimeConfig": _m(),
        "CustomContainerConfig": _m(),
        "GpuConfig": _m(),
        "TracingConfig": _m(),
        "SessionAffinityConfig": Prop("Any"),  # §1 gives no type
        "Tags": _TAGS,
    },
    # §2, RosAsyncInvokeConfigPropsValidator
    "ALIYUN::FC3::AsyncInvokeConfig": {
        "FunctionName": _s(required=True),
        "AsyncTask": _b(),
        "DestinationConfig": _m(
            {
                "OnSuccess": _m({"Destination": _s(required=True, length=(1, 512))}),
                "OnFailure": _m({"Destination": _s(required=True, length=(1, 512))}),
            }
        ),
        "MaxAsyncEventAgeInSeconds": _i(range=(1, 604800)),
        "MaxAsyncRetryAttempts": _i(range=(0, 8)),
    },
    # §3, RosTriggerPropsValidator (TriggerConfig is checked per TriggerType with TRIGGER_CONFIGS)
    "ALIYUN::FC3::Trigger": {
        "FunctionName": _s(required=True),
        "TriggerName": _s(required=True, length=(1, 128), pattern=_TRIGGER_NAME),
        "TriggerType": _s(required=True, allowed=TRIGGER_TYPES),
        "TriggerConfig": _m(required=True),
        "Description": _s(),
        "InvocationRole": _s(),
        "Qualifier": _s(),
        "SourceArn": _s(),
    },
    # §4, ram.generated.js RosRolePropsValidator
    "ALIYUN::RAM::Role": {
        "RoleName": _s(required=True, length=(1, 64)),
        "AssumeRolePolicyDocument": _m(
            {
                "Version": _s(required=True),
                "Statement": _l(
                    _m(
                        {
                            "Action": _s(),  # a String here, a List in PolicyDocument (§4)
                            "Effect": _s(),
                            "Principal": _m({"Service": _l(_s()), "RAM": _l(_s()), "Federated": _l(_s())}),
                            "Condition": _m(),
                        }
                    ),
                    required=True,
                ),
            },
            required=True,
        ),
        "Policies": _l(
            _m(
                {
                    "PolicyName": _s(required=True, length=(1, 128)),
                    "PolicyDocument": _m(
                        {"Version": _s(required=True), "Statement": _l(_POLICY_STATEMENT, required=True)},
                        required=True,
                    ),
                    "Description": _s(length=(0, 1024)),
                    "IgnoreExisting": _b(),
                }
            )
        ),
        "PolicyAttachments": _m({"System": _l(_s(), length=(0, 20)), "Custom": _l(_s(), length=(0, 5))}),
        "Description": _s(length=(0, 1024)),
        "MaxSessionDuration": _i(range=(3600, 43200)),
        "DeletionForce": _b(),
        "IgnoreExisting": _b(),
        "Tags": _TAGS,
    },
    # §5, mns RosTopicPropsValidator
    "ALIYUN::MNS::Topic": {
        "TopicName": _s(required=True, length=(1, 256)),
        "LoggingEnabled": _b(),
        "MaximumMessageSize": _i(range=(1024, 65536)),
        "Tags": _TAGS,
    },
    # Not in deploy-ros.md: the ROS resource-type doc (AlibabaCloudDocs/ros, intl.zh-CN
    # 资源类型/MNS/ALIYUN::MNS::Queue.md); its ranges are the doc's "约束" column.
    "ALIYUN::MNS::Queue": {
        "QueueName": _s(required=True, length=(1, 256), pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$"),
        "DelaySeconds": _i(range=(0, 604800)),
        "MaximumMessageSize": _i(range=(1024, 65536)),
        "MessageRetentionPeriod": _i(range=(60, 604800)),
        "VisibilityTimeout": _i(range=(1, 43200)),
        "PollingWaitSeconds": _i(range=(0, 30)),
        "LoggingEnabled": _b(),
    },
    # ros-cdk-mns 1.12.0 mns.generated.js RosSubscriptionPropsValidator; the Endpoint forms are
    # MNS's (mail:directmail:<address>, http://..., acs:mns:<region>:<uid>:queues/<q>, sms:directsms:...).
    "ALIYUN::MNS::Subscription": {
        "TopicName": _s(required=True, length=(1, 256)),
        "SubscriptionName": _s(required=True, length=(1, 256)),
        "Endpoint": _s(required=True),
        "FilterTag": _s(length=(0, 16)),
        "NotifyContentFormat": _s(allowed=frozenset({"XML", "JSON", "SIMPLIFIED"})),
        "NotifyStrategy": _s(allowed=frozenset({"BACKOFF_RETRY", "EXPONENTIAL_DECAY_RETRY"})),
        "PushType": _s(allowed=frozenset({"http", "queue", "mpush", "email", "alisms"})),
        "DlqPolicy": _m({"DeadLetterTargetQueue": _s(required=True), "Enabled": _b(required=True)}),
    },
    # @alicloud/ros-cdk-oss 1.12.0 oss.generated.js RosBucketPropsValidator; the CDK checks no name rule,
    # ledger-and-approval.md §1.8 gives OSS's (3-63 lowercase letters, digits and -). Tags is a map here.
    "ALIYUN::OSS::Bucket": {
        "BucketName": _s(required=True, length=(3, 63), pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"),
        "AccessControl": _s(allowed=frozenset({"private", "public-read", "public-read-write"})),
        "BlockPublicAccess": _b(),
        "CORSConfiguration": _m(),
        "DeletionForce": _b(),
        "EnableOssHdfsService": _b(),
        "LifecycleConfiguration": _m(
            {
                "Rule": _l(
                    _m(
                        {
                            "ID": _s(),
                            "Prefix": _s(required=True),
                            "Status": _s(allowed=frozenset({"Enabled", "Disabled"})),
                            "Expiration": _m(
                                {
                                    "Days": Prop("Number"),
                                    "CreatedBeforeDate": _s(),
                                    "ExpiredObjectDeleteMarker": _b(),
                                }
                            ),
                            "AbortMultipartUpload": _m(),
                            "Filter": _m(),
                            "Transition": _l(_m(), length=(1, 10)),
                        }
                    ),
                    required=True,
                )
            }
        ),
        "LoggingConfiguration": _m(),
        "Policy": _m(),
        "RedundancyType": _s(allowed=frozenset({"LRS", "ZRS"})),
        "RefererConfiguration": _m(),
        "ResourceGroupId": _s(),
        "ServerSideEncryptionConfiguration": _m(),
        "StorageClass": _s(allowed=frozenset({"Standard", "IA", "Archive", "ColdArchive"})),
        "Tags": _m(),
        "VersioningConfiguration": _m(
            {"Status": _s(required=True, allowed=frozenset({"Enabled", "Suspended"}))}
        ),
        "WebsiteConfigurationV2": _m(),
    },
    # @alicloud/ros-cdk-sls 1.11.0 sls.generated.js RosProjectPropsValidator (SLS itself: lowercase,
    # 3-63, globally unique in a region; checked by test_template.py on the resolved name).
    "ALIYUN::SLS::Project": {
        "Name": _s(required=True, length=(3, 63), pattern=r"^[a-zA-Z0-9-]+$"),
        "Description": _s(length=(0, 64)),
        "DataRedundancyType": _s(allowed=frozenset({"LRS", "ZRS"})),
        "ResourceGroupId": _s(),
        "Tags": _TAGS,
    },
    # RosLogstorePropsValidator
    "ALIYUN::SLS::Logstore": {
        "LogstoreName": _s(required=True, length=(3, 63), pattern=r"^[a-zA-Z0-9_-]+$"),
        "ProjectName": _s(required=True, length=(3, 63), pattern=r"^[a-zA-Z0-9_-]+$"),
        "AppendMeta": _b(),
        "AutoSplit": _b(),
        "EnableTracking": _b(),
        "EncryptConf": _m(),
        "MaxSplitShard": _i(range=(1, 64)),
        "Mode": _s(allowed=frozenset({"standard", "query"})),
        "PreserveStorage": _b(),
        "ShardCount": _i(range=(1, 100)),
        "TTL": _i(range=(1, 3600)),
    },
    # RosIndexPropsValidator (FullTextIndex required, and its Enable)
    "ALIYUN::SLS::Index": {
        "LogstoreName": _s(required=True, length=(3, 63), pattern=r"^[a-zA-Z0-9_-]+$"),
        "ProjectName": _s(required=True, length=(3, 63), pattern=r"^[a-zA-Z0-9_-]+$"),
        "FullTextIndex": _m(
            {"Enable": _b(required=True), "CaseSensitive": _b(), "IncludeChinese": _b(), "Delimiter": _s()},
            required=True,
        ),
        "KeyIndices": _l(_m()),
        "LogReduce": _b(),
    },
}


# -- GetAtt attributes (§1-§5) and how a stack resolves them --------------------------------------

Resolver = Callable[[Mapping[str, Any], "Stack"], Any]

ATTRIBUTES: dict[str, dict[str, Resolver]] = {
    "ALIYUN::FC3::Function": {
        "ARN": lambda p, s: f"acs:fc:{s.region}:{s.tenant}:functions/{p['FunctionName']}",  # fc-runtime.md §5
        "FunctionId": lambda p, s: f"id-{p['FunctionName']}",
        "FunctionName": lambda p, s: p["FunctionName"],
    },
    "ALIYUN::FC3::AsyncInvokeConfig": {},
    "ALIYUN::FC3::Trigger": {
        "FunctionName": lambda p, s: p["FunctionName"],
        "TriggerId": lambda p, s: f"id-{p['TriggerName']}",
        "TriggerName": lambda p, s: p["TriggerName"],
        "UrlInternet": lambda p, s: f"https://{p['FunctionName']}-example.{s.region}.fcapp.run",
        "UrlIntranet": lambda p, s: f"https://{p['FunctionName']}-example.{s.region}-vpc.fcapp.run",
    },
    "ALIYUN::RAM::Role": {
        "Arn": lambda p, s: f"acs:ram::{s.tenant}:role/{str(p['RoleName']).lower()}",
        "RoleId": lambda p, s: "300000000000000000",
        "RoleName": lambda p, s: p["RoleName"],
    },
    "ALIYUN::MNS::Topic": {
        # mns.generated.d.ts: acs:mns:$region:$accountid:/topics/$topicName (§2)
        "ARN.WithSlash": lambda p, s: f"acs:mns:{s.region}:{s.tenant}:/topics/{p['TopicName']}",
        "TopicName": lambda p, s: p["TopicName"],
        "TopicUrl": lambda p, s: f"http://{s.tenant}.mns.{s.region}.aliyuncs.com/topics/{p['TopicName']}",
    },
    "ALIYUN::MNS::Queue": {
        # The doc lists QueueUrl and ARN.WithSlash; the ARN's form is the topic's, by analogy
        # [UNVERIFIED]: acs:mns:$region:$accountid:/queues/$queueName
        "ARN.WithSlash": lambda p, s: f"acs:mns:{s.region}:{s.tenant}:/queues/{p['QueueName']}",
        "QueueUrl": lambda p, s: f"http://{s.tenant}.mns.{s.region}.aliyuncs.com/queues/{p['QueueName']}",
        "QueueName": lambda p, s: p["QueueName"],
    },
    # mns.generated.js RosSubscription attributes
    "ALIYUN::MNS::Subscription": {
        "SubscriptionName": lambda p, s: p["SubscriptionName"],
        "SubscriptionUrl": lambda p, s: (
            f"http://{s.tenant}.mns.{s.region}.aliyuncs.com/topics/{p['TopicName']}"
            f"/subscriptions/{p['SubscriptionName']}"
        ),
        "TopicName": lambda p, s: p["TopicName"],
    },
    # oss.generated.d.ts RosBucket: Arn, DomainName, InternalDomainName, Name. The domain names follow
    # OSS's endpoints (oss-<region>[-internal].aliyuncs.com, ledger-and-approval.md §1.1); the ARN's form is
    # [UNVERIFIED] (RAM's acs:oss:*:<account>:<bucket> assumed). The template reads Name only.
    "ALIYUN::OSS::Bucket": {
        "Arn": lambda p, s: f"acs:oss:*:{s.tenant}:{p['BucketName']}",
        "DomainName": lambda p, s: f"{p['BucketName']}.oss-{s.region}.aliyuncs.com",
        "InternalDomainName": lambda p, s: f"{p['BucketName']}.oss-{s.region}-internal.aliyuncs.com",
        "Name": lambda p, s: p["BucketName"],
    },
    # sls.generated.js: RosProject Name; RosLogstore LogstoreName, ProjectName; RosIndex none
    "ALIYUN::SLS::Project": {"Name": lambda p, s: p["Name"]},
    "ALIYUN::SLS::Logstore": {
        "LogstoreName": lambda p, s: p["LogstoreName"],
        "ProjectName": lambda p, s: p["ProjectName"],
    },
    "ALIYUN::SLS::Index": {},
}


# -- checking a properties map ----------------------------------------------------------------------


def is_intrinsic(value: Any) -> bool:
    """``{"Ref": ...}`` or ``{"Fn::...": ...}``: a value ROS computes."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FUNCTIONS


def check(value: Any, prop: Prop, path: str, parameters: Mapping[str, Any] | None = None) -> list[str]:
    """Errors of ``value`` against ``prop`` (empty: fine).

    An intrinsic value is not evaluated here; a ``Ref`` to a template parameter is checked
    instead for the parameter's own constraints: every value the parameter allows must fit.
    """
    if is_intrinsic(value):
        return _check_ref(value, prop, path, parameters or {})
    errors: list[str] = []
    kind = prop.kind
    if kind == "String":
        if not isinstance(value, str):
            return [f"{path}: expected a String, got {value!r}"]
        if prop.length and not prop.length[0] <= len(value) <= prop.length[1]:
            errors.append(f"{path}: length {len(value)} outside {prop.length}")
        if prop.allowed is not None and value not in prop.allowed:
            errors.append(f"{path}: {value!r} not one of {sorted(prop.allowed)}")
        if prop.pattern and not re.match(prop.pattern, value):
            errors.append(f"{path}: {value!r} does not match {prop.pattern}")
    elif kind in ("Integer", "Number"):
        ok = isinstance(value, int) if kind == "Integer" else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            return [f"{path}: expected an {kind}, got {value!r}"]
        if prop.range and not prop.range[0] <= value <= prop.range[1]:
            errors.append(f"{path}: {value} outside {prop.range}")
    elif kind == "Boolean":
        if not isinstance(value, bool):
            errors.append(f"{path}: expected a Boolean, got {value!r}")
    elif kind == "List":
        if not isinstance(value, list):
            return [f"{path}: expected a List, got {value!r}"]
        if prop.length and not prop.length[0] <= len(value) <= prop.length[1]:
            errors.append(f"{path}: {len(value)} items outside {prop.length}")
        if prop.items is not None:
            for n, item in enumerate(value):
                errors += check(item, prop.items, f"{path}[{n}]", parameters)
    elif kind == "Map":
        if not isinstance(value, dict):
            return [f"{path}: expected a Map, got {value!r}"]
        if prop.fields is not None:
            errors += check_fields(value, prop.fields, path, parameters)
    return errors


def check_fields(
    values: Mapping[str, Any],
    fields: Mapping[str, Prop],
    path: str,
    parameters: Mapping[str, Any] | None = None,
) -> list[str]:
    """Required keys present, no undocumented key, each value valid."""
    errors = [
        f"{path}.{name}: required, missing" for name, p in fields.items() if p.required and name not in values
    ]
    for name, value in values.items():
        if name not in fields:
            errors.append(f"{path}.{name}: not a documented property")
        else:
            errors += check(value, fields[name], f"{path}.{name}", parameters)
    return errors


def _check_ref(value: Mapping[str, Any], prop: Prop, path: str, parameters: Mapping[str, Any]) -> list[str]:
    name = value.get("Ref")
    if not isinstance(name, str) or name not in parameters:
        return []  # a computed value: checked after evaluation
    param = parameters[name]
    errors: list[str] = []
    if prop.kind in ("Integer", "Number") and prop.range:
        low, high = param.get("MinValue"), param.get("MaxValue")
        if param.get("Type") != "Number":
            errors.append(f"{path}: parameter {name} must be a Number")
        if "AllowedValues" in param:  # a list instead of bounds: every value must be in range
            low, high = min(param["AllowedValues"]), max(param["AllowedValues"])
        if low is None or high is None or low < prop.range[0] or high > prop.range[1]:
            errors.append(f"{path}: parameter {name} allows [{low}, {high}], the property {prop.range}")
    if prop.allowed is not None:
        allowed = param.get("AllowedValues")
        if allowed is None or not set(allowed) <= prop.allowed:
            errors.append(f"{path}: parameter {name} allows {allowed}, the property {sorted(prop.allowed)}")
    if prop.kind == "String" and prop.length:
        low, high = param.get("MinLength", 0), param.get("MaxLength")
        if high is None or low < prop.length[0] or high > prop.length[1]:
            errors.append(f"{path}: parameter {name} lengths [{low}, {high}], the property {prop.length}")
    return errors


def check_parameter_value(name: str, param: Mapping[str, Any], value: Any) -> list[str]:
    """Would ROS accept ``value`` for this parameter (its own AllowedValues / pattern / bounds)?"""
    errors: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        text = str(item)
        if "AllowedValues" in param and item not in param["AllowedValues"]:
            errors.append(f"{name}: {item!r} not in AllowedValues")
        if "AllowedPattern" in param and not re.fullmatch(param["AllowedPattern"], text):
            errors.append(f"{name}: {item!r} does not match AllowedPattern")
        if "MinLength" in param and len(text) < param["MinLength"]:
            errors.append(f"{name}: {item!r} shorter than MinLength")
        if "MaxLength" in param and len(text) > param["MaxLength"]:
            errors.append(f"{name}: {item!r} longer than MaxLength")
        if param.get("Type") == "Number":
            number = float(item)
            if "MinValue" in param and number < param["MinValue"]:
                errors.append(f"{name}: {item} below MinValue")
            if "MaxValue" in param and number > param["MaxValue"]:
                errors.append(f"{name}: {item} above MaxValue")
    return errors


# -- walking a template -----------------------------------------------------------------------------


def walk(node: Any) -> Any:
    """Every dict and list inside ``node`` (``node`` included), depth first."""
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from walk(child)


SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


# -- evaluating it ----------------------------------------------------------------------------------


class EvaluationError(Exception):
    pass


class _NoValue:
    """``{"Ref": "ALIYUN::NoValue"}``: the item or key that holds it is left out."""

    def __repr__(self) -> str:
        return "NoValue"


NO_VALUE = _NoValue()


@dataclass
class Stack:
    """A template as ROS would resolve it, for some parameter values.

    ``values`` are the parameters as given to CreateStack (strings, as ROS takes them);
    missing ones take the template's Default. ``region`` / ``tenant`` are the pseudo parameters.
    """

    template: Mapping[str, Any]
    values: Mapping[str, str]
    region: str = "cn-shanghai"
    tenant: str = "1234567890123456"
    #: ROS stack ids are UUIDs (the ROS API examples: 4a6c9851-3b0f-4f5f-b4ca-a14bf691****).
    stack_id: str = "4a6c9851-3b0f-4f5f-b4ca-a14bf6912345"
    _props: dict[str, Any] = field(default_factory=dict)

    def parameter(self, name: str) -> Any:
        param = self.template["Parameters"][name]
        if name in self.values:
            raw: Any = self.values[name]
        elif "Default" in param:
            raw = param["Default"]
        else:
            raise EvaluationError(f"parameter {name} has no value and no Default")
        kind = param["Type"]
        if kind == "CommaDelimitedList":
            return [item.strip() for item in str(raw).split(",")] if str(raw) else []
        if kind == "Number":
            number = float(raw)
            return int(number) if number.is_integer() else number
        return str(raw)

    def pseudo(self, name: str) -> Any:
        known = {
            "ALIYUN::Region": self.region,
            "ALIYUN::TenantId": self.tenant,
            "ALIYUN::AccountId": self.tenant,
            "ALIYUN::StackId": self.stack_id,
            "ALIYUN::StackName": "ebs-failover",
        }
        if name == "ALIYUN::NoValue":
            return NO_VALUE
        if name not in known:
            raise EvaluationError(f"pseudo parameter {name} is not modelled")
        return known[name]

    def condition(self, name: str) -> bool:
        return bool(self.evaluate(self.template["Conditions"][name]))

    def exists(self, resource: str) -> bool:
        """Whether the stack creates ``resource`` (its Condition, if any, holds)."""
        condition = self.template["Resources"][resource].get("Condition")
        return condition is None or self.condition(condition)

    def created(self) -> list[str]:
        """The resources this stack creates."""
        return [name for name in self.template["Resources"] if self.exists(name)]

    def rule_violations(self) -> list[str]:
        """The AssertDescription of every failing assertion of the Rules section (empty: accepted)."""
        failed: list[str] = []
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.evaluate(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.evaluate(assertion["Assert"]):
                    failed.append(f"{name}: {assertion.get('AssertDescription', '')}")
        return failed

    def properties(self, resource: str) -> dict[str, Any]:
        """The resource's properties with every intrinsic function resolved."""
        if not self.exists(resource):
            raise EvaluationError(f"{resource}: not created by this stack (its Condition is false)")
        if resource not in self._props:
            raw = self.template["Resources"][resource].get("Properties", {})
            self._props[resource] = self.evaluate(raw)
        result: dict[str, Any] = self._props[resource]
        return result

    def attribute(self, resource: str, name: str) -> Any:
        kind = self.template["Resources"][resource]["Type"]
        return ATTRIBUTES[kind][name](self.properties(resource), self)

    def outputs(self) -> dict[str, Any]:
        return {name: self.evaluate(out["Value"]) for name, out in self.template.get("Outputs", {}).items()}

    def evaluate(self, node: Any) -> Any:
        if isinstance(node, list):
            return [value for value in (self.evaluate(item) for item in node) if value is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if not is_intrinsic(node):
            evaluated = {key: self.evaluate(value) for key, value in node.items()}
            return {key: value for key, value in evaluated.items() if value is not NO_VALUE}
        function, args = next(iter(node.items()))
        return self._call(function, args)

    def _ref(self, name: str) -> Any:
        if name.startswith("ALIYUN::"):
            return self.pseudo(name)
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        raise EvaluationError(f"Ref {name}: only parameters and pseudo parameters are modelled")

    def _call(self, function: str, args: Any) -> Any:
        if function == "Ref":
            return self._ref(args)
        if function == "Fn::GetAtt":
            resource, name = args
            return self.attribute(resource, name)
        if function == "Fn::Sub":
            text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1])
            resolved = {key: self.evaluate(value) for key, value in variables.items()}
            return self._substitute(text, resolved)
        if function == "Fn::Join":
            delimiter, items = args
            if not isinstance(delimiter, str):
                raise EvaluationError("Fn::Join: the delimiter must be a literal string")
            values = self.evaluate(items)
            return delimiter.join(str(v) for v in values)
        if function == "Fn::Split":
            delimiter, text = args
            return str(self.evaluate(text)).split(delimiter)
        if function == "Fn::Replace":
            mapping, text = args
            result = str(self.evaluate(text))
            for old, new in mapping.items():
                result = result.replace(old, str(self.evaluate(new)))
            return result
        if function == "Fn::If":
            name, then, otherwise = args
            return self.evaluate(then if self.condition(name) else otherwise)
        if function == "Fn::Equals":
            first, second = (self.evaluate(a) for a in args)
            return first == second
        if function == "Fn::Not":
            # ROS takes both forms: [condition] (the Conditions docs) and condition (ros-templates Rules).
            return not self.evaluate(args[0] if isinstance(args, list) else args)
        if function == "Fn::And":
            return all(self.evaluate(arg) for arg in args)
        if function == "Fn::Or":
            return any(self.evaluate(arg) for arg in args)
        if function == "Fn::Contains":
            values, value = args
            return self.evaluate(value) in self.evaluate(values)
        if function == "Fn::Select":
            index, items = args
            return self.evaluate(items)[int(self.evaluate(index))]
        if function == "Fn::Jq":
            method, script, text = args
            return jq(str(self.evaluate(method)), str(self.evaluate(script)), self.evaluate(text))
        raise EvaluationError(f"{function} is not modelled")

    def _substitute(self, text: str, variables: Mapping[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.template["Resources"]:
                resource, attribute = name.split(".", 1)
                return str(self.attribute(resource, attribute))
            return str(self._ref(name))

        return SUB_VARIABLE.sub(one, text).replace("${!", "${")


def _ids_with_prefix(prefix: str, placeholder: str) -> Callable[[Any], list[Any]]:
    """The jq filter ``[.[] | if type == "array" then .[] else . end | select(type == "string" and
    startswith(PREFIX))] | unique | if length == 0 then [PLACEHOLDER] else . end`` in Python."""

    def run(data: Any) -> list[Any]:
        if isinstance(data, dict):
            values = list(data.values())
        elif isinstance(data, list):
            values = data
        else:
            raise EvaluationError(f"jq: cannot iterate over {type(data).__name__}")
        found = []
        for value in values:
            found += value if isinstance(value, list) else [value]
        ids = sorted({v for v in found if isinstance(v, str) and v.startswith(prefix)})
        return ids or [placeholder]

    return run


def _id_script(prefix: str, placeholder: str) -> str:
    return (
        '[.[] | if type == "array" then .[] else . end | select(type == "string" and startswith("'
        + prefix
        + '"))] | unique | if length == 0 then ["'
        + placeholder
        + '"] else . end'
    )


#: The jq scripts the template's Fn::Jq runs, each with its meaning in Python (jq's own ``unique`` sorts, as
#: ``sorted`` does for these ASCII ids). A script not listed is an EvaluationError: a new one comes with its
#: model here, and tests/test_template.py compares every model with the real jq where one is installed.
JQ_SCRIPTS: dict[str, Callable[[Any], Any]] = {
    _id_script("pair-", "no-pair-configured"): _ids_with_prefix("pair-", "no-pair-configured"),
    _id_script("pg-", "no-group-configured"): _ids_with_prefix("pg-", "no-group-configured"),
}


def jq(method: str, script: str, document: Any) -> Any:
    """ROS's Fn::Jq [method, script, JSON text or object] for a modelled script: the script's only output
    (these scripts give one), for First as for All (All's list of one)."""
    if script not in JQ_SCRIPTS:
        raise EvaluationError(f"Fn::Jq script not modelled: {script}")
    data = json.loads(document) if isinstance(document, str) else document
    output = JQ_SCRIPTS[script](data)
    if method == "First":
        return output
    if method == "All":
        return [output]
    raise EvaluationError(f"Fn::Jq method {method!r}: First or All")


def json_pattern(text: str) -> dict[str, Any]:
    """An EventBridge event pattern (a JSON string in TriggerConfig)."""
    pattern = json.loads(text)
    if not isinstance(pattern, dict):
        raise ValueError("an event pattern is a JSON object")
    return pattern
