"""The attribution scenarios: one small story per way of minting a credential, and what the API
must answer about each session (origin, chain, gap, kind, claims, tags, children).

An invented organisation (see README.md): management 210000000001, production …02, development
…03, security …04, sandbox …05, and a data-platform account …09 whose logs are deliberately never
delivered. Call counts are not written here: the tests read them from the records themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.data.attribution.records import (
    BOTO,
    BROWSER,
    DAY,
    REGION,
    Record,
    Role,
    User,
    at,
    credentials,
    iso,
    record,
    uid,
)
from tests.data.attribution.records import key as make_key
from tests.data.attribution.sts import (
    assume_role,
    call,
    cross_account,
    saml_login,
    service_assume,
    web_identity_login,
)

MGMT = "210000000001"
PROD = "210000000002"
DEV = "210000000003"
SEC = "210000000004"
SANDBOX = "210000000005"
DATA = "210000000009"  # never delivered: the chain through it has a gap
ACCOUNT_NAMES = {
    MGMT: "acme-management",
    PROD: "acme-production",
    DEV: "acme-development",
    SEC: "acme-security",
    SANDBOX: "acme-sandbox",
    DATA: "acme-data-platform",
}
ORG = "o-acmeattrib01"
OFFICE_IP = "198.51.100.77"
OUTSIDE_IP = "203.0.113.66"
INSTANCE_IP = "192.0.2.15"

# -- principals --------------------------------------------------------------------------------

BOB = User(DEV, "bob")
BOB_SEC = User(SEC, "bob")  # the same user name in another account: "bob" alone is ambiguous
FRANK = User(DEV, "frank")
IVAN = User(DEV, "ivan")
LENA = User(DEV, "lena")
MALLORY = User(DEV, "mallory")
KIM = User(MGMT, "kim")
BROKER = User(PROD, "partner-broker")

CORP_ISSUER = "https://idp.corp.example.com/saml2"
IDC_ISSUER = "https://portal.sso.us-east-1.amazonaws.com/saml/assertion/MjEwMDAwMDAwMDAxX2lucy1hdHRyaWI"
CORP_IDP = f"arn:aws:iam::{MGMT}:saml-provider/CorpIdP"
PROD_IDP = f"arn:aws:iam::{PROD}:saml-provider/CorpIdP"
SSO_SUFFIX = "4f2a9c1d7e3b8a65"
SSO_PROVIDER = f"arn:aws:iam::{PROD}:saml-provider/AWSSSO_{SSO_SUFFIX}_DO_NOT_DELETE"
DANA = "dana@corp.example.com"
ERIN = "erin@corp.example.com"
GINA = "gina@corp.example.com"
HANA = "hana@example.com"
HANA_ID = "94482488-3041-7026-18f3-be45837cd0e4"
IVO = "ivo@example.com"
IVO_ID = "c4a8e4f8-60b1-70f3-5a4e-2b1d9f0e7c36"
IDENTITY_STORE_ID = "d-9067a1b2c3"
IDENTITY_STORE_ARN = f"arn:aws:identitystore::{MGMT}:identitystore/{IDENTITY_STORE_ID}"

COGNITO = "cognito-identity.amazonaws.com"
COGNITO_POOL = "us-east-1:7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
COGNITO_ID = "us-east-1:0f1e2d3c-4b5a-4697-a887-9a0b1c2d3e4f"
GITHUB_PROVIDER = f"arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com"
GITHUB_SUBJECT = "repo:acme/shop:ref:refs/heads/main"
EKS_OIDC_PROVIDER = (
    f"arn:aws:iam::{PROD}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/5C0A3E9B1D7F4A2E8B6C0D1E2F3A4B5C"
)
IRSA_SUBJECT = "system:serviceaccount:payments:api"
FEDERATED_NAME = "jules"
FEDERATED_ARN = f"arn:aws:sts::{PROD}:federated-user/{FEDERATED_NAME}"
INSTANCE = "i-0a1b2c3d4e5f60789"
NODE_INSTANCE = "i-0f9e8d7c6b5a43210"
TASK_ID = "4d3f2a1b9c8e4f7a8b6c5d4e3f2a1b0c"
FUNCTION = "orders-handler"
LAMBDA_REGION = "eu-west-1"
FUNCTION_ARN = f"arn:aws:lambda:{LAMBDA_REGION}:{PROD}:function:{FUNCTION}"
CLUSTER = "prod"
CLUSTER_ARN = f"arn:aws:eks:us-east-1:{PROD}:cluster/{CLUSTER}"
POD_ASSOCIATION_ARN = f"arn:aws:eks:us-east-1:{PROD}:podidentityassociation/{CLUSTER}/a-0abc1234"
POD_SESSION = "eks-prod-api-7d9f8b6c5-2b9e1c4a-7f3d-4e2b-9a1c-5d6e7f8a9b0c"

# -- roles ---------------------------------------------------------------------------------------

ENGINEER = Role(MGMT, "Engineer")
OPS = Role(PROD, "Ops")
DEPLOY = Role(DEV, "Deploy", "/pipeline/")
AUDIT = Role(SEC, "Audit", "/security/")
BREAKGLASS = Role(SEC, "BreakGlass")
BRIDGE = Role(DATA, "Bridge")
ETL_RUNNER = Role(DATA, "EtlRunner")
DATA_IMPORT = Role(PROD, "DataImport")
READONLY = Role(DEV, "ReadOnly")
ADMIN = Role(DEV, "Admin")
DEPLOYER = Role(PROD, "Deployer")
ANALYST = Role(PROD, "Analyst")
SSO_ADMIN = Role(PROD, f"AWSReservedSSO_AdministratorAccess_{SSO_SUFFIX}", "/aws-reserved/sso.amazonaws.com/")
TIP_READER = Role(PROD, "TipReader")
COGNITO_ROLE = Role(DEV, "Cognito_ShopAuth_Role")
CI_DEPLOY = Role(DEV, "GitHubActionsDeploy")
IRSA = Role(PROD, "PaymentsApiIrsa")
ON_CALL = Role(DEV, "OnCall")
SUPPORT = Role(DEV, "Support")
CONSOLE_ADMIN = Role(PROD, "ConsoleAdmin")
WEB = Role(PROD, "WebServer")
ORDERS_FN = Role(PROD, "orders-handler-role", "/service-role/")
PAYMENTS_TASK = Role(PROD, "PaymentsTask")
EKS_NODE = Role(PROD, "EksNodeRole")
POD_READER = Role(PROD, "PodS3Reader")
ELB_LINKED = Role(
    PROD, "AWSServiceRoleForElasticLoadBalancing", "/aws-service-role/elasticloadbalancing.amazonaws.com/"
)

# -- keys ----------------------------------------------------------------------------------------


def asia(name: str) -> str:
    return make_key("ASIA", name)


KEY_BOB = asia("bobreadonly")
KEY_FRANK = asia("frankdeployer")
K1, K2, K3, K4, K5 = (asia(f"danahop{n}") for n in range(1, 6))
G1, G2, G3, G4, G5 = (asia(f"erinhop{n}") for n in range(1, 6))
KEY_GINA = asia("ginaanalyst")
KEY_HANA = asia("hanasso")
KEY_ECS = asia("ecstask")
KEY_TIP = asia("tipreader")
KEY_COGNITO_WEB = asia("cognitoweb")
KEY_GITHUB = asia("githubci")
KEY_IRSA = asia("irsapayments")
KEY_COGNITO_POOL = asia("cognitopool")
KEY_IVAN_TOKEN = asia("ivantoken")
KEY_IVAN_ROLE = asia("ivanoncall")
KEY_FEDERATED = asia("federatedjules")
KEY_ROOT = asia("assumedroot")
KEY_LENA_CONSOLE = asia("lenaconsole")
KEY_SWITCH_MINTED = asia("switchminted")
KEY_SWITCH_CONSOLE = asia("switchconsole")
KEY_EC2 = tuple(asia(f"webserver{n}") for n in range(1, 4))
KEY_LAMBDA = asia("ordershandler")
KEY_NODE = asia("eksnode")
KEY_POD = asia("podreader")
KEY_ELB = asia("elblinked")
KEY_MALLORY = asia("mallorysupport")
KEY_MALLORY_AUDIT = asia("malloryaudit")
KEY_IMPORT = asia("dataimport")

# -- what the API must answer -------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    kind: str
    identifier: str

    def api(self) -> dict[str, str]:
        return {"kind": self.kind, "identifier": self.identifier}


@dataclass(frozen=True)
class Gap:
    account_id: str
    principal_id: str
    time: datetime
    # The role of the principal at the break, when the store can know it at all (None: it cannot).
    role_arns: tuple[str | None, ...]


@dataclass(frozen=True)
class Expected:
    key: str
    scenario: str
    account: str
    role_arn: str | None
    credential_kind: str | None
    origin: Who | None
    chain: tuple[str, ...] = ()
    # False: `chain` lists what the chain must end with, and the rest may only come from `may_include`.
    chain_exact: bool = True
    may_include: tuple[str, ...] = ()
    gap: Gap | None = None
    issued: datetime | None = None
    expires: datetime | None = None
    source_identity: str | None = None
    # None: the contract does not settle it for this session (see README), so no test asserts it.
    disagrees: bool | None = False
    on_behalf_of: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    children: tuple[str, ...] = ()
    # Children that may be listed besides `children` (the console's own key for a switched role).
    children_may_include: tuple[str, ...] = ()
    brokered_by: Who | None = None
    # Another kind is acceptable too (a console session has no minting call in the logs).
    kind_alternatives: tuple[str | None, ...] = ()


def saml_user(provider: str, subject: str) -> Who:
    return Who("SAML_USER", f"{provider}:{subject}")


def iam_user(user: User) -> Who:
    return Who("IAM_USER", user.arn)


DANA_WHO = saml_user(CORP_IDP, DANA)
ERIN_WHO = saml_user(CORP_IDP, ERIN)
GINA_WHO = saml_user(PROD_IDP, GINA)
HANA_WHO = Who("IDENTITY_CENTER_USER", HANA)
COGNITO_WHO = Who("WEB_IDENTITY_USER", f"{COGNITO}:{COGNITO_ID}")
GITHUB_WHO = Who("WEB_IDENTITY_USER", f"{GITHUB_PROVIDER}:{GITHUB_SUBJECT}")
IRSA_WHO = Who("WEB_IDENTITY_USER", f"{EKS_OIDC_PROVIDER}:{IRSA_SUBJECT}")
FEDERATED_WHO = Who("FEDERATION_TOKEN_USER", FEDERATED_ARN)
INSTANCE_WHO = Who("EC2_INSTANCE", INSTANCE)
NODE_WHO = Who("EC2_INSTANCE", NODE_INSTANCE)
TASK_WHO = Who("ECS_TASK", TASK_ID)
LAMBDA_WHO = Who("LAMBDA_FUNCTION", FUNCTION_ARN)
PODS_WHO = Who("AWS_SERVICE", "pods.eks.amazonaws.com")
ELB_WHO = Who("AWS_SERVICE", "elasticloadbalancing.amazonaws.com")
DATA_ACCOUNT_WHO = Who("AWS_ACCOUNT", DATA)

CHAIN_TAGS = (("cost-center", "4711"), ("team", "platform"))
CHAIN_TAGS_DOWN = (("cost-center", "4711"), ("project", "apollo"), ("team", "platform"))
POD_TAGS = (
    ("eks-cluster-arn", CLUSTER_ARN),
    ("eks-cluster-name", CLUSTER),
    ("kubernetes-namespace", "payments"),
    ("kubernetes-pod-name", "api-7d9f8b6c5-x2x4z"),
    ("kubernetes-pod-uid", "2b9e1c4a-7f3d-4e2b-9a1c-5d6e7f8a9b0c"),
    ("kubernetes-service-account", "api"),
)


# -- the trail being written ----------------------------------------------------------------------


@dataclass
class Trail:
    """Records by delivery file (scenario, recipient account, region) and the expected sessions."""

    files: dict[tuple[str, str, str], list[Record]] = field(default_factory=dict)
    sessions: dict[str, Expected] = field(default_factory=dict)

    def add(self, scenario: str, *records: Record) -> None:
        for item in records:
            where = (scenario, item["recipientAccountId"], item["awsRegion"])
            self.files.setdefault(where, []).append(item)

    def expect(self, expected: Expected) -> None:
        assert expected.key not in self.sessions, expected.key
        self.sessions[expected.key] = expected

    def records(self) -> list[Record]:
        return [item for records in self.files.values() for item in records]


class Ids:
    """Event ids of one scenario: stable, distinct, GUID-shaped."""

    def __init__(self, scenario: str) -> None:
        self.scenario = scenario
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return uid(f"{self.scenario}/{self.count}")


# -- scenarios ------------------------------------------------------------------------------------


def same_account_assume_role(trail: Trail) -> None:
    """bob (long-term key) assumes ReadOnly in his own account; the session is refused Admin."""
    ids, s = Ids("assume-role"), "assume-role"
    created = at(1, 1)
    session = READONLY.identity(KEY_BOB, "bob", created)
    trail.add(
        s,
        call(ids, at(1, 0), BOB.identity(), DEV, "sts", "GetCallerIdentity"),
        assume_role(ids(), created, BOB.identity(), READONLY, "bob", KEY_BOB, account=DEV),
        call(ids, at(1, 2), session, DEV, "s3", "ListBuckets"),
        call(ids, at(1, 3), session, DEV, "ec2", "DescribeInstances"),
        # A failed attempt mints nothing: no responseElements, an ApiCall of the caller's session.
        record(
            ids(),
            at(1, 4),
            session,
            account=DEV,
            source="sts.amazonaws.com",
            name="AssumeRole",
            error="AccessDenied",
            request={"roleArn": ADMIN.arn, "roleSessionName": "bob-admin"},
            resources=[ADMIN.resource()],
            agent=BOTO,
        ),
        call(ids, at(1, 5), session, DEV, "s3", "GetObject", data_event=True),
    )
    trail.expect(
        Expected(
            KEY_BOB, s, DEV, READONLY.arn, "AssumeRole", iam_user(BOB),
            issued=created, expires=created + timedelta(hours=1),
        )
    )  # fmt: skip
    # The other bob: one call with his long-term key, in the security account.
    trail.add(s, call(ids, at(19, 0), BOB_SEC.identity(), SEC, "s3", "ListBuckets"))


def cross_account_assume_role(trail: Trail) -> None:
    """frank (development) assumes Deployer in production: two copies, one sharedEventID."""
    ids, s = Ids("cross-account"), "cross-account"
    created = at(2, 0)
    mine, theirs = cross_account(
        ids, created, FRANK.identity(), DEV, DEPLOYER, "frank", KEY_FRANK,
        source_identity="frank", claimed=True,
    )  # fmt: skip
    session = DEPLOYER.identity(KEY_FRANK, "frank", created, source_identity="frank")
    trail.add(
        s,
        mine,
        theirs,
        call(ids, at(2, 1), session, PROD, "cloudformation", "DescribeStacks"),
        call(ids, at(2, 2), session, PROD, "s3", "PutObject", data_event=True),
        call(ids, at(2, 3), session, PROD, "lambda", "UpdateFunctionCode", error="AccessDenied"),
    )
    trail.expect(
        Expected(
            KEY_FRANK, s, PROD, DEPLOYER.arn, "AssumeRole", iam_user(FRANK), source_identity="frank",
            issued=created, expires=created + timedelta(hours=1),
        )
    )  # fmt: skip


def _saml_chain(
    trail: Trail,
    s: str,
    hour: int,
    subject: str,
    claim: str,
    keys: tuple[str, str, str, str, str],
    second: Role,
) -> dict[str, datetime]:
    """SAML login in management, then four hops: `second` → Deploy (development) → Audit
    (security) → BreakGlass (security). Each hop's records go where they are logged; copies
    logged in the data-platform account are left out by the caller. Returns issue times by key."""
    ids = Ids(s)
    name = subject.split("@", 1)[0]
    issued = {k: at(hour, 5 * n) for n, k in enumerate(keys)}
    tags = {"team": "platform", "cost-center": "4711", "department": "engineering"}
    incoming_1 = {"team": "platform", "cost-center": "4711"}
    incoming_2 = {**incoming_1, "project": "apollo"}
    identities = [
        ENGINEER.identity(keys[0], subject, issued[keys[0]], source_identity=claim),
        second.identity(keys[1], name, issued[keys[1]], source_identity=claim),
        DEPLOY.identity(keys[2], name, issued[keys[2]], source_identity=claim),
        AUDIT.identity(keys[3], name, issued[keys[3]], source_identity=claim),
        BREAKGLASS.identity(keys[4], name, issued[keys[4]], source_identity=claim),
    ]
    out: list[Record] = [
        saml_login(
            ids(), issued[keys[0]], ENGINEER, CORP_IDP, CORP_ISSUER, subject, subject, keys[0],
            source_identity=claim, tags=tags, transitive=("team", "cost-center"),
        ),
        call(ids, at(hour, 1), identities[0], MGMT, "sts", "GetCallerIdentity"),
        call(ids, at(hour, 2), identities[0], MGMT, "iam", "ListRoles"),
    ]  # fmt: skip
    out += cross_account(
        ids, issued[keys[1]], identities[0], MGMT, second, name, keys[1], source_identity=claim,
        tags={"project": "apollo"}, transitive=("project",), incoming=incoming_1,
    )  # fmt: skip
    out += [
        call(ids, at(hour, 6), identities[1], second.account, "ec2", "DescribeInstances"),
        call(ids, at(hour, 7), identities[1], second.account, "ssm", "GetParameter"),
    ]
    out += cross_account(
        ids, issued[keys[2]], identities[1], second.account, DEPLOY, name, keys[2], source_identity=claim,
        incoming=incoming_2,
    )  # fmt: skip
    out += [
        call(ids, at(hour, 11), identities[2], DEV, "cloudformation", "CreateStack", error="AccessDenied"),
        call(ids, at(hour, 12), identities[2], DEV, "cloudformation", "DescribeStacks"),
    ]
    out += cross_account(
        ids, issued[keys[3]], identities[2], DEV, AUDIT, name, keys[3], source_identity=claim,
        tags={"ticket": "SEC-42"}, incoming=incoming_2,
    )  # fmt: skip
    out += [
        call(ids, at(hour, 16), identities[3], SEC, "guardduty", "ListFindings"),
        call(ids, at(hour, 17), identities[3], SEC, "securityhub", "GetFindings"),
        assume_role(
            ids(), issued[keys[4]], identities[3], BREAKGLASS, name, keys[4], account=SEC,
            source_identity=claim, incoming=incoming_2,
        ),
        call(ids, at(hour, 21), identities[4], SEC, "iam", "CreateAccessKey"),
        call(ids, at(hour, 22), identities[4], SEC, "cloudtrail", "StopLogging", error="AccessDenied"),
        call(ids, at(hour, 23), identities[4], SEC, "s3", "ListBuckets"),
    ]  # fmt: skip
    trail.add(s, *(item for item in out if item["recipientAccountId"] != DATA))
    return issued


def saml_chain(trail: Trail) -> None:
    """dana signs in with SAML and hops management → production → development → security → security,
    carrying sourceIdentity "Dana" (her e-mail's local part, other case) and transitive tags."""
    s = "chain"
    keys = (K1, K2, K3, K4, K5)
    issued = _saml_chain(trail, s, 3, DANA, "Dana", keys, OPS)
    roles = (ENGINEER, OPS, DEPLOY, AUDIT, BREAKGLASS)
    tags = (CHAIN_TAGS, CHAIN_TAGS_DOWN, CHAIN_TAGS_DOWN, CHAIN_TAGS_DOWN, CHAIN_TAGS_DOWN)
    for n, k in enumerate(keys):
        trail.expect(
            Expected(
                k, s, roles[n].account, roles[n].arn, "AssumeRoleWithSAML" if n == 0 else "AssumeRole",
                DANA_WHO, chain=tuple(reversed(keys[:n])), source_identity="Dana", tags=tags[n],
                children=keys[n + 1 : n + 2], issued=issued[k], expires=issued[k] + timedelta(hours=1),
            )
        )  # fmt: skip


def saml_chain_with_gap(trail: Trail) -> None:
    """The same chain for erin, through the data-platform account instead of production: its logs
    never arrive, so development only has the role owner's copy (AWSAccount, principalId = the
    Bridge session's assumedRoleId) of the hop out of it."""
    s = "chain-gap"
    keys = (G1, G2, G3, G4, G5)
    issued = _saml_chain(trail, s, 4, ERIN, "erin", keys, BRIDGE)
    gap = Gap(DATA, BRIDGE.principal_id("erin"), issued[G3], (None, BRIDGE.arn))
    trail.expect(
        Expected(
            G1, s, MGMT, ENGINEER.arn, "AssumeRoleWithSAML", ERIN_WHO, source_identity="erin",
            tags=CHAIN_TAGS, children=(G2,), issued=issued[G1], expires=issued[G1] + timedelta(hours=1),
        )
    )  # fmt: skip
    # Minted (management's copy of the hop shows it) but never seen in use; nothing links G3 to it
    # but a principal id and a session name, which is not evidence.
    trail.expect(
        Expected(
            G2, s, DATA, BRIDGE.arn, "AssumeRole", ERIN_WHO, chain=(G1,), source_identity="erin",
            tags=CHAIN_TAGS_DOWN, issued=issued[G2], expires=issued[G2] + timedelta(hours=1),
        )
    )  # fmt: skip
    visible = (G3, G4, G5)
    for n, (k, role) in enumerate(zip(visible, (DEPLOY, AUDIT, BREAKGLASS), strict=True)):
        trail.expect(
            Expected(
                k, s, role.account, role.arn, "AssumeRole", DATA_ACCOUNT_WHO,
                chain=tuple(reversed(visible[:n])), gap=gap, source_identity="erin", disagrees=None,
                tags=CHAIN_TAGS_DOWN, children=visible[n + 1 : n + 2],
                issued=issued[k], expires=issued[k] + timedelta(hours=1),
            )
        )  # fmt: skip


def caller_from_unlogged_account(trail: Trail) -> None:
    """A role session of the data-platform account assumes DataImport in production: production
    has only its own copy, and nothing else anywhere mentions the caller."""
    ids, s = Ids("unlogged-caller"), "unlogged-caller"
    created = at(21, 0)
    caller = ETL_RUNNER.identity(asia("etlrunner"), "etl-nightly", at(20, 55))
    _, theirs = cross_account(ids, created, caller, DATA, DATA_IMPORT, "etl-nightly", KEY_IMPORT)
    session = DATA_IMPORT.identity(KEY_IMPORT, "etl-nightly", created)
    trail.add(
        s,
        theirs,
        call(ids, at(21, 1), session, PROD, "s3", "PutObject", data_event=True),
        call(ids, at(21, 2), session, PROD, "glue", "StartJobRun"),
    )
    gap = Gap(DATA, ETL_RUNNER.principal_id("etl-nightly"), created, (None, ETL_RUNNER.arn))
    trail.expect(
        Expected(
            KEY_IMPORT, s, PROD, DATA_IMPORT.arn, "AssumeRole", DATA_ACCOUNT_WHO, gap=gap,
            issued=created, expires=created + timedelta(hours=1),
        )
    )  # fmt: skip


def saml_login_alone(trail: Trail) -> None:
    """gina signs in to production's Analyst role with SAML and queries Athena."""
    ids, s = Ids("saml"), "saml"
    created = at(5, 0)
    session = ANALYST.identity(KEY_GINA, "gina", created)
    trail.add(
        s,
        saml_login(ids(), created, ANALYST, PROD_IDP, CORP_ISSUER, GINA, "gina", KEY_GINA, ip=OFFICE_IP),
        call(ids, at(5, 1), session, PROD, "athena", "StartQueryExecution", ip=OFFICE_IP),
        call(ids, at(5, 2), session, PROD, "athena", "GetQueryResults", ip=OFFICE_IP),
        call(ids, at(5, 3), session, PROD, "glue", "GetTables", ip=OFFICE_IP),
    )
    trail.expect(
        Expected(
            KEY_GINA, s, PROD, ANALYST.arn, "AssumeRoleWithSAML", GINA_WHO,
            issued=created, expires=created + timedelta(hours=1),
        )
    )  # fmt: skip


def identity_center(trail: Trail) -> None:
    """hana federates from the access portal into production's AdministratorAccess permission set."""
    ids, s = Ids("identity-center"), "identity-center"
    created = at(6, 0)
    portal = record(
        ids(),
        at(5, 59),
        {
            "type": "IdentityCenterUser",
            "accountId": MGMT,
            "onBehalfOf": {"userId": HANA_ID, "identityStoreArn": IDENTITY_STORE_ARN},
            "credentialId": uid("portal/hana"),
        },
        account=MGMT,
        source="sso.amazonaws.com",
        name="Federate",
        agent=BROWSER,
        version="1.10",
    )
    portal["serviceEventDetails"] = {"account_id": PROD, "role_name": "AdministratorAccess"}
    session = SSO_ADMIN.identity(KEY_HANA, HANA, created)
    trail.add(
        s,
        portal,
        saml_login(ids(), created, SSO_ADMIN, SSO_PROVIDER, IDC_ISSUER, HANA, HANA, KEY_HANA),
        call(ids, at(6, 1), session, PROD, "iam", "ListUsers", agent=BROWSER),
        call(ids, at(6, 2), session, PROD, "s3", "ListBuckets", agent=BROWSER),
        call(ids, at(6, 3), session, PROD, "ec2", "DescribeSecurityGroups", agent=BROWSER),
    )
    trail.expect(
        Expected(
            KEY_HANA, s, PROD, SSO_ADMIN.arn, "AssumeRoleWithSAML", HANA_WHO,
            issued=created, expires=created + timedelta(hours=1),
        )
    )  # fmt: skip


def ecs_task_and_identity_enhanced_session(trail: Trail) -> None:
    """An ECS task's role session; the web app in it assumes TipReader with hana's identity context
    (trusted identity propagation), so that session's calls carry onBehalfOf."""
    ids, s = Ids("ecs-task"), "ecs-task"
    created = at(12, 0)
    task = PAYMENTS_TASK.identity(KEY_ECS, TASK_ID, created)
    tip_created = at(12, 30)
    tip = TIP_READER.identity(
        KEY_TIP, "webapp-hana", tip_created,
        extra={"onBehalfOf": {"userId": HANA_ID, "identityStoreArn": IDENTITY_STORE_ARN}},
    )  # fmt: skip
    context = {
        "providedContexts": [
            {"providerArn": "arn:aws:iam::aws:contextProvider/IdentityCenter", "contextAssertion": "eyJ…"}
        ]
    }
    trail.add(
        s,
        service_assume(ids(), created, "ecs-tasks.amazonaws.com", PAYMENTS_TASK, TASK_ID, KEY_ECS, hours=6),
        call(ids, at(12, 1), task, PROD, "secretsmanager", "GetSecretValue", ip=INSTANCE_IP),
        call(ids, at(12, 2), task, PROD, "kms", "Decrypt", ip=INSTANCE_IP),
        assume_role(
            ids(), tip_created, task, TIP_READER, "webapp-hana", KEY_TIP, account=PROD,
            request_extra=context, ip=INSTANCE_IP,
        ),
        call(ids, at(12, 31), tip, PROD, "s3", "GetObject", data_event=True, ip=INSTANCE_IP),
        call(ids, at(12, 32), tip, PROD, "s3", "ListObjectsV2", data_event=True, ip=INSTANCE_IP),
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_ECS, s, PROD, PAYMENTS_TASK.arn, "AssumeRole", TASK_WHO, children=(KEY_TIP,),
            issued=created, expires=created + timedelta(hours=6),
        )
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_TIP, s, PROD, TIP_READER.arn, "AssumeRole", TASK_WHO, chain=(KEY_ECS,), on_behalf_of=HANA_ID,
            issued=tip_created, expires=tip_created + timedelta(hours=1),
        )
    )  # fmt: skip


