"""The ``ebs-failover`` command.

argparse, not click or typer: it is in the standard library and costs nothing
at import, and the command must start fast: this module imports no SDK, no
structlog; each verb imports what it needs when it runs.

Verbs::

    check EVENT            parse and decide (no cloud call): the plan and each target's ClientToken
    token EVENT            the ClientToken(s), one "<pair-id> <token>" line per target
    invoke EVENT           the real handler, locally, against the embedded fake EBS (--live: the real EBS)
    replay DIR             every event of DIR through the handler and the fake; --expect compares outcomes
    drill [TARGET]         a drill (never a failover) of a target or of every configured one, and its report
    drills TARGET          the drills EBS holds for a pair or group
    history [TARGET]       every incident the ledger (LEDGER) holds, newest first: targets, steps, news told
    incident ID            one incident of the ledger in full: its summary and every record in time order
    remote-invoke EVENT    invoke the deployed function through the FC 3.0 API (2.0 with --service)
    fake-ebs serve         serve the fake EBS on a socket
    fake-oss serve         serve the fake OSS (the incident ledger's store) on a socket
    schema [SHAPE]         list the event shapes, or print one's JSON Schema (``result``: the result's)

EVENT is a file, or ``-`` for stdin.

Exit codes:

* 0: success.
* 1: the command ran and the outcome is a failure: an event rejected (check, token, invoke), a result
  ``failed`` or ``rejected`` (invoke, remote-invoke), an outcome unlike the expected one (replay), an
  error from FC or EBS, a bad configuration in the environment, no ClientToken to print (token), the
  ledger unreachable (history, incident) or no such incident (incident).
* 2: usage error: bad arguments, an EVENT, DIR or FILE that cannot be read, remote-invoke without
  endpoint, token for a manual request without idempotencyKey and no --request-id, history or incident
  without LEDGER or the bucket's region; and for every verb that calls the cloud (drills, invoke --live,
  drill --live, remote-invoke, history, incident), credentials missing or refused by the service
  (``InvalidAccessKeyId…``, ``SignatureDoesNotMatch``, ``InvalidSecurityToken…``): nothing but other
  credentials fixes that.
* 130: interrupted.

Errors are one line on stderr, ``ebs-failover: <message>``, never a traceback; secrets never show.
Warnings (``check``, ``token``: an unknown variable, an old spelling) are lines ``ebs-failover: warning: …``.

Settings: ``check``, ``token``, ``invoke`` and ``drill`` read the same ones: the environment's, over those
of a config file's ``env`` (``--config FILE``, else ./events/config.json when it exists; ``--live`` takes
only a file named with ``--config``). A variable the environment sets wins, as it does on FC.

One module per group of verbs, each imported only when one of its verbs runs: ``plan`` (check, token,
schema: parse and decide, no cloud call), ``run`` (invoke, replay: the real handler against the embedded
fake), ``drill`` (drill, drills), ``history`` (history, incident: the incident ledger), ``remote``
(remote-invoke), ``fake`` (fake-ebs serve, fake-oss serve).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ebs_failover.errors import CliError

from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG, say

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_INTERRUPTED = 130

_EPILOG = """\
exit codes:
  0  success
  1  the command ran and the outcome is a failure: an event rejected, a result failed or
     rejected, an outcome unlike the expected one (replay), an error from FC or EBS,
     a bad configuration in the environment
  2  usage error: bad arguments, an EVENT/DIR/FILE that cannot be read, credentials
     missing or refused

EVENT is a file, or - for stdin. The function's settings (FAILOVER_TARGETS, FAILOVER_MODE,
FAILOVER_REGION, FAILOVER_MIN_LEVEL, ...) come from the environment, as on FC, over those of
--config FILE's 'env' (check, token, invoke, drill; default: events/config.json when present).
Run 'ebs-failover VERB --help' for a verb's options."""


