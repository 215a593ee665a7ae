"""Builders of invented CloudTrail records for the attribution fixtures (shapes of sections 1 to 4 of the
identity reference; every value is made up).

Identifiers are derived from readable text, so a scenario reads as prose and every file is the
same bytes each time it is written.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

Record = dict[str, Any]

DAY = datetime(2024, 6, 3, tzinfo=UTC)
REGION = "us-east-1"
HOME_IP = "198.51.100.24"
CLI = "aws-cli/2.17.4 md/awscrt#0.20.11 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.9"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
BOTO = "Boto3/1.34.120 md/Botocore#1.34.120 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.3"


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment of the fixture day."""
    return DAY + timedelta(hours=hour, minutes=minute, seconds=second)


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_time(when: datetime) -> str:
    """How the GraphQL API writes a DateTime."""
    return when.astimezone(UTC).isoformat()


def human(when: datetime) -> str:
    """`credentials.expiration` as CloudTrail writes it: "Jun 3, 2024, 10:00:00 AM"."""
    hour = when.hour % 12 or 12
    half = "AM" if when.hour < 12 else "PM"
    return f"{when:%b} {when.day}, {when.year}, {hour}:{when:%M:%S} {half}"


def uid(text: str) -> str:
    """A GUID-shaped id derived from text."""
    h = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def key(prefix: str, name: str) -> str:
    """A 20-character access key id or unique id with a readable name: ASIA + NAME + zeros."""
    body = "".join(c for c in name.upper() if c.isalnum())
    assert len(prefix) + len(body) <= 20, name
    return (prefix + body).ljust(20, "0")


def unique_id(prefix: str, text: str) -> str:
    """An IAM unique id (AROA…, AIDA…: 21 characters, base32 like real ones) derived from text."""
    digest = hashlib.blake2b(text.encode(), digest_size=15).digest()
    return prefix + base64.b32encode(digest).decode()[:17]


def account_of(arn: str) -> str:
    return arn.split(":")[4]


def role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


class Role:
    """An IAM role: ARN (with path), unique id, and the identity of its sessions."""

    def __init__(self, account: str, name: str, path: str = "/") -> None:
        self.account = account
        self.name = name
        self.arn = f"arn:aws:iam::{account}:role{path}{name}"
        self.role_id = unique_id("AROA", self.arn)

    def session_arn(self, session: str) -> str:
        # A session ARN has no role path.
        return f"arn:aws:sts::{self.account}:assumed-role/{self.name}/{session}"

    def principal_id(self, session: str) -> str:
        return f"{self.role_id}:{session}"

    def issuer(self) -> Record:
        return {
            "type": "Role",
            "principalId": self.role_id,
            "arn": self.arn,
            "accountId": self.account,
            "userName": self.name,
        }

    def identity(
        self,
        access_key: str,
        session: str,
        created: datetime,
        *,
        source_identity: str = "",
        mfa: bool = False,
        web: Record | None = None,
        ec2: bool = False,
        extra: Record | None = None,
    ) -> Record:
        """`userIdentity` of a call made with one of this role's sessions."""
        context: Record = {
            "sessionIssuer": self.issuer(),
            "webIdFederationData": web or {},
            "attributes": {"creationDate": iso(created), "mfaAuthenticated": "true" if mfa else "false"},
        }
        if source_identity:
            context["sourceIdentity"] = source_identity
        if ec2:
            context["ec2RoleDelivery"] = "2.0"
        out: Record = {
            "type": "AssumedRole",
            "principalId": self.principal_id(session),
            "arn": self.session_arn(session),
            "accountId": self.account,
            "sessionContext": context,
            **(extra or {}),
        }
        if access_key:
            out["accessKeyId"] = access_key
        return out

    def assumed_role_user(self, session: str) -> Record:
        return {"assumedRoleId": self.principal_id(session), "arn": self.session_arn(session)}

    def resource(self) -> Record:
        return {"accountId": self.account, "type": "AWS::IAM::Role", "ARN": self.arn}


class User:
    """An IAM user with one long-term access key."""

    def __init__(self, account: str, name: str, path: str = "/") -> None:
        self.account = account
        self.name = name
        self.arn = f"arn:aws:iam::{account}:user{path}{name}"
        self.user_id = unique_id("AIDA", self.arn)
        self.access_key = key("AKIA", f"{name}{account[-2:]}")

    def identity(self, access_key: str = "") -> Record:
        """A call signed with the long-term key (or, given an ASIA key, with a session of the user)."""
        return {
            "type": "IAMUser",
            "principalId": self.user_id,
            "arn": self.arn,
            "accountId": self.account,
            "accessKeyId": access_key or self.access_key,
            "userName": self.name,
        }

    def session_identity(self, access_key: str, created: datetime, *, mfa: bool = True) -> Record:
        """A console or GetSessionToken session: type stays IAMUser, an ASIA key, a sessionContext."""
        return {
            **self.identity(access_key),
            "sessionContext": {
                "sessionIssuer": {},
                "webIdFederationData": {},
                "attributes": {"creationDate": iso(created), "mfaAuthenticated": "true" if mfa else "false"},
            },
        }

    def issuer(self) -> Record:
        return {
            "type": "IAMUser",
            "principalId": self.user_id,
            "arn": self.arn,
            "accountId": self.account,
            "userName": self.name,
        }


def service(name: str) -> Record:
    """The caller when an AWS service assumes a role."""
    return {"type": "AWSService", "invokedBy": name}


def aws_account(principal_id: str, account: str) -> Record:
    """The role owner's view of a cross-account caller."""
    return {"type": "AWSAccount", "principalId": principal_id, "accountId": account}


def record(
    event_id: str,
    when: datetime,
    identity: Record,
    *,
    account: str,
    source: str = "s3.amazonaws.com",
    name: str = "ListBuckets",
    region: str = REGION,
    read_only: bool = True,
    error: str = "",
    shared: str = "",
    request: Record | None = None,
    response: Record | None = None,
    extra: Record | None = None,
    resources: list[Record] | None = None,
    ip: str = "198.51.100.24",
    agent: str = CLI,
    event_type: str = "AwsApiCall",
    data_event: bool = False,
    request_id: str = "",
    version: str = "1.09",
) -> Record:
    out: Record = {
        "eventVersion": version,
        "userIdentity": identity,
        "eventTime": iso(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": request,
        "responseElements": response,
    }
    if error:
        out["errorCode"] = error
        out["errorMessage"] = f"User: {identity.get('arn', 'caller')} is not authorized to perform: {name}"
    if extra is not None:
        out["additionalEventData"] = extra
    out["requestID"] = request_id or uid(f"request/{event_id}")
    out["eventID"] = event_id
    out["readOnly"] = read_only
    if resources:
        out["resources"] = resources
    out["eventType"] = event_type
    out["managementEvent"] = not data_event
    out["recipientAccountId"] = account
    if shared:
        out["sharedEventID"] = shared
    out["eventCategory"] = "Data" if data_event else "Management"
    return out


def credentials(access_key: str, expires: datetime) -> Record:
    return {
        "accessKeyId": access_key,
        "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////",
        "expiration": human(expires),
    }


def owner_copy(caller_copy: Record, event_id: str, principal_id: str, caller_account: str) -> Record:
    """The role owner's copy of a cross-account call: same request, response, requestID and
    sharedEventID; another eventID; the caller known only by account and principal id."""
    return {
        **caller_copy,
        "userIdentity": aws_account(principal_id, caller_account),
        "eventID": event_id,
        "recipientAccountId": account_of(caller_copy["requestParameters"]["roleArn"]),
    }
