"""A GuardDuty finding about the end of a three-hop chain, written at test time (invented data).

hana, an IAM Identity Center user, signs in to production's AdministratorAccess permission set
(AssumeRoleWithSAML, hop 1), assumes development's Deploy role across accounts (hop 2, both
copies), and from it development's SecretsReader (hop 3). The last session reads secrets from an
address GuardDuty knows as malicious: the finding names only that session's access key. Its
activity window is 09:20-09:24; the session makes one more call at 11:00, outside any small margin.

`finding_json(...)` shapes the finding as GetFindings returns it; `export_line(...)` is the same
finding in the S3 export (one per line), so a test can write several versions of it.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tests.data.attribution.make import trail_path, write_trail
from tests.data.attribution.records import REGION, Record, Role, at, uid
from tests.data.attribution.scenarios import DEV as DEV
from tests.data.attribution.scenarios import HANA, IDC_ISSUER, SSO_ADMIN, SSO_PROVIDER, Ids, asia
from tests.data.attribution.scenarios import PROD as PROD
from tests.data.attribution.sts import assume_role, call, cross_account, saml_login

DEPLOY = Role(DEV, "Deploy")
SECRETS = Role(DEV, "SecretsReader")
KEY_SSO, KEY_DEPLOY, KEY_SECRETS = asia("gdhanasso"), asia("gdhanadeploy"), asia("gdhanasecrets")
ATTACKER_IP = "203.0.113.99"
FINDING_ID = "a4c7e2f19b3d5e6f7a8b9c0d1e2f3a4b"
DETECTOR = "5ec0d2a9b8c7d6e5f4a3b2c1d0e9f8a7"
FINDING_TYPE = "UnauthorizedAccess:IAMUser/MaliciousIPCaller"
FIRST_SEEN, LAST_SEEN = at(9, 20), at(9, 24)


def records() -> list[Record]:
    ids = Ids("guardduty-chain")
    sso = SSO_ADMIN.identity(KEY_SSO, HANA, at(9, 0))
    deploy = DEPLOY.identity(KEY_DEPLOY, "hana", at(9, 5))
    secrets = SECRETS.identity(KEY_SECRETS, "hana", at(9, 10))
    out = [
        saml_login(ids(), at(9, 0), SSO_ADMIN, SSO_PROVIDER, IDC_ISSUER, HANA, HANA, KEY_SSO),
        call(ids, at(9, 1), sso, PROD, "sts", "GetCallerIdentity"),
    ]
    out += cross_account(ids, at(9, 5), sso, PROD, DEPLOY, "hana", KEY_DEPLOY)
    out += [
        call(ids, at(9, 6), deploy, DEV, "cloudformation", "DescribeStacks"),
        assume_role(ids(), at(9, 10), deploy, SECRETS, "hana", KEY_SECRETS, account=DEV, hours=4),
        call(ids, at(9, 20), secrets, DEV, "secretsmanager", "GetSecretValue", ip=ATTACKER_IP),
        call(ids, at(9, 22), secrets, DEV, "secretsmanager", "ListSecrets", ip=ATTACKER_IP),
        call(ids, at(9, 24), secrets, DEV, "secretsmanager", "GetSecretValue", ip=ATTACKER_IP),
        call(ids, at(11, 0), secrets, DEV, "s3", "ListBuckets"),
    ]
    return out


def _iso_ms(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def finding_json(*, updated: datetime | None = None, severity: float = 5.0, count: int = 3,
                 archived: bool = False, last_seen: datetime = LAST_SEEN) -> dict[str, Any]:  # fmt: skip
    """The finding as GetFindings returns it (a few fields of a real one left out)."""
    updated = updated or at(9, 30)
    return {
        "schemaVersion": "2.0",
        "accountId": DEV,
        "region": REGION,
        "partition": "aws",
        "id": FINDING_ID,
        "arn": f"arn:aws:guardduty:{REGION}:{DEV}:detector/{DETECTOR}/finding/{FINDING_ID}",
        "type": FINDING_TYPE,
        "resource": {
            "resourceType": "AccessKey",
            "accessKeyDetails": {
                "accessKeyId": KEY_SECRETS,
                "principalId": SECRETS.principal_id("hana"),
                "userType": "AssumedRole",
                "userName": SECRETS.name,
            },
        },
        "service": {
            "serviceName": "guardduty",
            "detectorId": DETECTOR,
            "action": {
                "actionType": "AWS_API_CALL",
                "awsApiCallAction": {
                    "api": "GetSecretValue",
                    "serviceName": "secretsmanager.amazonaws.com",
                    "callerType": "Remote IP",
                    "remoteIpDetails": {
                        "ipAddressV4": ATTACKER_IP,
                        "country": {"countryName": "Example"},
                        "organization": {"asn": "64500", "asnOrg": "EXAMPLE-NET"},
                    },
                },
            },
            "resourceRole": "TARGET",
            "eventFirstSeen": _iso_ms(FIRST_SEEN),
            "eventLastSeen": _iso_ms(last_seen),
            "archived": archived,
            "count": count,
        },
        "severity": severity,
        "createdAt": _iso_ms(at(9, 25)),
        "updatedAt": _iso_ms(updated),
        "title": "API GetSecretValue was invoked from a known malicious IP address.",
        "description": f"API GetSecretValue was invoked from the IP address {ATTACKER_IP} "
        "on the custom threat list.",
    }


@dataclass(frozen=True)
class Written:
    trails: list[Path]
    export: Path


def write(root: Path, findings: list[dict[str, Any]] | None = None, name: str = "") -> Written:
    """The chain's trail files under root, and an S3 export object holding `findings` (one per line)."""
    by_account: dict[str, list[Record]] = {}
    for item in records():
        by_account.setdefault(item["recipientAccountId"], []).append(item)
    trails = [
        write_trail(root / trail_path(account, REGION, at(11, 5), "gdchain"), items)
        for account, items in sorted(by_account.items())
    ]
    return Written(trails, write_export(root, findings or [finding_json()], name or "first"))


def write_export(root: Path, findings: list[dict[str, Any]], name: str) -> Path:
    """An S3 export object (gzipped JSON lines) in the AWSLogs/<account>/GuardDuty/<region>/ layout."""
    path = root / f"AWSLogs/{DEV}/GuardDuty/{REGION}/2024/06/03/{uid(name)}.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"\n".join(orjson.dumps(f) for f in findings) + b"\n", mtime=0))
    return path
