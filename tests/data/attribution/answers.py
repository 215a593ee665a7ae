"""What the API must count, read straight from the fixture records (not from the store): the
calls of every credential, identified by (recipient account, eventID), with their errors and APIs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.data.attribution import make, scenarios
from tests.data.attribution.records import Record

CallId = tuple[str, str]  # (recipient account, eventID)


@dataclass(frozen=True)
class Call:
    recipient: str
    event_id: str
    event_time: str
    service: str
    name: str
    error: str

    @property
    def id(self) -> CallId:
        return (self.recipient, self.event_id)


@dataclass
class Answers:
    """Expected sessions (from the scenarios) and calls (from the records, duplicates merged)."""

    sessions: dict[str, scenarios.Expected]
    calls: dict[str, dict[CallId, Call]] = field(default_factory=dict)

    def calls_of(self, keys: Iterable[str]) -> list[Call]:
        """Calls made with any of the keys, oldest first."""
        found = [c for k in keys for c in self.calls.get(k, {}).values()]
        return sorted(found, key=lambda c: (c.event_time, c.recipient, c.event_id))

    def count(self, key: str) -> int:
        return len(self.calls.get(key, {}))

    def errors(self, key: str) -> int:
        return sum(1 for c in self.calls.get(key, {}).values() if c.error)

    def sessions_of(self, who: scenarios.Who) -> list[str]:
        """The credentials of a principal: those whose chain leads to it, and for a federation
        token user the tokens minted for it (their origin is the IAM user that minted them)."""
        if who == scenarios.FEDERATED_WHO:
            return [scenarios.KEY_FEDERATED]
        return sorted(k for k, s in self.sessions.items() if s.origin == who)

    def by_api(self, keys: Iterable[str]) -> list[dict[str, object]]:
        """`apiCallsByApi` of the calls made with keys, in (service, name) order."""
        calls: Counter[tuple[str, str]] = Counter()
        errors: Counter[tuple[str, str]] = Counter()
        for c in self.calls_of(keys):
            calls[(c.service, c.name)] += 1
            errors[(c.service, c.name)] += bool(c.error)
        return [
            {
                "service": service,
                "name": name,
                "calls": calls[(service, name)],
                "errors": errors[(service, name)],
            }
            for service, name in sorted(calls)
        ]


def read(records: Iterable[Record], sessions: dict[str, scenarios.Expected]) -> Answers:
    answers = Answers(sessions)
    for item in records:
        access_key = (item.get("userIdentity") or {}).get("accessKeyId") or ""
        if not access_key:
            continue
        found = Call(
            item["recipientAccountId"],
            item["eventID"],
            item["eventTime"],
            item["eventSource"].removesuffix(".amazonaws.com"),
            item["eventName"],
            item.get("errorCode") or "",
        )
        answers.calls.setdefault(access_key, {})[found.id] = found
    return answers


def fixture_answers() -> Answers:
    """Answers for the committed fixture files (organisation copy included)."""
    trail = scenarios.build()
    files = make.fixture_files(trail)
    return read((item for records in files.values() for item in records), trail.sessions)
