"""ingest.demo: the demo organisation's CloudTrail files, checked as files and records (no database)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.demo import DemoSummary, write_demo

END = datetime(2026, 3, 18, 15, tzinfo=UTC)  # a Wednesday afternoon
DAYS = 8
LAYOUT = re.compile(
    r"AWSLogs/(?P<org>o-[a-z0-9]{10,32})/(?P<account>\d{12})/CloudTrail/(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)/"
    r"(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_[A-Z0-9]{16}\.json\.gz"
)
MINTING = frozenset(
    {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetSessionToken", "GetFederationToken"}
)


@dataclass
class Trail:
    """Every record of a demo dataset, with the indexes the checks need."""

    summary: DemoSummary
    files: list[Path]
    bodies: dict[Path, bytes]
    records: list[dict[str, Any]] = field(default_factory=list)
    minted: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    used: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @property
    def facts(self) -> dict[str, Any]:
        return self.summary.facts

    def caller_copy(self, key: str) -> dict[str, Any]:
        """The minting record of `key` as the caller's account logged it (not the AWSAccount copy)."""
        copies = [r for r in self.minted[key] if r["userIdentity"].get("type") != "AWSAccount"]
        assert len(copies) == 1, f"{key}: {len(copies)} caller copies"
        return copies[0]


def load(summary: DemoSummary) -> Trail:
    files = sorted((summary.root / "AWSLogs").rglob("*.json.gz"))
    trail = Trail(summary, files, {})
    for path in files:
        body = gzip.decompress(path.read_bytes())
        trail.bodies[path] = body
        for record in orjson.loads(body)["Records"]:
            trail.records.append(record)
            key = record["userIdentity"].get("accessKeyId", "")
            if key:
                trail.used[key].append(record)
            response = record.get("responseElements") or {}
            minted = (response.get("credentials") or {}).get("accessKeyId")
            if minted:
                trail.minted[minted].append(record)
    return trail


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Trail:
    root = tmp_path_factory.mktemp("demo")
    return load(write_demo(root, events=25_000, seed=11, days=DAYS, end=END))


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- files -----------------------------------------------------------------------------------------


def test_a_fixed_seed_and_end_give_byte_identical_files(tmp_path: Path) -> None:
    first = write_demo(tmp_path / "a", events=3_000, seed=3, days=3, end=END)
    second = write_demo(tmp_path / "b", events=3_000, seed=3, days=3, end=END)
    other = write_demo(tmp_path / "c", events=3_000, seed=4, days=3, end=END)
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a == b
    assert first.facts == second.facts
    assert (first.files, first.events, first.bytes_written) == (
        second.files,
        second.events,
        second.bytes_written,
    )
    assert tree(tmp_path / "c") != a
    assert other.facts["federated_user_chain"] != first.facts["federated_user_chain"]
    for name, body in a.items():
        if name.endswith(".gz"):
            assert body[:2] == b"\x1f\x8b", name
            assert body[4:8] == b"\0\0\0\0", f"{name}: gzip mtime is not 0"


