"""``ledger export --format epcis`` and ``ledger import --format epcis``: the log as one
GS1 EPCIS 2.0 document, and a document captured into the log (docs/epcis.md)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.cli.database import CommandError, note_new_signing_key, require_migrated
from ledger.cli.progress import progress
from ledger.settings import Settings

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger


def _open(settings: Settings) -> Ledger:
    from ledger.bootstrap import build_ledger

    require_migrated(settings)
    return build_ledger(settings)


def cmd_export_epcis(args: argparse.Namespace, settings: Settings) -> int:
    """The events after ``--after`` (up to ``--until``) as one ``EPCISDocument``, written
    whole: to a ``.partial`` file renamed when complete, or to standard output. No
    checkpoint is made: the document is an exchange format, not an audit bundle."""
    from ledger.epcis import mapping
    from ledger.epcis.service import EpcisService, Filters

    ledger = _open(settings)
    try:
        service = EpcisService(ledger.engine, ledger.lookups, ledger.appender)
        head = ledger.lookups.head()[0]
        until = head if args.until is None else min(args.until, head)
        events = []
        with progress("export", max(0, until - args.after), quiet=args.quiet) as bar:
            for event in service.events(Filters(), args.after, until):
                events.append(event)
                if mapping.CORRECTION not in event:
                    bar.update(1)
        doc = mapping.document(events, _now())
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        if args.output:
            target = Path(args.output)
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(data)
            os.replace(partial, target)
            print(f"wrote {len(events)} EPCIS events to {target}", file=sys.stderr)
        else:
            sys.stdout.buffer.write(data + b"\n")
            sys.stdout.flush()
    finally:
        ledger.close()
    return 0


def _now() -> str:
    from datetime import UTC, datetime

    from domain.instants import to_stored

    return to_stored(datetime.now(UTC))


def cmd_import_epcis(args: argparse.Namespace, settings: Settings) -> int:
    """Capture one EPCIS document, all of it or nothing, as ``import`` with the admin
    role (a historical ``recordTime`` is kept as knowledge time)."""
    from domain.vocabulary import Role
    from ledger.epcis.service import EpcisService
    from ledger.errors import LedgerError
    from ledger.writing.principal import Principal

    try:
        document = json.loads(Path(args.file).read_bytes())
    except OSError as e:
        raise CommandError(f"import: cannot read {args.file}: {e.strerror}") from None
    except ValueError as e:
        raise CommandError(f"import: {args.file} is not JSON: {e}") from None
    existed = settings.signing_key_file.is_file()
    ledger = _open(settings)
    try:
        service = EpcisService(ledger.engine, ledger.lookups, ledger.appender)
        total = len(((document or {}).get("epcisBody") or {}).get("eventList") or [])
        with progress("import", total, quiet=args.quiet) as bar:
            try:
                outcome = service.capture(document, Principal("import", Role.ADMIN))
            except LedgerError as e:
                shown = "; ".join(f"{p.field}: {p.message}" for p in e.problems[:5])
                more = f" (and {len(e.problems) - 5} more)" if len(e.problems) > 5 else ""
                raise CommandError(f"import: nothing stored: {shown or e.detail}{more}") from None
            bar.update(total)
        note_new_signing_key(settings, existed)
        print(
            f"imported {args.file}: {outcome.stored} new events, "
            f"{len(outcome.captured) - outcome.stored} already stored; "
            f"log head at {ledger.lookups.head()[0]}"
        )
    finally:
        ledger.close()
    return 0
