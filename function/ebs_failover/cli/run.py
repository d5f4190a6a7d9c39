"""``ebs-failover invoke`` and ``replay``: the real handler, locally, against the embedded fake EBS.

``make demo`` is ``ebs-failover replay events --shared-fake``: every sample event, in name order, through
one fake, then the fake's final pair states.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ebs_failover import results
from ebs_failover.errors import CliError
from ebs_failover.outcomes import FAILURES
from ebs_failover.redact import shorten

from ._common import (
    DEFAULT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    OUTSIDE_WORLD,
    ConfigFile,
    Stderr,
    cloud_credentials,
    load_json,
    load_settings,
    note,
    patched_environ,
    read_config,
    read_event,
    refused,
    refused_credentials,
    say,
    sdk_logging_silenced,
    seed_of,
    settings_of,
)

__all__ = ["DEFAULT_CONFIG", "event_files", "handle", "run_invoke", "run_replay"]
#: Files of an events folder that are not events.
NOT_EVENTS = frozenset({"config.json", "expected.json"})
_DEFAULT_REGION = "cn-shanghai"


def event_files(directory: Path) -> list[Path]:
    """The sample events of a directory, in name order."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name not in NOT_EVENTS)


def _fake(seed: Mapping[str, Any] | None, source: Path | None) -> Any:
    from ebs_failover.testing import FakeEbs

    fake = FakeEbs(seed=1)
    if seed is not None:
        try:
            fake.load_seed(seed)
        except (ValueError, KeyError, TypeError) as error:
            raise CliError(
                f"cannot load seed {source}: {type(error).__name__}: {error}", EXIT_FAILED
            ) from None
    return fake


def _call_handler(raw: bytes, context: Any) -> dict[str, Any]:
    """The handler's result (for an HTTP-trigger request, its HTTP answer is told on stderr); a raise (on
    purpose, for FC's async retry) becomes a one-line error, exit 1."""
    from ebs_failover.handler import invoke

    try:
        invoked = invoke(raw, context)
    except Exception as error:
        raise CliError(
            f"the handler raised {type(error).__name__}: {error} "
            "(on FC, the asynchronous retry would deliver the event again)",
            EXIT_FAILED,
        ) from None
    if invoked.answer is not invoked.result:
        note(f"HTTP answer: {invoked.answer['statusCode']} {invoked.answer['body']}")
    return invoked.result


def run_invoke(args: argparse.Namespace) -> int:
    result = handle(read_event(args.event), args)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return EXIT_FAILED if results.ResultView(result).outcome in FAILURES else EXIT_OK


def handle(
    raw: bytes, args: argparse.Namespace, prepare: Callable[[Any], None] | None = None
) -> dict[str, Any]:
    """The real handler's result for ``raw``: against the embedded fake EBS (seeded from ``--seed``, else
    the config file's seed; the config file is ``--config FILE``, else events/config.json; its settings
    under the environment's; ``prepare`` gets the fake first), or ``--live`` against the real endpoint
    (with ``--config FILE``'s settings under the environment's, and the credentials checked first)."""
    from ebs_failover import log
    from ebs_failover.testing import FcContext, FcFunction

    quiet = getattr(args, "quiet", False)  # drill: its report is what it prints; --logs shows the rest
    log.configure(stream=io.StringIO() if quiet else Stderr())
    request_id = args.request_id or str(uuid.uuid4())
    function = FcFunction(timeout=args.timeout)
    option = getattr(args, "config", None)
    if args.live:
        # Only a config file named with --config: events/config.json's settings are the demo's, not yours.
        config = read_config(option, default=False)
        settings = config.defaults()
        if not quiet:
            config.tell(settings)
        with patched_environ(settings):
            region = args.region or os.environ.get("FAILOVER_REGION")
            if not region:
                raise CliError(
                    "--live needs the function's region: pass --region or set FAILOVER_REGION", EXIT_USAGE
                )
            _check_credentials(getattr(args, "verb", "invoke"), region, float(args.timeout))
            # credentials=None: the python3.12 context shape, so the handler takes the environment's.
            context = FcContext(request_id=request_id, function=function, credentials=None, region=region)
            return _call_handler(raw, context)
    config = read_config(option, default=not args.seed)
    seed_path: Path | None = Path(args.seed) if args.seed else None
    loaded = load_json(seed_path, "seed") if seed_path else config.data
    if seed_path is None and config.path is not None and isinstance(loaded, dict) and "seed" in loaded:
        seed_path = config.path
    seed = seed_of(loaded, seed_path) if seed_path else None
    fake = _fake(seed, seed_path)
    if prepare is not None:
        prepare(fake)
    # A config file's settings go with its seed (the fake's pairs are the ones its FAILOVER_TARGETS
    # maps); the environment's own settings win, so that a user can change one of them.
    if config.path is None and seed_path is not None:  # --seed FILE, a config file of its own
        config = ConfigFile(seed_path, loaded, settings_of(loaded, seed_path))
    settings = config.defaults()
    if not quiet:
        config.tell(settings)
    from ebs_failover.testing import MockEbs

    region = (
        args.region or os.environ.get("FAILOVER_REGION") or settings.get("FAILOVER_REGION") or _DEFAULT_REGION
    )
    context = FcContext(request_id=request_id, function=function, region=region)
    with patched_environ(settings, remove=OUTSIDE_WORLD), MockEbs(fake):
        result = _call_handler(raw, context)
    if not quiet:
        for group in fake.backend().groups.values():
            note(f"embedded fake EBS: {group.replica_group_id} is {group.status}")
        for pair in fake.backend().pairs.values():
            note(f"embedded fake EBS: {pair.replica_pair_id} is {pair.status}")
    return result


