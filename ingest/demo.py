"""A seeded demo organisation's CloudTrail logs, written in the exact S3 delivery layout.

Hour by hour (memory stays flat), four accounts see: IAM users calling APIs with long-term keys
and assuming roles in their own and other accounts (cross-account calls logged in both accounts
with one sharedEventID), role chains across three accounts, Identity Center users, a SAML user,
Cognito identities, EC2 instance profiles refreshed with new keys, Lambda functions, failed
calls, and one incident: an instance's credentials used from outside AWS. `facts` names the
answers tests and benchmarks check.
"""

from __future__ import annotations

import gzip
import random
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ORG = "o-rt7demo42x"
ACCOUNTS = {
    "111111111111": "management",
    "222222222222": "production",
    "333333333333": "development",
    "444444444444": "security",
}
MGMT, PROD, DEV, SEC = ACCOUNTS
REGIONS = ("us-east-1", "eu-west-1")
USERS = ("alice", "bob", "carol", "dave")
IDC_USERS = ("erin@example.com", "frank@example.com")
SSO_ROLE = "AWSReservedSSO_AdministratorAccess_0123456789abcdef"
INSTANCES = ("i-0a1b2c3d4e5f60718", "i-0f1e2d3c4b5a69788")
FUNCTIONS = ("orders-processor", "nightly-report")
ATTACKER_IP = "185.220.101.47"
READ_APIS = (
    ("ec2.amazonaws.com", "DescribeInstances"), ("s3.amazonaws.com", "ListBuckets"),
    ("iam.amazonaws.com", "ListRoles"), ("sts.amazonaws.com", "GetCallerIdentity"),
    ("logs.amazonaws.com", "DescribeLogGroups"), ("kms.amazonaws.com", "Decrypt"),
    ("lambda.amazonaws.com", "ListFunctions"), ("dynamodb.amazonaws.com", "DescribeTable"),
)  # fmt: skip
AGENTS = ("aws-cli/2.17.9 Python/3.11.8 Linux/6.1", "Boto3/1.34.2 Python/3.12.1", "console.amazonaws.com")


@dataclass(frozen=True)
class DemoSummary:
    root: Path
    files: int
    events: int
    bytes_written: int
    facts: dict[str, Any]


@dataclass
class _Writer:
    root: Path
    rng: random.Random
    files: int = 0
    events: int = 0
    bytes_written: int = 0
    buckets: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, record: dict[str, Any]) -> None:
        self.buckets.setdefault((record["recipientAccountId"], record["awsRegion"]), []).append(record)

    def flush(self, hour: datetime) -> None:
        for (account, region), records in sorted(self.buckets.items()):
            stamp = (hour + timedelta(minutes=55)).strftime("%Y%m%dT%H%MZ")
            folder = self.root / "AWSLogs" / ORG / account / "CloudTrail" / region / hour.strftime("%Y/%m/%d")
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{account}_CloudTrail_{region}_{stamp}_{_rand(self.rng, 16)}.json.gz"
            body = gzip.compress(orjson.dumps({"Records": records}), compresslevel=6, mtime=0)
            (folder / name).write_bytes(body)
            self.files += 1
            self.events += len(records)
            self.bytes_written += len(body)
        self.buckets = {}


