"""Pseudonyms: deterministic, secret-dependent, checked against the standard library's HMAC."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kwartier.store.pseudonym import Pseudonymiser, bucket_of

EAN = "541448820052377134"


def test_pseudonym_is_hmac_sha256_truncated_to_16_hex() -> None:
    secret = b"k" * 32
    expected = hmac.new(secret, EAN.encode(), hashlib.sha256).hexdigest()[:16]
    assert Pseudonymiser(secret, "k").of(EAN) == expected


def test_pseudonym_is_deterministic_and_depends_on_the_secret() -> None:
    one, same, other = (
        Pseudonymiser(b"a" * 32, "a"),
        Pseudonymiser(b"a" * 32, "a"),
        Pseudonymiser(b"b" * 32, "b"),
    )
    assert one.of(EAN) == same.of(EAN)
    assert one.of(EAN) != other.of(EAN)
    assert one.of(EAN) != one.of("541448820052377141")
    assert len(one.of(EAN)) == 16
    assert int(one.of(EAN), 16) >= 0


def test_table_maps_each_distinct_ean_once() -> None:
    pseudonymiser = Pseudonymiser(b"a" * 32, "a")
    table = pseudonymiser.table([EAN, "541448820052377141", EAN])
    assert table.column_names == ["ean", "ap"]
    assert table.column("ean").to_pylist() == [EAN, "541448820052377141"]
    assert table.column("ap").to_pylist() == [pseudonymiser.of(EAN), pseudonymiser.of("541448820052377141")]


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "pseudonym.key"
    first = Pseudonymiser.from_key_file(path)
    assert len(path.read_bytes()) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again = Pseudonymiser.from_key_file(path)
    assert again.of(EAN) == first.of(EAN)
    assert again.key_id == first.key_id
    assert list(path.parent.iterdir()) == [path]  # no temporary file left


def test_fingerprint_is_double_sha256_and_does_not_reveal_the_secret() -> None:
    secret = bytes(range(32))
    pseudonymiser = Pseudonymiser(secret, "x")
    assert pseudonymiser.fingerprint == hashlib.sha256(hashlib.sha256(secret).digest()).hexdigest()
    assert secret.hex() not in pseudonymiser.fingerprint
    assert secret.hex() not in repr(pseudonymiser)


def test_bucket_is_first_four_hex_digits_modulo_buckets() -> None:
    assert bucket_of("00ff000000000000", 64) == 255 % 64
    assert bucket_of("ffff000000000000", 64) == 65535 % 64
    assert bucket_of("0041aaaaaaaaaaaa", 8) == 0x41 % 8


def test_no_ean_in_any_stored_file(tmp_path: Path) -> None:
    from kwartier.store.store import MeterStore  # noqa: PLC0415
    from tests.store.conftest import T0, commit_table, quarters, readings  # noqa: PLC0415

    pseudonymiser = Pseudonymiser(b"s" * 32, "s")
    eans = [f"54144882000000{i:04d}" for i in range(20)]
    store = MeterStore(tmp_path / "store", buckets=4)
    aps = pseudonymiser.table(eans).column("ap").to_pylist()
    commit_table(store, "b1", readings(aps, quarters(T0, 8), batch="b1", recorded_at=T0))
    stored = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in stored)
    content = b"".join(p.read_bytes() for p in stored)  # raw: footers, statistics, manifests
    assert any(ap.encode() in content for ap in aps)  # the raw scan does see stored keys (statistics)
    values = " ".join(  # decoded: every value of every column of every Parquet file
        str(v) for p in stored if p.suffix == ".parquet" for v in pq.read_table(p).to_pydict().values()
    )
    assert all(ap in values for ap in aps)
    for ean in eans:
        assert ean.encode() not in content
        assert ean not in values


def test_duckdb_computes_the_same_pseudonyms_as_python() -> None:
    eans = [f"5414488200{n:08d}" for n in range(0, 100_000_000, 997_331)] + ["", "x", EAN]
    for secret in (b"k" * 32, bytes(range(64)), bytes(range(100))):  # short, one block, hashed first
        pseudonymiser = Pseudonymiser(secret, "k")
        sql, keys = pseudonymiser.sql("ean")
        con = duckdb.connect()
        con.register("eans", pa.table({"ean": eans}))
        found = dict(con.execute(f"SELECT ean, {sql} FROM eans", keys).fetchall())
        assert found == {ean: pseudonymiser.of(ean) for ean in eans}
        assert "6b6b6b" not in sql  # the secret (b"k" = 0x6b) is a parameter, not text