class _Parser(argparse.ArgumentParser):
    """argparse with errors in one line: ``ebs-failover: <verb>: <message>`` and exit 2."""

    def error(self, message: str) -> NoReturn:
        verb = self.prog.removeprefix(PROG).strip()
        where = f"{verb}: " if verb else ""
        self.exit(EXIT_USAGE, f"{PROG}: {where}{message} (see '{self.prog} --help')\n")


def _event_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event", metavar="EVENT", help="the event: a file, or - for stdin")


def _config_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="a config file like events/config.json: its 'env' object supplies the function's settings "
        f"that the environment does not set (the environment wins) ({default})",
    )


class _Version(argparse.Action):
    """``--version``: the installed package's version (read only when asked: start-up stays fast)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(f"{PROG} {version()}", flush=True)
        parser.exit(EXIT_OK)


def version() -> str:
    """The version of the installed ``ebs-failover`` distribution (the package's own when not installed)."""
    from importlib import metadata

    try:
        return metadata.version(PROG)
    except metadata.PackageNotFoundError:
        from ebs_failover import __version__

        return __version__


def _request_id_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--request-id",
        metavar="ID",
        help="the FC request id of the invocation: the identity of a manual request without idempotencyKey",
    )


def _build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Fail EBS async-replication pairs over on CloudMonitor alarms.",
        epilog=_EPILOG,
        formatter_class=raw,
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)

    check = _verb(
        verbs,
        "check",
        "plan.run_check",
        help="parse and decide, no cloud call: the plan and its ClientTokens",
        description="Parse EVENT and decide what the function would do with it under the settings in the "
        "environment (FAILOVER_TARGETS, FAILOVER_MODE, ...) over those of --config FILE (else of "
        "events/config.json when it exists, as invoke reads them): the trigger (kind, identity, state, "
        "level, resource ids), the outcome or the targets, the mode, and the ClientToken of each target. "
        "The outcome is printed in the words of the result's outcomes: dry_run, ignored, refused, "
        "rejected, 'would fail over (live): failed_over if EBS accepts the Failover' (--json: fail_over) "
        "and 'would drill: drill_passed … else drill_failed' (--json: drill). The settings' warnings (a "
        "variable the function does not read, an old spelling) are printed on stderr. "
        "No cloud call, no SDK import.",
        epilog="exit codes: 0 the event parses (whatever the decision), 1 the event is rejected or the "
        "configuration is invalid, 2 usage error",
    )
    _event_argument(check)
    check.add_argument("--json", action="store_true", help="print the plan as JSON")
    _config_option(check, "default: events/config.json if present")
    _request_id_option(check)

    token = _verb(
        verbs,
        "token",
        "plan.run_token",
        help="print the ClientToken(s) an event fails its pairs over with",
        description="Print one line '<pair-id> <token>' per pair EVENT would fail over (settings from the "
        "environment and --config FILE, as for check). The token is the same for every redelivery of the "
        "alarm. A manual request without idempotencyKey takes its identity from the FC request id: "
        "pass --request-id.",
        epilog="exit codes: 0 tokens printed, 1 the event is rejected, names no configured pair, or the "
        "configuration is invalid, 2 usage error (including a manual request without idempotencyKey and "
        "no --request-id)",
    )
    _event_argument(token)
    _config_option(token, "default: events/config.json if present")
    _request_id_option(token)

    invoke = _verb(
        verbs,
        "invoke",
        "run.run_invoke",
        help="run the real handler locally (embedded fake EBS by default)",
        description="Run the real handler on EVENT and print its result (JSON) on stdout; its log lines go "
        "to stderr. By default against the embedded fake EBS, seeded from --seed FILE, else from the "
        "'seed' of the config file (--config FILE, else events/config.json when it exists in the current "
        "directory); EBS_ENDPOINT and NOTIFY_TARGETS are ignored then: nothing leaves the process. "
        "Settings come from the environment, over the config file's 'env' (as check reads them): "
        "FAILOVER_MODE is dry-run unless set to live. --live calls the real EBS endpoint instead (region "
        "from --region or FAILOVER_REGION, credentials from ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / "
        "_SECURITY_TOKEN or the default chain, EBS_ENDPOINT honoured, settings from --config FILE only, "
        "never the demo's events/config.json), checks first that EBS takes the credentials (one "
        "read-only Describe of a configured target), and fails over for real only with FAILOVER_MODE=live "
        "too.",
        epilog="exit codes: 0 the handler returned a result other than failed or rejected, 1 it returned "
        "failed or rejected, or raised (FC would retry), 2 usage error (including credentials missing or "
        "refused with --live)",
    )
    _event_argument(invoke)
    invoke.add_argument(
        "--seed",
        metavar="FILE",
        help="fake EBS seed: a JSON file with 'pairs' (and 'credentials'), or a config file with a 'seed' "
        "(default: events/config.json if present)",
    )
    _config_option(invoke, "default: events/config.json if present, except with --live")
    invoke.add_argument(
        "--live",
        action="store_true",
        help="call the real EBS endpoint instead of the embedded fake; a real failover also needs "
        "FAILOVER_MODE=live in the environment",
    )
    invoke.add_argument("--region", help="the function's region (default: FAILOVER_REGION, else cn-shanghai)")
    invoke.add_argument(
        "--timeout",
        type=_seconds(1, 86400),
        default=60,
        metavar="SECONDS",
        help="the function's timeout, 1 to 86400 (FC's longest) (default: 60)",
    )
    _request_id_option(invoke)

    replay = _verb(
        verbs,
        "replay",
        "run.run_replay",
        help="replay every event of a directory against the embedded fake (like make demo)",
        description="Run every event file of DIR (all files but config.json and expected.json, in name "
        "order) through the real handler, in live mode, against the embedded fake EBS, with "
        "DIR/config.json's "
        "'env' and 'seed'; a fresh fake per event unless --shared-fake (which is make demo). One line per "
        "event. With expectations (--expect FILE, default DIR/expected.json if present), each outcome is "
        "compared with the file's '<event file name>': {'outcome': ...}; with --shared-fake, with its "
        "'shared_fake' outcome where it has one (a later event finds the pairs an earlier one failed over).",
        epilog="exit codes: 0 every event replayed (and as expected), 1 an outcome differs from the "
        "expected one (all listed), 2 usage error",
    )
    replay.add_argument("dir", metavar="DIR", help="a folder of event files, like events/")
    replay.add_argument(
        "--expect", metavar="FILE", help="expected outcomes (default: DIR/expected.json if present)"
    )
    replay.add_argument(
        "--shared-fake",
        action="store_true",
        help="one fake EBS for all events, in order (as make demo does): later events see earlier failovers",
    )
    replay.add_argument("--logs", action="store_true", help="print the handler's log lines on stderr")

    _drill_verbs(verbs)
    _ledger_verbs(verbs)

    remote = _verb(
        verbs,
        "remote-invoke",
        "remote.run_remote_invoke",
        help="invoke the deployed function through the FC API (3.0; 2.0 with --service)",
        description="Invoke the deployed function with EVENT as payload and print the function's response "
        "body (sync) or the invocation's request id (--async). Without --service: the FC 3.0 API "
        "(POST /2023-03-30/functions/NAME/invocations, SDK alibabacloud-fc20230330), for the function "
        "template.yml deploys (its stack output FunctionName). With --service: the FC 2.0 API (fc2.Client), "
        "for a function deployed in an FC 2.0 service. "
        "Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET, "
        "ALIBABA_CLOUD_SECURITY_TOKEN. An async invocation carries a task id (default: ebsfo- + SHA-256 of "
        "the event bytes; x-fc-async-task-id on 3.0, x-fc-stateful-async-invocation-id on 2.0), so FC "
        "refuses (409) a second submission of the same event; the invoke is sent once, never retried.",
        epilog="exit codes: 0 invoked (sync: the result is neither failed nor rejected), 1 FC answered an "
        "error, the function raised, or its result is failed or rejected, 2 usage error (including "
        "credentials missing or refused)",
    )
    _event_argument(remote)
    remote.add_argument(
        "--function", required=True, help="the FC function's name (stack output FunctionName)"
    )
    remote.add_argument(
        "--service", help="an FC 2.0 service: invoke SERVICE/FUNCTION through the FC 2.0 API (fc2)"
    )
    remote.add_argument(
        "--qualifier", help="a version or alias (of the function; with --service, of the service)"
    )
    remote.add_argument(
        "--async",
        dest="async_",
        action="store_true",
        help="invoke asynchronously (x-fc-invocation-type: Async)",
    )
    remote.add_argument(
        "--task-id",
        metavar="ID",
        help="the async task id (default: ebsfo- + SHA-256 of the event bytes)",
    )
    remote.add_argument(
        "--endpoint",
        metavar="URL",
        help="FC endpoint (default: https://<account-id>.<region>.fc.aliyuncs.com)",
    )
    remote.add_argument("--region", help="FC region (default: ALIBABA_CLOUD_REGION_ID)")
    remote.add_argument("--account-id", metavar="ID", help="account id (default: ALIBABA_CLOUD_ACCOUNT_ID)")
    remote.add_argument(
        "--timeout", type=_seconds(1, 86400), default=60, metavar="SECONDS", help="HTTP timeout (default: 60)"
    )

    fake = verbs.add_parser("fake-ebs", help="run the fake EBS service")
    serve = _verb(
        fake.add_subparsers(dest="fake_verb", metavar="VERB", required=True),
        "serve",
        "fake.run_serve",
        help="serve the fake EBS on 127.0.0.1",
        description="Serve the fake EBS API (credentials testing/testing) until interrupted. "
        "Point the SDK at it with endpoint HOST:PORT and protocol http.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=0, help="port to bind, 0 to 65535 (default: 0, any free port)"
    )
    serve.add_argument(
        "--seed", metavar="FILE", help="JSON seed file of credentials, pairs and groups to load"
    )
    serve.add_argument(
        "--repeat-failover",
        choices=("accept", "deny"),
        default="accept",
        help="what a failover of an already failovered pair answers (default: accept)",
    )
    serve.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="how long every answer takes, as a network round trip would (default: 0)",
    )
    serve.add_argument(
        "--quota",
        type=int,
        metavar="N",
        help="calls per second per account, action and region; beyond, 400 Throttling.User (default: none)",
    )

    _fake_oss_verbs(verbs)

    schema = _verb(
        verbs,
        "schema",
        "plan.run_schema",
        help="list the event shapes, or print one's JSON Schema",
        description="Without SHAPE, list the event shapes the function accepts (the JSON Schemas it "
        "validates with); with SHAPE, print that schema.",
        epilog="exit codes: 0 printed, 2 unknown shape",
    )
    schema.add_argument("shape", metavar="SHAPE", nargs="?", help="a shape name, e.g. manual")
    return parser