#: The longest the credentials' check before a --live run waits for EBS's answer.
_CHECK_SECONDS = 5.0


def _check_credentials(verb: str, region: str, timeout: float) -> None:
    """Before a ``--live`` run: credentials there are (else one line, exit 2), and EBS takes them: one
    read-only Describe of a configured target, whose answer is looked at only for a refusal of the
    credentials (exit 2, nothing else runs); any other answer is the handler's to meet and report.
    Settings that cannot be read are the handler's to report too (its result says so)."""
    from ebs_failover.errors import CloudCallError

    try:
        settings = load_settings()  # the config file's are in the environment by now
    except CliError:
        return
    credentials = cloud_credentials(f"{verb} --live")
    targets = sorted(settings.configured_targets)
    if not targets:  # nothing configured: the handler calls nothing
        return
    from ebs_failover.cloud import Budget, EbsClient

    first = targets[0]
    with sdk_logging_silenced():
        try:
            client = EbsClient(
                region, credentials, endpoint=settings.ebs_endpoint, protocol=settings.ebs_protocol
            )
            client.describe(
                [first], "backup", Budget(min(timeout, _CHECK_SECONDS)), groups=first.startswith("pg-")
            )
        except CloudCallError as error:
            why = refused_credentials(error.code)
            if why is not None and error.code is not None:
                where = settings.ebs_endpoint or f"EBS in {region}"
                raise refused(
                    f"{verb} --live: {where} refused {error.action or 'the call'}", error.code, why
                ) from None


@dataclass(frozen=True)
class _Replay:
    """What ``replay`` runs: the events, the settings and seed of DIR/config.json, the expectations."""

    files: list[Path]
    config: Path
    env: dict[str, str]
    seed: Mapping[str, Any] | None
    expect: Path
    expected: dict[str, Any] | None


def _replay_setup(args: argparse.Namespace) -> _Replay:
    directory = Path(args.dir)
    if not directory.is_dir():
        raise CliError(f"cannot replay {directory}: not a directory", EXIT_USAGE)
    config_path = directory / "config.json"
    setup = load_json(config_path, "config") if config_path.is_file() else {}
    if not isinstance(setup, dict) or not isinstance(setup.get("env", {}), dict):
        raise CliError(f"cannot load config {config_path}: expected {{'env': {{…}}, 'seed': {{…}}}}")
    expect_path = Path(args.expect) if args.expect else directory / "expected.json"
    expected: dict[str, Any] | None = None
    # DIR/expected.json gives each event's outcome on a fresh fake ("outcome") and, where it differs, on
    # one fake shared by all events in name order ("shared_fake": later events see earlier failovers).
    if args.expect or expect_path.is_file():
        loaded = load_json(expect_path, "expectations")
        if not isinstance(loaded, dict):
            raise CliError(f"cannot load expectations {expect_path}: expected a JSON object")
        expected = loaded
    files = event_files(directory)
    if not files:
        raise CliError(f"no event files in {directory}")
    env = {str(k): str(v) for k, v in setup.get("env", {}).items()}
    env["FAILOVER_MODE"] = "live"
    seed = seed_of(setup["seed"], config_path) if "seed" in setup else None
    return _Replay(files, config_path, env, seed, expect_path, expected)


