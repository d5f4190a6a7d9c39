// Offline check of template.yml with the ROS CDK's generated property validators
// (deploy-ros.md §9: required keys, types, ranges, lengths, enums; not Runtime/TriggerType
// values, TriggerConfig contents or GetAtt names).
//
// Usage: the template as JSON on stdin (this script has no YAML reader of its own):
//   python -c 'import json,sys,yaml; json.dump(yaml.safe_load(open("template.yml")), sys.stdout)' \
//     | NODE_PATH=<dir>/node_modules node tests/validate_template.js
// with <dir> holding @alicloud/ros-cdk-core, -fc3, -ram and -sls from npm and @alicloud/ros-cdk-mns
// from PyPI's ros-cdk-mns wheel (npm has no ros-cdk-mns): `make validate-template` does both.
//
// Each resource is rebuilt as its Ros* construct (props camelCased, intrinsic functions kept as
// tokens so the validators skip them, as they do for any computed value) and the app is
// synthesized: a property that breaks a constraint makes synth throw. A resource type with no
// construct here is an error: every type of the template is checked. Exit status 0: all passed.
// Not checked here: Conditions, Rules and Outputs (tests/test_template.py evaluates those).
'use strict';

const ros = require('@alicloud/ros-cdk-core');
const fc3 = require('@alicloud/ros-cdk-fc3');
const ram = require('@alicloud/ros-cdk-ram');
const sls = require('@alicloud/ros-cdk-sls');
const mns = require('@alicloud/ros-cdk-mns');
const oss = require('@alicloud/ros-cdk-oss');

const CONSTRUCTS = {
  'ALIYUN::FC3::Function': fc3.RosFunction,
  'ALIYUN::FC3::AsyncInvokeConfig': fc3.RosAsyncInvokeConfig,
  'ALIYUN::FC3::Trigger': fc3.RosTrigger,
  'ALIYUN::RAM::Role': ram.RosRole,
  'ALIYUN::SLS::Project': sls.RosProject,
  'ALIYUN::SLS::Logstore': sls.RosLogstore,
  'ALIYUN::SLS::Index': sls.RosIndex,
  'ALIYUN::MNS::Topic': mns.RosTopic,
  'ALIYUN::MNS::Queue': mns.RosQueue,
  'ALIYUN::MNS::Subscription': mns.RosSubscription,
  'ALIYUN::OSS::Bucket': oss.RosBucket,
};
// Free-form maps: their keys are data (environment names, FC API fields), not CDK props.
const FREE_FORM = new Set(['EnvironmentVariables', 'TriggerConfig', 'Condition']);

function isIntrinsic(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0].startsWith('Fn::'));
}

// jsii's names: FunctionName -> functionName, and an all-capitals name whole (SLS TTL -> ttl).
function camel(key) {
  if (key === key.toUpperCase()) return key.toLowerCase();
  return key.charAt(0).toLowerCase() + key.slice(1);
}

function toProps(value) {
  if (isIntrinsic(value)) return ros.Token.asAny(value);
  if (Array.isArray(value)) return value.map(toProps);
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const [key, item] of Object.entries(value)) {
    out[camel(key)] = FREE_FORM.has(key) ? item : toProps(item);
  }
  return out;
}

function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
}

function main(text) {
  const template = JSON.parse(text);
  const app = new ros.App({ outdir: require('os').tmpdir() + '/ros-validate-' + process.pid });
  const stack = new ros.Stack(app, 'ValidateTemplate');
  const skipped = [];
  for (const [name, resource] of Object.entries(template.Resources || {})) {
    const Construct = CONSTRUCTS[resource.Type];
    if (!Construct) {
      skipped.push(`${name} (${resource.Type})`);
      continue;
    }
    new Construct(stack, name, toProps(resource.Properties || {}), true);
  }
  // synth runs every validator and throws on the first construct with bad props.
  const synthesized = app.synth().getStackByName('ValidateTemplate').template.Resources;
  // The constructs render only the props they know: a property that does not come back
  // unchanged was misspelt, unknown to the type, or mistyped.
  const dropped = [];
  for (const [name, resource] of Object.entries(synthesized)) {
    const before = canonical(template.Resources[name].Properties || {});
    const after = canonical(resource.Properties || {});
    if (before !== after) dropped.push(`${name}:\n  template: ${before}\n  rendered: ${after}`);
  }
  if (dropped.length) throw new Error(`properties changed by the round trip:\n${dropped.join('\n')}`);
  if (skipped.length) throw new Error(`no ROS CDK construct for: ${skipped.join(', ')}`);
  const types = new Set(Object.values(template.Resources).map((resource) => resource.Type));
  console.log(
    `ROS CDK validators: ${Object.keys(synthesized).length} resources of ${types.size} types OK, ` +
      'properties unchanged by a round trip',
  );
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  try {
    main(input);
  } catch (error) {
    const message = String(error && error.message ? error.message : error);
    console.error(message.split('\nObject creation stack:')[0]);
    process.exit(1);
  }
});