def _fake_oss_verbs(verbs: Any) -> None:
    """``fake-oss serve``."""
    fake = verbs.add_parser("fake-oss", help="run the fake OSS service")
    serve = _verb(
        fake.add_subparsers(dest="fake_verb", metavar="VERB", required=True),
        "serve",
        "fake.run_serve_oss",
        help="serve the fake OSS on 127.0.0.1",
        description="Serve the fake OSS API (PutObject, GetObject, HeadObject, ListObjectsV2, DeleteObject; "
        "V4 signatures; credentials testing/testing) until interrupted. Point alibabacloud-oss-v2 at it "
        "with endpoint http://HOST:PORT (an IP endpoint makes the SDK use path style).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=0, help="port to bind, 0 to 65535 (default: 0, any free port)"
    )
    serve.add_argument(
        "--bucket",
        action="append",
        default=[],
        metavar="NAME",
        help="create this bucket, empty (repeatable)",
    )
    serve.add_argument(
        "--credential",
        action="append",
        default=[],
        type=_credential,
        metavar="KEY:SECRET",
        help="also accept this AccessKey pair (repeatable)",
    )


_LEDGER_SOURCE = (
    "Reads the incident ledger LEDGER names (oss://<bucket>[/<prefix>], as set on the function; "
    "OSS_ENDPOINT points it elsewhere, such as fake-oss serve) with the ALIBABA_CLOUD_ACCESS_KEY_ID / "
    "_SECRET / _SECURITY_TOKEN credentials; the bucket's region is LEDGER_REGION, else --region."
)


