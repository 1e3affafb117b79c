"""A correction sent in the same batch as the event it corrects leaves that event as it
was sent: the corrected values live in the correction, never in the stored original."""

from __future__ import annotations

import json

from tests import wire
from tests.api.conftest import Api


def test_a_correction_in_the_same_batch_does_not_rewrite_its_target(seeded: Api) -> None:
    original = wire.transfer(["t1"], "iq-army", "iq-9th")
    fix = wire.correction(original["event_id"], {"payload.to_party": "iq-army"})
    r = seeded.batch([original, fix])
    assert r.status_code == 201, r.text
    stored = seeded.get(f"/v1/events/{original['event_id']}")
    assert stored.status_code == 200, stored.text
    assert stored.json()["payload"]["to_party"] == "iq-9th", json.dumps(stored.json())
    # The same batch again is the same submission: answered, not refused as altered.
    again = seeded.batch([original, fix])
    assert again.status_code in (200, 201), again.text
