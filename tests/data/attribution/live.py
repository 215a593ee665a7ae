"""A containment fixture relative to now, written at test time (its answers depend on the clock).

In production, role IncidentResponder has four sessions: one minted ten minutes ago that expires
in fifty (still valid), one minted three hours ago that expired two hours ago, and two seen only
through their calls (no minting record, so no known expiry): one created five minutes ago (within
any kind's maximum duration: can still be valid) and one created three days ago (beyond every
maximum). Role LegacyDeploy has one session, long expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from tests.data.attribution.make import trail_path, write_trail
from tests.data.attribution.records import REGION, Record, Role, User, at
from tests.data.attribution.scenarios import PROD, Ids, asia
from tests.data.attribution.sts import assume_role, call

RESPONDER = Role(PROD, "IncidentResponder")
LEGACY = Role(PROD, "LegacyDeploy")
ONCALL_USER = User(PROD, "oncall")
KEY_LIVE = asia("livesession")
KEY_EXPIRED = asia("expiredsession")
KEY_RECENT_UNKNOWN = asia("recentunknown")
KEY_STALE_UNKNOWN = asia("staleunknown")
KEY_LEGACY = asia("legacysession")


@dataclass(frozen=True)
class Live:
    now: datetime
    paths: list[Path]

    def minutes(self, offset: float) -> datetime:
        return self.now + timedelta(minutes=offset)


def records(now: datetime) -> list[Record]:
    ids = Ids(f"live/{now.isoformat()}")

    def minutes(offset: float) -> datetime:
        return now + timedelta(minutes=offset)

    user = ONCALL_USER.identity()
    live = RESPONDER.identity(KEY_LIVE, "oncall-live", minutes(-10))
    expired = RESPONDER.identity(KEY_EXPIRED, "oncall-old", minutes(-180))
    recent = RESPONDER.identity(KEY_RECENT_UNKNOWN, "oncall-recent", minutes(-5))
    stale = RESPONDER.identity(KEY_STALE_UNKNOWN, "oncall-stale", minutes(-3 * 24 * 60))
    legacy = LEGACY.identity(KEY_LEGACY, "legacy", at(2, 0))
    return [
        assume_role(ids(), minutes(-10), user, RESPONDER, "oncall-live", KEY_LIVE, account=PROD),
        call(ids, minutes(-9), live, PROD, "ec2", "DescribeInstances"),
        call(ids, minutes(-8), live, PROD, "ec2", "StopInstances"),
        assume_role(ids(), minutes(-180), user, RESPONDER, "oncall-old", KEY_EXPIRED, account=PROD),
        call(ids, minutes(-179), expired, PROD, "ec2", "DescribeInstances"),
        # Their minting records are not in the store: only the calls and their creation dates.
        call(ids, minutes(-4), recent, PROD, "s3", "ListBuckets"),
        call(ids, minutes(-3 * 24 * 60 + 1), stale, PROD, "s3", "ListBuckets"),
        # Role LegacyDeploy: one session on the fixture day of 2024, long expired.
        assume_role(ids(), at(2, 0), user, LEGACY, "legacy", KEY_LEGACY, account=PROD),
        call(ids, at(2, 1), legacy, PROD, "s3", "ListBuckets"),
    ]


def write_live(root: Path, now: datetime) -> Live:
    """The fixture as delivery files (one per day it spans) under root; `now` at whole seconds."""
    now = now.replace(microsecond=0)
    by_day: dict[str, list[Record]] = {}
    for item in records(now):
        by_day.setdefault(item["eventTime"][:10], []).append(item)
    written = []
    for day, items in sorted(by_day.items()):
        delivered = datetime.fromisoformat(max(r["eventTime"] for r in items).replace("Z", "+00:00"))
        name = trail_path(PROD, REGION, delivered, f"live{day.replace('-', '')}")
        written.append(write_trail(root / name, items))
    return Live(now, written)
