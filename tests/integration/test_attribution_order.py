"""Order-free attribution: the fixture files loaded in any order, some of them twice under other
names (byte-identical copies, and copies with their records in another order), give the same
origins, chains, gaps and counts for every session as the files loaded once in name order.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clickhouse.client import Store
from ingest.load import DUPLICATE, LOADED, Loader
from ingest.sources import file_ref
from tests.data.api.harness import Json, open_api
from tests.data.attribution import make, scenarios
from tests.data.attribution.queries import FIXTURE_WINDOW, literal
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

FILES = make.paths()
KEYS = sorted(scenarios.build().sessions)
PRINCIPALS = (
    scenarios.DANA_WHO,
    scenarios.ERIN_WHO,
    scenarios.DATA_ACCOUNT_WHO,
    scenarios.INSTANCE_WHO,
    scenarios.COGNITO_WHO,
    scenarios.iam_user(scenarios.LENA),
)


def snapshot_query() -> str:
    """One request for every session's lineage and counts, and a few principals' counts."""
    window = f"from: {literal(FIXTURE_WINDOW['from'])}, to: {literal(FIXTURE_WINDOW['to'])}"
    sessions = [f"s{n}: session(accessKeyId: {literal(k)}) {{ ...S }}" for n, k in enumerate(KEYS)]
    principals = [
        f"p{n}: principal(kind: {who.kind}, identifier: {literal(who.identifier)}) "
        f"{{ sessionCount({window}) apiCallCount({window}) }}"
        for n, who in enumerate(PRINCIPALS)
    ]
    fragment = """
fragment S on RoleSession {
  accessKeyId credentialKind apiCallCount errorCount sourceIdentity
  origin { kind identifier }
  chain { accessKeyId }
  chainGap { accountId roleArn principalId time }
}"""
    return "query {\n" + "\n".join(sessions + principals) + "\n}\n" + fragment


SNAPSHOT = snapshot_query()


def snapshot(store: Store) -> Json:
    with open_api(store) as api:
        return api.data(SNAPSHOT)


@pytest.fixture(scope="module")
def baseline(migrated_store: Store) -> Json:
    """The answers with every file loaded once, in name order."""
    truncate_all(migrated_store)
    results = Loader(migrated_store, retention_days=0).load_many([file_ref(p) for p in FILES])
    assert [r.status for r in results] == [LOADED] * len(results), results
    found = snapshot(migrated_store)
    assert [found[f"s{n}"]["accessKeyId"] for n in range(len(KEYS))] == KEYS
    return found


def reordered_copy(source: Path, target: Path) -> None:
    """The same records in another order: other bytes, so only record identity can merge them."""
    if source.name.endswith(".gz"):
        records = json.loads(gzip.decompress(source.read_bytes()))["Records"]
        make.write_trail(target, list(reversed(records)))
    else:
        value = json.loads(source.read_text(encoding="utf-8"))
        for entries in value.values():
            entries.reverse()
        make.write_json(target, value)


def copy_name(path: Path, n: int) -> Path:
    name = path.name
    for suffix in (".json.gz", ".json"):
        if name.endswith(suffix):
            return path.with_name(f"{name.removesuffix(suffix)}-copy{n}{suffix}")
    raise AssertionError(path)


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    order=st.permutations(range(len(FILES))),
    twice=st.lists(st.tuples(st.integers(0, len(FILES) - 1), st.booleans()), max_size=6),
    data=st.data(),
)
def test_any_order_and_any_repetition_gives_the_same_attribution(
    loader: Loader,
    tmp_path_factory: pytest.TempPathFactory,
    baseline: Json,
    order: list[int],
    twice: list[tuple[int, bool]],
    data: st.DataObject,
) -> None:
    # Arrange: copy the files into a fresh tree in a random order; some again under another name,
    # byte for byte or with their records reversed, placed anywhere in the loading order
    root = tmp_path_factory.mktemp("order")
    placed: list[Path] = []
    for index in order:
        target = root / FILES[index].relative_to(make.HERE)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FILES[index], target)
        placed.append(target)
    for n, (index, reorder) in enumerate(twice):
        source = root / FILES[index].relative_to(make.HERE)
        target = copy_name(source, n)
        if reorder:
            reordered_copy(source, target)
        else:
            shutil.copyfile(source, target)
        placed.insert(data.draw(st.integers(0, len(placed)), label="position"), target)
    truncate_all(loader.store)

    # Act
    results = loader.load_many([file_ref(p) for p in placed])
    answers = snapshot(loader.store)

    # Assert
    assert {r.status for r in results} <= {LOADED, DUPLICATE}, results
    assert answers == baseline
