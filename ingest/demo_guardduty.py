"""GuardDuty findings about the demo organisation's incidents, as GuardDuty delivers them.

The security account is GuardDuty's delegated administrator: its S3 export holds the findings of
every member account (`AWSLogs/<security>/GuardDuty/<region>/YYYY/MM/DD/<uuid>.jsonl.gz`, one
finding per line). The hijacked chain's finding is exported twice, as GuardDuty updates it (same
id, later updatedAt, higher count and severity): the store must keep the newest. An archived
finding exists only in a `get-findings` dump (`exports/guardduty-get-findings.json`): the export
carries active findings only. Bytes are stable for a given set of facts (gzip mtime 0).
"""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

ADMIN_ACCOUNT = "444444444444"  # the demo's security account
REGION = "us-east-1"
DETECTOR = "2ab4c6d8e0f1a3b5c7d9e1f3a5b7c9d1"


def _id(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _uuid(text: str) -> str:
    h = _id(text)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _finding(
    name: str,
    account: str,
    finding_type: str,
    severity: float,
    key: dict[str, str],
    action: dict[str, Any],
    first: datetime,
    last: datetime,
    *,
    updated: datetime | None = None,
    count: int = 1,
    archived: bool = False,
    instance_id: str = "",
    title: str = "",
) -> dict[str, Any]:
    finding_id = _id(f"finding/{name}")
    resource: dict[str, Any] = {"resourceType": "AccessKey", "accessKeyDetails": key}
    if instance_id:
        resource["instanceDetails"] = {"instanceId": instance_id, "instanceType": "m5.large"}
        if not key:
            resource = {"resourceType": "Instance", "instanceDetails": resource["instanceDetails"]}
    created = last + timedelta(minutes=5)
    return {
        "schemaVersion": "2.0",
        "accountId": account,
        "region": REGION,
        "partition": "aws",
        "id": finding_id,
        "arn": f"arn:aws:guardduty:{REGION}:{account}:detector/{DETECTOR}/finding/{finding_id}",
        "type": finding_type,
        "resource": resource,
        "service": {
            "serviceName": "guardduty",
            "detectorId": DETECTOR,
            "action": action,
            "resourceRole": "TARGET",
            "eventFirstSeen": _iso(first),
            "eventLastSeen": _iso(last),
            "archived": archived,
            "count": count,
        },
        "severity": severity,
        "createdAt": _iso(created),
        "updatedAt": _iso(updated or created),
        "title": title or finding_type,
        "description": title or finding_type,
    }


def _api_call(api: str, service: str, ip: str, country: str) -> dict[str, Any]:
    return {
        "actionType": "AWS_API_CALL",
        "awsApiCallAction": {
            "api": api,
            "serviceName": service,
            "callerType": "Remote IP",
            "remoteIpDetails": {"ipAddressV4": ip, "country": {"countryCode": country}},
        },
    }


def _role_key(key: str, role_arn: str, session: str) -> dict[str, str]:
    role = role_arn.rsplit("/", 1)[-1]
    role_id = "AROA" + _id(role_arn)[:17].upper()
    return {
        "accessKeyId": key,
        "principalId": f"{role_id}:{session}",
        "userType": "AssumedRole",
        "userName": role,
    }


def build(facts: dict[str, Any]) -> tuple[list[list[dict[str, Any]]], dict[str, Any], list[dict[str, Any]]]:
    """(export objects, the get-findings dump, what the demo facts say about each finding)."""
    exfil = facts["instance_credential_exfiltration"]
    chain = facts["federated_user_chain"]
    travel = facts["impossible_travel"]
    exfil_account = exfil["role_arn"].split(":")[4]
    exfiltration = "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS"
    stolen = _finding(
        "exfiltration", exfil_account, exfiltration, 8.0,
        _role_key(exfil["access_key"], exfil["role_arn"], exfil["instance_id"]),
        _api_call("DescribeInstances", "ec2.amazonaws.com", exfil["attacker_ip"], "DE"),
        _time(exfil["first_use"]), _time(exfil["last_use"]), count=8, instance_id=exfil["instance_id"],
        title="Credentials created exclusively for an EC2 instance were used from an external IP address.",
    )  # fmt: skip
    leaf_account = chain["accounts"][-1]
    first, last = _time(chain["first_use"]), _time(chain["last_use"])
    leaf_key = {"accessKeyId": chain["leaf_access_key"], "userType": "AssumedRole"}
    secrets = _api_call(
        "GetSecretValue", "secretsmanager.amazonaws.com", chain["source_ip"], chain["country"]
    )
    hijack_args: dict[str, Any] = {
        "title": "Unusual secrets access from an unusual country for this principal."
    }
    hijack_v1 = _finding(
        "hijacked-chain", leaf_account, "CredentialAccess:IAMUser/AnomalousBehavior", 5.0, leaf_key, secrets,
        first, first + timedelta(seconds=60), count=2, **hijack_args,
    )  # fmt: skip
    hijack_v2 = _finding(
        "hijacked-chain", leaf_account, "CredentialAccess:IAMUser/AnomalousBehavior", 8.0, leaf_key, secrets,
        first, last, updated=last + timedelta(minutes=35), count=7, **hijack_args,
    )  # fmt: skip
    hijack_v2["createdAt"] = hijack_v1["createdAt"]
    bob_account = travel["user_arn"].split(":")[4]
    bob = {
        "accessKeyId": travel["access_key"],
        "userType": "IAMUser",
        "userName": travel["user_arn"].rsplit("/", 1)[-1],
    }
    when = _time(travel["travel_time"])
    travel_finding = _finding(
        "impossible-travel", bob_account, "InitialAccess:IAMUser/AnomalousBehavior", 5.0, bob,
        _api_call("ListBuckets", "s3.amazonaws.com", travel["ips"][1], travel["countries"][1]),
        when, when + timedelta(minutes=1), count=5,
    )  # fmt: skip
    probe = _finding(
        "port-probe", exfil_account, "Recon:EC2/PortProbeUnprotectedPort", 2.0, {},
        {"actionType": "PORT_PROBE", "portProbeAction": {"blocked": False, "portProbeDetails": [
            {"localPortDetails": {"port": 22}, "remoteIpDetails": {"ipAddressV4": exfil["attacker_ip"]}}]}},
        _time(exfil["first_use"]) - timedelta(hours=6), _time(exfil["first_use"]) - timedelta(hours=5),
        archived=True, count=40, instance_id=exfil["instance_id"],
    )  # fmt: skip
    exports = [[stolen, hijack_v1, travel_finding], [hijack_v2]]
    dump = {"Findings": [probe]}
    summary = [
        {"id": stolen["id"], "type": stolen["type"], "severity": 8.0, "access_key": exfil["access_key"],
         "origin_kind": "EC2_INSTANCE", "origin_identifier": exfil["instance_id"], "archived": False},
        {"id": hijack_v2["id"], "type": hijack_v2["type"], "severity": 8.0, "count": 7, "versions": 2,
         "access_key": chain["leaf_access_key"], "origin_kind": chain["origin_kind"],
         "origin_identifier": chain["origin_identifier"], "archived": False},
        {"id": travel_finding["id"], "type": travel_finding["type"], "severity": 5.0,
         "access_key": travel["access_key"], "origin_kind": "IAM_USER",
         "origin_identifier": travel["user_arn"], "archived": False},
        {"id": probe["id"], "type": probe["type"], "severity": 2.0, "instance_id": exfil["instance_id"],
         "archived": True, "source": "exports/guardduty-get-findings.json"},
    ]  # fmt: skip
    return exports, dump, summary


def write_findings(root: Path, facts: dict[str, Any]) -> None:
    """Write the findings under root and name them in facts["guardduty_findings"]."""
    exports, dump, summary = build(facts)
    for n, findings in enumerate(exports):
        day = max(_time(f["updatedAt"][:19] + "Z") for f in findings)
        folder = root / f"AWSLogs/{ADMIN_ACCOUNT}/GuardDuty/{REGION}/{day:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = b"".join(orjson.dumps(f) + b"\n" for f in findings)
        path = folder / f"{_uuid(f'export/{n}/' + findings[0]['id'])}.jsonl.gz"
        path.write_bytes(gzip.compress(body, mtime=0))
    (root / "exports").mkdir(parents=True, exist_ok=True)
    (root / "exports" / "guardduty-get-findings.json").write_bytes(
        orjson.dumps(dump, option=orjson.OPT_INDENT_2)
    )
    facts["guardduty_findings"] = summary
    facts["exports"] = [*facts.get("exports", []), "exports/guardduty-get-findings.json"]
