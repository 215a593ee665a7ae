"""Writes the attribution fixture files: `python -m tests.data.attribution.make`.

Each scenario's records go to one delivery file per recipient account and region, in the S3
layout (`AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<stamp>_<name>.json.gz`),
shuffled as trails deliver them (deterministically). The security account's share of the SAML
chain is delivered a second time by an organisation trail, in another order. The Organizations and
Identity Store exports sit in `exports/`. Gzip members carry no name and mtime 0: the bytes are
stable, and the committed files are what this module writes.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.data.attribution import scenarios
from tests.data.attribution.records import Record

HERE = Path(__file__).resolve().parent
EXPORTS = "exports"
ACCOUNTS_EXPORT = f"{EXPORTS}/organizations-list-accounts.json"
USERS_EXPORT = f"{EXPORTS}/identitystore-list-users.json"
# The organisation trail repeats this delivery file (scenario, account, region).
ORG_COPY = ("chain", scenarios.SEC, "us-east-1")


def trail_path(account: str, region: str, delivered: datetime, name: str, *, org: str = "") -> str:
    stamp = delivered.strftime("%Y%m%dT%H%MZ")
    prefix = f"AWSLogs/{org}/{account}" if org else f"AWSLogs/{account}"
    return (
        f"{prefix}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{stamp}_{name}.json.gz"
    )


def delivery_time(records: Iterable[Record]) -> datetime:
    """Five minutes after the last event, on a five-minute boundary."""
    last = max(datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) for r in records)
    last += timedelta(minutes=5)
    return last.replace(minute=last.minute - last.minute % 5, second=0)


def shuffled(records: list[Record], seed: str) -> list[Record]:
    out = list(records)
    random.Random(seed).shuffle(out)
    return out


def fixture_files(trail: scenarios.Trail | None = None) -> dict[str, list[Record]]:
    """The trail files, by path relative to this folder."""
    trail = trail or scenarios.build()
    files: dict[str, list[Record]] = {}
    for (scenario, account, region), records in sorted(trail.files.items()):
        path = trail_path(account, region, delivery_time(records), scenario)
        files[path] = shuffled(records, path)
        if (scenario, account, region) == ORG_COPY:
            org_path = trail_path(account, region, delivery_time(records), "org", org=scenarios.ORG)
            files[org_path] = list(reversed(files[path]))
    return files


def exports() -> dict[str, Any]:
    return {
        ACCOUNTS_EXPORT: scenarios.organizations_accounts(),
        USERS_EXPORT: scenarios.identity_store_users(),
    }


def write_trail(path: Path, records: Iterable[Record]) -> Path:
    """A gzipped `{"Records": [...]}` file with stable bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"Records": list(records)}, separators=(",", ":")).encode()
    with path.open("wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as out:
        out.write(body)
    return path


def write_json(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
    return path


def write_all(root: Path = HERE) -> list[Path]:
    written = [write_trail(root / name, records) for name, records in fixture_files().items()]
    written += [write_json(root / name, value) for name, value in exports().items()]
    return written


def paths(root: Path = HERE) -> list[Path]:
    """The committed fixture files: every trail file and both exports, in name order."""
    return sorted(root.glob("AWSLogs/**/*.json.gz")) + sorted((root / EXPORTS).glob("*.json"))


if __name__ == "__main__":
    for stale in HERE.glob("AWSLogs/**/*.json.gz"):
        stale.unlink()
    for item in write_all():
        print(item.relative_to(HERE))