def _ledger_region_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        help="the ledger bucket's region when LEDGER_REGION is unset (default: ALIBABA_CLOUD_REGION_ID, "
        "else FAILOVER_REGION)",
    )


def _ledger_verbs(verbs: Any) -> None:
    """``history`` and ``incident``: what the incident ledger holds."""
    history = _verb(
        verbs,
        "history",
        "history.run_history",
        help="every incident the ledger holds, newest first: targets, Failovers, outcomes, news told",
        description="List every incident the incident ledger holds, newest first (by its first record): "
        "its targets; its decisions (which FC request claimed acting on it, when each was done and its "
        "outcome); each Failover EBS accepted (RequestId, data loss, recovery point); each verification; "
        "and the news told to each channel, or not told (failed, or claimed and unfinished). Times in ISO "
        f"UTC. {_LEDGER_SOURCE}",
        epilog="exit codes: 0 listed (even none), 1 the ledger cannot be read or LEDGER is malformed, "
        "2 usage error (including no LEDGER, no region, credentials missing or refused)",
    )
    history.add_argument(
        "target",
        metavar="TARGET",
        nargs="?",
        help="only the incidents that decided on or touched this pair (pair-…) or group (pg-…)",
    )
    history.add_argument(
        "--since",
        metavar="WHEN",
        help="only the incidents with a record at or after WHEN: an ISO date or time (2024-06-01, "
        "2024-06-01T08:00Z; UTC unless an offset is given) or a duration back from now (90m, 24h, 7d, 2w)",
    )
    history.add_argument("--json", action="store_true", help="print a list of incidents as JSON")
    _ledger_region_option(history)

    incident = _verb(
        verbs,
        "incident",
        "history.run_incident",
        help="one incident of the ledger in full: its summary and every record, in time order",
        description="Show one incident of the incident ledger (ID: its trigger identity, as history and the "
        "result's data.trigger.identity name it): the summary history prints, then every record it holds "
        f"in time order (kind, target, the FC request that wrote it, its data). {_LEDGER_SOURCE}",
        epilog="exit codes: 0 shown, 1 no such incident, or the ledger cannot be read, 2 usage error "
        "(including no LEDGER, no region, credentials missing or refused)",
    )
    incident.add_argument("id", metavar="ID", help="the incident's id, e.g. cms:<transId>")
    incident.add_argument("--json", action="store_true", help="print the summary and the records as JSON")
    _ledger_region_option(incident)