def run_replay(args: argparse.Namespace) -> int:
    replay = _replay_setup(args)
    from ebs_failover import log
    from ebs_failover.handler import invoke
    from ebs_failover.testing import FcContext, MockEbs

    log.configure(stream=Stderr() if args.logs else io.StringIO())
    region = replay.env.get("FAILOVER_REGION") or os.environ.get("FAILOVER_REGION") or _DEFAULT_REGION
    mismatches: list[str] = []
    unexpected: list[str] = []
    shared = _fake(replay.seed, replay.config) if args.shared_fake else None
    channels = _DemoChannels() if shared is not None else None
    env = {**replay.env, **(channels.env if channels is not None else {})}
    print(f"{'event':<44} {'outcome':<20} each target")
    with patched_environ(env, remove=OUTSIDE_WORLD):
        for path in replay.files:
            fake = shared if shared is not None else _fake(replay.seed, replay.config)
            context = FcContext(request_id=f"replay-{path.stem}", region=region)
            with MockEbs(fake):
                try:
                    outcome, pairs = _outcome(invoke(path.read_bytes(), context).result)
                except Exception as error:  # the handler raises on purpose for FC to retry
                    outcome, pairs = "raised", type(error).__name__
            remark = ""
            if replay.expected is not None:
                want = _expected_outcome(replay.expected, path.name, shared=shared is not None)
                if want is None:
                    unexpected.append(path.name)
                    remark = "  (no expected outcome)"
                elif want != outcome:
                    mismatches.append(f"{path.name} gave {outcome}, expected {want}")
                    remark = f"  MISMATCH: expected {want}"
            print(f"{path.name:<44} {outcome:<20} {pairs}{remark}")
    total = len(replay.files)
    if shared is not None:
        _print_final_states(shared)
    if channels is not None:
        channels.report()
        channels.history("pair-cn-demo0db01")
        channels.close()
    if unexpected:
        say(f"no expected outcome in {replay.expect} for: {', '.join(unexpected)}")
    if mismatches:
        say(
            f"{len(mismatches)} of {total} events did not give the expected outcome: " + "; ".join(mismatches)
        )
        return EXIT_FAILED
    checked = f", {total - len(unexpected)} as expected" if replay.expected is not None else ""
    changed = ""
    if shared is not None:
        count = len(shared.state_changes()) + len(shared.state_changes("FailoverDiskReplicaGroup"))
        changed = f" on one fake, {count} failover{'' if count == 1 else 's'} changed state"
    print(f"{total} events replayed{changed}{checked}")
    return EXIT_OK


def _print_final_states(fake: Any) -> None:
    print("fake EBS, final states:")
    for group in fake.backend().groups.values():
        route = f"{group.source_region_id} -> {group.destination_region_id}"
        members = ", ".join(group.pair_ids)
        print(f"  {group.replica_group_id:<22} {group.status:<12} ({route}; group of {members})")
    for pair in fake.backend().pairs.values():
        route = f"{pair.source_region} -> {pair.destination_region}"
        print(f"  {pair.replica_pair_id:<22} {pair.status:<12} ({route})")


