"""A seeded demo organisation's CloudTrail logs, written in the exact S3 delivery layout.

Six accounts of one organisation (management, production, development, security, shared services,
and a data-platform account whose trail is not delivered to us). Hour by hour (memory stays flat),
every principal keeps stable habits (APIs, user agents, source addresses in one country, regions):

- IAM users with long-term keys, a console user (ConsoleLogin, console session keys, console
  "Switch role" into production), a GetSessionToken user with MFA, and a partner IAM user that hands
  out GetFederationToken sessions (later calls are `FederatedUser`);
- Identity Center users (portal events in the management account, `AssumeRoleWithSAML` into
  `AWSReservedSSO_*` roles in member accounts) and plain SAML (ADFS) users, one carrying a source
  identity and transitive session tags through a four-account chain;
- GitHub Actions OIDC sessions chaining into production, EC2 instance profiles, ECS task roles,
  Lambda functions (one chaining across accounts), Cognito identities;
- cross-account calls logged twice (caller copy + role-owner `AWSAccount` copy, one sharedEventID),
  VPC-endpoint calls, calls an AWS service makes for a principal (`invokedBy`), denied AssumeRole,
  S3 data events, eventVersion 1.08-1.11 and tlsDetails.

Incidents sit in the last three days; `facts` (also `root/demo-facts.txt`) names them and the other
answers tests and benchmarks check. `root/exports/` holds Organizations and Identity Store listings.
GuardDuty findings about the incidents (ingest/demo_guardduty.py) sit in the security account's
export and in `root/exports/guardduty-get-findings.json`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ingest.demo_flowlogs import write_demo_flows
from ingest.demo_guardduty import write_findings

ORG = "o-rt7demo42x"
MGMT, PROD, DEV, SEC, SHARED, DATA = (
    "111111111111", "222222222222", "333333333333", "444444444444", "555555555555", "666666666666",
)  # fmt: skip
ACCOUNTS = {
    MGMT: "management", PROD: "production", DEV: "development", SEC: "security",
    SHARED: "shared-services", DATA: "data-platform",
}  # fmt: skip
# The data-platform account joined by invitation and keeps its own trail: the org trail has nothing from it.
UNLOGGED = frozenset({DATA})
IDENTITY_STORE_ID = "d-9067c3a1f2"
IDENTITY_STORE_ARN = f"arn:aws:identitystore::{MGMT}:identitystore/{IDENTITY_STORE_ID}"
IDC_ISSUER = "https://portal.sso.us-east-1.amazonaws.com/saml/assertion/MTExMTExMTExMTExX2lucy0yOGY0"
ADFS_ISSUER = "http://adfs.corp.example.com/adfs/services/trust"
GITHUB = "token.actions.githubusercontent.com"
COGNITO = "cognito-identity.amazonaws.com"
COGNITO_POOL = "us-east-1:5f0c1d2e-7a8b-4c9d-8e1f-2a3b4c5d6e7f"
ATTACKER_IP = "185.220.101.47"
TRAVEL_IP = "1.144.110.23"
HIJACK_IP = "95.165.30.44"
WINDOW = 3300  # records of an hour fall in its first 55 minutes; the file is delivered at minute 55
# Invented addresses; each /24 lies in a range registered in that country (AWS ranges: the region's country).
NETWORKS = {
    "73.162.40.0/24": "US", "85.214.132.0/24": "DE", "81.2.69.0/24": "GB", "145.53.60.0/24": "NL",
    "49.36.128.0/24": "IN", "64.124.55.0/24": "US", "20.172.14.0/24": "US", "172.58.20.0/24": "US",
    "52.49.77.0/24": "IE", "3.250.41.0/24": "IE", "44.201.92.0/24": "US", "3.121.8.0/24": "DE",
    "185.220.101.0/24": "DE", "1.144.110.0/24": "AU", "95.165.30.0/24": "RU", "10.20.0.0/16": "PRIVATE",
}  # fmt: skip
# eventSource prefix -> (eventVersion, global service whose events are logged in us-east-1)
SERVICES: dict[str, tuple[str, bool]] = {
    "sts": ("1.08", False), "iam": ("1.08", True), "signin": ("1.08", True), "sso": ("1.10", False),
    "ec2": ("1.09", False), "s3": ("1.10", False), "kms": ("1.08", False), "dynamodb": ("1.08", False),
    "secretsmanager": ("1.09", False), "ssm": ("1.09", False), "lambda": ("1.08", False),
    "cloudformation": ("1.08", False), "logs": ("1.08", False), "organizations": ("1.08", True),
    "config": ("1.09", False), "guardduty": ("1.11", False), "securityhub": ("1.11", False),
    "cloudtrail": ("1.11", False), "ecr": ("1.08", False), "rds": ("1.09", False),
    "monitoring": ("1.08", False), "ce": ("1.08", True), "sqs": ("1.09", False),
    "access-analyzer": ("1.11", False), "athena": ("1.09", False), "glue": ("1.09", False),
}  # fmt: skip
# Production VPC: gateway endpoints for S3 and DynamoDB, interface endpoints for the rest.
VPC_ENDPOINTS = {
    "s3": "vpce-0a41c2e9b7d3f5168", "dynamodb": "vpce-0b52d3fac8e4a6279",
    "secretsmanager": "vpce-0c63e4abd9f5b738a", "ssm": "vpce-0d74f5bcea06c849b",
    "sts": "vpce-0e85a6cdfb17d95ac", "kms": "vpce-0f96b7de0c28ea6bd",
}  # fmt: skip
TLS13 = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
_READ_PREFIXES = ("Describe", "List", "Get", "Head", "Lookup", "BatchGet", "Filter", "Search", "Assume")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_OBJECT_KEYS = (
    "reports/2024/q3.parquet", "exports/orders-000.csv.gz", "static/app.js", "config/settings.json",
    "exports/orders-001.csv.gz", "images/logo.png", "invoices/inv-20931.pdf", "manifests/latest.json",
)  # fmt: skip
_DENIED = "AccessDenied"
_VARIANT = dict(zip("0123456789abcdef", "89ab89ab89ab89ab", strict=True))  # RFC 4122 variant nibble


@dataclass(frozen=True)
class DemoSummary:
    root: Path
    files: int
    events: int
    bytes_written: int
    facts: dict[str, Any]


def _stable(prefix: str, text: str, length: int = 17) -> str:
    """An AWS-style unique id (base32 like real ones) derived from `text`, independent of the seed."""
    digest = hashlib.blake2b(text.encode(), digest_size=15).digest()
    return prefix + base64.b32encode(digest).decode()[:length]


def _stable_hex(text: str, length: int = 16) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()[:length]


def _stable_uuid(text: str) -> str:
    h = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _name_qualifier(issuer: str, account: str, provider: str) -> str:
    """saml:namequalifier = BASE64(SHA1(issuer + account id + "/" + provider name))."""
    digest = hashlib.sha1(f"{issuer}{account}/{provider}".encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


_hour_prefix: dict[int, str] = {}


def _iso(ts: int) -> str:
    base = ts - ts % 3600
    prefix = _hour_prefix.get(base)
    if prefix is None:
        if len(_hour_prefix) > 4096:
            _hour_prefix.clear()
        prefix = _hour_prefix[base] = datetime.fromtimestamp(base, UTC).strftime("%Y-%m-%dT%H:")
    rest = ts - base
    return f"{prefix}{rest // 60:02d}:{rest % 60:02d}Z"


def _human_time(ts: int) -> str:
    """The locale-style time STS writes for `expiration` and IAM for `createDate`."""
    t = datetime.fromtimestamp(ts, UTC)
    clock = f"{t.hour % 12 or 12}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}"
    return f"{_MONTHS[t.month - 1]} {t.day}, {t.year}, {clock}"


@dataclass(frozen=True)
class _Api:
    source: str  # eventSource prefix, e.g. "ec2"
    name: str
    read_only: bool
    version: str
    global_: bool
    request: dict[str, Any] | None = None
    data: bool = False


def _api(source: str, name: str, request: dict[str, Any] | None = None, *, data: bool = False) -> _Api:
    version, global_ = SERVICES[source]
    return _Api(source, name, name.startswith(_READ_PREFIXES), version, global_, request, data)


def _apis(*items: tuple[str, str] | _Api) -> tuple[_Api, ...]:
    return tuple(item if isinstance(item, _Api) else _api(*item) for item in items)


S3_GET = _api("s3", "GetObject", data=True)
S3_PUT = _api("s3", "PutObject", data=True)
CALLER = _api("sts", "GetCallerIdentity")
SECRET = f"arn:aws:secretsmanager:eu-west-1:{PROD}:secret:checkout/db-credentials-Xa81Qe"
QUEUE = f"https://sqs.eu-west-1.amazonaws.com/{PROD}/orders"
# What each kind of principal habitually calls.
ADMIN_APIS = _apis(
    ("ec2", "DescribeInstances"), ("ec2", "DescribeSecurityGroups"), ("iam", "ListRoles"), ("iam", "GetRole"),
    ("s3", "ListBuckets"), ("logs", "DescribeLogGroups"), ("lambda", "ListFunctions20150331"),
    ("rds", "DescribeDBInstances"), ("monitoring", "DescribeAlarms"), ("ec2", "DescribeVpcs"),
    _api("ec2", "RebootInstances", {"instancesSet": {"items": [{"instanceId": "i-0c4e1a2b3d5f67890"}]}}),
)  # fmt: skip
MGMT_APIS = _apis(
    ("organizations", "ListAccounts"), ("organizations", "DescribeOrganization"), ("iam", "ListUsers"),
    ("iam", "GetAccountSummary"), ("iam", "ListPolicies"), ("s3", "ListBuckets"), ("ce", "GetCostAndUsage"),
    ("cloudtrail", "DescribeTrails"), ("iam", "ListAccessKeys"),
)  # fmt: skip
BOB_APIS = _apis(
    ("s3", "ListBuckets"), ("ec2", "DescribeRegions"), ("iam", "ListUsers"), ("ec2", "DescribeInstances"),
    ("iam", "GetUser"), ("logs", "DescribeLogGroups"), ("kms", "ListKeys"),
)  # fmt: skip
CONSOLE_APIS = _apis(
    ("ec2", "DescribeInstances"), ("monitoring", "DescribeAlarms"), ("rds", "DescribeDBInstances"),
    ("ce", "GetCostAndUsage"), ("ec2", "DescribeInstanceStatus"), ("logs", "DescribeLogGroups"),
    ("iam", "ListRoles"),
)  # fmt: skip
DEVELOPER_APIS = _apis(
    ("lambda", "GetFunction20150331v2"), ("lambda", "UpdateFunctionCode20150331v2"),
    ("logs", "FilterLogEvents"), ("ecr", "GetAuthorizationToken"), ("cloudformation", "DescribeStacks"),
    ("dynamodb", "DescribeTable"), ("ec2", "DescribeInstances"), ("s3", "ListBuckets"), ("sqs", "ListQueues"),
)  # fmt: skip
READONLY_APIS = _apis(
    ("ec2", "DescribeInstances"), ("iam", "ListUsers"), ("iam", "ListAccessKeys"), ("kms", "ListKeys"),
    ("s3", "GetBucketPolicy"), ("s3", "GetBucketAcl"), ("rds", "DescribeDBInstances"),
    ("config", "DescribeConfigRules"),
)  # fmt: skip
AUDIT_APIS = _apis(
    ("iam", "GetAccountAuthorizationDetails"), ("guardduty", "ListFindings"), ("securityhub", "GetFindings"),
    ("cloudtrail", "DescribeTrails"), ("access-analyzer", "ListFindings"),
    ("config", "DescribeComplianceByConfigRule"), ("iam", "GenerateCredentialReport"),
    ("iam", "GetCredentialReport"),
)  # fmt: skip
DATA_ENGINEER_APIS = _apis(
    ("athena", "StartQueryExecution"), ("athena", "GetQueryExecution"), ("athena", "GetQueryResults"),
    ("glue", "GetTables"), ("glue", "GetDatabases"), ("s3", "ListBuckets"), ("glue", "StartJobRun"),
)  # fmt: skip
SESSION_TOKEN_APIS = _apis(("iam", "ListUsers"), ("iam", "GetUser"), ("iam", "ListMFADevices"), CALLER)
WEB_APIS = _apis(
    ("ssm", "UpdateInstanceInformation"), ("ec2", "DescribeTags"), S3_GET, ("kms", "Decrypt"),
    _api("dynamodb", "DescribeTable", {"tableName": "sessions"}), ("ssm", "UpdateInstanceInformation"),
    ("ssm", "ListInstanceAssociations"),
)  # fmt: skip
TASK_APIS = _apis(
    _api("secretsmanager", "GetSecretValue", {"secretId": SECRET}),
    _api("ssm", "GetParameters", {"names": ["/checkout/feature-flags"], "withDecryption": True}),
    _api("dynamodb", "DescribeTable", {"tableName": "orders"}), ("kms", "Decrypt"), CALLER,
)  # fmt: skip
ORDERS_APIS = _apis(
    _api("dynamodb", "DescribeTable", {"tableName": "orders"}), ("kms", "Decrypt"),
    _api("sqs", "GetQueueAttributes", {"queueUrl": QUEUE}),
    _api("secretsmanager", "GetSecretValue", {"secretId": SECRET}), ("logs", "CreateLogStream"),
)  # fmt: skip
REPORT_APIS = _apis(
    ("ce", "GetCostAndUsage"), ("cloudformation", "DescribeStacks"), ("ec2", "DescribeInstances"),
    ("lambda", "ListFunctions20150331"), ("rds", "DescribeDBInstances"), S3_PUT,
)  # fmt: skip
PARTNER_APIS = _apis(S3_GET, S3_GET, S3_PUT, ("s3", "GetBucketLocation"), CALLER)
COGNITO_APIS = _apis(S3_GET, S3_PUT, CALLER)
ETL_APIS = _apis(
    S3_GET, S3_GET, ("dynamodb", "DescribeTable"), ("dynamodb", "ExportTableToPointInTime"),
    ("s3", "ListBuckets"),
)  # fmt: skip
ARTIFACT_APIS = _apis(
    ("ecr", "GetAuthorizationToken"), ("ecr", "BatchCheckLayerAvailability"), ("ecr", "PutImage"),
    ("ecr", "InitiateLayerUpload"), S3_PUT,
)  # fmt: skip
DEPLOY_APIS = _apis(
    ("cloudformation", "CreateChangeSet"), ("cloudformation", "DescribeChangeSet"),
    ("cloudformation", "ExecuteChangeSet"), ("cloudformation", "DescribeStacks"),
    ("cloudformation", "DescribeStackEvents"),
)  # fmt: skip
CFN_APIS = _apis(  # calls CloudFormation makes with the deployer's session (invokedBy)
    ("lambda", "UpdateFunctionCode20150331v2"), ("iam", "GetRole"), ("iam", "PutRolePolicy"),
    ("ec2", "CreateTags"), ("lambda", "UpdateFunctionConfiguration20150331v2"),
)  # fmt: skip
ATTACKER_APIS = _apis(
    CALLER, ("s3", "ListBuckets"), ("iam", "ListUsers"), ("ec2", "DescribeInstances"), ("iam", "ListRoles"),
    ("secretsmanager", "ListSecrets"),
)  # fmt: skip
HIJACK_APIS = _apis(CALLER, ("iam", "ListUsers"), ("secretsmanager", "ListSecrets"), ("s3", "ListBuckets"))
# User agents: each principal keeps one (or one per client it runs).
CLI = "aws-cli/2.17.9 Python/3.11.8 Linux/6.1.94 exe/x86_64.ubuntu.22 prompt/off"
CLI_MAC = "aws-cli/2.15.30 Python/3.11.8 Darwin/23.4.0 exe/x86_64 prompt/off"
CLI_WIN = "aws-cli/2.16.4 Python/3.11.9 Windows/10 exe/AMD64 prompt/off"
BOTO = "Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#6.5.0 lang/python#3.12.2 Botocore/1.34.84"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"
CONSOLE = "console.amazonaws.com"
JAVA = "aws-sdk-java/2.25.16 Linux/6.1.72 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10"
SSM_AGENT = "aws-sdk-go/1.44.302 (go1.22.2; linux; amd64) amazon-ssm-agent/3.3.131.0"
LAMBDA_PY = "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 lang/python#3.12.3 exec-env/AWS_Lambda_python3.12"
LAMBDA_NODE = (
    "aws-sdk-js/3.535.0 ua/2.0 os/linux#5.10.216 lang/js md/nodejs#20.12.2 exec-env/AWS_Lambda_nodejs20.x"
)
GHA = "aws-sdk-js/3.592.0 ua/2.0 lang/js md/nodejs#20.13.1 configure-aws-credentials-for-github-actions"
GHA_CLI = (
    "aws-cli/2.16.8 Python/3.11.8 Linux/6.5.0-1021-azure exe/x86_64.ubuntu.22 command/cloudformation.deploy"
)
SAML2AWS = "aws-sdk-go/1.44.322 (go1.21.3; darwin; arm64) saml2aws/2.36.13"
IDC_INTERNAL = "aws-internal/3 aws-sdk-java/1.12.720 Linux/5.10.219 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS"
MOBILE = "aws-sdk-iOS/2.33.10 iOS/17.5 en_US"
PARTNER = "aws-sdk-java/1.12.661 Linux/5.15.0-1056-azure OpenJDK_64-Bit_Server_VM/11.0.22+7 java/11.0.22"
ATTACKER_UA = "aws-cli/1.18.69 Python/3.8.10 Linux/6.5.0-kali3-amd64 botocore/1.16.19"


@dataclass(frozen=True)
class _Habits:
    """How one principal calls AWS: always from these addresses, with this client, in these regions."""

    ips: tuple[str, ...]
    ua: str
    regions: tuple[str, ...]
    tls: tuple[str, str] | None = TLS13
    sts_global: bool = False
    private_ip: str = ""  # the address seen through a VPC endpoint
    vpce: tuple[str, ...] = ()  # event-source prefixes reached through the production VPC endpoints
    bucket: str = ""
    ua_by_source: tuple[tuple[str, str], ...] = ()


@dataclass
class _Session:
    key: str
    identity: dict[str, Any]
    account: str
    created: int
    expires: int
    habits: _Habits
    region: str
    via: dict[str, dict[str, Any]] = field(default_factory=dict)

    def invoked_by(self, service: str) -> dict[str, Any]:
        """The identity of a call an AWS service makes with this session (forward access)."""
        found = self.via.get(service)
        if found is None:
            found = self.via[service] = {**self.identity, "invokedBy": service}
        return found


class _Role:
    __slots__ = ("account", "arn", "issuer", "name", "role_id")

    def __init__(self, account: str, name: str, path: str = "/") -> None:
        self.account = account
        self.name = name
        self.arn = f"arn:aws:iam::{account}:role{path}{name}"
        self.role_id = _stable("AROA", self.arn)
        self.issuer = {
            "type": "Role",
            "principalId": self.role_id,
            "arn": self.arn,
            "accountId": account,
            "userName": name,
        }

    def session_arn(self, name: str) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{name}"


class _User:
    __slots__ = ("account", "arn", "identity", "issuer", "key", "name", "user_id")

    def __init__(self, account: str, name: str) -> None:
        self.account = account
        self.name = name
        self.arn = f"arn:aws:iam::{account}:user/{name}"
        self.user_id = _stable("AIDA", self.arn)
        self.key = _stable("AKIA", self.arn + "#key1", 16)
        self.issuer = {
            "type": "IAMUser",
            "principalId": self.user_id,
            "arn": self.arn,
            "accountId": account,
            "userName": name,
        }
        self.identity = {
            "type": "IAMUser",
            "principalId": self.user_id,
            "arn": self.arn,
            "accountId": account,
            "accessKeyId": self.key,
            "userName": name,
        }

    def session_identity(self, key: str, created: int, mfa: bool) -> dict[str, Any]:
        """Calls with a console or GetSessionToken session: type IAMUser, an ASIA key, sessionContext."""
        return {
            "type": "IAMUser",
            "principalId": self.user_id,
            "arn": self.arn,
            "accountId": self.account,
            "accessKeyId": key,
            "userName": self.name,
            "sessionContext": {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {"creationDate": _iso(created), "mfaAuthenticated": "true" if mfa else "false"},
            },
        }


class _SamlProvider:
    __slots__ = ("account", "arn", "issuer", "name", "qualifier")

    def __init__(self, account: str, name: str, issuer: str) -> None:
        self.account = account
        self.name = name
        self.arn = f"arn:aws:iam::{account}:saml-provider/{name}"
        self.issuer = issuer
        self.qualifier = _name_qualifier(issuer, account, name)


def _sso_role(account: str, permission_set: str) -> _Role:
    suffix = _stable_hex(f"{permission_set}/{account}")
    return _Role(account, f"AWSReservedSSO_{permission_set}_{suffix}", "/aws-reserved/sso.amazonaws.com/")


def _sso_provider(account: str) -> _SamlProvider:
    return _SamlProvider(account, f"AWSSSO_{_stable_hex('idc/' + account)}_DO_NOT_DELETE", IDC_ISSUER)


class _Writer:
    """Buffers one hour of records per account and region; `flush` writes one delivery file for each."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        self.root = root
        self.rng = rng
        self.files = 0
        self.events = 0
        self.buffered = 0
        self.bytes_written = 0
        self.buckets: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._folders: set[Path] = set()

    def add(self, account: str, region: str, record: dict[str, Any]) -> None:
        if account in UNLOGGED:
            return
        bucket = self.buckets.get((account, region))
        if bucket is None:
            bucket = self.buckets[(account, region)] = []
        bucket.append(record)
        self.buffered += 1

    @property
    def count(self) -> int:
        return self.events + self.buffered

    def flush(self, hour: datetime) -> None:
        stamp = (hour + timedelta(seconds=WINDOW)).strftime("%Y%m%dT%H%MZ")
        day = hour.strftime("%Y/%m/%d")
        for (account, region), records in sorted(self.buckets.items()):
            folder = self.root / "AWSLogs" / ORG / account / "CloudTrail" / region / day
            if folder not in self._folders:
                folder.mkdir(parents=True, exist_ok=True)
                self._folders.add(folder)
            suffix = base64.b32encode(self.rng.getrandbits(80).to_bytes(10, "big")).decode()
            body = gzip.compress(orjson.dumps({"Records": records}), compresslevel=6, mtime=0)
            (folder / f"{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz").write_bytes(body)
            self.files += 1
            self.events += len(records)
            self.bytes_written += len(body)
        self.buckets = {}
        self.buffered = 0
        if len(self._folders) > 512:
            self._folders.clear()


