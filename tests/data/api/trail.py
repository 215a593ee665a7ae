"""The invented trail behind the API tests: record builders, the fixture files and what they hold.

Three accounts: alice is an IAM user in A; she assumes Deployer in B (cross-account: one copy of
the AssumeRole in A, the role owner's copy in B as `AWSAccount`), and that session assumes Auditor
in C (copies in B and C). Beside that chain: bob's SAML session in B, carol's Identity Center
session in B (no minting record, `onBehalfOf` on its calls), an EC2 instance-profile session in C,
and a chain in C whose parent's minting record is missing (a gap). An organisation trail repeats
three of C's records: they must count once.

The gzip files in this folder are written by `python -m tests.data.api.trail` (mtime 0, stable
bytes); the tests read them, and build bulk data with the same builders.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
ACCOUNT_C = "333333333333"
REGION = "us-east-1"
DAY = datetime(2024, 5, 1, tzinfo=UTC)

ALICE_ARN = f"arn:aws:iam::{ACCOUNT_A}:user/alice"
ALICE_AKIA = "AKIAALICE00000000001"
ALICE_ID = "AIDAALICE00000000001"

DEPLOYER_ARN = f"arn:aws:iam::{ACCOUNT_B}:role/Deployer"
DEPLOYER_ID = "AROADEPLOYER00000001"
KEY_B = "ASIADEPLOYERALICE001"

AUDITOR_ARN = f"arn:aws:iam::{ACCOUNT_C}:role/audit/Auditor"
AUDITOR_ID = "AROAAUDITOR000000001"
KEY_C = "ASIAAUDITORALICE0001"

ANALYST_ARN = f"arn:aws:iam::{ACCOUNT_B}:role/Analyst"
ANALYST_ID = "AROAANALYST000000001"
SAML_PROVIDER = f"arn:aws:iam::{ACCOUNT_B}:saml-provider/ExampleIdP"
BOB = "bob@example.com"
KEY_SAML = "ASIAANALYSTBOB000001"

SSO_ROLE_ARN = (
    f"arn:aws:iam::{ACCOUNT_B}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_ReadOnly_0123456789abcdef"
)
SSO_ROLE_ID = "AROASSOREADONLY00001"
CAROL_USER_ID = "94482488-3041-7026-18f3-be45837cd0e4"
IDENTITY_STORE = f"arn:aws:identitystore::{ACCOUNT_B}:identitystore/d-9067230000"
KEY_SSO = "ASIASSOCAROL00000001"

WEB_ARN = f"arn:aws:iam::{ACCOUNT_C}:role/WebServer"
WEB_ID = "AROAWEBSERVER0000001"
INSTANCE = "i-0123456789abcdef0"
KEY_EC2 = "ASIAWEBSERVERI000001"

JUMP_ARN = f"arn:aws:iam::{ACCOUNT_C}:role/Jump"
JUMP_ID = "AROAJUMP000000000001"
KEY_GAP_PARENT = "ASIAJUMPCI0000000001"
BUILD_ARN = f"arn:aws:iam::{ACCOUNT_C}:role/Build"
BUILD_ID = "AROABUILD00000000001"
KEY_GAP_CHILD = "ASIABUILDCI000000001"

# What the files hold, per session: calls counted once per (recipient account, eventID).
EXPECTED_CALLS = {
    KEY_B: 4,
    KEY_C: 4,
    KEY_SAML: 2,
    KEY_SSO: 2,
    KEY_EC2: 3,
    KEY_GAP_PARENT: 2,
    KEY_GAP_CHILD: 1,
}
EXPECTED_ERRORS = {
    KEY_B: 1,
    KEY_C: 2,
    KEY_SAML: 0,
    KEY_SSO: 0,
    KEY_EC2: 1,
    KEY_GAP_PARENT: 0,
    KEY_GAP_CHILD: 0,
}
ALL_KEYS = tuple(EXPECTED_CALLS)

Record = dict[str, Any]


def at(minutes: float) -> datetime:
    return DAY + timedelta(hours=9, minutes=minutes)


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def expiration(when: datetime) -> str:
    # CloudTrail writes the expiry as a human string.
    return (when + timedelta(hours=1)).strftime("%b %d, %Y, %I:%M:%S %p")


def record(
    event_id: str,
    when: datetime,
    identity: Record,
    *,
    account: str,
    source: str = "s3.amazonaws.com",
    name: str = "ListBuckets",
    read_only: bool = True,
    error: str = "",
    shared: str = "",
    request: Record | None = None,
    response: Record | None = None,
    ip: str = "198.51.100.7",
    agent: str = "aws-cli/2.15.0",
) -> Record:
    out: Record = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": iso(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": request,
        "responseElements": response,
        "requestID": f"req-{event_id}",
        "eventID": event_id,
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }
    if error:
        out["errorCode"] = error
        out["errorMessage"] = f"User is not authorized to perform {name} ({error})"
    if shared:
        out["sharedEventID"] = shared
    return out


def role_identity(
    key: str,
    role_arn: str,
    role_id: str,
    session: str,
    created: datetime,
    *,
    source_identity: str = "",
    extra: Record | None = None,
    context: Record | None = None,
) -> Record:
    """`userIdentity` of a call made with a role session."""
    account = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[-1]
    session_context: Record = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role_id,
            "arn": role_arn,
            "accountId": account,
            "userName": role_name,
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": iso(created), "mfaAuthenticated": "false"},
        **(context or {}),
    }
    if source_identity:
        session_context["sourceIdentity"] = source_identity
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": session_context,
        **(extra or {}),
    }


def assume_role_response(key: str, role_arn: str, role_id: str, session: str, when: datetime) -> Record:
    account = role_arn.split(":")[4]
    role_name = role_arn.rsplit("/", 1)[-1]
    return {
        "credentials": {"accessKeyId": key, "expiration": expiration(when), "sessionToken": "<redacted>"},
        "assumedRoleUser": {
            "assumedRoleId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
        },
    }


def assume_role(
    event_id: str,
    when: datetime,
    caller: Record,
    *,
    account: str,
    key: str,
    role_arn: str,
    role_id: str,
    session: str,
    shared: str = "",
    source_identity: str = "",
) -> Record:
    request: Record = {"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600}
    response = assume_role_response(key, role_arn, role_id, session, when)
    if source_identity:
        request["sourceIdentity"] = source_identity
        response["sourceIdentity"] = source_identity
    return record(
        event_id,
        when,
        caller,
        account=account,
        source="sts.amazonaws.com",
        name="AssumeRole",
        shared=shared,
        request=request,
        response=response,
    )


def owner_copy(caller_copy: Record, event_id: str, *, account: str) -> Record:
    """The role owner's copy of a cross-account AssumeRole: it knows the caller as AWSAccount."""
    caller = caller_copy["userIdentity"]
    return {
        **caller_copy,
        "eventID": event_id,
        "recipientAccountId": account,
        "userIdentity": {
            "type": "AWSAccount",
            "principalId": caller["principalId"],
            "accountId": caller["accountId"],
        },
    }


