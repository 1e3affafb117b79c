"""The write side: the append use case (``append``), the wire schema every event is
validated against (``wire``), canonical bytes (``canonical``), group commit
(``group_commit``), bulk import (``importing``) and API keys (``keys``, ``principal``)."""
