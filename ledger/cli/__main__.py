"""``python -m ledger.cli``: the same as the ``ledger`` script, exit code included."""

import sys

from ledger.cli.commands import main

sys.exit(main())