def _rand(rng: random.Random, n: int, alphabet: str = string.ascii_uppercase + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _expiry(t: datetime) -> str:
    return (t + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p").replace(" 0", " ")


class _Org:
    def __init__(self, writer: _Writer, rng: random.Random) -> None:
        self.w = writer
        self.rng = rng
        self.user_keys = {u: "AKIA" + _rand(rng, 16) for u in USERS}
        self.user_ips = {u: f"203.0.113.{10 + i}" for i, u in enumerate(USERS)}

    def record(self, t: datetime, account: str, identity: dict[str, Any], source: str, name: str,
               ip: str, agent: str, **extra: Any) -> dict[str, Any]:  # fmt: skip
        rec: dict[str, Any] = {
            "eventVersion": "1.08", "userIdentity": identity, "eventTime": _iso(t), "eventSource": source,
            "eventName": name, "awsRegion": extra.pop("region", self.rng.choice(REGIONS)), "sourceIPAddress": ip,
            "userAgent": agent, "requestParameters": extra.pop("request", None),
            "responseElements": extra.pop("response", None), "requestID": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "eventID": str(uuid.UUID(int=self.rng.getrandbits(128))), "readOnly": name.startswith(("Describe", "List", "Get", "Assume")),
            "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": account, "eventCategory": "Management",
        }  # fmt: skip
        rec.update(extra)
        self.w.add(rec)
        return rec

    def user_identity(self, user: str) -> dict[str, Any]:
        return {"type": "IAMUser", "principalId": "AIDA" + user.upper().ljust(17, "X"),
                "arn": f"arn:aws:iam::{MGMT}:user/{user}", "accountId": MGMT,
                "accessKeyId": self.user_keys[user], "userName": user}  # fmt: skip

    def session_identity(self, role_arn: str, name: str, key: str, created: datetime, **ctx: Any) -> dict[str, Any]:
        account = role_arn.split(":")[4]
        role_name = role_arn.rsplit("/", 1)[-1]
        role_id = "AROA" + role_name.upper().replace("_", "")[:12].ljust(17, "Y")
        context: dict[str, Any] = {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": account,
                              "userName": role_name},
            "webIdFederationData": {}, "attributes": {"creationDate": _iso(created), "mfaAuthenticated": "false"},
        }  # fmt: skip
        context.update(ctx)
        return {"type": "AssumedRole", "principalId": f"{role_id}:{name}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{name}", "accountId": account,
                "accessKeyId": key, "sessionContext": context}  # fmt: skip

    def mint(self, t: datetime, caller: dict[str, Any], caller_account: str, event: str, role_arn: str,
             name: str, ip: str, agent: str, **response: Any) -> str:  # fmt: skip
        """A minting call; across accounts the role owner gets its own copy (AWSAccount caller)."""
        key = "ASIA" + _rand(self.rng, 16)
        role_account = role_arn.split(":")[4]
        request = {"roleArn": role_arn, "roleSessionName": name, **response.pop("request", {})}
        body = {"credentials": {"accessKeyId": key, "expiration": _expiry(t), "sessionToken": "IQoJb3Jp" + _rand(self.rng, 24)},
                "assumedRoleUser": {"assumedRoleId": f"AROA{name.upper()[:8]}:{name}",
                                    "arn": f"arn:aws:sts::{role_account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{name}"},
                **response}  # fmt: skip
        resources = [{"ARN": role_arn, "accountId": role_account, "type": "AWS::IAM::Role"}]
        shared = {"sharedEventID": str(uuid.UUID(int=self.rng.getrandbits(128)))} if caller_account != role_account else {}
        region = "us-east-1"
        if caller_account:
            self.record(t, caller_account, caller, "sts.amazonaws.com", event, ip, agent, region=region,
                        request=request, response=body, resources=resources, **shared)  # fmt: skip
        if shared or not caller_account:
            owner_view = caller if not caller_account else {
                "type": "AWSAccount", "principalId": caller.get("principalId", ""), "accountId": caller_account}
            self.record(t, role_account, owner_view, "sts.amazonaws.com", event, ip, agent, region=region,
                        request=request, response=body, resources=resources, **shared)  # fmt: skip
        return key

    def calls(self, start: datetime, account: str, identity: dict[str, Any], ip: str, agent: str, n: int,
              apis: tuple[tuple[str, str], ...] = READ_APIS) -> None:  # fmt: skip
        for i in range(n):
            source, name = self.rng.choice(apis)
            extra: dict[str, Any] = {}
            if self.rng.random() < 0.03:
                extra = {"errorCode": "AccessDenied", "errorMessage": "User is not authorized to perform this action"}
            self.record(start + timedelta(seconds=5 + i * 7), account, identity, source, name, ip, agent, **extra)


def _hour(org: _Org, t: datetime, budget: int, incident: bool, facts: dict[str, Any]) -> None:
    rng = org.rng
    spent = 0
    while spent < budget:
        kind = rng.random()
        at = t + timedelta(seconds=rng.randrange(0, 3000))
        n = rng.randrange(4, 25)
        if kind < 0.2:  # an IAM user with a long-term key
            user = rng.choice(USERS)
            org.calls(at, MGMT, org.user_identity(user), org.user_ips[user], AGENTS[0], n)
        elif kind < 0.5:  # a user assumes a cross-account role, then chains into a third account
            user = rng.choice(USERS)
            ops = f"arn:aws:iam::{PROD}:role/OpsAdmin"
            key = org.mint(at, org.user_identity(user), MGMT, "AssumeRole", ops, user, org.user_ips[user], AGENTS[0])
            ident = org.session_identity(ops, user, key, at)
            org.calls(at, PROD, ident, org.user_ips[user], AGENTS[0], n)
            if rng.random() < 0.4:
                audit = f"arn:aws:iam::{SEC}:role/SecurityAudit"
                k2 = org.mint(at + timedelta(minutes=3), ident, PROD, "AssumeRole", audit, user, org.user_ips[user], AGENTS[0])
                org.calls(at + timedelta(minutes=3), SEC, org.session_identity(audit, user, k2, at), org.user_ips[user], AGENTS[0], n)
                facts.setdefault("chain_example", {"leaf_access_key": k2, "parent_access_key": key,
                                                   "origin_identifier": f"arn:aws:iam::{MGMT}:user/{user}"})  # fmt: skip
        elif kind < 0.65:  # an Identity Center user in a member account
            email = rng.choice(IDC_USERS)
            role = f"arn:aws:iam::{DEV}:role/aws-reserved/sso.amazonaws.com/{SSO_ROLE}"
            caller = {"type": "SAMLUser", "principalId": f"Zm9vYmFy:{email}", "userName": email, "identityProvider": "Zm9vYmFy"}
            key = org.mint(at, caller, "", "AssumeRoleWithSAML", role, email, "AWS Internal", "aws-internal/3",
                           request={"principalArn": f"arn:aws:iam::{DEV}:saml-provider/AWSSSO_0123456789abcdef_DO_NOT_DELETE"},
                           subject=email, subjectType="persistent", issuer="https://portal.sso.us-east-1.amazonaws.com/saml/assertion/ABC",
                           audience="https://signin.aws.amazon.com/saml", nameQualifier="Zm9vYmFy")  # fmt: skip
            org.calls(at, DEV, org.session_identity(role, email, key, at), "198.51.100.20", AGENTS[2], n)
        elif kind < 0.75:  # a Cognito identity
            identity_id = f"us-east-1:{uuid.UUID(int=rng.getrandbits(128))}"
            role = f"arn:aws:iam::{PROD}:role/CognitoAuthenticated"
            caller = {"type": "WebIdentityUser", "principalId": f"cognito-identity.amazonaws.com:us-east-1:pool:{identity_id}",
                      "userName": identity_id, "identityProvider": "cognito-identity.amazonaws.com"}  # fmt: skip
            key = org.mint(at, caller, "", "AssumeRoleWithWebIdentity", role, "CognitoIdentityCredentials", "192.0.2.7",
                           AGENTS[1], subjectFromWebIdentityToken=identity_id, provider="cognito-identity.amazonaws.com",
                           audience="us-east-1:pool")  # fmt: skip
            org.calls(at, PROD, org.session_identity(role, "CognitoIdentityCredentials", key, at), "192.0.2.7", AGENTS[1], n,
                      (("s3.amazonaws.com", "GetObject"), ("dynamodb.amazonaws.com", "GetItem")))  # fmt: skip
        elif kind < 0.9:  # an EC2 instance profile refresh
            instance = rng.choice(INSTANCES)
            role = f"arn:aws:iam::{PROD}:role/WebServerRole"
            caller = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
            key = org.mint(at, caller, "", "AssumeRole", role, instance, "ec2.amazonaws.com", "ec2.amazonaws.com")
            ident = org.session_identity(role, instance, key, at, ec2RoleDelivery="2.0")
            org.calls(at, PROD, ident, "10.0.1.15", AGENTS[1], n)
            if incident:
                org.calls(at + timedelta(minutes=20), PROD, ident, ATTACKER_IP, "python-requests/2.31",
                          4, (("sts.amazonaws.com", "GetCallerIdentity"), ("iam.amazonaws.com", "ListUsers")))  # fmt: skip
                facts["instance_credential_exfiltration"] = {"instance_id": instance, "access_key": key,
                                                             "attacker_ip": ATTACKER_IP, "role_arn": role}  # fmt: skip
                incident = False
                n += 4
        else:  # a Lambda function
            fn = rng.choice(FUNCTIONS)
            role = f"arn:aws:iam::{DEV}:role/{fn}-role"
            caller = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
            key = org.mint(at, caller, "", "AssumeRole", role, fn, "lambda.amazonaws.com", "lambda.amazonaws.com")
            org.calls(at, DEV, org.session_identity(role, fn, key, at), "3.5.140.2", "AWS_Lambda_python3.12", n)
        spent += n + 1


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
    hours = days * 24
    writer = _Writer(root, rng)
    org = _Org(writer, rng)
    facts: dict[str, Any] = {"organization_id": ORG, "accounts": [{"id": a, "name": n} for a, n in ACCOUNTS.items()]}
    per_hour = max(1, events // hours)
    for index in range(hours):
        hour = end - timedelta(hours=hours - index)
        _hour(org, hour, per_hour, incident=index == hours - 3, facts=facts)
        # One delivery file per account and region a day: fewer, larger objects load faster.
        if index % 24 == 23 or index == hours - 1:
            writer.flush(hour)
        if progress:
            progress(writer.events)
    (root / "demo-facts.txt").write_bytes(orjson.dumps(facts, option=orjson.OPT_INDENT_2))
    return DemoSummary(root, writer.files, writer.events, writer.bytes_written, facts)