def alice() -> Record:
    return {
        "type": "IAMUser",
        "principalId": ALICE_ID,
        "arn": ALICE_ARN,
        "accountId": ACCOUNT_A,
        "accessKeyId": ALICE_AKIA,
        "userName": "alice",
    }


# -- the incident ---------------------------------------------------------------------------------


def account_a() -> list[Record]:
    to_b = assume_role(
        "a0000001-0000-4000-8000-000000000001",
        at(0),
        alice(),
        account=ACCOUNT_A,
        key=KEY_B,
        role_arn=DEPLOYER_ARN,
        role_id=DEPLOYER_ID,
        session="alice",
        shared="5ad00001-0000-4000-8000-000000000001",
        source_identity="alice",
    )
    who = record(
        "a0000001-0000-4000-8000-000000000002",
        at(-1),
        alice(),
        account=ACCOUNT_A,
        source="sts.amazonaws.com",
        name="GetCallerIdentity",
    )
    return [to_b, who]


def deployer() -> Record:
    return role_identity(KEY_B, DEPLOYER_ARN, DEPLOYER_ID, "alice", at(0), source_identity="alice")


def auditor() -> Record:
    return role_identity(KEY_C, AUDITOR_ARN, AUDITOR_ID, "alice-audit", at(5), source_identity="alice")


def b_to_c() -> Record:
    return assume_role(
        "b0000001-0000-4000-8000-000000000005",
        at(5),
        deployer(),
        account=ACCOUNT_B,
        key=KEY_C,
        role_arn=AUDITOR_ARN,
        role_id=AUDITOR_ID,
        session="alice-audit",
        shared="5ad00001-0000-4000-8000-000000000002",
        source_identity="alice",
    )