class _Org:
    """Record builders: API calls, credential-minting events in every shape, console sign-in."""

    def __init__(self, writer: _Writer, rng: random.Random) -> None:
        self.w = writer
        self.rng = rng
        self._tls: dict[tuple[str, str, str], dict[str, str]] = {}
        self.principals: dict[str, dict[str, str]] = {}

    # -- small helpers ---------------------------------------------------------------------------

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"

    def temp_key(self) -> str:
        return "ASIA" + base64.b32encode(self.rng.getrandbits(80).to_bytes(10, "big")).decode()

    def token(self) -> str:
        return "IQoJb3JpZ2luX2VjE" + base64.b64encode(self.rng.getrandbits(288).to_bytes(36, "big")).decode()

    def pick(self, items: tuple[str, ...]) -> str:
        return items[int(self.rng.random() * len(items))]

    def tls(self, habits: _Habits, host: str) -> dict[str, str] | None:
        if habits.tls is None:
            return None
        key = (habits.tls[0], habits.tls[1], host)
        found = self._tls.get(key)
        if found is None:
            found = self._tls[key] = {
                "tlsVersion": habits.tls[0],
                "cipherSuite": habits.tls[1],
                "clientProvidedHostHeader": host,
            }
        return found

    def principal(self, kind: str, identifier: str, account: str) -> None:
        self.principals.setdefault(identifier, {"kind": kind, "identifier": identifier, "account": account})

    def spread(self, lo: int, hi: int, n: int) -> list[int]:
        """n increasing-ish times in [lo, hi): evenly spread with jitter (records stay unordered in files)."""
        span = max(1, hi - lo)
        step = span / n
        jitter = max(1, int(step))
        rand = self.rng.random
        return [lo + min(span - 1, int(i * step + rand() * jitter)) for i in range(n)]

    def burst(self, start: int, n: int, end: int) -> list[int]:
        """A human's n calls a few seconds apart from `start`, never past `end`."""
        out = []
        t = start
        rand = self.rng.random
        for _ in range(n):
            t = min(end - 1, t + 2 + int(rand() * 14))
            out.append(t)
        return out

    # -- the record ------------------------------------------------------------------------------

    def emit(
        self,
        ts: int,
        account: str,
        identity: dict[str, Any],
        source: str,
        name: str,
        region: str,
        ip: str,
        ua: str,
        *,
        version: str,
        read_only: bool,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        resources: list[dict[str, str]] | None = None,
        event_type: str = "AwsApiCall",
        shared: str | None = None,
        request_id: str | None = "",
        error: tuple[str, str] | None = None,
        vpce: str | None = None,
        tls: dict[str, str] | None = None,
        data: bool = False,
        details: dict[str, str] | None = None,
    ) -> None:
        """One record, keys in the order S3 trail files have them (`request_id=None`: no requestID)."""
        rec: dict[str, Any] = {
            "eventVersion": version,
            "userIdentity": identity,
            "eventTime": _iso(ts),
            "eventSource": f"{source}.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": ip,
            "userAgent": ua,
        }
        if error is not None:
            rec["errorCode"], rec["errorMessage"] = error
        rec["requestParameters"] = request
        rec["responseElements"] = response
        if extra is not None:
            rec["additionalEventData"] = extra
        if request_id is not None:
            rec["requestID"] = request_id or self.uuid()
        rec["eventID"] = self.uuid()
        rec["readOnly"] = read_only
        if resources is not None:
            rec["resources"] = resources
        rec["eventType"] = event_type
        rec["managementEvent"] = not data
        rec["recipientAccountId"] = account
        if shared is not None:
            rec["sharedEventID"] = shared
        if vpce is not None:
            rec["vpcEndpointId"] = vpce
            rec["vpcEndpointAccountId"] = PROD
        if details is not None:
            rec["serviceEventDetails"] = details
        rec["eventCategory"] = "Data" if data else "Management"
        if tls is not None:
            rec["tlsDetails"] = tls
        self.w.add(account, region, rec)

    def call(
        self,
        s: _Session,
        ts: int,
        api: _Api,
        *,
        ip: str = "",
        ua: str = "",
        region: str = "",
        identity: dict[str, Any] | None = None,
        error: bool = False,
        via: str = "",
    ) -> None:
        """One API call made with session `s`, following its habits (or an override for deviations)."""
        h = s.habits
        region = "us-east-1" if api.global_ else (region or s.region)
        source = api.source
        vpce = VPC_ENDPOINTS.get(source) if source in h.vpce and not via and not ip else None
        version = api.version
        if via:
            ip = ua = f"{via}"
            identity = s.invoked_by(via)
            tls = None
        else:
            if vpce is not None:
                ip = h.private_ip
                if version == "1.08":
                    version = "1.09"  # vpcEndpointAccountId arrived in 1.09
            ip = ip or self.pick(h.ips)
            if not ua:
                ua = h.ua
                for prefix, value in h.ua_by_source:
                    if prefix == source:
                        ua = value
            if api.global_:
                host = f"{source}.amazonaws.com"
            elif api.data:
                host = f"{h.bucket}.s3.{region}.amazonaws.com"
            else:
                host = f"{source}.{region}.amazonaws.com"
            tls = self.tls(h, host)
        identity = identity or s.identity
        err = None
        if error:
            arn = identity.get("arn", "")
            err = (
                _DENIED,
                f"User: {arn} is not authorized to perform: {source}:{api.name} because no "
                f"identity-based policy allows the {source}:{api.name} action",
            )
        if api.data:
            bucket = h.bucket
            key = _OBJECT_KEYS[int(self.rng.random() * len(_OBJECT_KEYS))]
            owner = s.account
            self.emit(
                ts,
                s.account,
                identity,
                "s3",
                api.name,
                region,
                ip,
                ua,
                version=version,
                read_only=api.name == "GetObject",
                request={"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com", "key": key},
                extra={
                    "SignatureVersion": "SigV4",
                    "CipherSuite": (h.tls or TLS13)[1],
                    "bytesTransferredIn": 0,
                    "AuthenticationMethod": "AuthHeader",
                    "bytesTransferredOut": 1024 + int(self.rng.random() * 900_000),
                },
                resources=[
                    {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                    {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
                ],
                request_id=f"{self.rng.getrandbits(64):016X}",
                error=err,
                vpce=vpce,
                tls=tls,
                data=True,
            )
            return
        self.emit(
            ts,
            s.account,
            identity,
            source,
            api.name,
            region,
            ip,
            ua,
            version=version,
            read_only=api.read_only,
            request=api.request,
            error=err,
            vpce=vpce,
            tls=tls,
        )

    def calls(
        self,
        s: _Session,
        times: Iterable[int],
        apis: tuple[_Api, ...],
        *,
        error_rate: float = 0.02,
        ip: str = "",
        ua: str = "",
        region: str = "",
    ) -> None:
        rand = self.rng.random
        n = len(apis)
        regions = s.habits.regions
        for ts in times:
            api = apis[int(rand() * n)]
            where = region or (regions[int(rand() * len(regions))] if len(regions) > 1 else s.region)
            self.call(s, ts, api, ip=ip, ua=ua, region=where, error=rand() < error_rate)

    # -- credential minting ----------------------------------------------------------------------

    def _credentials(self, ts: int, key: str, duration: int) -> dict[str, str]:
        return {"accessKeyId": key, "sessionToken": self.token(), "expiration": _human_time(ts + duration)}

    def _sts_place(
        self, h: _Habits | None, region: str
    ) -> tuple[str, dict[str, str] | None, dict[str, Any] | None]:
        """(logged region, tlsDetails, additionalEventData) of an STS call through the habitual endpoint."""
        if h is None:
            return region, None, None
        if h.sts_global:
            extra = {"RequestDetails": {"awsServingRegion": region, "endpointType": "global"}}
            return "us-east-1", self.tls(h, "sts.amazonaws.com"), extra
        return region, self.tls(h, f"sts.{region}.amazonaws.com"), None

    def role_identity(
        self,
        role: _Role,
        name: str,
        key: str,
        created: int,
        *,
        mfa: bool = False,
        source_identity: str = "",
        web: dict[str, Any] | None = None,
        ec2: bool = False,
        scope: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        context: dict[str, Any] = {
            "sessionIssuer": role.issuer,
            "webIdFederationData": web or {},
            "attributes": {"creationDate": _iso(created), "mfaAuthenticated": "true" if mfa else "false"},
        }
        if source_identity:
            context["sourceIdentity"] = source_identity
        if ec2:
            context["ec2RoleDelivery"] = "2.0"
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "principalId": f"{role.role_id}:{name}",
            "arn": role.session_arn(name),
            "accountId": role.account,
            "accessKeyId": key,
            "sessionContext": context,
        }
        if scope is not None:
            identity["inScopeOf"] = scope
        return identity

    def assume(
        self,
        ts: int,
        caller: dict[str, Any],
        role: _Role,
        name: str,
        h: _Habits,
        region: str,
        *,
        duration: int = 3600,
        source_identity: str = "",
        tags: dict[str, str] | None = None,
        transitive: tuple[str, ...] = (),
        incoming: dict[str, str] | None = None,
        mfa: bool = False,
        internal: bool = False,
        ip: str = "",
        ua: str = "",
        deny: bool = False,
        session_habits: _Habits | None = None,
    ) -> _Session | None:
        """AssumeRole by an IAM user or a role session; across accounts both accounts get a copy."""
        caller_account = caller["accountId"]
        if internal:  # the console calls AssumeRole for the user
            caller = {**caller, "invokedBy": "AWS Internal"}
            ip = ua = "AWS Internal"
            logged, tls, extra = "us-east-1", None, None
        else:
            ip = ip or self.pick(h.ips)
            ua = ua or h.ua
            logged, tls, extra = self._sts_place(h, region)
        request: dict[str, Any] = {"roleArn": role.arn, "roleSessionName": name, "durationSeconds": duration}
        if source_identity:
            request["sourceIdentity"] = source_identity
        if tags:
            request["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        if transitive:
            request["transitiveTagKeys"] = list(transitive)
        if incoming:
            request["incomingTransitiveTags"] = incoming
        resources = [{"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn}]
        if deny:  # denied: only the caller's account logs it, nothing is minted
            arn = caller.get("arn", "")
            self.emit(
                ts,
                caller_account,
                caller,
                "sts",
                "AssumeRole",
                logged,
                ip,
                ua,
                version="1.08",
                read_only=True,
                request=request,
                extra=extra,
                resources=resources,
                tls=tls,
                error=(
                    _DENIED,
                    f"User: {arn} is not authorized to perform: sts:AssumeRole on resource: {role.arn}",
                ),
            )
            return None
        key = self.temp_key()
        response: dict[str, Any] = {
            "credentials": self._credentials(ts, key, duration),
            "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{name}", "arn": role.session_arn(name)},
        }
        if tags or incoming:
            response["packedPolicySize"] = 3
        if source_identity:
            response["sourceIdentity"] = source_identity
        cross = caller_account != role.account
        shared = self.uuid() if cross else None
        request_id = self.uuid()
        self.emit(
            ts,
            caller_account,
            caller,
            "sts",
            "AssumeRole",
            logged,
            ip,
            ua,
            version="1.08",
            read_only=True,
            request=request,
            response=response,
            extra=extra,
            resources=resources,
            shared=shared,
            request_id=request_id,
            tls=tls,
        )
        if cross:
            owner_view = {
                "type": "AWSAccount",
                "principalId": caller["principalId"],
                "accountId": caller_account,
            }
            self.emit(
                ts,
                role.account,
                owner_view,
                "sts",
                "AssumeRole",
                logged,
                ip,
                ua,
                version="1.08",
                read_only=True,
                request=request,
                response=response,
                extra=extra,
                resources=resources,
                shared=shared,
                request_id=request_id,
                tls=tls,
            )
        identity = self.role_identity(role, name, key, ts, mfa=mfa, source_identity=source_identity)
        return _Session(key, identity, role.account, ts, ts + duration, session_habits or h, region)

    def service_session(
        self,
        ts: int,
        service: str,
        role: _Role,
        name: str,
        h: _Habits,
        region: str,
        *,
        duration: int = 21600,
        ec2: bool = False,
        scope: dict[str, str] | None = None,
    ) -> _Session:
        """An AWS service (EC2, Lambda, ECS tasks) assumes a workload's role: logged in the role's account."""
        key = self.temp_key()
        response = {
            "credentials": self._credentials(ts, key, duration),
            "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{name}", "arn": role.session_arn(name)},
        }
        self.emit(
            ts,
            role.account,
            {"type": "AWSService", "invokedBy": service},
            "sts",
            "AssumeRole",
            region,
            service,
            service,
            version="1.08",
            read_only=True,
            request={"roleArn": role.arn, "roleSessionName": name, "durationSeconds": duration},
            response=response,
            resources=[{"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn}],
        )
        identity = self.role_identity(role, name, key, ts, ec2=ec2, scope=scope)
        return _Session(key, identity, role.account, ts, ts + duration, h, region)

    def saml(
        self,
        ts: int,
        provider: _SamlProvider,
        subject: str,
        role: _Role,
        name: str,
        h: _Habits,
        region: str,
        *,
        internal: bool,
        source_identity: str = "",
        tags: dict[str, str] | None = None,
        transitive: tuple[str, ...] = (),
        duration: int = 3600,
    ) -> _Session:
        """AssumeRoleWithSAML (Identity Center when `internal`, else a user's SAML CLI against ADFS)."""
        key = self.temp_key()
        caller = {
            "type": "SAMLUser",
            "principalId": f"{provider.qualifier}:{subject}",
            "userName": subject,
            "identityProvider": provider.qualifier,
        }
        request: dict[str, Any] = {
            "sAMLAssertionID": f"_{self.rng.getrandbits(128):032x}",
            "roleSessionName": name,
        }
        if source_identity:
            request["sourceIdentity"] = source_identity
        if tags:
            request["principalTags"] = tags
        if transitive:
            request["transitiveTagKeys"] = list(transitive)
        request.update(roleArn=role.arn, principalArn=provider.arn, durationSeconds=duration)
        response: dict[str, Any] = {
            "credentials": self._credentials(ts, key, duration),
            "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{name}", "arn": role.session_arn(name)},
            "packedPolicySize": 2 if tags else 1,
            "subject": subject,
            "subjectType": "persistent",
            "issuer": provider.issuer,
            "audience": "https://signin.aws.amazon.com/saml",
            "nameQualifier": provider.qualifier,
        }
        if source_identity:
            response["sourceIdentity"] = source_identity
        if internal:
            ip, ua, tls = "AWS Internal", IDC_INTERNAL, None
        else:
            ip, ua, tls = self.pick(h.ips), h.ua, self.tls(h, f"sts.{region}.amazonaws.com")
        self.emit(
            ts,
            role.account,
            caller,
            "sts",
            "AssumeRoleWithSAML",
            region,
            ip,
            ua,
            version="1.08",
            read_only=True,
            request=request,
            response=response,
            tls=tls,
            resources=[
                {"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn},
                {"accountId": role.account, "type": "AWS::IAM::SAMLProvider", "ARN": provider.arn},
            ],
        )
        identity = self.role_identity(role, name, key, ts, source_identity=source_identity)
        return _Session(key, identity, role.account, ts, ts + duration, h, region)

    def web_identity(
        self,
        ts: int,
        provider: str,
        caller_provider: str,
        subject: str,
        audience: str,
        role: _Role,
        name: str,
        h: _Habits,
        region: str,
        *,
        extra_response: dict[str, Any] | None = None,
        web: dict[str, Any] | None = None,
    ) -> _Session:
        """AssumeRoleWithWebIdentity: GitHub Actions OIDC (provider ARN) or Cognito's basic flow."""
        key = self.temp_key()
        caller = {
            "type": "WebIdentityUser",
            "principalId": f"{caller_provider}:{audience}:{subject}",
            "userName": subject,
            "identityProvider": caller_provider,
        }
        response: dict[str, Any] = {
            "credentials": self._credentials(ts, key, 3600),
            "subjectFromWebIdentityToken": subject,
            "assumedRoleUser": {"assumedRoleId": f"{role.role_id}:{name}", "arn": role.session_arn(name)},
            "provider": provider,
            "audience": audience,
            **(extra_response or {}),
        }
        self.emit(
            ts,
            role.account,
            caller,
            "sts",
            "AssumeRoleWithWebIdentity",
            region,
            self.pick(h.ips),
            h.ua,
            version="1.08",
            read_only=True,
            request={"roleArn": role.arn, "roleSessionName": name, "durationSeconds": 3600},
            response=response,
            extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
            resources=[{"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn}],
            tls=self.tls(h, f"sts.{region}.amazonaws.com"),
        )
        identity = self.role_identity(
            role, name, key, ts, web=web or {"federatedProvider": provider, "attributes": {}}
        )
        return _Session(key, identity, role.account, ts, ts + 3600, h, region)

    def session_token(self, ts: int, user: _User, h: _Habits, region: str) -> _Session:
        """GetSessionToken with MFA: later calls stay type IAMUser with the new ASIA key."""
        key = self.temp_key()
        duration = 43200
        logged, tls, extra = self._sts_place(h, region)
        self.emit(
            ts,
            user.account,
            user.identity,
            "sts",
            "GetSessionToken",
            logged,
            self.pick(h.ips),
            h.ua,
            version="1.08",
            read_only=False,
            request={
                "durationSeconds": duration,
                "serialNumber": f"arn:aws:iam::{user.account}:mfa/{user.name}",
            },
            response={"credentials": self._credentials(ts, key, duration)},
            extra=extra,
            tls=tls,
        )
        return _Session(key, user.session_identity(key, ts, True), user.account, ts, ts + duration, h, region)

    def federation_token(self, ts: int, user: _User, name: str, h: _Habits, region: str) -> _Session:
        """GetFederationToken: later calls are type FederatedUser, principalId <account>:<name>."""
        key = self.temp_key()
        duration = 43200
        arn = f"arn:aws:sts::{user.account}:federated-user/{name}"
        policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
        logged, tls, extra = self._sts_place(h, region)
        self.emit(
            ts,
            user.account,
            user.identity,
            "sts",
            "GetFederationToken",
            logged,
            self.pick(h.ips),
            h.ua,
            version="1.08",
            read_only=False,
            request={"name": name, "policy": policy, "durationSeconds": duration},
            response={
                "credentials": self._credentials(ts, key, duration),
                "federatedUser": {"federatedUserId": f"{user.account}:{name}", "arn": arn},
                "packedPolicySize": 6,
            },
            extra=extra,
            tls=tls,
        )
        identity = {
            "type": "FederatedUser",
            "principalId": f"{user.account}:{name}",
            "arn": arn,
            "accountId": user.account,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": user.issuer,
                "webIdFederationData": {},
                "attributes": {"creationDate": _iso(ts), "mfaAuthenticated": "false"},
            },
        }
        return _Session(key, identity, user.account, ts, ts + duration, h, region)

    def console_login(self, ts: int, user: _User, h: _Habits) -> _Session:
        """ConsoleLogin; the console then signs calls with a session key no event ever shows minted."""
        identity = {k: v for k, v in user.identity.items() if k != "accessKeyId"}
        self.emit(
            ts,
            user.account,
            identity,
            "signin",
            "ConsoleLogin",
            "us-east-1",
            self.pick(h.ips),
            BROWSER,
            version="1.08",
            read_only=False,
            response={"ConsoleLogin": "Success"},
            extra={
                "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                "MobileVersion": "No",
                "MFAUsed": "Yes",
            },
            event_type="AwsConsoleSignIn",
            request_id=None,
            tls=self.tls(h, "signin.aws.amazon.com"),
        )
        key = self.temp_key()
        return _Session(
            key, user.session_identity(key, ts, True), user.account, ts, ts + 43200, h, h.regions[0]
        )

    def switch_role(self, ts: int, user: _User, console: _Session, role: _Role, h: _Habits) -> _Session:
        """Console "Switch role": AssumeRole by the console (AWS Internal) in both accounts, SwitchRole in the
        target, then calls whose key differs from the minted one (join: principalId + creationDate)."""
        minted = self.assume(ts, console.identity, role, user.name, h, "us-east-1", internal=True, mfa=True)
        assert minted is not None
        self.emit(
            ts,
            role.account,
            {
                "type": "AssumedRole",
                "principalId": f"{role.role_id}:{user.name}",
                "arn": role.session_arn(user.name),
                "accountId": role.account,
            },
            "signin",
            "SwitchRole",
            "us-east-1",
            self.pick(h.ips),
            BROWSER,
            version="1.08",
            read_only=False,
            response={"SwitchRole": "Success"},
            extra={"SwitchFrom": user.arn, "RedirectTo": "https://console.aws.amazon.com/console/home"},
            event_type="AwsConsoleSignIn",
            request_id=None,
            tls=self.tls(h, "signin.aws.amazon.com"),
        )
        key = self.temp_key()  # the console's own credentials for the role session
        identity = self.role_identity(role, user.name, key, ts, mfa=True)
        return _Session(key, identity, role.account, ts, minted.expires, h, h.regions[0])

    def portal(
        self,
        ts: int,
        identity: dict[str, Any],
        name: str,
        h: _Habits,
        *,
        read_only: bool = True,
        details: dict[str, str] | None = None,
        ip: str = "",
    ) -> None:
        """An Identity Center access-portal event in the management account."""
        self.emit(
            ts,
            MGMT,
            identity,
            "sso",
            name,
            "us-east-1",
            ip or self.pick(h.ips),
            h.ua,
            version="1.10",
            read_only=read_only,
            details=details,
            tls=self.tls(h, "portal.sso.us-east-1.amazonaws.com"),
        )


# -- schedules -----------------------------------------------------------------------------------


def _always(_: datetime) -> float:
    return 1.0


def _workday(utc_offset: int, start: int = 8, end: int = 18) -> Callable[[datetime], float]:
    def rate(hour: datetime) -> float:
        local = hour + timedelta(hours=utc_offset)
        if not start <= local.hour < end:
            return 0.0
        return 1.0 if local.weekday() < 5 else 0.05

    return rate


def _at(hour_of_day: int) -> Callable[[datetime], float]:
    def rate(hour: datetime) -> float:
        return 1.0 if hour.hour == hour_of_day else 0.0

    return rate


# -- actors: principals with habits --------------------------------------------------------------


class _Actor:
    """One principal (or one small fleet) with a relative volume per hour and stable habits."""

    minimum = 6

    def __init__(self, weight: float, schedule: Callable[[datetime], float]) -> None:
        self.weight = weight
        self.schedule = schedule
        self.credit = 0.0
        self.started = False
        self.runs = 0

    def rate(self, hour: datetime) -> float:
        return self.weight * self.schedule(hour)

    def run(self, org: _Org, hour: int, n: int) -> None:
        raise NotImplementedError

    def slots(
        self, org: _Org, hour: int, n: int, lo: int = 4, hi: int = 30, *, margin: int = 600
    ) -> list[tuple[int, int]]:
        """Bursts (start, calls) adding up to n calls, in time order, starting `margin` before the end."""
        rand = org.rng.random
        out = []
        while n > 0:
            size = min(n, lo + int(rand() * (hi - lo)))
            out.append((hour + int(rand() * (WINDOW - margin)), size))
            n -= size
        out.sort()
        return out


class _KeyUser(_Actor):
    """An IAM user with a long-term key: direct calls, cross-account roles, sometimes a chain."""

    def __init__(
        self,
        user: _User,
        h: _Habits,
        apis: tuple[_Api, ...],
        weight: float,
        schedule: Callable[[datetime], float],
        *,
        ops: _Role | None = None,
        audit: _Role | None = None,
        shared_role: _Role | None = None,
        denied: _Role | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(weight, schedule)
        self.user, self.h, self.apis = user, h, apis
        self.ops, self.audit, self.shared_role, self.denied = ops, audit, shared_role, denied
        self.facts = facts if facts is not None else {}
        self.ops_session: _Session | None = None
        self.self_session = _Session(user.key, user.identity, user.account, 0, 2**62, h, h.regions[0])

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("IAM_USER", self.user.arn, self.user.account)
        rng = org.rng
        end = hour + WINDOW
        if self.runs == 0:  # every move once, so small datasets have them all
            n -= self.showcase(org, hour + 60)
            self.ops_session = None  # bursts below may start before the showcase
        self.runs += 1
        region = self.h.regions[0]
        for t, size in self.slots(org, hour, max(n, 1)):
            roll = rng.random()
            if self.ops is not None and roll < 0.45:
                s = self.ops_role(org, t)
                org.calls(s, org.burst(t + 1, size, end), ADMIN_APIS)
                if self.audit is not None and rng.random() < 0.25:
                    leaf = org.assume(t + 120, s.identity, self.audit, self.user.name, self.h, region)
                    assert leaf is not None
                    org.calls(leaf, org.burst(t + 121, 4, end), AUDIT_APIS)
            elif self.shared_role is not None and roll < 0.55:
                s2 = org.assume(t, self.user.identity, self.shared_role, self.user.name, self.h, region)
                assert s2 is not None
                org.calls(s2, org.burst(t + 1, size, end), READONLY_APIS)
            elif self.denied is not None and roll < 0.04:
                org.assume(t, self.user.identity, self.denied, self.user.name, self.h, region, deny=True)
            else:
                org.calls(self.self_session, org.burst(t, size, end), self.apis)

    def ops_role(self, org: _Org, t: int) -> _Session:
        assert self.ops is not None
        if self.ops_session is None or self.ops_session.expires < t + 600:
            self.ops_session = org.assume(
                t, self.user.identity, self.ops, self.user.name, self.h, self.h.regions[0]
            )
        assert self.ops_session is not None
        return self.ops_session

    def showcase(self, org: _Org, t: int) -> int:
        before = org.w.count
        end = t - t % 3600 + WINDOW
        region = self.h.regions[0]
        if self.ops is not None and self.audit is not None:
            s = self.ops_role(org, t)
            org.calls(s, org.burst(t + 1, 3, end), ADMIN_APIS, error_rate=0.0)
            leaf = org.assume(t + 120, s.identity, self.audit, self.user.name, self.h, region)
            assert leaf is not None
            org.calls(leaf, org.burst(t + 121, 3, end), AUDIT_APIS, error_rate=0.0)
            self.facts.setdefault(
                "chain_example",
                {
                    "leaf_access_key": leaf.key,
                    "parent_access_key": s.key,
                    "origin_kind": "IAM_USER",
                    "origin_identifier": self.user.arn,
                    "accounts": [self.ops.account, self.audit.account],
                },
            )
        if self.shared_role is not None:
            s2 = org.assume(t + 300, self.user.identity, self.shared_role, self.user.name, self.h, region)
            assert s2 is not None
            org.calls(s2, org.burst(t + 301, 3, end), READONLY_APIS, error_rate=0.0)
            _cross_origin(self.facts, self.shared_role, "IAM_USER", self.user.arn)
        if self.denied is not None:
            org.assume(t + 400, self.user.identity, self.denied, self.user.name, self.h, region, deny=True)
        return org.w.count - before


def _cross_origin(facts: dict[str, Any], role: _Role, kind: str, identifier: str) -> None:
    entry = facts.setdefault("cross_account_role", {"role_arn": role.arn, "origins": []})
    origin = {"kind": kind, "identifier": identifier}
    if origin not in entry["origins"]:
        entry["origins"].append(origin)


class _ConsoleUser(_Actor):
    """An IAM user who works in the console: ConsoleLogin once a day, Switch role into production."""

    def __init__(
        self, user: _User, h: _Habits, role: _Role, weight: float, schedule: Callable[[datetime], float]
    ) -> None:
        super().__init__(weight, schedule)
        self.user, self.h, self.role = user, h, role
        self.console: _Session | None = None
        self.switched: _Session | None = None

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("IAM_USER", self.user.arn, self.user.account)
        rng = org.rng
        for t, size in self.slots(org, hour, n, margin=600):
            if self.console is None or self.console.expires < t:
                self.console = org.console_login(t, self.user, self.h)
                self.switched = None
                t += 20
            if rng.random() < 0.35:
                org.calls(self.console, org.burst(t, size, hour + WINDOW), MGMT_APIS, ua=CONSOLE)
                continue
            if self.switched is None or self.switched.expires < t + 600:
                self.switched = org.switch_role(t, self.user, self.console, self.role, self.h)
                t += 2
            org.calls(self.switched, org.burst(t, size, hour + WINDOW), CONSOLE_APIS, ua=CONSOLE)


class _SessionTokenUser(_Actor):
    """GetSessionToken with MFA each morning, calls with it, and AssumeRole from it into development."""

    def __init__(
        self, user: _User, h: _Habits, role: _Role, weight: float, schedule: Callable[[datetime], float]
    ) -> None:
        super().__init__(weight, schedule)
        self.user, self.h, self.role = user, h, role
        self.token: _Session | None = None
        self.dev: _Session | None = None

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("IAM_USER", self.user.arn, self.user.account)
        rng = org.rng
        for t, size in self.slots(org, hour, n, margin=600):
            if self.token is None or self.token.expires < t + 600:
                self.token = org.session_token(t, self.user, self.h, self.h.regions[0])
                t += 5
            if rng.random() < 0.3:
                org.calls(self.token, org.burst(t, size, hour + WINDOW), SESSION_TOKEN_APIS)
                continue
            if self.dev is None or self.dev.expires < t + 600:
                self.dev = org.assume(
                    t, self.token.identity, self.role, self.user.name, self.h, self.h.regions[0], mfa=True
                )
                t += 2
            assert self.dev is not None
            org.calls(self.dev, org.burst(t, size, hour + WINDOW), DEVELOPER_APIS)


class _FederationBroker(_Actor):
    """A partner's IAM user hands out GetFederationToken sessions named after the partner's staff."""

    def __init__(
        self,
        user: _User,
        h: _Habits,
        names: tuple[str, ...],
        weight: float,
        schedule: Callable[[datetime], float],
    ) -> None:
        super().__init__(weight, schedule)
        self.user, self.h, self.names = user, h, names
        self.sessions: dict[str, _Session] = {}

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("IAM_USER", self.user.arn, self.user.account)
        rng = org.rng
        for t, size in self.slots(org, hour, n, margin=600):
            name = self.names[int(rng.random() * len(self.names))]
            s = self.sessions.get(name)
            if s is None or s.expires < t + 600:
                s = self.sessions[name] = org.federation_token(t, self.user, name, self.h, self.h.regions[0])
                org.principal("FEDERATION_TOKEN_USER", s.identity["arn"], self.user.account)
                t += 3
            org.calls(s, org.burst(t, size, hour + WINDOW), PARTNER_APIS, error_rate=0.01)


class _IdcUser(_Actor):
    """An Identity Center user: portal events in the management account, SAML into a member account."""

    def __init__(
        self,
        email: str,
        h: _Habits,
        role: _Role,
        apis: tuple[_Api, ...],
        weight: float,
        schedule: Callable[[datetime], float],
        *,
        chain: _Role | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(weight, schedule)
        self.email, self.h, self.role, self.apis, self.chain = email, h, role, apis, chain
        self.user_id = _stable_uuid("idc-user/" + email)
        self.provider = _sso_provider(role.account)
        self.facts = facts if facts is not None else {}
        self.portal_day = -1
        self.portal_identity: dict[str, Any] = {}
        self.session: _Session | None = None

    def portal_session(self, org: _Org, t: int, ip: str = "") -> dict[str, Any]:
        """A sign-in to the access portal: the account and role listings under a new credentialId."""
        identity = {
            "type": "IdentityCenterUser",
            "accountId": MGMT,
            "onBehalfOf": {"userId": self.user_id, "identityStoreArn": IDENTITY_STORE_ARN},
            "credentialId": org.uuid(),
        }
        org.portal(t, identity, "ListAccounts", self.h, ip=ip)
        org.portal(t + 2, identity, "ListAccountRoles", self.h, ip=ip)
        return identity

    def credentials(self, org: _Org, t: int, identity: dict[str, Any], role: _Role, ip: str = "") -> _Session:
        """GetRoleCredentials in the portal; Identity Center then calls AssumeRoleWithSAML in the account."""
        org.portal(
            t,
            identity,
            "GetRoleCredentials",
            self.h,
            ip=ip,
            details={"account_id": role.account, "role_name": role.name.split("_")[1]},
        )
        return org.saml(
            t + 1,
            _sso_provider(role.account),
            self.email,
            role,
            self.email,
            self.h,
            "us-east-1",
            internal=True,
        )

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("IDENTITY_CENTER_USER", self.email, MGMT)
        rng = org.rng
        first = self.runs == 0
        self.runs += 1
        for t, size in self.slots(org, hour, n, margin=600):
            if t // 86400 != self.portal_day:
                self.portal_day = t // 86400
                self.portal_identity = self.portal_session(org, t)
            if self.session is None or self.session.expires < t + 600:
                self.session = self.credentials(org, t + 4, self.portal_identity, self.role)
                t += 6
            s = self.session
            if self.chain is not None and (first or rng.random() < 0.2):
                first = False
                chained = org.assume(t, s.identity, self.chain, self.email, self.h, self.h.regions[0])
                assert chained is not None
                org.calls(chained, org.burst(t + 1, size, hour + WINDOW), READONLY_APIS)
                _cross_origin(self.facts, self.chain, "IDENTITY_CENTER_USER", self.email)
                continue
            org.calls(s, org.burst(t, size, hour + WINDOW), self.apis)


class _SamlUser(_Actor):
    """A plain SAML (ADFS) user via a SAML CLI; one carries a source identity and transitive tags."""

    def __init__(
        self,
        provider: _SamlProvider,
        subject: str,
        h: _Habits,
        role: _Role,
        weight: float,
        schedule: Callable[[datetime], float],
        *,
        source_identity: str = "",
        tags: dict[str, str] | None = None,
        transitive: tuple[str, ...] = (),
        chain: tuple[_Role, ...] = (),
        facts: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(weight, schedule)
        self.provider, self.subject, self.h, self.role = provider, subject, h, role
        self.source_identity, self.tags, self.transitive, self.chain = (
            source_identity,
            tags,
            transitive,
            chain,
        )
        self.facts = facts if facts is not None else {}
        self.session: _Session | None = None

    def run(self, org: _Org, hour: int, n: int) -> None:
        identifier = f"{self.provider.arn}:{self.subject}"
        org.principal("SAML_USER", identifier, self.provider.account)
        rng = org.rng
        first = self.runs == 0
        self.runs += 1
        for t, size in self.slots(org, hour, n, margin=900):
            if self.session is None or self.session.expires < t + 600:
                self.session = org.saml(
                    t,
                    self.provider,
                    self.subject,
                    self.role,
                    self.subject,
                    self.h,
                    self.h.regions[0],
                    internal=False,
                    source_identity=self.source_identity,
                    tags=self.tags,
                    transitive=self.transitive,
                    duration=14400,
                )
                t += 3
            s = self.session
            if self.chain and (first or rng.random() < 0.08):
                first = False
                self.deep_chain(org, s, t, hour, identifier)
                size = max(1, size - 12)
            org.calls(s, org.burst(t, size, hour + WINDOW), DATA_ENGINEER_APIS)

    def deep_chain(self, org: _Org, s: _Session, t: int, hour: int, identifier: str) -> None:
        incoming = {k: v for k, v in (self.tags or {}).items() if k in self.transitive}
        keys = [s.key]
        accounts = [s.account]
        for role in self.chain:
            t += 30
            nxt = org.assume(
                t,
                s.identity,
                role,
                self.subject.split("@")[0],
                self.h,
                self.h.regions[0],
                source_identity=self.source_identity,
                incoming=incoming or None,
            )
            assert nxt is not None
            org.calls(nxt, org.burst(t + 1, 2, hour + WINDOW), READONLY_APIS, error_rate=0.0)
            s = nxt
            keys.append(s.key)
            accounts.append(s.account)
        self.facts.setdefault(
            "deep_chain",
            {
                "leaf_access_key": keys[-1],
                "chain_access_keys": keys[-2::-1],
                "origin_kind": "SAML_USER",
                "origin_identifier": identifier,
                "accounts": accounts,
                "source_identity": self.source_identity,
                "transitive_tags": incoming,
            },
        )


class _GitHubRepo(_Actor):
    """GitHub Actions OIDC into shared services, chained into production, deploying via CloudFormation."""

    minimum = 14

    def __init__(
        self,
        repo: str,
        h: _Habits,
        ci_role: _Role,
        deploy_role: _Role,
        weight: float,
        schedule: Callable[[datetime], float],
    ) -> None:
        super().__init__(weight, schedule)
        self.subject = f"repo:{repo}:ref:refs/heads/main"
        self.h, self.ci_role, self.deploy_role = h, ci_role, deploy_role
        self.provider = f"arn:aws:iam::{ci_role.account}:oidc-provider/{GITHUB}"

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("WEB_IDENTITY_USER", f"{self.provider}:{self.subject}", self.ci_role.account)
        rng = org.rng
        for t, size in self.slots(org, hour, n, 12, 40, margin=900):
            ci = org.web_identity(
                t,
                self.provider,
                self.provider,
                self.subject,
                "sts.amazonaws.com",
                self.ci_role,
                "GitHubActions",
                self.h,
                self.h.regions[0],
            )
            build = max(1, size // 3)
            org.calls(ci, org.burst(t + 1, build, hour + WINDOW), ARTIFACT_APIS, error_rate=0.0, ua=GHA_CLI)
            t += 200
            deploy = org.assume(
                t, ci.identity, self.deploy_role, "GitHubActions", self.h, self.h.regions[0], ua=GHA
            )
            assert deploy is not None
            rest = max(2, size - build - 3)
            org.calls(
                deploy, org.burst(t + 1, rest // 2, hour + WINDOW), DEPLOY_APIS, error_rate=0.0, ua=GHA_CLI
            )
            for ts in org.burst(
                t + 30, rest - rest // 2, hour + WINDOW
            ):  # CloudFormation acting for the deployer
                org.call(
                    deploy,
                    ts,
                    CFN_APIS[int(rng.random() * len(CFN_APIS))],
                    via="cloudformation.amazonaws.com",
                )


class _Instance(_Actor):
    """An EC2 instance profile: credentials every six hours, S3/DynamoDB through gateway endpoints."""

    def __init__(self, instance_id: str, role: _Role, h: _Habits, weight: float) -> None:
        super().__init__(weight, _always)
        self.instance_id, self.role, self.h = instance_id, role, h
        self.session: _Session | None = None
        self.not_before = 0

    def refresh(self, org: _Org, t: int) -> _Session:
        region = self.h.regions[0]
        scope = {
            "issuerType": "AWS::EC2::Instance",
            "credentialsIssuedTo": f"arn:aws:ec2:{region}:{self.role.account}:instance/{self.instance_id}",
        }
        self.session = org.service_session(
            t, "ec2.amazonaws.com", self.role, self.instance_id, self.h, region, ec2=True, scope=scope
        )
        return self.session

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("EC2_INSTANCE", self.instance_id, self.role.account)
        s = self.session
        if s is None or s.expires < hour + WINDOW:
            s = self.refresh(org, hour + int(org.rng.random() * 30))
        lo = max(hour, s.created + 1, self.not_before)
        org.calls(s, org.spread(lo, hour + WINDOW, n), WEB_APIS, error_rate=0.005)


class _EcsService(_Actor):
    """ECS tasks of one service: task ids change daily, calls go through interface endpoints."""

    def __init__(self, role: _Role, h: _Habits, tasks: int, weight: float) -> None:
        super().__init__(weight, _always)
        self.role, self.h, self.tasks = role, h, tasks
        self.day = -1
        self.ids: list[str] = []
        self.sessions: dict[str, _Session] = {}

    def run(self, org: _Org, hour: int, n: int) -> None:
        if hour // 86400 != self.day:
            self.day = hour // 86400
            self.ids = [f"{org.rng.getrandbits(128):032x}" for _ in range(self.tasks)]
            self.sessions = {}
        share = max(1, n // self.tasks)
        for task in self.ids:
            org.principal("ECS_TASK", task, self.role.account)
            s = self.sessions.get(task)
            if s is None or s.expires < hour + WINDOW:
                s = self.sessions[task] = org.service_session(
                    hour + int(org.rng.random() * 30),
                    "ecs-tasks.amazonaws.com",
                    self.role,
                    task,
                    self.h,
                    self.h.regions[0],
                )
            times = org.spread(max(hour, s.created + 1), hour + WINDOW, share)
            for ts in times:
                if (
                    org.rng.random() < 0.1
                ):  # Secrets Manager decrypts with KMS for the task: a call made for it
                    org.call(s, ts, TASK_APIS[3], via="secretsmanager.amazonaws.com")
                else:
                    org.call(
                        s,
                        ts,
                        TASK_APIS[int(org.rng.random() * len(TASK_APIS))],
                        error=org.rng.random() < 0.003,
                    )


class _Function(_Actor):
    """A Lambda function: credentials each cold start, optionally assuming a role in other accounts."""

    def __init__(
        self,
        name: str,
        role: _Role,
        h: _Habits,
        apis: tuple[_Api, ...],
        weight: float,
        schedule: Callable[[datetime], float] = _always,
        *,
        targets: tuple[_Role, ...] = (),
        facts: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(weight, schedule)
        self.name, self.role, self.h, self.apis, self.targets = name, role, h, apis, targets
        self.region = h.regions[0]
        self.arn = f"arn:aws:lambda:{self.region}:{role.account}:function:{name}"
        self.facts = facts if facts is not None else {}
        self.session: _Session | None = None
        self.daily: dict[str, int] = {}

    def ensure(self, org: _Org, hour: int) -> _Session:
        s = self.session
        if s is None or s.expires < hour + WINDOW:
            scope = {
                "sourceArn": self.arn,
                "sourceAccount": self.role.account,
                "issuerType": "AWS::Lambda::Function",
                "credentialsIssuedTo": self.arn,
            }
            s = self.session = org.service_session(
                hour + int(org.rng.random() * 30),
                "lambda.amazonaws.com",
                self.role,
                self.name,
                self.h,
                self.region,
                duration=7200,
                scope=scope,
            )
        return s

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("LAMBDA_FUNCTION", self.arn, self.role.account)
        before = org.w.count
        s = self.ensure(org, hour)
        lo = max(hour, s.created + 1)
        if self.targets:
            for target in self.targets:
                t = lo + int(org.rng.random() * 600)
                other = org.assume(t, s.identity, target, self.name, self.h, self.region)
                assert other is not None
                org.calls(
                    other,
                    org.spread(t + 1, hour + WINDOW, max(1, n // (len(self.targets) + 1))),
                    READONLY_APIS,
                    error_rate=0.01,
                )
                if target is self.targets[0]:
                    _cross_origin(self.facts, target, "LAMBDA_FUNCTION", self.arn)
        rest = n - (org.w.count - before)
        if rest > 0:
            org.calls(s, org.spread(lo, hour + WINDOW, rest), self.apis, error_rate=0.005)
        day = datetime.fromtimestamp(hour, UTC).strftime("%Y-%m-%d")
        self.daily[day] = self.daily.get(day, 0) + org.w.count - before


class _Cognito(_Actor):
    """Mobile-app users with Cognito identities (basic flow): same role, one identity id each."""

    def __init__(self, role: _Role, h: _Habits, users: int, weight: float) -> None:
        super().__init__(weight, _workday(-6, 7, 23))
        self.role, self.h = role, h
        self.identities = [f"us-east-1:{_stable_uuid(f'cognito/{i}')}" for i in range(users)]

    def run(self, org: _Org, hour: int, n: int) -> None:
        rng = org.rng
        for t, size in self.slots(org, hour, n, 3, 12, margin=300):
            identity_id = self.identities[int(rng.random() * len(self.identities))]
            org.principal("WEB_IDENTITY_USER", f"{COGNITO}:{identity_id}", self.role.account)
            web = {
                "federatedProvider": COGNITO,
                "attributes": {
                    f"{COGNITO}:aud": COGNITO_POOL,
                    f"{COGNITO}:sub": identity_id,
                    f"{COGNITO}:amr": '["authenticated","cognito-idp.us-east-1.amazonaws.com"]',
                },
            }
            s = org.web_identity(
                t,
                COGNITO,
                COGNITO,
                identity_id,
                COGNITO_POOL,
                self.role,
                "CognitoIdentityCredentials",
                self.h,
                "us-east-1",
                web=web,
            )
            org.calls(s, org.burst(t + 1, max(1, size - 1), hour + WINDOW), COGNITO_APIS, error_rate=0.01)


class _EtlPipeline(_Actor):
    """A nightly job: a development Lambda assumes a role in the data-platform account (whose trail we do not
    receive), and that session assumes a production role. Production sees only the AWSAccount copy."""

    minimum = 10

    def __init__(
        self, fn: _Function, runner: _Role, export: _Role, h: _Habits, facts: dict[str, Any]
    ) -> None:
        super().__init__(fn.weight, fn.schedule)
        self.fn, self.runner, self.export, self.h, self.facts = fn, runner, export, h, facts

    def run(self, org: _Org, hour: int, n: int) -> None:
        org.principal("LAMBDA_FUNCTION", self.fn.arn, self.fn.role.account)
        s = self.fn.ensure(org, hour)
        t = s.created + 5
        name = "etl-" + datetime.fromtimestamp(hour, UTC).strftime("%Y%m%d")
        bridge = org.assume(
            t, s.identity, self.runner, name, self.fn.h, self.fn.region, session_habits=self.h
        )
        assert bridge is not None
        t += 40
        leaf = org.assume(t, bridge.identity, self.export, "etl-runner", self.h, self.h.regions[0])
        assert leaf is not None
        org.calls(leaf, org.spread(t + 1, hour + WINDOW, max(3, n - 3)), ETL_APIS, error_rate=0.0)
        self.facts["missing_account"] = {
            "leaf_access_key": leaf.key,
            "gap_account_id": self.runner.account,
            "gap_principal_id": bridge.identity["principalId"],
            "gap_role_arn": self.runner.arn,
            "bridge_access_key": bridge.key,
            "origin_kind": "LAMBDA_FUNCTION",
            "origin_identifier": self.fn.arn,
        }


# -- the organisation ----------------------------------------------------------------------------


def _ips(prefix: str, *hosts: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{h}" for h in hosts)


class _Demo:
    def __init__(self, writer: _Writer, rng: random.Random, facts: dict[str, Any]) -> None:
        self.org = _Org(writer, rng)
        self.facts = facts
        f = facts
        # people and their habits
        self.alice = _User(MGMT, "alice")
        self.bob = _User(MGMT, "bob")
        self.carol = _User(MGMT, "carol")
        self.dave = _User(MGMT, "dave")
        self.partner = _User(PROD, "partner-portal")
        self.h_alice = _Habits(_ips("73.162.40.", 17, 18), CLI_MAC, ("us-east-1",), sts_global=True)
        self.h_bob = _Habits(_ips("85.214.132.", 41), CLI, ("eu-central-1",))
        self.h_carol = _Habits(_ips("81.2.69.", 142, 143), BROWSER, ("eu-west-1",))
        self.h_dave = _Habits(_ips("49.36.128.", 77), CLI_WIN, ("us-east-1",), tls=TLS12, sts_global=True)
        self.h_partner = _Habits(
            _ips("64.124.55.", 8, 9), PARTNER, ("us-east-1",), tls=TLS12, bucket="acme-partner-exchange"
        )
        # roles
        self.ops = _Role(PROD, "OpsAdmin")
        self.audit = _Role(SEC, "SecurityAudit")
        self.read_only = _Role(PROD, "CrossAccountReadOnly")
        self.break_glass = _Role(SEC, "BreakGlassAdmin")
        self.console_admin = _Role(PROD, "ConsoleAdmin")
        self.developer = _Role(DEV, "DeveloperAccess")
        self.web_role = _Role(PROD, "WebServerRole")
        self.task_role = _Role(PROD, "checkout-task-role", "/service-role/")
        self.ci_role = _Role(SHARED, "github-actions-deployer")
        self.deploy = _Role(PROD, "Deployer")
        self.cognito_role = _Role(PROD, "CognitoAuthenticated")
        self.ops_automation = _Role(PROD, "OpsAutomation")
        self.platform_admin = _Role(SHARED, "PlatformAdmin")
        self.etl_runner = _Role(DATA, "etl-runner")
        self.data_export = _Role(PROD, "DataExportRole")
        self.adfs = _SamlProvider(DEV, "CorpADFS", ADFS_ISSUER)
        self.adfs_role = _Role(DEV, "ADFS-DataEngineer")
        h_lambda_eu = _Habits(_ips("3.250.41.", 9, 87, 203), LAMBDA_PY, ("eu-west-1",))
        h_lambda_us = _Habits(_ips("44.201.92.", 15, 160), LAMBDA_NODE, ("us-east-1",), bucket="acme-reports")
        h_web = _Habits(
            _ips("52.49.77.", 31),
            JAVA,
            ("eu-west-1",),
            private_ip="10.20.1.15",
            vpce=("s3", "dynamodb"),
            bucket="acme-prod-assets",
            ua_by_source=(("ssm", SSM_AGENT), ("ec2", SSM_AGENT)),
        )
        h_task = _Habits(
            ("10.20.8.44",),
            BOTO,
            ("eu-west-1",),
            private_ip="10.20.8.44",
            vpce=("secretsmanager", "ssm", "sts", "kms", "dynamodb"),
        )
        h_gha = _Habits(_ips("20.172.14.", 5, 61, 130, 212), GHA, ("eu-west-1",), bucket="acme-ci-artifacts")
        h_etl = _Habits(_ips("3.121.8.", 66), BOTO, ("eu-west-1",), bucket="acme-data-exports")
        sso = {
            name: _sso_role(acct, ps)
            for name, acct, ps in (
                ("dev_developer", DEV, "DeveloperAccess"),
                ("dev_power", DEV, "PowerUserAccess"),
                ("dev_read", DEV, "ReadOnlyAccess"),
                ("sec_audit", SEC, "SecurityAuditor"),
            )
        }
        self.sso = sso
        self.orders = _Function(
            "orders-processor",
            _Role(PROD, "orders-processor-role", "/service-role/"),
            h_lambda_eu,
            ORDERS_APIS,
            5.0,
        )
        scanner = _Function(
            "compliance-scanner",
            _Role(SEC, "compliance-scanner-role", "/service-role/"),
            _Habits(_ips("44.201.92.", 44), LAMBDA_PY, ("us-east-1",)),
            READONLY_APIS,
            2.0,
            targets=(self.read_only, _Role(DEV, "CrossAccountReadOnly")),
            facts=f,
        )
        report = _Function(
            "nightly-report",
            _Role(DEV, "nightly-report-role", "/service-role/"),
            h_lambda_us,
            REPORT_APIS,
            20.0,
            _at(2),
        )
        etl_fn = _Function(
            "etl-scheduler",
            _Role(DEV, "etl-scheduler-role", "/service-role/"),
            _Habits(_ips("44.201.92.", 99), LAMBDA_PY, ("us-east-1",)),
            (),
            12.0,
            _at(1),
        )
        self.instances = [
            _Instance("i-0a1b2c3d4e5f60718", self.web_role, h_web, 6.0),
            _Instance(
                "i-0f1e2d3c4b5a69788",
                self.web_role,
                _Habits(
                    _ips("52.49.77.", 32),
                    JAVA,
                    ("eu-west-1",),
                    private_ip="10.20.2.27",
                    vpce=("s3", "dynamodb"),
                    bucket="acme-prod-assets",
                    ua_by_source=(("ssm", SSM_AGENT), ("ec2", SSM_AGENT)),
                ),
                6.0,
            ),
        ]
        self.frank = _IdcUser(
            "frank@example.com",
            _Habits(_ips("145.53.60.", 12), CLI, ("us-east-1",)),
            sso["dev_power"],
            DEVELOPER_APIS,
            6.0,
            _workday(1),
        )
        idc = [
            _IdcUser(
                "erin@example.com",
                _Habits(_ips("73.162.40.", 90), CLI_MAC, ("us-west-2",)),
                sso["dev_developer"],
                DEVELOPER_APIS,
                6.0,
                _workday(-8),
            ),
            self.frank,
            _IdcUser(
                "heidi@example.com",
                _Habits(_ips("81.2.69.", 160), CLI, ("eu-west-1",)),
                sso["dev_read"],
                READONLY_APIS,
                5.0,
                _workday(0),
                chain=self.read_only,
                facts=f,
            ),
            _IdcUser(
                "judy@example.com",
                _Habits(_ips("49.36.128.", 140), CLI_WIN, ("us-east-1",), tls=TLS12),
                sso["sec_audit"],
                AUDIT_APIS,
                5.0,
                _workday(5),
            ),
        ]
        self.idc = idc
        self.actors: list[_Actor] = [
            _KeyUser(
                self.alice,
                self.h_alice,
                MGMT_APIS,
                8.0,
                _workday(-5),
                ops=self.ops,
                audit=self.audit,
                shared_role=self.read_only,
                facts=f,
            ),
            _KeyUser(self.bob, self.h_bob, BOB_APIS, 6.0, _workday(1), denied=self.break_glass, facts=f),
            _ConsoleUser(self.carol, self.h_carol, self.console_admin, 6.0, _workday(0)),
            _SessionTokenUser(self.dave, self.h_dave, self.developer, 5.0, _workday(5)),
            _FederationBroker(
                self.partner, self.h_partner, ("vendor-jane", "vendor-raj"), 4.0, _workday(-5, 9, 17)
            ),
            *idc,
            _SamlUser(
                self.adfs,
                "gina@example.com",
                _Habits(_ips("73.162.40.", 201), SAML2AWS, ("us-east-1",)),
                self.adfs_role,
                5.0,
                _workday(-6),
                source_identity="gina",
                tags={"Team": "data", "CostCenter": "4410", "Project": "lakehouse"},
                transitive=("Team", "CostCenter"),
                facts=f,
                chain=(
                    _Role(SHARED, "NetworkAdmin"),
                    _Role(PROD, "DataPipelineAdmin"),
                    _Role(SEC, "SecurityAudit"),
                ),
            ),
            _SamlUser(
                self.adfs,
                "ivan@example.com",
                _Habits(_ips("85.214.132.", 88), SAML2AWS, ("eu-west-1",)),
                _Role(DEV, "ADFS-ReadOnly"),
                4.0,
                _workday(1),
            ),
            _GitHubRepo("acme-corp/webapp", h_gha, self.ci_role, self.deploy, 4.0, _workday(-5, 9, 19)),
            _GitHubRepo(
                "acme-corp/infrastructure", h_gha, self.ci_role, self.deploy, 2.0, _workday(-5, 10, 17)
            ),
            *self.instances,
            _EcsService(self.task_role, h_task, 2, 8.0),
            self.orders,
            scanner,
            report,
            _EtlPipeline(etl_fn, self.etl_runner, self.data_export, h_etl, f),
            _Cognito(
                self.cognito_role,
                _Habits(
                    _ips("172.58.20.", 3, 57, 99, 180), MOBILE, ("us-east-1",), bucket="acme-mobile-uploads"
                ),
                12,
                3.0,
            ),
        ]

    # -- incidents -----------------------------------------------------------------------------

    def exfiltration(self, hour: int) -> None:
        """An instance's fresh credentials are used first from outside AWS, then by the instance."""
        org = self.org
        instance = self.instances[0]
        s = instance.refresh(org, hour + 40)
        times = org.burst(hour + 130, 8, hour + WINDOW)
        org.calls(s, times, ATTACKER_APIS, ip=ATTACKER_IP, ua=ATTACKER_UA, region="us-east-1", error_rate=0.3)
        org.assume(
            times[-1] + 5,
            s.identity,
            self.break_glass,
            "backup",
            s.habits,
            "us-east-1",
            ip=ATTACKER_IP,
            ua=ATTACKER_UA,
            deny=True,
        )
        instance.not_before = times[-1] + 30
        self.facts["instance_credential_exfiltration"] = {
            "instance_id": instance.instance_id,
            "access_key": s.key,
            "attacker_ip": ATTACKER_IP,
            "role_arn": instance.role.arn,
            "first_use": _iso(times[0]),
            "last_use": _iso(times[-1]),
        }

    def hijacked_chain(self, hour: int) -> None:
        """An Identity Center user's portal session used from a new country: SAML into development, then a
        cross-account role in production, chained into shared services: new access key, secrets read."""
        org = self.org
        frank = self.frank
        t = hour + 300
        portal = frank.portal_session(org, t, ip=HIJACK_IP)
        first = frank.credentials(org, t + 10, portal, frank.role, ip=HIJACK_IP)
        org.calls(first, [t + 20], (CALLER,), ip=HIJACK_IP, error_rate=0.0)
        second = org.assume(
            t + 60, first.identity, self.ops_automation, frank.email, first.habits, "us-east-1", ip=HIJACK_IP
        )
        assert second is not None
        org.calls(second, org.burst(t + 61, 4, hour + WINDOW), ADMIN_APIS[:4], ip=HIJACK_IP, error_rate=0.0)
        third = org.assume(
            t + 180,
            second.identity,
            self.platform_admin,
            frank.email,
            first.habits,
            "us-east-1",
            ip=HIJACK_IP,
        )
        assert third is not None
        org.calls(third, org.burst(t + 181, 4, hour + WINDOW), HIJACK_APIS, ip=HIJACK_IP, error_rate=0.0)
        new_key = _stable("AKIA", "svc-backup#hijack", 16)
        org.emit(
            t + 260,
            SHARED,
            third.identity,
            "iam",
            "CreateAccessKey",
            "us-east-1",
            HIJACK_IP,
            frank.h.ua,
            version="1.09",
            read_only=False,
            request={"userName": "svc-backup"},
            response={
                "accessKey": {
                    "accessKeyId": new_key,
                    "createDate": _human_time(t + 260),
                    "status": "Active",
                    "userName": "svc-backup",
                }
            },
            tls=org.tls(frank.h, "iam.amazonaws.com"),
        )
        for i, secret in enumerate(("prod/payments/api-key", "prod/db/master", "shared/github/deploy-token")):
            org.emit(
                t + 300 + i * 7,
                SHARED,
                third.identity,
                "secretsmanager",
                "GetSecretValue",
                "us-east-1",
                HIJACK_IP,
                frank.h.ua,
                version="1.09",
                read_only=True,
                request={"secretId": f"arn:aws:secretsmanager:us-east-1:{SHARED}:secret:{secret}-Qx3b9Z"},
                tls=org.tls(frank.h, "secretsmanager.us-east-1.amazonaws.com"),
            )
        self.facts["federated_user_chain"] = {
            "leaf_access_key": third.key,
            "chain_access_keys": [second.key, first.key],
            "origin_kind": "IDENTITY_CENTER_USER",
            "origin_identifier": frank.email,
            "user_id": frank.user_id,
            "accounts": [first.account, second.account, third.account],
            "source_ip": HIJACK_IP,
            "country": "RU",
            "usual_country": "NL",
            "created_access_key": new_key,
            "first_use": _iso(t + 181),
            "last_use": _iso(t + 314),
        }

    def impossible_travel(self, hour: int) -> None:
        """One IAM user's key from Germany and, eight minutes later, from Australia."""
        org = self.org
        user, h = self.bob, self.h_bob
        s = _Session(user.key, user.identity, user.account, 0, 2**62, h, h.regions[0])
        t = hour + 600
        org.calls(s, org.burst(t, 5, hour + WINDOW), BOB_APIS, error_rate=0.0)
        org.calls(
            s,
            org.burst(t + 480, 5, hour + WINDOW),
            BOB_APIS,
            ip=TRAVEL_IP,
            ua=BOTO,
            region="ap-southeast-2",
            error_rate=0.0,
        )
        self.facts["impossible_travel"] = {
            "user_arn": user.arn,
            "access_key": user.key,
            "ips": [h.ips[0], TRAVEL_IP],
            "countries": ["DE", "AU"],
            "minutes_apart": 8,
            "travel_time": _iso(t + 480),
        }


def _exports(root: Path, demo: _Demo) -> None:
    folder = root / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    joined = {
        MGMT: ("2019-03-11T09:14:02.117000+00:00", "INVITED"),
        DATA: ("2024-02-20T16:41:55.902000+00:00", "INVITED"),
    }
    accounts = []
    for i, (account, name) in enumerate(ACCOUNTS.items()):
        when, method = joined.get(account, (f"2019-0{4 + i}-0{1 + i}T10:2{i}:33.508000+00:00", "CREATED"))
        accounts.append(
            {
                "Id": account,
                "Arn": f"arn:aws:organizations::{MGMT}:account/{ORG}/{account}",
                "Email": f"aws-{name}@example.com",
                "Name": f"acme-{name}",
                "Status": "ACTIVE",
                "JoinedMethod": method,
                "JoinedTimestamp": when,
            }
        )
    users = []
    for user in demo.idc:
        name = user.email.split("@")[0].capitalize()
        users.append(
            {
                "UserId": user.user_id,
                "UserName": user.email,
                "DisplayName": f"{name} Example",
                "Emails": [{"Value": user.email, "Type": "work", "Primary": True}],
                "IdentityStoreId": IDENTITY_STORE_ID,
            }
        )
    option = orjson.OPT_INDENT_2
    (folder / "organizations-list-accounts.json").write_bytes(
        orjson.dumps({"Accounts": accounts}, option=option)
    )
    (folder / "identitystore-list-users.json").write_bytes(orjson.dumps({"Users": users}, option=option))


def write_demo(
    root: Path,
    *,
    events: int = 50_000,
    seed: int = 7,
    days: int = 30,
    end: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write about `events` records spread over `days` days ending at `end` (default: this hour)."""
    rng = random.Random(seed)
    end = (end or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    hours = max(1, days * 24)
    start = end - timedelta(hours=hours)
    writer = _Writer(root, rng)
    facts: dict[str, Any] = {
        "organization_id": ORG,
        "management_account": MGMT,
        "accounts": [{"id": a, "name": n, "logs": a not in UNLOGGED} for a, n in ACCOUNTS.items()],
        "window": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "identity_store_id": IDENTITY_STORE_ID,
        "networks": dict(NETWORKS),
        "exports": ["exports/organizations-list-accounts.json", "exports/identitystore-list-users.json"],
    }
    demo = _Demo(writer, rng, facts)

    # Incidents in the last three days (hours before `end`, clamped into short windows); the missing-account
    # hop is the nightly ETL run, and on one day the orders function's role is used ~20x its usual volume.
    placed: tuple[tuple[int, Callable[[int], None]], ...] = (
        (44, demo.impossible_travel), (30, demo.exfiltration), (20, demo.hijacked_chain),
    )  # fmt: skip
    incidents: dict[int, list[Callable[[int], None]]] = {}
    for back, incident in placed:
        incidents.setdefault(max(0, hours - back), []).append(incident)
    spike_day = (end - timedelta(hours=48)).date()
    spike = demo.orders

    def rate(actor: _Actor, hour: datetime) -> float:
        value = actor.rate(hour)
        return value * 20 if actor is spike and hour.date() == spike_day else value

    total = sum(rate(a, start + timedelta(hours=i)) for i in range(hours) for a in demo.actors)
    scale = max(events - 120, events // 2) / max(total, 1e-9)
    for index in range(hours):
        hour = start + timedelta(hours=index)
        hour_ts = int(hour.timestamp())
        for incident in incidents.get(index, ()):
            incident(hour_ts)
        for actor in demo.actors:
            value = rate(actor, hour)
            if value <= 0:
                continue
            actor.credit += value * scale
            n = int(actor.credit)
            if not actor.started:
                actor.started = True
                n = max(n, actor.minimum)
            if n <= 0:
                continue
            before = writer.count
            actor.run(demo.org, hour_ts, n)
            actor.credit -= writer.count - before
        writer.flush(hour)
        if progress:
            progress(writer.events)
    daily = spike.daily
    usual = sorted(v for d, v in daily.items() if d != spike_day.isoformat())
    facts["volume_spike"] = {
        "role_arn": spike.role.arn,
        "day": spike_day.isoformat(),
        "origin_kind": "LAMBDA_FUNCTION",
        "origin_identifier": spike.arn,
        "events_that_day": daily.get(spike_day.isoformat(), 0),
        "median_daily_events": usual[len(usual) // 2] if usual else 0,
    }
    facts["principals"] = sorted(demo.org.principals.values(), key=lambda p: (p["kind"], p["identifier"]))
    _exports(root, demo)
    write_findings(root, facts)
    write_demo_flows(root, demo, start, end, facts)
    root.mkdir(parents=True, exist_ok=True)
    (root / "demo-facts.txt").write_bytes(orjson.dumps(facts, option=orjson.OPT_INDENT_2))
    return DemoSummary(root, writer.files, writer.events, writer.bytes_written, facts)