def web_identities(trail: Trail) -> None:
    """AssumeRoleWithWebIdentity three ways: a Cognito identity (basic flow), a GitHub Actions
    workflow, an EKS service account (IRSA)."""
    ids, s = Ids("web-identity"), "web-identity"
    cognito_created, github_created, irsa_created = at(7, 0), at(7, 20), at(7, 40)
    cognito_web = {
        "federatedProvider": COGNITO,
        "attributes": {f"{COGNITO}:aud": COGNITO_POOL, f"{COGNITO}:sub": COGNITO_ID},
    }
    cognito = COGNITO_ROLE.identity(
        KEY_COGNITO_WEB, "CognitoIdentityCredentials", cognito_created, web=cognito_web
    )
    github = CI_DEPLOY.identity(
        KEY_GITHUB,
        "GitHubActions",
        github_created,
        web={"federatedProvider": GITHUB_PROVIDER, "attributes": {}},
    )
    irsa = IRSA.identity(
        KEY_IRSA, "botocore-session-1717400400", irsa_created,
        web={"federatedProvider": EKS_OIDC_PROVIDER, "attributes": {}},
    )  # fmt: skip
    trail.add(
        s,
        web_identity_login(
            ids(), cognito_created, COGNITO_ROLE, "CognitoIdentityCredentials", KEY_COGNITO_WEB,
            provider=COGNITO, subject=COGNITO_ID, audience=COGNITO_POOL,
            principal_id=f"{COGNITO}:{COGNITO_POOL}:{COGNITO_ID}",
        ),
        call(ids, at(7, 1), cognito, DEV, "s3", "PutObject", data_event=True),
        call(ids, at(7, 2), cognito, DEV, "s3", "GetObject", data_event=True),
        web_identity_login(
            ids(), github_created, CI_DEPLOY, "GitHubActions", KEY_GITHUB, provider=GITHUB_PROVIDER,
            subject=GITHUB_SUBJECT, audience="sts.amazonaws.com",
            principal_id=f"{GITHUB_PROVIDER}:sts.amazonaws.com:{GITHUB_SUBJECT}", agent="aws-sdk-js/3.590.0",
        ),
        call(ids, at(7, 21), github, DEV, "ecr", "GetAuthorizationToken"),
        call(ids, at(7, 22), github, DEV, "ecr", "InitiateLayerUpload"),
        call(ids, at(7, 23), github, DEV, "lambda", "UpdateFunctionCode"),
        web_identity_login(
            ids(), irsa_created, IRSA, "botocore-session-1717400400", KEY_IRSA, provider=EKS_OIDC_PROVIDER,
            subject=IRSA_SUBJECT, audience="sts.amazonaws.com",
            principal_id=f"{EKS_OIDC_PROVIDER}:sts.amazonaws.com:{IRSA_SUBJECT}", ip=INSTANCE_IP,
        ),
        call(ids, at(7, 41), irsa, PROD, "s3", "GetObject", data_event=True, ip=INSTANCE_IP),
        call(ids, at(7, 42), irsa, PROD, "sqs", "ReceiveMessage", ip=INSTANCE_IP),
    )  # fmt: skip
    for k, role, who, created in (
        (KEY_COGNITO_WEB, COGNITO_ROLE, COGNITO_WHO, cognito_created),
        (KEY_GITHUB, CI_DEPLOY, GITHUB_WHO, github_created),
        (KEY_IRSA, IRSA, IRSA_WHO, irsa_created),
    ):
        trail.expect(
            Expected(
                k, s, role.account, role.arn, "AssumeRoleWithWebIdentity", who,
                issued=created, expires=created + timedelta(hours=1),
            )
        )  # fmt: skip


