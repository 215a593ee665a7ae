"""VPC flow log files for the demo organisation's instances and for the flow log benchmark.

Files follow the S3 delivery layout (`AWSLogs/<account>/vpcflowlogs/<region>/YYYY/MM/DD/
<account>_vpcflowlogs_<region>_<fl-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz`), one file per flow log
and five-minute window, with a header line. Each interface talks to a stable set of peers (its
habits) and now and then to a new one; every connection gives two records (request and reply),
as real flow logs do. Two formats alternate: the default (version 2) and a custom version-5
format with instance-id and flow-direction, so both code paths are exercised.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WINDOW = timedelta(minutes=5)
DEFAULT_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
    "log-status"
)
CUSTOM_HEADER = (
    "version account-id interface-id instance-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status flow-direction vpc-id subnet-id"
)
# Seconds of a window in which flows start (a five-minute file holds flows of its window).
_SPAN = [240]
SERVICE_PORTS = (443, 443, 443, 443, 80, 53, 123, 5432, 6379, 22)


@dataclass(frozen=True)
class FlowInterface:
    """An instance's interface and its habits: the peers it talks to (address, port, protocol)."""

    instance_id: str
    interface_id: str
    private_ip: str
    account_id: str
    vpc_id: str = "vpc-0d3m0f10w5000001"
    subnet_id: str = "subnet-0d3m0f10w5000001"
    peers: tuple[tuple[str, int, int], ...] = ()
    # Peers that connect to it (a server): their address and the local service port.
    clients: tuple[tuple[str, int], ...] = ()


@dataclass
class FlowSummary:
    files: int = 0
    records: int = 0
    stored_bytes: int = 0
    text_bytes: int = 0
    paths: list[Path] = field(default_factory=list)


def random_peers(rnd: random.Random, count: int) -> tuple[tuple[str, int, int], ...]:
    """Public addresses on service ports (and a few UDP DNS/NTP peers)."""
    peers = []
    for _ in range(count):
        first = rnd.choice((3, 13, 18, 34, 35, 52, 54))
        address = f"{first}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        port = rnd.choice(SERVICE_PORTS)
        peers.append((address, port, 17 if port in (53, 123) else 6))
    return tuple(peers)