def account_b() -> list[Record]:
    ids = "b0000001-0000-4000-8000-00000000000{}".format
    records = [
        owner_copy(account_a()[0], ids(1), account=ACCOUNT_B),
        record(ids(2), at(1), deployer(), account=ACCOUNT_B, name="ListBuckets"),
        record(
            ids(3), at(2), deployer(), account=ACCOUNT_B, source="ec2.amazonaws.com", name="DescribeInstances"
        ),
        record(
            ids(4),
            at(3),
            deployer(),
            account=ACCOUNT_B,
            source="iam.amazonaws.com",
            name="CreateUser",
            read_only=False,
            error="AccessDenied",
        ),
        b_to_c(),
    ]
    records += saml_session() + sso_session()
    return records


def saml_session() -> list[Record]:
    ids = "b0000002-0000-4000-8000-00000000000{}".format
    when = at(60)
    saml_user: Record = {
        "type": "SAMLUser",
        "principalId": f"Q2xpZW50UXVhbGlmaWVyMQ==:{BOB}",
        "userName": BOB,
        "identityProvider": "Q2xpZW50UXVhbGlmaWVyMQ==",
    }
    minted = record(
        ids(1),
        when,
        saml_user,
        account=ACCOUNT_B,
        source="sts.amazonaws.com",
        name="AssumeRoleWithSAML",
        request={"roleArn": ANALYST_ARN, "principalArn": SAML_PROVIDER, "roleSessionName": BOB},
        response={
            **assume_role_response(KEY_SAML, ANALYST_ARN, ANALYST_ID, BOB, when),
            "subject": BOB,
            "subjectType": "persistent",
            "issuer": "https://idp.example.com/saml",
            "audience": "https://signin.aws.amazon.com/saml",
            "nameQualifier": "Q2xpZW50UXVhbGlmaWVyMQ==",
        },
    )
    identity = role_identity(KEY_SAML, ANALYST_ARN, ANALYST_ID, BOB, when)
    return [
        minted,
        record(
            ids(2),
            at(61),
            identity,
            account=ACCOUNT_B,
            source="athena.amazonaws.com",
            name="StartQueryExecution",
        ),
        record(
            ids(3), at(62), identity, account=ACCOUNT_B, source="athena.amazonaws.com", name="GetQueryResults"
        ),
    ]


def sso_session() -> list[Record]:
    ids = "b0000003-0000-4000-8000-00000000000{}".format
    identity = role_identity(
        KEY_SSO,
        SSO_ROLE_ARN,
        SSO_ROLE_ID,
        "carol",
        at(120),
        extra={"onBehalfOf": {"userId": CAROL_USER_ID, "identityStoreArn": IDENTITY_STORE}},
    )
    return [
        record(ids(1), at(121), identity, account=ACCOUNT_B, name="ListBuckets"),
        record(ids(2), at(122), identity, account=ACCOUNT_B, source="ec2.amazonaws.com", name="DescribeVpcs"),
    ]


def account_c_calls() -> list[Record]:
    """KEY_C's own calls (the organisation trail repeats them)."""
    ids = "c0000001-0000-4000-8000-00000000000{}".format
    return [
        record(ids(2), at(6), auditor(), account=ACCOUNT_C, name="GetObject"),
        record(ids(3), at(7), auditor(), account=ACCOUNT_C, source="iam.amazonaws.com", name="ListUsers"),
        record(
            ids(4),
            at(8),
            auditor(),
            account=ACCOUNT_C,
            source="cloudtrail.amazonaws.com",
            name="StopLogging",
            read_only=False,
            error="AccessDenied",
        ),
        record(
            ids(5),
            at(9),
            auditor(),
            account=ACCOUNT_C,
            source="sts.amazonaws.com",
            name="AssumeRole",
            error="AccessDenied",
            request={"roleArn": f"arn:aws:iam::{ACCOUNT_C}:role/Admin", "roleSessionName": "x"},
        ),
    ]