def cognito_identity_pool(trail: Trail) -> None:
    """The same Cognito identity again, through the identity pool's enhanced flow: a
    GetCredentialsForIdentity data event names the key and the identity id."""
    ids, s = Ids("cognito-pool"), "cognito-pool"
    created = at(8, 0)
    minted = record(
        ids(),
        created,
        {"type": "Unknown"},
        account=DEV,
        source="cognito-identity.amazonaws.com",
        name="GetCredentialsForIdentity",
        read_only=False,
        data_event=True,
        request={
            "logins": {
                "cognito-idp.us-east-1.amazonaws.com/us-east-1_Ab12Cd34E": "HIDDEN_DUE_TO_SECURITY_REASONS"
            },
            "identityId": COGNITO_ID,
        },
        response={
            "credentials": credentials(KEY_COGNITO_POOL, created + timedelta(hours=1)),
            "identityId": COGNITO_ID,
        },
        resources=[
            {
                "accountId": DEV,
                "type": "AWS::Cognito::IdentityPool",
                "ARN": f"arn:aws:cognito-identity:us-east-1:{DEV}:identitypool/{COGNITO_POOL}",
            }
        ],
        agent="aws-amplify/6.3.4 js",
    )
    session = COGNITO_ROLE.identity(
        KEY_COGNITO_POOL, "CognitoIdentityCredentials", created,
        web={"federatedProvider": COGNITO, "attributes": {f"{COGNITO}:sub": COGNITO_ID}},
    )  # fmt: skip
    trail.add(
        s,
        minted,
        call(ids, at(8, 1), session, DEV, "s3", "GetObject", data_event=True),
        call(ids, at(8, 2), session, DEV, "s3", "PutObject", data_event=True),
        call(ids, at(8, 3), session, DEV, "s3", "DeleteObject", data_event=True, error="AccessDenied"),
    )
    trail.expect(
        Expected(
            KEY_COGNITO_POOL, s, DEV, COGNITO_ROLE.arn, "GetCredentialsForIdentity", COGNITO_WHO,
            issued=created, expires=created + timedelta(hours=1),
        )
    )  # fmt: skip


