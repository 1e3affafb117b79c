"""A writer process for the multi-process test: appends N transfers, one per append."""

from __future__ import annotations

import sys

from domain.vocabulary import Role
from ledger.bootstrap import build_ledger
from ledger.settings import Settings
from ledger.writing.principal import Principal
from ledger.writing.wire import EVENT_ADAPTER
from tests import wire


def main(url: str, count: int, asset: str) -> None:
    ledger = build_ledger(Settings(database_url=url))
    who = Principal(f"writer-{asset}", Role.WRITER)
    try:
        for i in range(count):
            a, b = ("iq-army", "iq-9th") if i % 2 == 0 else ("iq-9th", "iq-army")
            event = EVENT_ADAPTER.validate_python(
                wire.transfer([asset], a, b, event_id=f"{asset}-{i}")
            )
            ledger.appender.append([event], who)
    finally:
        ledger.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
