"""An invented month of one account whose deviations are known, and a geolocation table for it.

Every day from DAY0 for 30 days (HISTORY_DAYS):
- alice (IAM user) assumes Deployer at 09:00 from London and lists buckets and instances;
- bob assumes Deployer at 10:00 from Berlin and describes stacks;
- carol assumes Batch at 11:00 from Seattle and makes 10 calls;
- instance WEB_INSTANCE's profile session is refreshed at 06:00 and used from its Dublin address.
On NEW_DAY (day 30):
- alice's usual session at 08:00 from London; at 08:30 her session ALICE_NEW from Moscow, with a
  new user agent, creating an access key (new to everyone) and describing stacks (new to her, usual
  for the role): new country, city, ASN, user agent, two new APIs, and impossible travel;
- carol makes 200 calls in two sessions (20x her daily 10): a volume spike on both;
- dave's long-term key is used from London, then ten minutes later from Moscow;
- the instance's new session INSTANCE_STOLEN is used first from an attacker's address, then from the
  instance; also through a VPC endpoint and by CloudFormation for it (neither counts).
"""

from __future__ import annotations

import gzip
import ipaddress
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.geo import Geolocator, Lookup
from tests.data.attribution.records import BOTO, CLI, Record, Role, User, key, record, service, uid
from tests.data.attribution.sts import assume_role

ACCOUNT = "444400004444"
DAY0 = datetime(2024, 4, 1, tzinfo=UTC)
HISTORY_DAYS = 30
NEW_DAY = DAY0 + timedelta(days=HISTORY_DAYS)

DEPLOYER = Role(ACCOUNT, "Deployer")
BATCH = Role(ACCOUNT, "Batch")
WEB = Role(ACCOUNT, "WebServer")
ALICE = User(ACCOUNT, "alice")
BOB = User(ACCOUNT, "bob")
CAROL = User(ACCOUNT, "carol")
DAVE = User(ACCOUNT, "dave")
WEB_INSTANCE = "i-0a1b2c3d4e5f60718"

LONDON, BERLIN, SEATTLE, MOSCOW = "81.2.69.10", "85.214.132.10", "73.162.40.10", "95.165.30.44"
DUBLIN_INSTANCE, ATTACKER, ENDPOINT_PRIVATE = "52.49.77.10", "185.220.101.5", "10.20.1.5"
NEW_AGENT = "python-requests/2.31.0"

ALICE_NEW = key("ASIA", "ALICENEW")
ALICE_USUAL = key("ASIA", f"ALICE{HISTORY_DAYS}")
CAROL_SPIKE = (key("ASIA", "CAROLSPIKE1"), key("ASIA", "CAROLSPIKE2"))
INSTANCE_STOLEN = key("ASIA", "WEBSTOLEN")

# network -> (country, city, latitude, longitude, asn, organisation)
NETWORKS: dict[str, tuple[str, str, float, float, int, str]] = {
    "81.2.69.0/24": ("GB", "London", 51.5085, -0.1257, 20712, "Andrews & Arnold Ltd"),
    "85.214.0.0/16": ("DE", "Berlin", 52.5244, 13.4105, 6724, "Strato AG"),
    "73.162.0.0/16": ("US", "Seattle", 47.6062, -122.3321, 7922, "Comcast Cable Communications, LLC"),
    "95.165.0.0/16": ("RU", "Moscow", 55.7522, 37.6156, 25513, "PJSC Moscow city telephone network"),
    "52.49.0.0/16": ("IE", "Dublin", 53.3331, -6.2489, 16509, "Amazon.com, Inc."),
    "185.220.101.0/24": ("DE", "Frankfurt am Main", 50.1155, 8.6842, 60729, "Stiftung Erneuerbare Freiheit"),
}


def _table_lookup(make: Callable[[tuple[str, str, float, float, int, str]], Mapping[str, Any]]) -> Lookup:
    networks = {ipaddress.ip_network(n): v for n, v in NETWORKS.items()}

    def lookup(address: str) -> tuple[str, Mapping[str, Any]] | None:
        ip = ipaddress.ip_address(address)
        for network, values in networks.items():
            if ip.version == network.version and ip in network:
                return str(network), make(values)
        return None

    return lookup


def geolocator() -> Geolocator:
    """A geolocator over NETWORKS, shaped like MaxMind City and ASN records."""
    city = _table_lookup(
        lambda v: {
            "country": {"iso_code": v[0]},
            "city": {"names": {"en": v[1]}},
            "location": {"latitude": v[2], "longitude": v[3]},
        }
    )
    asn = _table_lookup(lambda v: {"autonomous_system_number": v[4], "autonomous_system_organization": v[5]})
    return Geolocator(city, asn, "tests/data/deviations.py")


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return uid(f"deviations/{self.n}")