def session_token(trail: Trail) -> None:
    """ivan gets an MFA session token; calls with it stay type IAMUser; then assumes OnCall from it."""
    ids, s = Ids("session-token"), "session-token"
    created, role_created = at(9, 0), at(9, 5)
    token = IVAN.session_identity(KEY_IVAN_TOKEN, created)
    on_call = ON_CALL.identity(KEY_IVAN_ROLE, "ivan", role_created, mfa=True)
    trail.add(
        s,
        record(
            ids(),
            created,
            IVAN.identity(),
            account=DEV,
            source="sts.amazonaws.com",
            name="GetSessionToken",
            read_only=False,
            request={"durationSeconds": 43200, "serialNumber": f"arn:aws:iam::{DEV}:mfa/ivan"},
            response={"credentials": credentials(KEY_IVAN_TOKEN, created + timedelta(hours=12))},
        ),
        call(ids, at(9, 1), token, DEV, "s3", "ListBuckets"),
        call(ids, at(9, 2), token, DEV, "ec2", "DescribeInstances"),
        assume_role(ids(), role_created, token, ON_CALL, "ivan", KEY_IVAN_ROLE, account=DEV),
        call(ids, at(9, 6), on_call, DEV, "ssm", "StartSession"),
        call(ids, at(9, 7), on_call, DEV, "ec2", "RebootInstances"),
    )
    trail.expect(
        Expected(
            KEY_IVAN_TOKEN, s, DEV, None, "GetSessionToken", iam_user(IVAN), children=(KEY_IVAN_ROLE,),
            issued=created, expires=created + timedelta(hours=12),
        )
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_IVAN_ROLE, s, DEV, ON_CALL.arn, "AssumeRole", iam_user(IVAN), chain=(KEY_IVAN_TOKEN,),
            issued=role_created, expires=role_created + timedelta(hours=1),
        )
    )  # fmt: skip


