"""Builders of the minting records (STS, and the calls around them) the scenarios are made of."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from tests.data.attribution.records import (
    BOTO,
    BROWSER,
    HOME_IP,
    REGION,
    Record,
    Role,
    credentials,
    owner_copy,
    record,
    service,
    uid,
)

SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"


def name_qualifier(issuer: str, account: str, provider: str) -> str:
    """saml:namequalifier = BASE64(SHA1(issuer + account id + "/" + provider name))."""
    digest = hashlib.sha1(f"{issuer}{account}/{provider}".encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def assume_role(
    event_id: str,
    when: datetime,
    caller: Record,
    role: Role,
    session: str,
    minted: str,
    *,
    account: str,
    hours: float = 1,
    shared: str = "",
    source_identity: str = "",
    claimed: bool = False,
    tags: dict[str, str] | None = None,
    transitive: tuple[str, ...] = (),
    incoming: dict[str, str] | None = None,
    request_extra: Record | None = None,
    ip: str = HOME_IP,
    agent: str = BOTO,
    request_id: str = "",
) -> Record:
    """A successful AssumeRole as logged in `account`. `claimed`: the caller passed sourceIdentity
    itself (otherwise it is inherited and only the response shows it)."""
    request: Record = {"roleArn": role.arn, "roleSessionName": session, "durationSeconds": int(hours * 3600)}
    if tags:
        request["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if transitive:
        request["transitiveTagKeys"] = list(transitive)
    if incoming:
        request["incomingTransitiveTags"] = incoming
    if source_identity and claimed:
        request["sourceIdentity"] = source_identity
    request.update(request_extra or {})
    response: Record = {
        "credentials": credentials(minted, when + timedelta(hours=hours)),
        "assumedRoleUser": role.assumed_role_user(session),
    }
    if source_identity:
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
        resources=[role.resource()],
        ip=ip,
        agent=agent,
        request_id=request_id,
    )


def cross_account(
    ids: Callable[[], str],
    when: datetime,
    caller: Record,
    caller_account: str,
    role: Role,
    session: str,
    minted: str,
    **options: Any,
) -> tuple[Record, Record]:
    """Both copies of a cross-account AssumeRole: the caller's and the role owner's (AWSAccount)."""
    shared = uid(f"shared/{minted}")
    request_id = uid(f"request/{minted}")
    mine = assume_role(
        ids(), when, caller, role, session, minted, account=caller_account, shared=shared,
        request_id=request_id, **options,
    )  # fmt: skip
    theirs = owner_copy(mine, ids(), caller["principalId"], caller_account)
    return mine, theirs


def call(
    ids: Callable[[], str],
    when: datetime,
    identity: Record,
    account: str,
    source: str,
    name: str,
    **options: Any,
) -> Record:
    """An ordinary API call; a name that does not start like a read is a write."""
    reads = ("List", "Get", "Describe", "Head", "Lookup")
    options.setdefault("read_only", name.startswith(reads))
    return record(
        ids(), when, identity, account=account, source=f"{source}.amazonaws.com", name=name, **options
    )


def saml_login(
    event_id: str,
    when: datetime,
    role: Role,
    provider: str,
    issuer: str,
    subject: str,
    session: str,
    minted: str,
    *,
    source_identity: str = "",
    tags: dict[str, str] | None = None,
    transitive: tuple[str, ...] = (),
    ip: str = HOME_IP,
    agent: str = BROWSER,
) -> Record:
    qualifier = name_qualifier(issuer, role.account, provider.rsplit("/", 1)[-1])
    request: Record = {
        "sAMLAssertionID": "_" + uid(f"assertion/{minted}").replace("-", ""),
        "roleSessionName": session,
        "roleArn": role.arn,
        "principalArn": provider,
        "durationSeconds": 3600,
    }
    if tags:
        request["principalTags"] = tags
    if transitive:
        request["transitiveTagKeys"] = list(transitive)
    if source_identity:
        request["sourceIdentity"] = source_identity
    response: Record = {
        "credentials": credentials(minted, when + timedelta(hours=1)),
        "assumedRoleUser": role.assumed_role_user(session),
        "packedPolicySize": 1,
        "subject": subject,
        "subjectType": "persistent",
        "issuer": issuer,
        "audience": SAML_AUDIENCE,
        "nameQualifier": qualifier,
    }
    if source_identity:
        response["sourceIdentity"] = source_identity
    caller: Record = {
        "type": "SAMLUser",
        "principalId": f"{qualifier}:{subject}",
        "userName": subject,
        "identityProvider": qualifier,
    }
    return record(
        event_id,
        when,
        caller,
        account=role.account,
        source="sts.amazonaws.com",
        name="AssumeRoleWithSAML",
        request=request,
        response=response,
        resources=[
            role.resource(),
            {"accountId": role.account, "type": "AWS::IAM::SAMLProvider", "ARN": provider},
        ],
        ip=ip,
        agent=agent,
        version="1.08",
    )


def web_identity_login(
    event_id: str,
    when: datetime,
    role: Role,
    session: str,
    minted: str,
    *,
    provider: str,
    subject: str,
    audience: str,
    principal_id: str,
    ip: str = HOME_IP,
    agent: str = BOTO,
) -> Record:
    caller: Record = {
        "type": "WebIdentityUser",
        "principalId": principal_id,
        "userName": subject,
        "identityProvider": provider,
    }
    return record(
        event_id,
        when,
        caller,
        account=role.account,
        source="sts.amazonaws.com",
        name="AssumeRoleWithWebIdentity",
        request={"roleArn": role.arn, "roleSessionName": session, "durationSeconds": 3600},
        response={
            "credentials": credentials(minted, when + timedelta(hours=1)),
            "subjectFromWebIdentityToken": subject,
            "assumedRoleUser": role.assumed_role_user(session),
            "provider": provider,
            "audience": audience,
        },
        extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
        resources=[role.resource()],
        ip=ip,
        agent=agent,
    )


def service_assume(
    event_id: str,
    when: datetime,
    principal: str,
    role: Role,
    session: str,
    minted: str,
    *,
    hours: float,
    region: str = REGION,
    tags: dict[str, str] | None = None,
    transitive: tuple[str, ...] = (),
) -> Record:
    """An AWS service assumes a role in the account (the role owner's copy; the service keeps the
    other copy, hence the sharedEventID)."""
    request: Record = {"roleArn": role.arn, "roleSessionName": session}
    if tags:
        request["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if transitive:
        request["transitiveTagKeys"] = list(transitive)
    return record(
        event_id,
        when,
        service(principal),
        account=role.account,
        source="sts.amazonaws.com",
        name="AssumeRole",
        region=region,
        shared=uid(f"shared/{minted}"),
        request=request,
        response={
            "credentials": credentials(minted, when + timedelta(hours=hours)),
            "assumedRoleUser": role.assumed_role_user(session),
        },
        resources=[role.resource()],
        ip=principal,
        agent=principal,
    )