def test_every_file_follows_the_s3_delivery_layout(trail: Trail) -> None:
    root = trail.summary.root
    per_hour: Counter[tuple[str, str, str]] = Counter()
    assert trail.files
    assert len(trail.files) == trail.summary.files
    for path in trail.files:
        relative = path.relative_to(root).as_posix()
        match = LAYOUT.fullmatch(relative)
        assert match, relative
        assert match["org"] == trail.facts["organization_id"]
        stamp = datetime.strptime(match["stamp"], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        assert (match["y"], match["m"], match["d"]) == (f"{stamp:%Y}", f"{stamp:%m}", f"{stamp:%d}")
        per_hour[(match["account"], match["region"], match["stamp"])] += 1
        hour = stamp.replace(minute=0)
        for record in orjson.loads(trail.bodies[path])["Records"]:
            assert record["recipientAccountId"] == match["account"]
            assert record["awsRegion"] == match["region"]
            assert hour <= at(record["eventTime"]) < stamp, (relative, record["eventTime"])
    assert max(per_hour.values()) == 1, "one delivery file per account, region and hour"
    assert {p.name for p in root.iterdir()} == {"AWSLogs", "exports", "demo-facts.txt"}
    assert orjson.loads((root / "demo-facts.txt").read_bytes()) == trail.facts
    assert sum(p.stat().st_size for p in trail.files) == trail.summary.bytes_written


def test_every_record_starts_with_event_version_and_has_its_keys(trail: Trail) -> None:
    for path, body in trail.bodies.items():
        count = len(orjson.loads(body)["Records"])
        assert body.startswith(b'{"Records":[{"eventVersion":"1.'), path
        assert body.count(b'},{"eventVersion":') == count - 1, path
    ids = Counter(r["eventID"] for r in trail.records)
    assert len(trail.records) == trail.summary.events
    assert max(ids.values()) == 1
    for record in trail.records:
        assert next(iter(record)) == "eventVersion"
        for key in ("eventID", "eventTime", "recipientAccountId", "userIdentity", "eventSource", "eventName"):
            assert record.get(key), (key, record)
        assert record["eventCategory"] == ("Management" if record["managementEvent"] else "Data")
    versions = Counter(r["eventVersion"] for r in trail.records)
    assert set(versions) == {"1.08", "1.09", "1.10", "1.11"}
    data = [r for r in trail.records if r["eventCategory"] == "Data"]
    assert 0 < len(data) < len(trail.records) // 10
    assert any(r["eventName"] == "GetObject" and r["eventSource"] == "s3.amazonaws.com" for r in data)
    assert sum("tlsDetails" in r for r in trail.records) > len(trail.records) // 2


def test_the_logs_cover_every_logged_account_but_not_the_gap_account(trail: Trail) -> None:
    accounts = {a["id"]: a for a in trail.facts["accounts"]}
    seen = {r["recipientAccountId"] for r in trail.records}
    assert seen == {a for a, v in accounts.items() if v["logs"]}
    assert len(seen) >= 5
    assert trail.facts["missing_account"]["gap_account_id"] not in seen


def test_exports_list_the_organisation_and_the_identity_store(trail: Trail) -> None:
    root = trail.summary.root / "exports"
    accounts = orjson.loads((root / "organizations-list-accounts.json").read_bytes())["Accounts"]
    assert {a["Id"] for a in accounts} == {a["id"] for a in trail.facts["accounts"]}
    for account in accounts:
        assert set(account) == {"Id", "Arn", "Email", "Name", "Status", "JoinedMethod", "JoinedTimestamp"}
        assert account["Arn"].endswith(f"/{trail.facts['organization_id']}/{account['Id']}")
    users = orjson.loads((root / "identitystore-list-users.json").read_bytes())["Users"]
    by_id = {u["UserId"]: u for u in users}
    portal = {
        r["userIdentity"]["onBehalfOf"]["userId"]
        for r in trail.records
        if r["eventSource"] == "sso.amazonaws.com"
    }
    assert portal
    assert portal <= set(by_id)
    for user in users:
        assert user["IdentityStoreId"] == trail.facts["identity_store_id"]
        assert user["Emails"][0]["Primary"] is True
        assert user["Emails"][0]["Value"] == user["UserName"]
    fed = trail.facts["federated_user_chain"]
    assert by_id[fed["user_id"]]["UserName"] == fed["origin_identifier"]


# -- credentials ------------------------------------------------------------------------------------


def console_exceptions(trail: Trail) -> set[str]:
    """Keys the console signs with: IAM-user console sessions and switched-role sessions."""
    logins = {
        (r["userIdentity"]["arn"], r["eventTime"]) for r in trail.records if r["eventName"] == "ConsoleLogin"
    }
    switches = {
        (r["userIdentity"]["principalId"], r["eventTime"])
        for r in trail.records
        if r["eventName"] == "SwitchRole"
    }
    keys = set()
    for key, uses in trail.used.items():
        identity = uses[0]["userIdentity"]
        created = identity.get("sessionContext", {}).get("attributes", {}).get("creationDate")
        if (identity.get("arn"), created) in logins or (identity.get("principalId"), created) in switches:
            keys.add(key)
    return keys


def test_every_temporary_key_used_was_minted_before_use(trail: Trail) -> None:
    console = console_exceptions(trail)
    assert console, "console sessions are part of the demo"
    for key, uses in trail.used.items():
        if not key.startswith("ASIA") or key in console:
            continue
        assert key in trail.minted, f"{key} used by {uses[0]['userIdentity']} but never minted"
        mint = trail.minted[key][0]
        lifetime = timedelta(seconds=mint["requestParameters"]["durationSeconds"])
        assert all(
            at(mint["eventTime"]) <= at(r["eventTime"]) <= at(mint["eventTime"]) + lifetime for r in uses
        ), key
        created = {r["userIdentity"]["sessionContext"]["attributes"]["creationDate"] for r in uses}
        assert created == {trail.minted[key][0]["eventTime"]}, key
    for key in console:  # console keys never appear in a minting response
        assert key not in trail.minted


def test_cross_account_copies_share_one_shared_event_id(trail: Trail) -> None:
    gap = trail.facts["missing_account"]["gap_account_id"]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in trail.records:
        if "sharedEventID" in record:
            groups[record["sharedEventID"]].append(record)
    assert len(groups) > 50
    for shared, copies in groups.items():
        owners = [c for c in copies if c["userIdentity"]["type"] == "AWSAccount"]
        role_account = copies[0]["requestParameters"]["roleArn"].split(":")[4]
        if len(copies) == 1:  # the other copy went to the account whose trail we do not receive
            caller_account = copies[0]["userIdentity"]["accountId"]
            assert gap in (role_account, caller_account), shared
            continue
        assert len(copies) == 2, shared
        assert len(owners) == 1, shared
        owner, caller = owners[0], next(c for c in copies if c is not owners[0])
        assert owner["recipientAccountId"] == role_account != caller["recipientAccountId"]
        assert owner["userIdentity"]["principalId"] == caller["userIdentity"]["principalId"]
        assert owner["userIdentity"]["accountId"] == caller["recipientAccountId"]
        assert owner["requestID"] == caller["requestID"]
        assert owner["eventID"] != caller["eventID"]
        assert owner["responseElements"] == caller["responseElements"]


def test_denied_assume_role_mints_nothing(trail: Trail) -> None:
    denied = [r for r in trail.records if r["eventName"] == "AssumeRole" and r.get("errorCode")]
    assert denied
    for record in denied:
        assert record["errorCode"] == "AccessDenied"
        assert record["responseElements"] is None
        assert "sharedEventID" not in record  # a denied cross-account attempt is logged by the caller only


def test_console_sign_in_and_switch_role_follow_the_console_flow(trail: Trail) -> None:
    logins = [r for r in trail.records if r["eventName"] == "ConsoleLogin"]
    assert logins
    assert all(r["userIdentity"]["type"] == "IAMUser" for r in logins)
    assert all(
        r["eventType"] == "AwsConsoleSignIn" and "accessKeyId" not in r["userIdentity"] for r in logins
    )
    switches = [r for r in trail.records if r["eventName"] == "SwitchRole"]
    assert switches
    minted_for: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    sessions: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in trail.records:
        identity = record["userIdentity"]
        if record["eventName"] == "AssumeRole" and record["responseElements"]:
            assumed = record["responseElements"]["assumedRoleUser"]["assumedRoleId"]
            minted_for[(assumed, record["eventTime"])].append(record)
        created = identity.get("sessionContext", {}).get("attributes", {}).get("creationDate")
        if identity.get("accessKeyId") and created:
            sessions[(identity["principalId"], created)].add(identity["accessKeyId"])
    for switch in switches:
        joined = (switch["userIdentity"]["principalId"], switch["eventTime"])  # principalId + creationDate
        assume = minted_for[joined]
        assert {r["userIdentity"]["type"] for r in assume} == {"IAMUser", "AWSAccount"}
        caller = next(r for r in assume if r["userIdentity"]["type"] == "IAMUser")
        assert caller["userIdentity"]["invokedBy"] == "AWS Internal" == caller["sourceIPAddress"]
        assert caller["userIdentity"]["accessKeyId"].startswith("ASIA")
        assert switch["additionalEventData"]["SwitchFrom"] == caller["userIdentity"]["arn"]
        minted = caller["responseElements"]["credentials"]["accessKeyId"]
        assert sessions[joined], "the switched-role session makes calls"
        assert minted not in sessions[joined], "the console signs with other keys than the minted one"


def test_session_and_federation_tokens_change_the_identity_of_later_calls(trail: Trail) -> None:
    token = next(r for r in trail.records if r["eventName"] == "GetSessionToken")
    key = token["responseElements"]["credentials"]["accessKeyId"]
    uses = trail.used[key]
    assert uses
    assert all(r["userIdentity"]["type"] == "IAMUser" for r in uses)
    assert {r["userIdentity"]["arn"] for r in uses} == {token["userIdentity"]["arn"]}
    assert uses[0]["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
    assert any(r["eventName"] == "AssumeRole" for r in uses), "the session token user also assumes a role"
    federation = [r for r in trail.records if r["eventName"] == "GetFederationToken"]
    assert federation
    for record in federation:
        account, name = record["recipientAccountId"], record["requestParameters"]["name"]
        fed_uses = trail.used[record["responseElements"]["credentials"]["accessKeyId"]]
        assert fed_uses
        assert all(r["userIdentity"]["type"] == "FederatedUser" for r in fed_uses)
        assert {r["userIdentity"]["principalId"] for r in fed_uses} == {f"{account}:{name}"}
        issuer = fed_uses[0]["userIdentity"]["sessionContext"]["sessionIssuer"]
        assert issuer["arn"] == record["userIdentity"]["arn"]
        assert record["readOnly"] is False


def test_identity_center_portal_and_member_sessions(trail: Trail) -> None:
    portal = [r for r in trail.records if r["eventSource"] == "sso.amazonaws.com"]
    assert {r["eventName"] for r in portal} >= {"ListAccounts", "ListAccountRoles", "GetRoleCredentials"}
    for record in portal:
        identity = record["userIdentity"]
        assert identity["type"] == "IdentityCenterUser"
        assert identity["accountId"] == trail.facts["management_account"]
        assert identity["onBehalfOf"]["identityStoreArn"].endswith("/" + trail.facts["identity_store_id"])
    saml = [r for r in trail.records if r["eventName"] == "AssumeRoleWithSAML"]
    sso = [r for r in saml if "AWSReservedSSO_" in r["requestParameters"]["roleArn"]]
    assert sso
    assert all(r["sourceIPAddress"] == "AWS Internal" for r in sso)
    for record in sso:
        assert record["requestParameters"]["roleSessionName"] == record["responseElements"]["subject"]
        assert "/aws-reserved/sso.amazonaws.com/" in record["requestParameters"]["roleArn"]


def test_plain_saml_users_carry_subject_issuer_and_name_qualifier(trail: Trail) -> None:
    plain = [
        r
        for r in trail.records
        if r["eventName"] == "AssumeRoleWithSAML"
        and "AWSReservedSSO_" not in r["requestParameters"]["roleArn"]
    ]
    assert plain
    for record in plain:
        response, provider = record["responseElements"], record["requestParameters"]["principalArn"]
        account, name = provider.split(":")[4], provider.rsplit("/", 1)[1]
        digest = hashlib.sha1(
            f"{response['issuer']}{account}/{name}".encode(), usedforsecurity=False
        ).digest()
        assert response["nameQualifier"] == base64.b64encode(digest).decode()
        assert record["userIdentity"] == {
            "type": "SAMLUser",
            "principalId": f"{response['nameQualifier']}:{response['subject']}",
            "userName": response["subject"],
            "identityProvider": response["nameQualifier"],
        }


def test_workloads_github_ecs_vpc_endpoints_and_calls_made_by_services(trail: Trail) -> None:
    github = [
        r for r in trail.records if r["eventName"] == "AssumeRoleWithWebIdentity" and "github" in str(r)
    ]
    assert github
    assert github[0]["responseElements"]["subjectFromWebIdentityToken"].startswith("repo:")
    assert github[0]["responseElements"]["subjectFromWebIdentityToken"].endswith(":ref:refs/heads/main")
    assert github[0]["responseElements"]["provider"].endswith(
        ":oidc-provider/token.actions.githubusercontent.com"
    )
    ecs = [r for r in trail.records if r["userIdentity"].get("invokedBy") == "ecs-tasks.amazonaws.com"]
    assert ecs
    assert all(re.fullmatch(r"[0-9a-f]{32}", r["requestParameters"]["roleSessionName"]) for r in ecs)
    vpce = [r for r in trail.records if "vpcEndpointId" in r]
    assert vpce
    assert all(r["sourceIPAddress"].startswith("10.") and r["eventVersion"] >= "1.09" for r in vpce)
    via = [
        r
        for r in trail.records
        if r["userIdentity"].get("type") == "AssumedRole" and "invokedBy" in r["userIdentity"]
    ]
    assert {r["userIdentity"]["invokedBy"] for r in via} >= {"cloudformation.amazonaws.com"}
    for record in via:
        assert record["sourceIPAddress"] == record["userIdentity"]["invokedBy"]
        assert "tlsDetails" not in record


def test_principals_keep_their_habits(trail: Trail) -> None:
    """Outside the incidents, an IAM user's key is used from one country, with one user agent."""
    networks = {cidr.split("/")[0].rsplit(".", 1)[0]: c for cidr, c in trail.facts["networks"].items()}
    incident_ips = {trail.facts["impossible_travel"]["ips"][1]}
    by_user: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for record in trail.records:
        identity = record["userIdentity"]
        if identity.get("type") == "IAMUser" and identity.get("accessKeyId", "").startswith("AKIA"):
            ip = record["sourceIPAddress"]
            if ip not in incident_ips:
                by_user[identity["arn"]].add((networks[ip.rsplit(".", 1)[0]], record["userAgent"]))
    assert len(by_user) >= 3
    assert all(len(habits) == 1 for habits in by_user.values()), by_user


# -- incidents and named answers -----------------------------------------------------------------


def in_last_days(trail: Trail, records: list[dict[str, Any]], days: int = 3) -> bool:
    return all(END - timedelta(days=days) <= at(r["eventTime"]) < END for r in records)


def test_instance_credential_exfiltration(trail: Trail) -> None:
    fact = trail.facts["instance_credential_exfiltration"]
    mint = trail.minted[fact["access_key"]]
    assert len(mint) == 1
    assert mint[0]["userIdentity"] == {
        "type": "AWSService",
        "invokedBy": "ec2.amazonaws.com",
    }
    assert mint[0]["requestParameters"]["roleSessionName"] == fact["instance_id"]
    assert mint[0]["requestParameters"]["roleArn"] == fact["role_arn"]
    uses = sorted(trail.used[fact["access_key"]], key=lambda r: r["eventTime"])
    outside = [r for r in uses if r["sourceIPAddress"] == fact["attacker_ip"]]
    inside = [r for r in uses if r["sourceIPAddress"] != fact["attacker_ip"]]
    assert outside
    assert inside
    assert in_last_days(trail, uses)
    assert uses[0]["sourceIPAddress"] == fact["attacker_ip"], "the stolen key is used first from outside"
    assert all(r["userIdentity"]["principalId"].endswith(":" + fact["instance_id"]) for r in uses)


def test_federated_user_chain_links_hop_by_hop_across_accounts(trail: Trail) -> None:
    fact = trail.facts["federated_user_chain"]
    keys = [fact["leaf_access_key"], *fact["chain_access_keys"]]
    for child, parent in itertools.pairwise(keys):
        caller = trail.caller_copy(child)
        assert caller["eventName"] == "AssumeRole"
        assert caller["userIdentity"]["accessKeyId"] == parent
        owner = [r for r in trail.minted[child] if r["userIdentity"]["type"] == "AWSAccount"]
        assert len(owner) == 1
        assert owner[0]["sharedEventID"] == caller["sharedEventID"]
    root = trail.caller_copy(keys[-1])
    assert root["eventName"] == "AssumeRoleWithSAML"
    assert "AWSReservedSSO_" in root["requestParameters"]["roleArn"]
    assert root["requestParameters"]["roleSessionName"] == fact["origin_identifier"]
    assert fact["origin_kind"] == "IDENTITY_CENTER_USER"
    accounts = [trail.used[k][0]["recipientAccountId"] for k in reversed(keys)]
    assert accounts == fact["accounts"]
    assert len(set(accounts)) == 3
    leaf = trail.used[fact["leaf_access_key"]]
    names = {r["eventName"] for r in leaf}
    assert {"CreateAccessKey", "GetSecretValue"} <= names
    assert {r["sourceIPAddress"] for r in leaf} == {fact["source_ip"]}
    assert in_last_days(trail, leaf)
    country = {
        c
        for cidr, c in trail.facts["networks"].items()
        if fact["source_ip"].startswith(cidr.rsplit(".", 1)[0])
    }
    assert country == {fact["country"]} != {fact["usual_country"]}
    usual = [r for r in trail.records if r["eventName"] == "AssumeRoleWithSAML" and r is not root]
    usual = [r for r in usual if r["requestParameters"]["roleSessionName"] == fact["origin_identifier"]]
    assert usual, "the user also has ordinary sessions"


def test_volume_spike(trail: Trail) -> None:
    fact = trail.facts["volume_spike"]
    per_day: Counter[str] = Counter()
    for record in trail.records:
        issuer = record["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {})
        if issuer.get("arn") == fact["role_arn"]:
            per_day[record["eventTime"][:10]] += 1
    full_days = [d for d in per_day if d not in (fact["day"], END.date().isoformat(), min(per_day))]
    usual = statistics.median(per_day[d] for d in full_days)
    assert 10 * usual < per_day[fact["day"]] < 40 * usual
    assert END - timedelta(days=3) <= datetime.fromisoformat(fact["day"]).replace(tzinfo=UTC)
    assert fact["origin_identifier"].endswith(":function:orders-processor")


def test_impossible_travel(trail: Trail) -> None:
    fact = trail.facts["impossible_travel"]
    uses = [r for r in trail.records if r["userIdentity"].get("arn") == fact["user_arn"]]
    home, far = fact["ips"]
    far_uses = [r for r in uses if r["sourceIPAddress"] == far]
    assert far_uses
    assert in_last_days(trail, far_uses)
    first_far = min(at(r["eventTime"]) for r in far_uses)
    near = [
        r
        for r in uses
        if r["sourceIPAddress"] == home and abs(at(r["eventTime"]) - first_far) < timedelta(minutes=15)
    ]
    assert near
    countries = {cidr.rsplit(".", 1)[0]: c for cidr, c in trail.facts["networks"].items()}
    assert countries[home.rsplit(".", 1)[0]] != countries[far.rsplit(".", 1)[0]]


def test_missing_account_hop_has_only_the_role_owner_copy(trail: Trail) -> None:
    fact = trail.facts["missing_account"]
    mint = trail.minted[fact["leaf_access_key"]]
    assert len(mint) == 1
    identity = mint[0]["userIdentity"]
    assert identity == {
        "type": "AWSAccount",
        "principalId": fact["gap_principal_id"],
        "accountId": fact["gap_account_id"],
    }
    assert trail.used[fact["leaf_access_key"]]
    assert in_last_days(trail, mint)
    assert not any(r["recipientAccountId"] == fact["gap_account_id"] for r in trail.records)
    assert sum(r.get("sharedEventID") == mint[0]["sharedEventID"] for r in trail.records) == 1
    bridge = trail.caller_copy(fact["bridge_access_key"])  # the gap session was minted where we can see it
    assert bridge["responseElements"]["assumedRoleUser"]["assumedRoleId"] == fact["gap_principal_id"]
    assert bridge["userIdentity"]["principalId"].endswith(":" + fact["origin_identifier"].rsplit(":", 1)[1])
    assert fact["bridge_access_key"] not in trail.used


def test_cross_account_role_is_used_by_several_kinds_of_origin(trail: Trail) -> None:
    fact = trail.facts["cross_account_role"]
    role = fact["role_arn"]
    callers = [
        r["userIdentity"]
        for r in trail.records
        if r["eventName"] == "AssumeRole"
        and r["requestParameters"]["roleArn"] == role
        and r["userIdentity"]["type"] != "AWSAccount"
        and not r.get("errorCode")
    ]
    kinds = {o["kind"] for o in fact["origins"]}
    assert kinds == {"IAM_USER", "LAMBDA_FUNCTION", "IDENTITY_CENTER_USER"}
    for origin in fact["origins"]:
        identifier = origin["identifier"]
        if origin["kind"] == "IAM_USER":
            assert any(c.get("arn") == identifier for c in callers)
        elif origin["kind"] == "LAMBDA_FUNCTION":
            assert any(c["principalId"].endswith(":" + identifier.rsplit(":", 1)[1]) for c in callers)
        else:
            assert any(
                c["principalId"].endswith(":" + identifier) and "AWSReservedSSO_" in c["arn"] for c in callers
            )
    assert all(c["accountId"] != role.split(":")[4] for c in callers)


def walk(trail: Trail, leaf: str) -> Iterator[dict[str, Any]]:
    """The caller copies of the minting events from `leaf` up to the first non-session caller."""
    key = leaf
    while True:
        record = trail.caller_copy(key)
        yield record
        if record["userIdentity"]["type"] != "AssumedRole":
            return
        key = record["userIdentity"]["accessKeyId"]


def test_chain_example_and_deep_chain(trail: Trail) -> None:
    example = trail.facts["chain_example"]
    hops = list(walk(trail, example["leaf_access_key"]))
    assert hops[0]["userIdentity"]["accessKeyId"] == example["parent_access_key"]
    assert hops[-1]["userIdentity"]["arn"] == example["origin_identifier"]
    deep = trail.facts["deep_chain"]
    hops = list(walk(trail, deep["leaf_access_key"]))
    assert [h["userIdentity"].get("accessKeyId") for h in hops[:-1]] == deep["chain_access_keys"]
    assert len(hops) >= 4
    assert len(set(deep["accounts"])) >= 3
    origin = hops[-1]
    provider = origin["requestParameters"]["principalArn"]
    assert f"{provider}:{origin['responseElements']['subject']}" == deep["origin_identifier"]
    assert origin["requestParameters"]["principalTags"]
    assert origin["requestParameters"]["transitiveTagKeys"]
    for hop in hops[:-1]:
        assert hop["requestParameters"]["sourceIdentity"] == deep["source_identity"]
        assert hop["requestParameters"]["incomingTransitiveTags"] == deep["transitive_tags"]
    contexts = [r["userIdentity"]["sessionContext"] for r in trail.used[deep["leaf_access_key"]]]
    assert contexts
    assert all(c["sourceIdentity"] == deep["source_identity"] for c in contexts)


def test_every_principal_is_named_canonically(trail: Trail) -> None:
    kinds = Counter(p["kind"] for p in trail.facts["principals"])
    assert set(kinds) == {
        "IAM_USER",
        "SAML_USER",
        "IDENTITY_CENTER_USER",
        "WEB_IDENTITY_USER",
        "FEDERATION_TOKEN_USER",
        "EC2_INSTANCE",
        "LAMBDA_FUNCTION",
        "ECS_TASK",
    }
    patterns = {
        "IAM_USER": r"arn:aws:iam::\d{12}:user/[\w+=,.@-]+",
        "SAML_USER": r"arn:aws:iam::\d{12}:saml-provider/[\w.-]+:.+",
        "IDENTITY_CENTER_USER": r"[^@\s]+@[^@\s]+",
        "WEB_IDENTITY_USER": r"(cognito-identity\.amazonaws\.com|arn:aws:iam::\d{12}:oidc-provider/[\w./-]+)"
        r":.+",
        "FEDERATION_TOKEN_USER": r"arn:aws:sts::\d{12}:federated-user/[\w+=,.@-]+",
        "EC2_INSTANCE": r"i-[0-9a-f]{17}",
        "LAMBDA_FUNCTION": r"arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[\w-]+",
        "ECS_TASK": r"[0-9a-f]{32}",
    }
    for principal in trail.facts["principals"]:
        assert re.fullmatch(patterns[principal["kind"]], principal["identifier"]), principal


def test_a_small_dataset_still_holds_every_named_answer(tmp_path: Path) -> None:
    summary = write_demo(tmp_path, events=800, seed=5, days=4, end=END)
    expected = {
        "chain_example", "deep_chain", "cross_account_role", "instance_credential_exfiltration",
        "federated_user_chain", "volume_spike", "impossible_travel", "missing_account",
    }  # fmt: skip
    assert expected <= set(summary.facts)
    assert len(summary.facts["cross_account_role"]["origins"]) == 3
    assert 600 <= summary.events < 2_000


@pytest.mark.slow
def test_generation_speed_at_200k_events(tmp_path: Path) -> None:
    """CPU time, not wall time: other processes on the machine must not fail this test."""
    wall, cpu = time.perf_counter(), time.process_time()
    summary = write_demo(tmp_path, events=200_000, seed=7, days=10, end=END)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"\n{summary.events:,} events, {summary.files:,} files, {summary.bytes_written / 1e6:.1f} MB: "
        f"{summary.events / cpu:,.0f} events per CPU second ({cpu:.1f}s CPU, {wall:.1f}s wall)"
    )
    assert abs(summary.events - 200_000) < 4_000
    assert summary.events / cpu > 17_000, "1M events should take at most about a minute of one core"