def federation_token(trail: Trail) -> None:
    """A partner's IAM user hands out a GetFederationToken session named "jules"."""
    ids, s = Ids("federation"), "federation"
    created = at(10, 0)
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    federated = {
        "type": "FederatedUser",
        "principalId": f"{PROD}:{FEDERATED_NAME}",
        "arn": FEDERATED_ARN,
        "accountId": PROD,
        "accessKeyId": KEY_FEDERATED,
        "sessionContext": {
            "sessionIssuer": BROKER.issuer(),
            "webIdFederationData": {},
            "attributes": {"creationDate": iso(created), "mfaAuthenticated": "false"},
        },
    }
    trail.add(
        s,
        record(
            ids(),
            created,
            BROKER.identity(),
            account=PROD,
            source="sts.amazonaws.com",
            name="GetFederationToken",
            read_only=False,
            request={"name": FEDERATED_NAME, "policy": policy, "durationSeconds": 43200},
            response={
                "credentials": credentials(KEY_FEDERATED, created + timedelta(hours=12)),
                "federatedUser": {"federatedUserId": f"{PROD}:{FEDERATED_NAME}", "arn": FEDERATED_ARN},
                "packedPolicySize": 6,
            },
            ip=OFFICE_IP,
        ),
        call(ids, at(10, 1), federated, PROD, "s3", "ListBuckets", ip=OUTSIDE_IP),
        call(ids, at(10, 2), federated, PROD, "s3", "GetObject", data_event=True, ip=OUTSIDE_IP),
        call(ids, at(10, 3), federated, PROD, "sts", "GetCallerIdentity", ip=OUTSIDE_IP),
    )
    trail.expect(
        Expected(
            # The top of the chain is the IAM user whose keys minted the token; the federated user
            # it was minted for is shown beside it (federatedUser).
            KEY_FEDERATED, s, PROD, None, "GetFederationToken", iam_user(BROKER),
            brokered_by=iam_user(BROKER), issued=created, expires=created + timedelta(hours=12),
        )
    )  # fmt: skip