def account_c() -> list[Record]:
    ids = "c0000002-0000-4000-8000-00000000000{}".format
    ec2_service: Record = {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}
    web = role_identity(KEY_EC2, WEB_ARN, WEB_ID, INSTANCE, at(180), context={"ec2RoleDelivery": "2.0"})
    jump = role_identity(KEY_GAP_PARENT, JUMP_ARN, JUMP_ID, "ci", at(230))
    build = role_identity(KEY_GAP_CHILD, BUILD_ARN, BUILD_ID, "ci-build", at(241))
    return [
        owner_copy(b_to_c(), "c0000001-0000-4000-8000-000000000001", account=ACCOUNT_C),
        *account_c_calls(),
        record(
            ids(1),
            at(180),
            ec2_service,
            account=ACCOUNT_C,
            source="sts.amazonaws.com",
            name="AssumeRole",
            ip="ec2.amazonaws.com",
            agent="ec2.amazonaws.com",
            shared="5ad00001-0000-4000-8000-000000000003",
            request={"roleArn": WEB_ARN, "roleSessionName": INSTANCE},
            response=assume_role_response(KEY_EC2, WEB_ARN, WEB_ID, INSTANCE, at(180)),
        ),
        record(
            ids(2),
            at(181),
            web,
            account=ACCOUNT_C,
            source="s3.amazonaws.com",
            name="GetObject",
            ip="10.0.1.5",
        ),
        record(
            ids(3),
            at(182),
            web,
            account=ACCOUNT_C,
            source="ssm.amazonaws.com",
            name="GetParameter",
            ip="10.0.1.5",
        ),
        record(
            ids(4),
            at(183),
            web,
            account=ACCOUNT_C,
            source="ec2.amazonaws.com",
            name="GetPasswordData",
            ip="203.0.113.66",
            error="UnauthorizedOperation",
        ),
        # The Jump session's own minting record is missing from the store: the chain has a gap.
        record(
            ids(5), at(240), jump, account=ACCOUNT_C, source="sts.amazonaws.com", name="GetCallerIdentity"
        ),
        assume_role(
            ids(6),
            at(241),
            jump,
            account=ACCOUNT_C,
            key=KEY_GAP_CHILD,
            role_arn=BUILD_ARN,
            role_id=BUILD_ID,
            session="ci-build",
        ),
        record(
            ids(7), at(242), build, account=ACCOUNT_C, source="codebuild.amazonaws.com", name="StartBuild"
        ),
    ]


def trail_path(account: str, name: str, *, org: str = "") -> str:
    stamp = DAY.strftime("%Y%m%dT0900Z")
    prefix = f"AWSLogs/{org}/{account}" if org else f"AWSLogs/{account}"
    return f"{prefix}/CloudTrail/{REGION}/{DAY:%Y/%m/%d}/{account}_CloudTrail_{REGION}_{stamp}_{name}.json.gz"


def fixture_files() -> dict[str, list[Record]]:
    """The fixture files, by path relative to this folder."""
    return {
        trail_path(ACCOUNT_A, "Aa1"): account_a(),
        trail_path(ACCOUNT_B, "Bb1"): account_b(),
        trail_path(ACCOUNT_C, "Cc1"): account_c(),
        # The organisation trail delivers C's records again, in another order.
        trail_path(ACCOUNT_C, "Oo1", org="o-apitest0001"): list(reversed(account_c_calls())),
    }


def write_trail(path: Path, records: Iterable[Record]) -> Path:
    """A gzipped `{"Records": [...]}` file with stable bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"Records": list(records)}, separators=(",", ":")).encode()
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(body)
    return path


def paths(*accounts: str) -> list[Path]:
    """The committed fixture files, all of them or those of the given accounts (org copies aside)."""
    found = sorted(HERE.glob("AWSLogs/**/*.json.gz"))
    if not accounts:
        return found
    return [p for p in found if "/o-" not in str(p) and any(f"AWSLogs/{a}/" in str(p) for a in accounts)]


# -- bulk data for the query-count and timeout tests ---------------------------------------------


def chains(count: int, depth: int, *, start: datetime = DAY, account: str = ACCOUNT_B) -> list[Record]:
    """`count` chains of `depth` role sessions each, rooted at alice, with one call per session."""
    records: list[Record] = []
    for n in range(count):
        when = start + timedelta(seconds=10 * n)
        caller = alice()
        for level in range(depth):
            key = f"ASIABULK{n:06d}L{level:02d}"[:20].ljust(20, "0")
            role_arn = f"arn:aws:iam::{account}:role/Hop{level}"
            role_id = f"AROAHOP{level:013d}"
            session = f"s{n}-{level}"
            records.append(
                assume_role(
                    f"bulk-{n}-{level}-mint",
                    when,
                    caller,
                    account=account,
                    key=key,
                    role_arn=role_arn,
                    role_id=role_id,
                    session=session,
                )
            )
            caller = role_identity(key, role_arn, role_id, session, when)
            records.append(
                record(f"bulk-{n}-{level}-call", when + timedelta(seconds=1), caller, account=account)
            )
    return records


def write_all(root: Path = HERE, files: Sequence[tuple[str, list[Record]]] | None = None) -> list[Path]:
    items = files if files is not None else list(fixture_files().items())
    return [write_trail(root / name, records) for name, records in items]


if __name__ == "__main__":
    for written in write_all():
        print(written.relative_to(HERE))
