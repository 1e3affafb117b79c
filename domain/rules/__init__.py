"""The rule catalogue (DOMAIN.md §5–§7): findings from the effective history, their
life in knowledge time, contract compliance and the contract report.

What a projection and the HTTP layer call:

* :func:`findings_at`, :func:`asset_findings`, :func:`contract_findings`,
  :func:`affected` — evaluate at one knowledge time, whole or by scope;
* :func:`life`, :class:`LifeTracker`, :func:`known_then`, :func:`hindsight`,
  :func:`select` — findings with their knowledge-time life, and the findings filters;
* :func:`compliance` — DOMAIN.md §7 "Contract";
* :func:`contract_report` — DOMAIN.md §7 "Contract report".

Where things live: the registry of rules in :mod:`~domain.rules.catalogue`, one module
per rule family beside it (``custody``, ``timeliness``, ``record``, ``maintenance``,
``inventory``, ``contract``) over shared ``facts``, ``making`` and ``spans``;
evaluation at a knowledge time in :mod:`~domain.rules.evaluation` (what new knowledge
touches in :mod:`~domain.rules.impact`); lives in :mod:`~domain.rules.tracking` (the
tracker and :func:`life`), :mod:`~domain.rules.lives` (views and filters) and
:mod:`~domain.rules.walk` (following a growing log).

``RULES_VERSION`` names the rules' meaning; it changes whenever a rule does.
"""

from domain.rules.compliance import Compliance, Support, compliance
from domain.rules.evaluation import (
    Evaluator,
    affected,
    asset_findings,
    contract_findings,
    findings_at,
)
from domain.rules.findings import (
    RULES_VERSION,
    ClearReason,
    Finding,
    FindingDisposition,
    FindingKind,
    Severity,
)
from domain.rules.impact import Impact
from domain.rules.lives import Filters, FindingLife, Lives, Window, hindsight, known_then, select
from domain.rules.report import ContractReport, contract_report
from domain.rules.tracking import LifeTracker, life

__all__ = [
    "RULES_VERSION",
    "ClearReason",
    "Compliance",
    "ContractReport",
    "Evaluator",
    "Filters",
    "Finding",
    "FindingDisposition",
    "FindingKind",
    "FindingLife",
    "Impact",
    "LifeTracker",
    "Lives",
    "Severity",
    "Support",
    "Window",
    "affected",
    "asset_findings",
    "compliance",
    "contract_findings",
    "contract_report",
    "findings_at",
    "hindsight",
    "known_then",
    "life",
    "select",
]