def assume_root(trail: Trail) -> None:
    """kim (management) takes a root session in the sandbox member account with AssumeRoot."""
    ids, s = Ids("assume-root"), "assume-root"
    created = at(11, 0)
    root = {
        "type": "Root",
        "principalId": SANDBOX,
        "arn": f"arn:aws:iam::{SANDBOX}:root",
        "accountId": SANDBOX,
        "accessKeyId": KEY_ROOT,
        "sessionContext": {
            "attributes": {"creationDate": iso(created), "mfaAuthenticated": "false"},
            "assumedRoot": "true",
        },
    }
    trail.add(
        s,
        record(
            ids(),
            created,
            KIM.identity(),
            account=MGMT,
            source="sts.amazonaws.com",
            name="AssumeRoot",
            read_only=False,
            request={
                "targetPrincipal": SANDBOX,
                "taskPolicyArn": {"arn": "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials"},
            },
            response={"credentials": credentials(KEY_ROOT, created + timedelta(minutes=15))},
            extra={"RequestDetails": {"endpointType": "regional", "awsServingRegion": REGION}},
            version="1.10",
        ),
        call(ids, at(11, 1), root, SANDBOX, "iam", "GetLoginProfile"),
        call(ids, at(11, 2), root, SANDBOX, "iam", "ListAccessKeys"),
        call(ids, at(11, 3), root, SANDBOX, "iam", "ListMFADevices"),
    )
    trail.expect(
        Expected(
            KEY_ROOT, s, SANDBOX, None, "AssumeRoot", iam_user(KIM),
            issued=created, expires=created + timedelta(minutes=15),
        )
    )  # fmt: skip


