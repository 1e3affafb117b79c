"""The rule catalogue (DOMAIN.md §5–§7): findings from the effective history, their
life in knowledge time, contract compliance and the contract report.

What a projection and the HTTP layer call:

* :func:`findings_at`, :func:`asset_findings`, :func:`contract_findings`,
  :func:`affected` — evaluate at one knowledge time, whole or by scope;
* :func:`life`, :class:`LifeTracker`, :func:`known_then`, :func:`hindsight`,
  :func:`select` — findings with their knowledge-time life, and the findings filters;
* :func:`compliance` — DOMAIN.md §7 "Contract";
* :func:`contract_report` — DOMAIN.md §7 "Contract report".

``RULES_VERSION`` names the rules' meaning; it changes whenever a rule does.
"""

from domain.rules.compliance import Compliance, Support, compliance
from domain.rules.findings import (
    RULES_VERSION,
    ClearReason,
    Finding,
    FindingDisposition,
    FindingKind,
    Severity,
)
from domain.rules.life import (
    Evaluator,
    Filters,
    FindingLife,
    Impact,
    LifeTracker,
    Lives,
    Window,
    affected,
    asset_findings,
    contract_findings,
    findings_at,
    hindsight,
    known_then,
    life,
    select,
)
from domain.rules.report import ContractReport, contract_report

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