def _session(
    ids: _Ids,
    user: User,
    role: Role,
    access_key: str,
    start: datetime,
    ip: str,
    apis: list[tuple[str, str]],
    *,
    agent: str = CLI,
) -> list[Record]:
    out = [assume_role(ids(), start, user.identity(), role, user.name, access_key, account=ACCOUNT, ip=ip)]
    identity = role.identity(access_key, user.name, start)
    for i, (source, name) in enumerate(apis):
        out.append(
            record(ids(), start + timedelta(seconds=30 + i), identity, account=ACCOUNT,
                   source=f"{source}.amazonaws.com", name=name, ip=ip, agent=agent)
        )  # fmt: skip
    return out


def _instance_session(
    ids: _Ids, access_key: str, start: datetime, calls: list[tuple[str, Record]]
) -> list[Record]:
    """An instance-profile session: minted by EC2 for the instance, then used (ip, extra fields)."""
    out = [
        assume_role(ids(), start, service("ec2.amazonaws.com"), WEB, WEB_INSTANCE, access_key,
                    account=ACCOUNT, hours=6, ip="ec2.amazonaws.com", agent="ec2.amazonaws.com")
    ]  # fmt: skip
    identity = WEB.identity(access_key, WEB_INSTANCE, start, ec2=True)
    for i, (ip, extra) in enumerate(calls):
        call = record(ids(), start + timedelta(minutes=1 + i), identity, account=ACCOUNT,
                      source="s3.amazonaws.com", name="GetObject", ip=ip, agent=BOTO)  # fmt: skip
        call.update(extra)
        out.append(call)
    return out


USUAL_ALICE = [("s3", "ListBuckets"), ("ec2", "DescribeInstances")]
USUAL_BOB = [("cloudformation", "DescribeStacks")]


def records() -> list[Record]:
    ids = _Ids()
    out: list[Record] = []
    for day in range(HISTORY_DAYS):
        d = DAY0 + timedelta(days=day)
        out += _session(
            ids, ALICE, DEPLOYER, key("ASIA", f"ALICE{day}"), d + timedelta(hours=9), LONDON, USUAL_ALICE
        )
        out += _session(
            ids, BOB, DEPLOYER, key("ASIA", f"BOB{day}"), d + timedelta(hours=10), BERLIN, USUAL_BOB
        )
        out += _session(ids, CAROL, BATCH, key("ASIA", f"CAROL{day}"), d + timedelta(hours=11), SEATTLE,
                        [("dynamodb", "GetItem")] * 10)  # fmt: skip
        out += _instance_session(
            ids, key("ASIA", f"WEB{day}"), d + timedelta(hours=6), [(DUBLIN_INSTANCE, {})] * 3
        )
    # The day of the deviations.
    out += _session(ids, ALICE, DEPLOYER, ALICE_USUAL, NEW_DAY + timedelta(hours=8), LONDON, USUAL_ALICE)
    out += _session(ids, ALICE, DEPLOYER, ALICE_NEW, NEW_DAY + timedelta(hours=8, minutes=30), MOSCOW,
                    [("s3", "ListBuckets"), ("iam", "CreateAccessKey"), ("cloudformation", "DescribeStacks")],
                    agent=NEW_AGENT)  # fmt: skip
    for n, spike_key in enumerate(CAROL_SPIKE):
        out += _session(ids, CAROL, BATCH, spike_key, NEW_DAY + timedelta(hours=11 + n), SEATTLE,
                        [("dynamodb", "GetItem")] * 100)  # fmt: skip
    # dave's long-term key, from London and ten minutes later from Moscow.
    for minute, ip in ((0, LONDON), (10, MOSCOW)):
        when = NEW_DAY + timedelta(hours=14, minutes=minute)
        out.append(record(ids(), when, DAVE.identity(), account=ACCOUNT, name="ListBuckets", ip=ip))
    out += _instance_session(
        ids, INSTANCE_STOLEN, NEW_DAY + timedelta(hours=6),
        [
            (ATTACKER, {}),
            (DUBLIN_INSTANCE, {}),
            (ENDPOINT_PRIVATE, {"vpcEndpointId": "vpce-0a1b2c3d4e5f60718"}),
            ("cloudformation.amazonaws.com", {}),
        ],
    )  # fmt: skip
    return out


def write(root: Path) -> Path:
    """The records as one S3-layout trail file under root; returns the file."""
    folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-1" / f"{NEW_DAY:%Y/%m/%d}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{ACCOUNT}_CloudTrail_us-east-1_{NEW_DAY:%Y%m%d}T2355Z_deviations.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps({"Records": records()}), mtime=0))
    return path