def console_and_switch_role(trail: Trail) -> None:
    """lena signs in to the console (its session key is never shown minted), then switches role into
    production: the console calls AssumeRole for her and signs later calls with another key."""
    ids, s = Ids("console"), "console"
    login, switched = at(13, 0), at(13, 10)
    console = LENA.session_identity(KEY_LENA_CONSOLE, login)
    by_console = {**console, "invokedBy": "AWS Internal"}
    signin = {k: v for k, v in LENA.identity().items() if k != "accessKeyId"}
    mine, theirs = cross_account(
        ids, switched, by_console, DEV, CONSOLE_ADMIN, "lena", KEY_SWITCH_MINTED,
        ip="AWS Internal", agent="AWS Internal",
    )  # fmt: skip
    admin = CONSOLE_ADMIN.identity(KEY_SWITCH_CONSOLE, "lena", switched, mfa=True)
    trail.add(
        s,
        record(
            ids(),
            login,
            signin,
            account=DEV,
            source="signin.amazonaws.com",
            name="ConsoleLogin",
            read_only=False,
            response={"ConsoleLogin": "Success"},
            extra={
                "LoginTo": "https://console.aws.amazon.com/console/home",
                "MobileVersion": "No",
                "MFAUsed": "Yes",
            },
            event_type="AwsConsoleSignIn",
            agent=BROWSER,
            version="1.08",
        ),
        call(ids, at(13, 1), console, DEV, "iam", "ListUsers", agent=BROWSER),
        call(ids, at(13, 2), console, DEV, "s3", "ListBuckets", agent=BROWSER),
        mine,
        theirs,
        record(
            ids(),
            switched,
            {k: v for k, v in CONSOLE_ADMIN.identity("", "lena", switched).items() if k != "sessionContext"},
            account=PROD,
            source="signin.amazonaws.com",
            name="SwitchRole",
            read_only=False,
            response={"SwitchRole": "Success"},
            extra={"SwitchFrom": LENA.arn, "RedirectTo": "https://console.aws.amazon.com/console/home"},
            event_type="AwsConsoleSignIn",
            agent=BROWSER,
            version="1.08",
        ),
        call(ids, at(13, 11), admin, PROD, "ec2", "DescribeInstances", agent=BROWSER),
        call(ids, at(13, 12), admin, PROD, "iam", "CreateUser", agent=BROWSER),
        call(ids, at(13, 13), admin, PROD, "iam", "AttachUserPolicy", agent=BROWSER),
    )
    trail.expect(
        Expected(
            KEY_LENA_CONSOLE, s, DEV, None, None, iam_user(LENA), children=(KEY_SWITCH_MINTED,),
            children_may_include=(KEY_SWITCH_CONSOLE,), kind_alternatives=("ConsoleLogin",), issued=login,
        )
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_SWITCH_MINTED, s, PROD, CONSOLE_ADMIN.arn, "AssumeRole", iam_user(LENA),
            chain=(KEY_LENA_CONSOLE,), issued=switched, expires=switched + timedelta(hours=1),
        )
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_SWITCH_CONSOLE, s, PROD, CONSOLE_ADMIN.arn, "AssumeRole", iam_user(LENA),
            chain=(KEY_LENA_CONSOLE,), chain_exact=False, may_include=(KEY_SWITCH_MINTED,), issued=switched,
            # The console's key comes from the same AssumeRole: it expires with the minted one.
            expires=switched + timedelta(hours=1),
        )
    )  # fmt: skip


def instance_profile(trail: Trail) -> None:
    """An EC2 instance's credentials, re-issued three times; the second key is also used from an
    address outside AWS."""
    ids, s = Ids("ec2"), "ec2"
    scope = {
        "inScopeOf": {
            "issuerType": "AWS::EC2::Instance",
            "credentialsIssuedTo": f"arn:aws:ec2:us-east-1:{PROD}:instance/{INSTANCE}",
        }
    }
    for n, k in enumerate(KEY_EC2):
        created = at(14 + 3 * n)
        identity = WEB.identity(k, INSTANCE, created, ec2=True, extra=scope)
        trail.add(
            s,
            service_assume(ids(), created, "ec2.amazonaws.com", WEB, INSTANCE, k, hours=6),
            call(ids, created + timedelta(minutes=5), identity, PROD, "s3", "GetObject", data_event=True,
                 ip=INSTANCE_IP, agent=BOTO),
            call(ids, created + timedelta(minutes=6), identity, PROD, "secretsmanager", "GetSecretValue",
                 ip=INSTANCE_IP, agent=BOTO),
        )  # fmt: skip
        if n == 1:
            trail.add(
                s,
                call(
                    ids, at(18, 30), identity, PROD, "iam", "ListUsers", ip=OUTSIDE_IP, error="AccessDenied"
                ),
                call(ids, at(18, 31), identity, PROD, "s3", "ListBuckets", ip=OUTSIDE_IP),
            )
        trail.expect(
            Expected(
                k, s, PROD, WEB.arn, "AssumeRole", INSTANCE_WHO, issued=created,
                expires=created + timedelta(hours=6),
            )
        )  # fmt: skip


def lambda_function(trail: Trail) -> None:
    """Lambda assumes a function's execution role in eu-west-1."""
    ids, s = Ids("lambda"), "lambda"
    created = at(15, 0)
    scope = {"inScopeOf": {"issuerType": "AWS::Lambda::Function", "credentialsIssuedTo": FUNCTION_ARN}}
    identity = ORDERS_FN.identity(KEY_LAMBDA, FUNCTION, created, extra=scope)
    options: dict[str, Any] = {"region": LAMBDA_REGION, "ip": "192.0.2.200", "agent": BOTO}
    trail.add(
        s,
        service_assume(
            ids(),
            created,
            "lambda.amazonaws.com",
            ORDERS_FN,
            FUNCTION,
            KEY_LAMBDA,
            hours=12,
            region=LAMBDA_REGION,
        ),
        call(ids, at(15, 1), identity, PROD, "dynamodb", "GetItem", data_event=True, **options),
        call(ids, at(15, 2), identity, PROD, "dynamodb", "PutItem", data_event=True, **options),
        call(ids, at(15, 3), identity, PROD, "kms", "Decrypt", **options),
    )
    trail.expect(
        Expected(
            KEY_LAMBDA, s, PROD, ORDERS_FN.arn, "AssumeRole", LAMBDA_WHO,
            issued=created, expires=created + timedelta(hours=12),
        )
    )  # fmt: skip


