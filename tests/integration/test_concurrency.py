"""Concurrent writers: expected_version admits exactly one winner per version, and
positions stay gap-free, with several ledgers (as several processes would) sharing
one database."""

from __future__ import annotations

import threading
from typing import Any

from domain.vocabulary import Role
from ledger.bootstrap import Ledger, build_ledger
from ledger.errors import VersionConflict
from ledger.settings import Settings
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire
from tests.integration.test_chain import raw_rows, recompute

ADMIN = Principal("admin", Role.ADMIN)


def test_sixteen_writers_with_expected_version_never_lose_an_update(
    ledger: Ledger, settings: Settings
) -> None:
    ledger.appender.append(
        [EVENT_ADAPTER.validate_python(e) for e in [*wire.reference_world(), wire.asset("t1")]],
        ADMIN,
    )
    ledgers = [ledger] + [build_ledger(settings) for _ in range(3)]
    wins: list[int] = []
    conflicts = 0
    lock = threading.Lock()

    def writer(n: int) -> None:
        nonlocal conflicts
        mine = ledgers[n % len(ledgers)]
        for i in range(12):
            version = mine.lookups.asset_versions(["t1"])["t1"]
            a, b = ("iq-army", "iq-9th") if (version + i) % 2 else ("iq-9th", "iq-army")
            body: dict[str, Any] = wire.transfer(["t1"], a, b, expected_version=version)
            try:
                mine.appender.append([EVENT_ADAPTER.validate_python(body)], ADMIN)
            except VersionConflict:
                with lock:
                    conflicts += 1
            else:
                with lock:
                    wins.append(version)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for extra in ledgers[1:]:
        extra.close()

    final = ledger.lookups.asset_versions(["t1"])["t1"]
    assert sorted(wins) == list(range(1, final)), "each version must be won exactly once"
    assert len(wins) + conflicts == 16 * 12
    assert conflicts > 0, "the test must actually race"
    recompute(raw_rows(settings.database_url))