class _DemoChannels:
    """The channels ``make demo`` tells, each a fake on a loopback socket: an MNS topic that takes every
    result, a DingTalk robot that takes those a person needs, and a signed webhook that takes every one."""

    TOPIC, ROBOT, HOOK = "ebs-failover-results", "oncall", "audit"
    ROBOT_TOKEN = "demo-robot-token"
    #: The incident ledger's bucket, on a fake OSS on a loopback socket.
    BUCKET = "ebs-failover-demo-ledger"

    def __init__(self) -> None:
        from ebs_failover.testing import FakeMnsServer, FakeOss, FakeOssServer, FakeRobotServer

        self.mns, self.robots = FakeMnsServer().start(), FakeRobotServer().start()
        self.oss = FakeOssServer(FakeOss(buckets=[self.BUCKET])).start()
        self.mns.create_topic(self.TOPIC)
        self.env = {
            "LEDGER": f"oss://{self.BUCKET}",
            "OSS_ENDPOINT": self.oss.endpoint,
            "NOTIFY_TARGETS": (
                f"mns:{self.TOPIC},dingtalk:{self.ROBOT}[failed_over,failed,refused],webhook:{self.HOOK}"
            ),
            "MNS_ENDPOINT": self.mns.endpoint,
            "NOTIFY_ONCALL_URL": self.robots.add_dingtalk(self.ROBOT_TOKEN, "SECdemo-robot-secret"),
            "NOTIFY_ONCALL_SECRET": "SECdemo-robot-secret",
            "NOTIFY_AUDIT_URL": self.robots.add_webhook(self.HOOK, "demo-webhook-key"),
            "NOTIFY_AUDIT_SECRET": "demo-webhook-key",
        }

    def report(self) -> None:
        """What each channel received, and one DingTalk message as a person reads it."""
        topic = [json.loads(m.body) for m in self.mns.published[self.TOPIC]]
        robot = self.robots.received("dingtalk", self.ROBOT_TOKEN)
        hook = self.robots.received("webhook", self.HOOK)
        print(f"channels: mns:{self.TOPIC} {len(topic)} messages, dingtalk:{self.ROBOT} {len(robot)} "
              f"(failed_over, failed, refused), webhook:{self.HOOK} {len(hook)}")  # fmt: skip
        kinds = ", ".join(
            f"{n} {o}" for o, n in sorted(Counter(str(results.ResultView(e).outcome) for e in topic).items())
        )
        print(f"  mns:{self.TOPIC}: {kinds}")
        records = self.oss.fake.objects(self.BUCKET)
        incidents = {key.split("/")[2] for key in records if key.count("/") >= 3}
        print(
            f"  ledger oss://{self.BUCKET}: {len(records)} records of {len(incidents)} incidents and targets"
        )
        failovers = [m for m in robot if "failed_over" in str(m["markdown"]["title"])]
        if failovers or robot:
            shown = "failover" if failovers else "message"
            print(f"  dingtalk:{self.ROBOT}, its first {shown} as a person reads it:")
            for line in str((failovers or robot)[0]["markdown"]["text"]).splitlines():
                if line.strip():
                    print(f"    {line}")

    def history(self, target: str) -> None:
        """``ebs-failover history TARGET`` on the embedded ledger: the incidents that touched ``target``."""
        from ebs_failover import cli

        print(f"\n== ebs-failover history {target} (the embedded ledger, oss://{self.BUCKET})")
        env = {
            "LEDGER": f"oss://{self.BUCKET}",
            "OSS_ENDPOINT": self.oss.endpoint,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "testing",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testing",
            "ALIBABA_CLOUD_REGION_ID": _DEFAULT_REGION,
        }
        with patched_environ(env, remove=OUTSIDE_WORLD):
            cli.main(["history", target])

    def close(self) -> None:
        self.mns.stop()
        self.robots.stop()
        self.oss.stop()


def _expected_outcome(expected: dict[str, Any], name: str, *, shared: bool) -> str | None:
    """The outcome expected of event ``name``: on a fresh fake, or on the shared one (``shared_fake``,
    where it differs)."""
    entry = expected.get(name)
    if not isinstance(entry, dict):
        return entry if isinstance(entry, str) else None
    outcome = entry.get("shared_fake", entry.get("outcome")) if shared else entry.get("outcome")
    return outcome if isinstance(outcome, str) else None


def _outcome(result: dict[str, Any]) -> tuple[str, str]:
    """The invocation's outcome, and each pair's (``pair outcome``, a failover's verification too)."""
    view = results.ResultView(result)
    pairs = ", ".join(map(_pair_outcome, view.targets))
    return str(view.outcome), pairs or f"- ({shorten(str(view.reason), 90)})"


def _pair_outcome(target: results.TargetView) -> str:
    shown = f"{target.target_id} {target.outcome}"
    if target.member_pairs:
        shown += f" [{len(target.member_pairs)} pairs]"
    if target.verified is True and target.failover_seconds is not None:
        shown += f" (verified failovered in {target.failover_seconds:g} s)"
    elif target.verified is False:
        shown += f" (not verified: {target.status_after})"
    elif target.outcome in ("refused", "failed", "ignored") and target.hint:
        shown += f" ({shorten(target.hint, 70)})"
    return shown