def eks_pod_identity(trail: Trail) -> None:
    """EKS Pod Identity: the node role asks eks-auth for the pod's credentials, and EKS
    (pods.eks.amazonaws.com) assumes the pod role with kubernetes-* transitive session tags."""
    ids, s = Ids("eks-pod-identity"), "eks-pod-identity"
    node_created, pod_created = at(16, 0), at(16, 5)
    node = EKS_NODE.identity(KEY_NODE, NODE_INSTANCE, node_created, ec2=True)
    pod = POD_READER.identity(KEY_POD, POD_SESSION, pod_created)
    tags = dict(POD_TAGS)
    trail.add(
        s,
        service_assume(ids(), node_created, "ec2.amazonaws.com", EKS_NODE, NODE_INSTANCE, KEY_NODE, hours=6),
        call(ids, at(16, 1), node, PROD, "ecr", "GetAuthorizationToken", ip=INSTANCE_IP),
        record(
            ids(),
            pod_created,
            node,
            account=PROD,
            source="eks-auth.amazonaws.com",
            name="AssumeRoleForPodIdentity",
            request={"clusterName": CLUSTER, "token": "HIDDEN_DUE_TO_SECURITY_REASONS"},
            response={
                "subject": {"namespace": "payments", "serviceAccount": "api"},
                "audience": "pods.eks.amazonaws.com",
                "podIdentityAssociation": {
                    "associationArn": POD_ASSOCIATION_ARN,
                    "associationId": "a-0abc1234",
                },
            },
            resources=[{"accountId": PROD, "type": "AWS::EKS::Cluster", "ARN": CLUSTER_ARN}],
            ip=INSTANCE_IP,
            agent="eks-pod-identity-agent/0.1.10",
        ),
        service_assume(
            ids(), pod_created, "pods.eks.amazonaws.com", POD_READER, POD_SESSION, KEY_POD, hours=6,
            tags=tags, transitive=tuple(tags),
        ),
        call(ids, at(16, 6), pod, PROD, "s3", "GetObject", data_event=True, ip=INSTANCE_IP),
        call(ids, at(16, 7), pod, PROD, "s3", "PutObject", data_event=True, ip=INSTANCE_IP),
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_NODE, s, PROD, EKS_NODE.arn, "AssumeRole", NODE_WHO,
            issued=node_created, expires=node_created + timedelta(hours=6),
        )
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_POD, s, PROD, POD_READER.arn, "AssumeRole", PODS_WHO, tags=POD_TAGS,
            issued=pod_created, expires=pod_created + timedelta(hours=6),
        )
    )  # fmt: skip


def service_linked_role(trail: Trail) -> None:
    """Elastic Load Balancing works through its service-linked role."""
    ids, s = Ids("service-linked"), "service-linked"
    created = at(17, 30)
    principal = "elasticloadbalancing.amazonaws.com"
    identity = ELB_LINKED.identity(KEY_ELB, "ElasticLoadBalancing", created, extra={"invokedBy": principal})
    trail.add(
        s,
        service_assume(ids(), created, principal, ELB_LINKED, "ElasticLoadBalancing", KEY_ELB, hours=1),
        call(
            ids, at(17, 31), identity, PROD, "ec2", "DescribeNetworkInterfaces", ip=principal, agent=principal
        ),
        call(ids, at(17, 32), identity, PROD, "ec2", "CreateNetworkInterface", ip=principal, agent=principal),
    )
    trail.expect(
        Expected(
            KEY_ELB, s, PROD, ELB_LINKED.arn, "AssumeRole", ELB_WHO,
            issued=created, expires=created + timedelta(hours=1),
        )
    )  # fmt: skip


def disagreeing_source_identity(trail: Trail) -> None:
    """mallory sets sourceIdentity "admin" and carries it into the security account."""
    ids, s = Ids("source-identity"), "source-identity"
    created, audit_created = at(18, 0), at(18, 5)
    support = SUPPORT.identity(KEY_MALLORY, "mallory", created, source_identity="admin")
    audit = AUDIT.identity(KEY_MALLORY_AUDIT, "admin", audit_created, source_identity="admin")
    trail.add(
        s,
        assume_role(
            ids(), created, MALLORY.identity(), SUPPORT, "mallory", KEY_MALLORY, account=DEV,
            source_identity="admin", claimed=True,
        ),
        call(ids, at(18, 1), support, DEV, "iam", "ListRoles"),
        *cross_account(
            ids, audit_created, support, DEV, AUDIT, "admin", KEY_MALLORY_AUDIT, source_identity="admin"
        ),
        call(ids, at(18, 6), audit, SEC, "guardduty", "ListDetectors"),
        call(ids, at(18, 7), audit, SEC, "guardduty", "DeleteDetector", error="AccessDenied"),
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_MALLORY, s, DEV, SUPPORT.arn, "AssumeRole", iam_user(MALLORY), source_identity="admin",
            disagrees=True, children=(KEY_MALLORY_AUDIT,), issued=created,
            expires=created + timedelta(hours=1),
        )
    )  # fmt: skip
    trail.expect(
        Expected(
            KEY_MALLORY_AUDIT, s, SEC, AUDIT.arn, "AssumeRole", iam_user(MALLORY), chain=(KEY_MALLORY,),
            source_identity="admin", disagrees=True, issued=audit_created,
            expires=audit_created + timedelta(hours=1),
        )
    )  # fmt: skip


SCENARIOS: tuple[Callable[[Trail], None], ...] = (
    same_account_assume_role,
    cross_account_assume_role,
    saml_chain,
    saml_chain_with_gap,
    caller_from_unlogged_account,
    saml_login_alone,
    identity_center,
    ecs_task_and_identity_enhanced_session,
    web_identities,
    cognito_identity_pool,
    session_token,
    federation_token,
    assume_root,
    console_and_switch_role,
    instance_profile,
    lambda_function,
    eks_pod_identity,
    service_linked_role,
    disagreeing_source_identity,
)


def build() -> Trail:
    trail = Trail()
    for scenario in SCENARIOS:
        scenario(trail)
    return trail


# -- operator exports ------------------------------------------------------------------------------


def organizations_accounts() -> dict[str, Any]:
    """`aws organizations list-accounts`."""
    return {
        "Accounts": [
            {
                "Id": account,
                "Arn": f"arn:aws:organizations::{MGMT}:account/{ORG}/{account}",
                "Email": f"aws+{name}@acme.example.com",
                "Name": name,
                "Status": "ACTIVE",
                "JoinedMethod": "INVITED" if account in (MGMT, DATA) else "CREATED",
                "JoinedTimestamp": (DAY - timedelta(days=400 - int(account[-1]))).isoformat(),
            }
            for account, name in ACCOUNT_NAMES.items()
        ]
    }


def identity_store_users() -> dict[str, Any]:
    """`aws identitystore list-users`."""
    return {
        "Users": [
            {
                "UserId": user_id,
                "UserName": email,
                "DisplayName": display,
                "Emails": [{"Value": email, "Type": "work", "Primary": True}],
                "IdentityStoreId": IDENTITY_STORE_ID,
            }
            for user_id, email, display in ((HANA_ID, HANA, "Hana Example"), (IVO_ID, IVO, "Ivo Example"))
        ]
    }
