"""Every table the ledger uses, declared once.

Alembic's migrations create these; a test checks that ``alembic upgrade head`` on an
empty database gives exactly this schema, on SQLite and PostgreSQL. The event store's
own table is here too: the library's table creation is switched off outside tests.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# On SQLite the position must be the table's rowid (an INTEGER PRIMARY KEY alias), so
# the store assigns it and no AUTOINCREMENT bookkeeping can leave a gap.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The eventsourcing application recorder's table, extended with the chain's hash. The
# store assigns ``notification_id`` (the ledger's ``position``) itself, under the write
# lock, as previous + 1: a sequence would leave gaps after a rolled-back append.
events = sa.Table(
    "ledger_events",
    metadata,
    sa.Column("notification_id", Position, primary_key=True, autoincrement=False),
    sa.Column("originator_id", sa.Uuid(), nullable=False),
    sa.Column("originator_version", sa.BigInteger(), nullable=False),
    sa.Column("topic", sa.Text(), nullable=False),
    sa.Column("state", sa.LargeBinary(), nullable=False),
    sa.Column("hash", sa.LargeBinary(), nullable=False),
    # The append path's Ed25519 seal on the last event of each append (else NULL):
    # see ledger.integrity.seals.
    sa.Column("seal", sa.LargeBinary(), nullable=True),
    sa.UniqueConstraint("originator_id", "originator_version", name="ledger_events_originator_uq"),
)

# The head when seals were introduced: events up to it have none (0 on a new ledger).
seal_origin = sa.Table(
    "ledger_seal_origin",
    metadata,
    sa.Column("unsealed_through", sa.BigInteger(), nullable=False),
)

# Natural keys registered by the log (parties, assets, serials, …), written in the same
# transaction as the events that register them, so uniqueness holds across processes.
# ``version`` counts the events that name an asset (``expected_version``).
registry = sa.Table(
    "ledger_registry",
    metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("natural_id", sa.String(300), primary_key=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("attrs", sa.Text(), nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("party", sa.String(128), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

# --- projections (rebuilt from the log alone; see ledger.projections) -----------------

# Each projection's position, written in the same transaction as its rows.
projection_tracking = sa.Table(
    "projection_tracking",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Who works on a projection shared out among workers (findings partitions), and
# which workers are alive (``worker/ID`` rows): a lease lapses unless renewed.
projection_leases = sa.Table(
    "projection_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
)

# Which events concern which subject (``asset:ID``, ``contract:ID``, ``ref`` for
# reference data, ``finding`` for dispositions). Retractions and corrections are
# filed under their target's subjects, so folding one subject needs only its rows.
event_index = sa.Table(
    "proj_event_index",
    metadata,
    sa.Column("subject", sa.String(160), primary_key=True),
    sa.Column("position", sa.BigInteger(), primary_key=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Index("proj_event_index_event_id", "event_id"),
)

# Which findings partitions each event may concern (``ledger.projections.routes``):
# one row per asset an event names, under the asset's 64-bit key
# (``domain.rules.partitions.shard_key``; an amendment under its target's), or one row
# with no key for an event every partition may need (log-wide, naming no asset, an
# amendment of one). ``known_until`` is the
# knowledge instant the log had reached with the event (the greatest ``reported_at``
# up to it). Written by the custody projection with its index, so a partition reads
# only its share of the log, and knows where the log's knowledge stood, without
# reading every event.
event_routes = sa.Table(
    "proj_event_routes",
    metadata,
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("route", sa.BigInteger(), nullable=True),
    sa.Column("known_until", sa.String(32), nullable=True),
    sa.Index("ix_proj_event_routes_position", "position"),
)

# Retractions and corrections of each event, for GET /v1/events/{id}.
event_amendments = sa.Table(
    "proj_event_amendments",
    metadata,
    sa.Column("target_event_id", sa.String(128), primary_key=True),
    sa.Column("position", sa.BigInteger(), primary_key=True),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    # Its line in a contract report (domain.rules.corrections.Amendment, as JSON; null
    # when the target is not in the log): the report parses neither event.
    sa.Column("summary", sa.Text(), nullable=True),
)

# Every inventory as recorded (one row each, written by the custody projection with
# its index): the contract report lists a period's inventories that name one of the
# contract's assets, in world order, without parsing their result lines. ``subjects``
# is the JSON list of the assets it concerns (``Event.subjects``); the few amended
# inventories are read from the log instead (``ledger.reading.report``).
inventories = sa.Table(
    "proj_inventories",
    metadata,
    sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("occurred_at", sa.String(32), nullable=False),
    sa.Column("reported_at", sa.String(32), nullable=False),
    sa.Column("subjects", sa.Text(), nullable=False),
)

# Each asset's state at (now, all knowledge), for list queries and current reads.
assets = sa.Table(
    "proj_assets",
    metadata,
    sa.Column("asset_id", sa.String(128), primary_key=True),
    sa.Column("contract_id", sa.String(128), nullable=True, index=True),
    sa.Column("custodian", sa.String(128), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=True),
    sa.Column("accounted_for", sa.Boolean(), nullable=False),
    sa.Column("last_world_key", sa.String(80), nullable=False),
    sa.Column("state", sa.Text(), nullable=False),
    sa.Column("position", sa.BigInteger(), nullable=False),
)

# Each asset's timeline at the current time and all knowledge, as the API gives it
# (without ``as_of``/``known_at`` and findings, added per request), kept by the
# timeline warmer (``ledger.reading.timelines``). A stored body is served only while
# its inputs are those it was built from (``inputs``: the code's version, the asset's
# indexed events and the reference data's; ``position``: the asset's last indexed
# event) and the clock is in ``[valid_from, valid_until)``, the instants named by
# those events around the time it was built. A migration that empties the custody
# projection must empty this table too.
timelines = sa.Table(
    "proj_timelines",
    metadata,
    sa.Column("asset_id", sa.String(128), primary_key=True),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("inputs", sa.String(96), nullable=False),
    sa.Column("valid_from", sa.String(32), nullable=True),
    sa.Column("valid_until", sa.String(32), nullable=True),
    sa.Column("body", sa.Text(), nullable=False),
)

# Every part serial a repair record named, as recorded or as a correction rewrote it
# (``event_id`` is the repair's): an index for GET /v1/parts/{serial}, which reads
# those events back and keeps the effective ones at the view's knowledge time.
part_serials = sa.Table(
    "proj_part_serials",
    metadata,
    sa.Column("serial", sa.String(128), primary_key=True),
    sa.Column("position", sa.BigInteger(), primary_key=True),
    sa.Column("event_id", sa.String(128), nullable=False),
)

# --- integrity (signed checkpoints and Merkle subtrees; see ledger.integrity) --------

# One row per signed checkpoint. ``frontier`` (the Merkle frontier at ``tree_size``, its
# 32-byte nodes concatenated) and ``last_hash`` (the hash of event ``tree_size``) let the
# next checkpoint start from here and read only newer events. The primary key makes
# two checkpoints of one size by one key impossible, whatever processes race.
checkpoints = sa.Table(
    "integrity_checkpoints",
    metadata,
    sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("root", sa.LargeBinary(), nullable=False),
    sa.Column("timestamp", sa.String(27), nullable=False),
    sa.Column("signature", sa.String(88), nullable=False),
    sa.Column("public_key", sa.LargeBinary(), nullable=False),
    sa.Column("frontier", sa.LargeBinary(), nullable=False),
    sa.Column("last_hash", sa.LargeBinary(), nullable=True),
)

# Roots of the aligned perfect subtrees of 1024 leaves (``start`` = first leaf index),
# written with the checkpoint that completes them: proofs then fold these instead of
# rehashing the log (see ledger.integrity.store).
subtrees = sa.Table(
    "integrity_subtrees",
    metadata,
    sa.Column("start", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("root", sa.LargeBinary(), nullable=False),
    # The roots of its 32 aligned 32-leaf blocks, concatenated (1,024 bytes), so a proof
    # reads one row and 32 leaves instead of 1,024 (evidence bundles, decision 0012);
    # null for subtrees stored before 0008, which proofs then hash from their leaves.
    sa.Column("blocks", sa.LargeBinary(), nullable=True),
)

# Witness cosignatures (c2sp.org/tlog-cosignature) of this ledger's checkpoint notes, as
# witnesses sent them: one signature line per checkpoint size, ledger key and witness
# (its verifier key). Served appended to the checkpoint note; see ledger.integrity.witness.
cosignatures = sa.Table(
    "integrity_cosignatures",
    metadata,
    sa.Column("tree_size", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("witness", sa.String(400), primary_key=True),
    sa.Column("timestamp", sa.BigInteger(), nullable=False),
    sa.Column("line", sa.Text(), nullable=False),
)

# Every finding the log ever implied, with its knowledge-time life (findings projection).
# Finding keys compare bytewise (code point order, as Python sorts them) whatever the
# database's locale: the report and the findings pages order by them.
KEY = sa.String(400).with_variant(sa.String(400, collation="C"), "postgresql")

findings = sa.Table(
    "proj_findings",
    metadata,
    sa.Column("finding_key", KEY, primary_key=True),
    sa.Column("contract_id", sa.String(128), nullable=True, index=True),
    sa.Column("asset_id", sa.String(128), nullable=True, index=True),
    sa.Column("rule", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("detected_at", sa.String(32), nullable=False),
    sa.Column("cleared_at", sa.String(32), nullable=True),
    sa.Column("life", sa.Text(), nullable=False),
    # The latest version's valid_from: the report selects a period's event findings.
    sa.Column("valid_from", sa.String(32), nullable=True),
    # The same version's valid_to: the present report reads an asset's state findings
    # only while they last (most that are not cleared have ended: decision 0026).
    sa.Column("valid_to", sa.String(32), nullable=True),
    # Whether a restart may read this life only when it first needs its asset
    # (``findings_codec.read_lazily``); false, the safe default, reads it at once.
    sa.Column("lazy", sa.Boolean(), nullable=False, server_default=sa.false()),
    # The report's event findings of a period: not cleared, not state findings.
    sa.Index(
        "ix_proj_findings_open_events",
        "contract_id",
        "valid_from",
        "finding_key",
        "rule",
        postgresql_where=sa.text("cleared_at IS NULL AND kind <> 'state'"),
        sqlite_where=sa.text("cleared_at IS NULL AND kind <> 'state'"),
    ),
    # The lives a restart reads at once (decision 0032): a few percent of the rows.
    sa.Index(
        "ix_proj_findings_eager",
        "finding_key",
        postgresql_where=sa.text("NOT lazy"),
        sqlite_where=sa.text("lazy = 0"),  # how SQLAlchemy writes NOT lazy there
    ),
    # A contract's state findings by rule (compliance reads R03 and C01, the report
    # every state finding): a few thousand among the contract's hundreds of thousands.
    sa.Index(
        "ix_proj_findings_state",
        "contract_id",
        "rule",
        postgresql_where=sa.text("kind = 'state'"),
        sqlite_where=sa.text("kind = 'state'"),
    ),
)

# Every change of every finding's life, appended (``life`` above sums it up): a change
# is a version (as what differs from the previous one) or a clearing (``finding`` null).
# What a findings partition tells the contract level (domain.rules.partitions.
# PartRecord), one row per knowledge instant it judged: ``position`` is the last event
# of the instant in the partition's batch; ``parts`` maps each asset whose R03
# findings or contract changed to its contract and R03 findings.
finding_parts = sa.Table(
    "proj_finding_parts",
    metadata,
    sa.Column("partition", sa.String(32), primary_key=True),
    sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("k", sa.String(32), nullable=False),
    sa.Column("parts", sa.Text(), nullable=False),
    sa.Column("retracted", sa.Text(), nullable=False),
    sa.Column("corrected", sa.Text(), nullable=False),
    sa.Index("ix_proj_finding_parts_position", "position"),
)

# Per party, every asset the findings walk found it to hold: where an inventory's
# unnamed assets are looked for by a walk resumed without reading the whole log
# (``Walk.resume_lazily``), before it has loaded those assets' events.
finding_holders = sa.Table(
    "proj_finding_holders",
    metadata,
    sa.Column("party", sa.String(128), primary_key=True),
    sa.Column("asset_id", sa.String(128), primary_key=True),
)

finding_changes = sa.Table(
    "proj_finding_changes",
    metadata,
    sa.Column("finding_key", KEY, primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("finding", sa.Text(), nullable=True),
)
