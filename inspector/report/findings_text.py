"""Findings for people: one line per layer and kind, a choice of severities, and the verdict line every report
ends with.

Findings of one layer, severity and check collapse into one line with their count and the first few messages;
``--findings`` chooses the severities listed.  The verdict counts every finding, listed or not, and agrees with the
exit code.  JSON and JUnit keep every finding whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from rich.console import Console
from rich.text import Text

from inspector.model.findings import Finding, examples, plural
from inspector.report.model_report import Report
from inspector.report.visible import visible

LISTED = {"all": ("error", "warning", "info"), "warnings": ("error", "warning"), "errors": ("error",)}
"""What ``--findings`` lists: every finding, errors and warnings, or errors alone."""
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_MARK = {"error": "✘", "warning": "!", "info": "i"}
_NOUN = {"error": "error", "warning": "warning", "info": "note"}


def listed(findings: Sequence[Finding], choice: str = "all") -> list[Finding]:
    """The findings ``--findings choice`` lists."""
    severities = LISTED[choice]
    return [finding for finding in findings if finding.severity in severities]


def collapsed(findings: Sequence[Finding]) -> list[tuple[Finding, str]]:
    """One ``(first finding, message)`` per run of findings with the same layer, severity and check.

    A run of several says how many and gives the first few messages: ``3 findings: a; b; c … (1 more)``.
    """
    lines = []
    for _, run in groupby(findings, key=lambda f: (f.layer, f.severity, f.check)):
        group = list(run)
        message = group[0].message
        if len(group) > 1:
            message = f"{plural(len(group), 'finding')}: {examples([f.message for f in group], separator='; ')}"
        lines.append((group[0], message))
    return lines


def finding_line(finding: Finding, message: str) -> Text:
    """``✘ error   [params] conv2: message``."""
    where = f"{finding.layer}: " if finding.layer else ""
    return Text.assemble(
        (f"{SEVERITY_MARK[finding.severity]} {finding.severity:<7}", SEVERITY_STYLE[finding.severity]),
        visible(f" [{finding.check}] {where}{message}"),
    )


def counts(findings: Sequence[Finding]) -> str:
    """``2 errors, 1 warning, 3 notes`` (severities with none left out)."""
    tally = {severity: 0 for severity in _NOUN}
    for finding in findings:
        tally[finding.severity] += 1
    return ", ".join(plural(count, _NOUN[severity]) for severity, count in tally.items() if count)


def verdict(report: Report, shown: int) -> Text:
    """The last line of a report: whether every check holds (as the exit code says) and what was found.

    ``shown`` is how many of the report's findings were listed; the others are counted as not listed.
    """
    found = counts(report.findings)
    unlisted = len(report.findings) - shown
    tail = f" · {unlisted:,} not listed" if unlisted else ""
    if not report.passed:
        return Text(f"✘ checks failed: {found or 'validation failed'}{tail}", style="bold red")
    return Text(f"✔ all checks hold{f' ({found})' if found else ''}{tail}", style="green")


def render_findings(console: Console, report: Report, choice: str = "all") -> None:
    """The findings ``choice`` lists, one line per layer and kind, then the verdict."""
    shown = listed(report.findings, choice)
    for finding, message in collapsed(shown):
        console.print(finding_line(finding, message))
    console.print(verdict(report, len(shown)))