def _credential(value: str) -> tuple[str, str]:
    key, sep, secret = value.partition(":")
    if not (key and sep and secret):
        raise argparse.ArgumentTypeError("expected KEY:SECRET")  # never echoed: it may hold a secret
    return key, secret


def _drill_verbs(verbs: Any) -> None:
    """``drill`` and ``drills``."""
    drill = _verb(
        verbs,
        "drill",
        "drill.run_drill",
        help="rehearse: a drill of a target (or of every configured one), never a failover",
        description="Run the real handler on a drill request {'action': 'drill'} for TARGET (a pair, a "
        "replica group, or what a disk or instance id maps), or for every target FAILOVER_TARGETS "
        "configures: EBS clones the secondary's latest recovery point onto new disks (StartPairDrill / "
        "StartReplicaGroupDrill), the function follows it until executed, checks its disks, records what it "
        "restored and how long it took, and clears it (unless --keep). Replication goes on and the primary "
        "is not touched, so a drill runs in dry-run mode too. Against the embedded fake EBS, seeded and set "
        "as for invoke, or --live against the real endpoint. Prints the report as the channels tell it "
        "(--json: the whole result).",
        epilog="exit codes: 0 drill_passed, 1 drill_failed (or failed, refused, rejected), 2 usage error "
        "(including credentials missing or refused with --live)",
    )
    drill.add_argument("target", metavar="TARGET", nargs="?", help="pair-…, pg-…, d-… or i-… (default: all)")
    drill.add_argument(
        "--keep", action="store_true", help="leave the drill disks (the report says how to clear)"
    )
    drill.add_argument("--reason", help="why (the report carries it)")
    drill.add_argument("--json", action="store_true", help="print the whole result as JSON")
    drill.add_argument(
        "--logs", action="store_true", help="print the handler's log lines and the fake's states on stderr"
    )
    drill.add_argument(
        "--fake-fault",
        choices=("execute_failed", "clear_failed"),
        help="the embedded fake's next drill ends execute_failed, or its clean-up clear_failed",
    )
    drill.add_argument("--seed", metavar="FILE", help="fake EBS seed, as for invoke")
    _config_option(drill, "as for invoke")
    drill.add_argument("--live", action="store_true", help="call the real EBS endpoint instead of the fake")
    drill.add_argument("--region", help="the function's region (default: FAILOVER_REGION, else cn-shanghai)")
    drill.add_argument(
        "--timeout",
        type=_seconds(1, 86400),
        default=300,
        metavar="SECONDS",
        help="the function's timeout, 1 to 86400 (default: 300: a real drill takes minutes)",
    )
    _request_id_option(drill)

    drills = _verb(
        verbs,
        "drills",
        "drill.run_drills",
        help="list a pair's or group's drills (DescribePairDrills / DescribeReplicaGroupDrills)",
        description="List the drills EBS holds for TARGET, newest first: id, status, start, the recovery "
        "point restored, the drill disks. Reads EBS in --region (or FAILOVER_REGION) with the "
        "ALIBABA_CLOUD_* credentials (or the default chain); EBS_ENDPOINT / EBS_PROTOCOL point it "
        "elsewhere (fake-ebs serve).",
        epilog="exit codes: 0 listed, 1 EBS answered an error, 2 usage error (including credentials "
        "missing or refused)",
    )
    drills.add_argument("target", metavar="TARGET", help="pair-… or pg-…")
    drills.add_argument("--region", help="the standby region (default: FAILOVER_REGION)")
    drills.add_argument("--json", action="store_true", help="print EBS's entries as JSON")
    drills.add_argument(
        "--timeout",
        type=_seconds(1, 600),
        default=30,
        metavar="SECONDS",
        help="time for the calls (default: 30)",
    )


def _seconds(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: whole seconds from ``low`` to ``high`` (a timeout of -5 is a usage error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected whole seconds, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high} seconds, got {value}")
        return value

    parse.__name__ = "seconds"  # argparse names the type in its message
    return parse


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {value}")
    return value


def _verb(verbs: Any, name: str, runner: str, **texts: str) -> argparse.ArgumentParser:
    """A verb's parser; ``runner`` (``module.function`` of this package) is imported only when it runs."""
    parser: argparse.ArgumentParser = verbs.add_parser(name, **texts)
    module, function = runner.split(".")

    def run(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(f"{__name__}.{module}"), function)(args))

    parser.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit code (``--help`` and usage errors too, never raise)."""
    try:
        args = _build_parser().parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error (2, already reported in one line)
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    try:
        return int(args.run(args))
    except CliError as error:
        say(error.message)
        return error.code
    except KeyboardInterrupt:
        say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): nothing to say, and nothing at exit either
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as error:  # the last line of defence: one line, never a traceback
        say(f"unexpected error: {type(error).__name__}: {error}")
        return EXIT_FAILED
