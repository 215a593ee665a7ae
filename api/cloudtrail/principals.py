"""Who is behind a credential: the principal at the top of an issuance chain (pure logic).

Canonical identifiers (a contract with playbooks): IAM user -> user ARN; root ->
arn:aws:iam::<account>:root; SAML user -> <SAML provider ARN>:<subject>; Identity Center user ->
the user name used as session name; web identity -> <provider>:<subject> (Cognito:
cognito-identity.amazonaws.com:<identity id>); federation token user -> its federated-user ARN;
EC2 instance -> instance id; Lambda -> function ARN; ECS task -> task id or ARN; AWS service ->
service principal; account -> account id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from api.cloudtrail.reads import Issuance, SessionUsage


class PrincipalKind(Enum):
    IAM_USER = "IAM_USER"
    ROOT = "ROOT"
    SAML_USER = "SAML_USER"
    IDENTITY_CENTER_USER = "IDENTITY_CENTER_USER"
    WEB_IDENTITY_USER = "WEB_IDENTITY_USER"
    FEDERATION_TOKEN_USER = "FEDERATION_TOKEN_USER"  # noqa: S105 -- an enum name, not a secret
    EC2_INSTANCE = "EC2_INSTANCE"
    LAMBDA_FUNCTION = "LAMBDA_FUNCTION"
    ECS_TASK = "ECS_TASK"
    AWS_SERVICE = "AWS_SERVICE"
    AWS_ACCOUNT = "AWS_ACCOUNT"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class PrincipalRef:
    kind: PrincipalKind
    identifier: str
    display_name: str
    account_id: str = ""


COGNITO = "cognito-identity.amazonaws.com"


def _account_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def minted_for(issuance: Issuance) -> PrincipalRef | None:
    """The principal at the top of a chain that starts with this minting call.

    It is whoever called (the top of the chain: for a federation token, the IAM user or root whose
    keys minted it), except that a Cognito identity pool mints for the identity; None when the
    caller is itself a temporary session (then the chain goes on).
    """
    if issuance.credential_kind == "GetCredentialsForIdentity" and issuance.cognito_identity_id:
        identity = issuance.cognito_identity_id
        account = _account_of_arn(issuance.role_arn) or issuance.recipient_account_id
        return PrincipalRef(PrincipalKind.WEB_IDENTITY_USER, f"{COGNITO}:{identity}", identity, account)
    return caller_principal(issuance)


def federated_user(issuance: Issuance) -> PrincipalRef | None:
    """The federated user a federation token was minted for (None for every other credential)."""
    if issuance.credential_kind == "GetFederationToken" and issuance.federated_user_arn:
        arn = issuance.federated_user_arn
        return PrincipalRef(
            PrincipalKind.FEDERATION_TOKEN_USER, arn, arn.rsplit("/", 1)[-1], _account_of_arn(arn)
        )
    return None


def usage_principal(usage: SessionUsage) -> PrincipalRef | None:
    """The principal behind a credential that has no minting record, when its own calls say it:
    console and session-token keys of users and root, federated users, instance-profile sessions
    (session name = instance id) and Identity Center sessions (session name = user name)."""
    account = usage.account_id
    if usage.identity_type == "IAMUser" and usage.identity_arn:
        name = usage.identity_arn.rsplit("/", 1)[-1]
        return PrincipalRef(PrincipalKind.IAM_USER, usage.identity_arn, name, account)
    if usage.identity_type == "Root":
        return PrincipalRef(PrincipalKind.ROOT, f"arn:aws:iam::{account}:root", f"root ({account})", account)
    if usage.identity_type == "FederatedUser" and usage.identity_arn:
        arn = usage.identity_arn
        return PrincipalRef(PrincipalKind.FEDERATION_TOKEN_USER, arn, arn.rsplit("/", 1)[-1], account)
    if usage.identity_type == "AssumedRole":
        if _INSTANCE_ID.match(usage.session_name):
            return PrincipalRef(PrincipalKind.EC2_INSTANCE, usage.session_name, usage.session_name, account)
        if "AWSReservedSSO_" in usage.role_arn and usage.session_name:
            name = usage.session_name
            return PrincipalRef(PrincipalKind.IDENTITY_CENTER_USER, name, name, account)
    return None


def caller_principal(issuance: Issuance) -> PrincipalRef | None:
    """The principal that made a minting call, when it is not itself a temporary session."""
    kind = issuance.caller_identity_type
    account = issuance.caller_account_id or issuance.recipient_account_id
    if kind == "IAMUser":
        name = issuance.caller_user_name or issuance.caller_arn.rsplit("/", 1)[-1]
        return PrincipalRef(PrincipalKind.IAM_USER, issuance.caller_arn, name, account)
    if kind == "Root":
        return PrincipalRef(PrincipalKind.ROOT, f"arn:aws:iam::{account}:root", f"root ({account})", account)
    if kind == "SAMLUser":
        return _saml(issuance)
    if kind == "WebIdentityUser":
        return _web_identity(issuance)
    if kind == "AWSService":
        return _service(issuance)
    if kind == "AWSAccount":
        return PrincipalRef(PrincipalKind.AWS_ACCOUNT, account, f"account {account}", account)
    if kind == "FederatedUser":
        name = issuance.caller_arn.rsplit("/", 1)[-1]
        return PrincipalRef(PrincipalKind.FEDERATION_TOKEN_USER, issuance.caller_arn, name, account)
    if kind in ("AssumedRole", "Role"):
        return None
    return PrincipalRef(
        PrincipalKind.UNKNOWN, issuance.caller_principal_id or issuance.caller_arn, kind, account
    )


def _saml(issuance: Issuance) -> PrincipalRef:
    account = _account_of_arn(issuance.role_arn)
    if "AWSReservedSSO_" in issuance.role_arn:
        name = issuance.role_session_name
        return PrincipalRef(PrincipalKind.IDENTITY_CENTER_USER, name, name, account)
    subject = issuance.saml_subject or issuance.caller_user_name
    return PrincipalRef(PrincipalKind.SAML_USER, f"{issuance.saml_provider_arn}:{subject}", subject, account)


def _web_identity(issuance: Issuance) -> PrincipalRef:
    account = _account_of_arn(issuance.role_arn)
    provider = issuance.web_identity_provider
    subject = issuance.web_identity_subject or issuance.caller_user_name
    if COGNITO in provider or issuance.cognito_identity_id:
        identity = issuance.cognito_identity_id or subject
        return PrincipalRef(PrincipalKind.WEB_IDENTITY_USER, f"{COGNITO}:{identity}", identity, account)
    return PrincipalRef(PrincipalKind.WEB_IDENTITY_USER, f"{provider}:{subject}", subject, account)


def _service(issuance: Issuance) -> PrincipalRef:
    service = issuance.caller_invoked_by
    name = issuance.role_session_name
    account = _account_of_arn(issuance.role_arn) or issuance.recipient_account_id
    if service == "ec2.amazonaws.com" and name.startswith("i-"):
        return PrincipalRef(PrincipalKind.EC2_INSTANCE, name, name, account)
    if service == "lambda.amazonaws.com":
        arn = f"arn:aws:lambda:{issuance.aws_region}:{account}:function:{name}"
        return PrincipalRef(PrincipalKind.LAMBDA_FUNCTION, arn, name, account)
    if service == "ecs-tasks.amazonaws.com":
        return PrincipalRef(PrincipalKind.ECS_TASK, name, name, account)
    if service == "pods.eks.amazonaws.com":
        # EKS Pod Identity: the service principal; the pod's cluster, namespace and service account
        # (transitive session tags) name it for people.
        tags = issuance.session_tags
        where = "/".join(
            tags.get(key, "?")
            for key in ("eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account")
        )
        return PrincipalRef(PrincipalKind.AWS_SERVICE, service, f"{service} ({where})", account)
    return PrincipalRef(PrincipalKind.AWS_SERVICE, service or "unknown", service or "unknown", account)
