"""GraphQL documents of the attribution tests, and small helpers over the harness client."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from tests.data.api.harness import Api, Json

# Every time-bound field gets an explicit window: the API's default scope is the last 90 days.
FIXTURE_WINDOW = {"from": "2024-06-01T00:00:00Z", "to": "2024-07-01T00:00:00Z"}
ALL_TIME = {"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}

LINEAGE = """
query ($key: String!) {
  session(accessKeyId: $key) {
    accessKeyId
    origin { kind identifier }
    chain { accessKeyId }
    chainGap { accountId roleArn principalId time }
  }
}
"""

DESCRIPTION = """
query ($key: String!) {
  session(accessKeyId: $key) {
    credentialKind roleArn accountId expiresAt canStillBeValid apiCallCount errorCount
  }
}
"""

CLAIMS = """
query ($key: String!) {
  session(accessKeyId: $key) {
    sourceIdentity onBehalfOf sourceIdentityDisagrees
    transitiveTags { key value }
  }
}
"""

CHILDREN = """
query ($key: String!) {
  session(accessKeyId: $key) { childSessions { accessKeyId } }
}
"""

BROKERED = """
query ($key: String!) {
  session(accessKeyId: $key) {
    origin { kind identifier }
    federatedUser { kind identifier ... on FederationTokenUser { brokeredBy { kind identifier } } }
  }
}
"""

SESSION_CALLS = """
query ($key: String!) {
  session(accessKeyId: $key) {
    apiCalls(first: 100) { edges { node { eventId eventName errorCode recipientAccountId } } }
  }
}
"""

# Question 1: an access key -> its origin and chain, in one request.
QUESTION_KEY = """
query ($key: String!) {
  session(accessKeyId: $key) {
    accessKeyId credentialKind sourceIdentity sourceIdentityDisagrees
    origin { kind identifier accountId accountName }
    chain { accessKeyId roleArn accountId credentialKind }
    chainGap { accountId roleArn principalId time }
  }
}
"""

# Question 2: a principal -> what it did, through every chained session, in one request.
QUESTION_PRINCIPAL = """
query ($kind: PrincipalKind!, $id: String!, $from: DateTime!, $to: DateTime!, $first: Int, $after: String) {
  principal(kind: $kind, identifier: $id) {
    kind identifier accountId
    sessionCount(from: $from, to: $to)
    apiCallCount(from: $from, to: $to)
    directApiCallCount(from: $from, to: $to)
    apiCallsByApi(from: $from, to: $to) { service name calls errors }
    apiCalls(first: $first, after: $after, from: $from, to: $to) {
      edges { cursor node { eventId recipientAccountId eventTime eventName errorCode } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

PRINCIPAL_CALLS = """
query ($kind: PrincipalKind!, $id: String!, $from: DateTime!, $to: DateTime!, $first: Int, $after: String) {
  principal(kind: $kind, identifier: $id) {
    apiCalls(first: $first, after: $after, from: $from, to: $to) {
      edges { cursor node { eventId recipientAccountId eventTime eventName errorCode } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

PRINCIPAL = """
query ($kind: PrincipalKind!, $id: String!, $from: DateTime!, $to: DateTime!) {
  principal(kind: $kind, identifier: $id) {
    id kind identifier displayName accountId accountName
    sessionCount(from: $from, to: $to)
    apiCallCount(from: $from, to: $to)
    directApiCallCount(from: $from, to: $to)
    roles { arn }
  }
}
"""

PRINCIPAL_SESSIONS = """
query ($kind: PrincipalKind!, $id: String!, $from: DateTime!, $to: DateTime!, $first: Int, $after: String) {
  principal(kind: $kind, identifier: $id) {
    sessions(first: $first, after: $after, from: $from, to: $to) {
      edges { cursor node { accessKeyId } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

# Question 3: an instance -> every re-issued credential and its calls, in one request.
QUESTION_INSTANCE = """
query ($id: String!, $from: DateTime!, $to: DateTime!) {
  instance(id: $id) {
    kind identifier accountId
    sessionCount(from: $from, to: $to)
    apiCallCount(from: $from, to: $to)
    sessions(first: 20, from: $from, to: $to) {
      edges { node {
        accessKeyId apiCallCount
        apiCalls(first: 50) { edges { node { eventId recipientAccountId eventName sourceIpAddress } } }
      } }
      pageInfo { hasNextPage }
    }
  }
}
"""

# Question 4: a role -> who used it, from whatever account, how much and when last.
QUESTION_ROLE = """
query ($arn: String!) {
  role(arn: $arn) {
    arn name accountId sessionCount
    origins { kind identifier accountId }
    originUsage { principal { kind identifier } sessionCount apiCallCount lastUsed }
  }
}
"""

ROLE_CONTAINMENT = """
query ($arn: String!) {
  role(arn: $arn) { arn stillValidSessionCount revokeSessionsIssuedBefore }
}
"""


def session(api: Api, document: str, key: str) -> Json | None:
    found: Json | None = api.data(document, {"key": key})["session"]
    return found


def principal(api: Api, document: str, kind: str, identifier: str, **variables: Any) -> Json | None:
    found: Json | None = api.data(document, {"kind": kind, "id": identifier, **FIXTURE_WINDOW, **variables})[
        "principal"
    ]
    return found


def keys(items: Iterable[Json]) -> list[str]:
    return [item["accessKeyId"] for item in items]


def literal(value: str) -> str:
    """A GraphQL string literal."""
    return json.dumps(value)