def write_flow_logs(
    root: Path,
    interfaces: Sequence[FlowInterface],
    start: datetime,
    end: datetime,
    *,
    records_per_window: int,
    region: str = "us-east-1",
    seed: int = 7,
    extra: dict[datetime, list[tuple[FlowInterface, str, int, int, str]]] | None = None,
    window_length: timedelta = WINDOW,
) -> FlowSummary:
    """Write one file per flow log and window from start to end under root/AWSLogs.

    `extra` adds chosen connections (interface, remote address, remote port, bytes out, action)
    in the window that starts at the given time: the demo's story (an exfiltration, a new peer).
    """
    rnd = random.Random(seed)
    _SPAN[0] = max(60, int(window_length.total_seconds()) - 60)
    summary = FlowSummary()
    by_account: dict[str, list[FlowInterface]] = {}
    for interface in interfaces:
        by_account.setdefault(interface.account_id, []).append(interface)
    window = start.replace(second=0, microsecond=0, tzinfo=start.tzinfo or UTC)
    index = 0
    while window < end:
        for account, members in sorted(by_account.items()):
            custom = index % 2 == 1
            lines = _window_lines(rnd, members, window, records_per_window // max(1, len(by_account)), custom)
            for interface, remote, port, sent, action in (extra or {}).get(window, []):
                if interface.account_id == account:
                    lines.extend(_connection(rnd, interface, remote, port, 6, window, custom, sent, action))
            _write(root, summary, account, region, window, custom, lines)
        window += window_length
        index += 1
    return summary


def _window_lines(
    rnd: random.Random, members: Sequence[FlowInterface], window: datetime, target: int, custom: bool
) -> list[str]:
    lines: list[str] = []
    while len(lines) < target:
        interface = members[rnd.randrange(len(members))]
        if interface.clients and rnd.random() < 0.3:
            client, service = interface.clients[rnd.randrange(len(interface.clients))]
            lines.extend(_inbound(rnd, interface, client, service, window, custom))
        elif interface.peers:
            remote, port, protocol = interface.peers[rnd.randrange(len(interface.peers))]
            if rnd.random() < 0.002:
                remote = f"198.51.100.{rnd.randrange(1, 255)}"
            lines.extend(_connection(rnd, interface, remote, port, protocol, window, custom))
        else:
            lines.append(_nodata(interface, window, custom))
    return lines


def _times(rnd: random.Random, window: datetime) -> tuple[int, int]:
    begin = int(window.timestamp()) + rnd.randrange(_SPAN[0])  # within the window
    return begin, begin + rnd.randrange(5, 60)


def _connection(
    rnd: random.Random, interface: FlowInterface, remote: str, port: int, protocol: int, window: datetime,
    custom: bool, sent: int = 0, action: str = "ACCEPT",
) -> list[str]:  # fmt: skip
    """An outbound connection: the request (egress) and the reply (ingress)."""
    ephemeral = rnd.randrange(32768, 61000)
    begin, finish = _times(rnd, window)
    out_bytes = sent or rnd.randrange(200, 20_000)
    back_bytes = rnd.randrange(200, 200_000)
    packets_out, packets_back = max(1, out_bytes // 1200), max(1, back_bytes // 1200)
    local = interface.private_ip
    return [
        _line(interface, local, remote, ephemeral, port, protocol, packets_out, out_bytes, begin, finish,
              action, "egress", custom),
        _line(interface, remote, local, port, ephemeral, protocol, packets_back, back_bytes, begin, finish,
              action, "ingress", custom),
    ]  # fmt: skip


def _inbound(
    rnd: random.Random, interface: FlowInterface, client: str, service: int, window: datetime, custom: bool
) -> list[str]:
    ephemeral = rnd.randrange(32768, 61000)
    begin, finish = _times(rnd, window)
    action = "ACCEPT" if rnd.random() < 0.9 else "REJECT"
    local = interface.private_ip
    in_bytes, out_bytes = rnd.randrange(100, 5000), rnd.randrange(100, 50_000)
    return [
        _line(interface, client, local, ephemeral, service, 6, max(1, in_bytes // 1200), in_bytes, begin,
              finish, action, "ingress", custom),
        _line(interface, local, client, service, ephemeral, 6, max(1, out_bytes // 1200), out_bytes,
              begin, finish, action, "egress", custom),
    ]  # fmt: skip


def _line(
    interface: FlowInterface, src: str, dst: str, sport: int, dport: int, protocol: int, packets: int,
    size: int, begin: int, finish: int, action: str, direction: str, custom: bool,
) -> str:  # fmt: skip
    if custom:
        return (
            f"5 {interface.account_id} {interface.interface_id} {interface.instance_id} {src} {dst} {sport} "
            f"{dport} {protocol} {packets} {size} {begin} {finish} {action} OK {direction} "
            f"{interface.vpc_id} {interface.subnet_id}"
        )
    return (
        f"2 {interface.account_id} {interface.interface_id} {src} {dst} {sport} {dport} {protocol} {packets} "
        f"{size} {begin} {finish} {action} OK"
    )


def _nodata(interface: FlowInterface, window: datetime, custom: bool) -> str:
    begin = int(window.timestamp())
    if custom:
        return (
            f"5 {interface.account_id} {interface.interface_id} {interface.instance_id} - - - - - - - "
            f"{begin} {begin + 300} - NODATA - {interface.vpc_id} {interface.subnet_id}"
        )
    return f"2 {interface.account_id} {interface.interface_id} - - - - - - - {begin} {begin + 300} - NODATA"


def _write(
    root: Path, summary: FlowSummary, account: str, region: str, window: datetime, custom: bool,
    lines: list[str],
) -> None:  # fmt: skip
    flow_log = "fl-0d3m0c057000000f5" if custom else "fl-0d3m0de7a0000002"
    stamp = window.strftime("%Y%m%dT%H%MZ")
    folder = root / "AWSLogs" / account / "vpcflowlogs" / region / window.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{account}_vpcflowlogs_{region}_{flow_log}_{stamp}_{summary.files:08x}.log.gz"
    text = ("\n".join([CUSTOM_HEADER if custom else DEFAULT_HEADER, *lines]) + "\n").encode()
    data = gzip.compress(text, compresslevel=6, mtime=0)
    path.write_bytes(data)
    summary.files += 1
    summary.records += len(lines)
    summary.stored_bytes += len(data)
    summary.text_bytes += len(text)
    summary.paths.append(path)


def window_start(moment: datetime) -> datetime:
    """The five-minute window a moment falls in (the key of `extra`)."""
    moment = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return moment - timedelta(minutes=moment.minute % 5)


def write_demo_flows(root: Path, demo: Any, start: datetime, end: datetime, facts: dict[str, Any]) -> None:
    """Flow logs of the demo organisation's instances over the demo window, an inventory of them
    (`exports/ec2-describe-instances.json`) and, on the exfiltration day, the instance's
    connection to the attacker: what `instance(id)` shows as a new remote address."""
    rnd = random.Random(17)
    interfaces = []
    for n, instance in enumerate(demo.instances):
        habits = instance.h
        interfaces.append(
            FlowInterface(
                instance_id=instance.instance_id,
                interface_id="eni-0" + instance.instance_id[2:],
                private_ip=habits.private_ip or f"10.20.1.{11 + n}",
                account_id=instance.role.account,
                peers=random_peers(rnd, 12),
                clients=tuple((f"203.0.113.{rnd.randrange(1, 255)}", 443) for _ in range(6)),
            )
        )
    extra: dict[datetime, list[tuple[FlowInterface, str, int, int, str]]] = {}
    incident = facts.get("instance_credential_exfiltration")
    if incident:
        victim = next(i for i in interfaces if i.instance_id == incident["instance_id"])
        moment = datetime.fromisoformat(incident["first_use"].replace("Z", "+00:00")) - timedelta(hours=1)
        slot = start + (moment - start) // timedelta(hours=6) * timedelta(hours=6)
        extra[slot] = [(victim, incident["attacker_ip"], 4444, 48_000_000, "ACCEPT")]
        incident["flow_log_peer"] = f"{incident['attacker_ip']}:4444"
    region = demo.instances[0].h.regions[0] if demo.instances else "us-east-1"
    summary = write_flow_logs(
        root, interfaces, start, end, records_per_window=240, region=region, extra=extra,
        # One file per six hours keeps the demo to 120 flow files (each file is one INSERT).
        window_length=timedelta(hours=6),
    )  # fmt: skip
    inventory = {
        "Reservations": [
            {
                "OwnerId": i.account_id,
                "Instances": [{
                    "InstanceId": i.instance_id, "PrivateIpAddress": i.private_ip,
                    "PublicIpAddress": instance.h.ips[0], "LaunchTime": start.isoformat(),
                    "State": {"Name": "running"},
                    "Placement": {"AvailabilityZone": f"{instance.h.regions[0]}a"},
                    "NetworkInterfaces": [{
                        "NetworkInterfaceId": i.interface_id, "PrivateIpAddress": i.private_ip,
                        "Association": {"PublicIp": instance.h.ips[0]},
                    }],
                }],
            }
            for i, instance in zip(interfaces, demo.instances, strict=True)
        ]
    }  # fmt: skip
    exports = root / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    (exports / "ec2-describe-instances.json").write_text(json.dumps(inventory, indent=2), encoding="utf-8")
    facts["flow_logs"] = {"files": summary.files, "records": summary.records}
    facts.setdefault("exports", []).append("exports/ec2-describe-instances.json")
