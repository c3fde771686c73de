"""JUnit XML for ``driftline check``: each check a test case, so CI systems list them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from driftline.report.gate import SUITES, Check


def junit_xml(
    checks: Sequence[Check], *, properties: Mapping[str, str] | None = None, seconds: float = 0.0
) -> str:
    """One ``<testsuite>`` per suite (drift, quality, performance), one ``<testcase>`` per check."""
    root = ET.Element("testsuites", name="driftline check")
    totals: dict[str, int] = {"tests": 0, "failures": 0, "skipped": 0}
    totals["errors"] = 0
    for suite in ("data", *SUITES):
        cases = [c for c in checks if c.suite == suite]
        if not cases:
            continue
        failures = sum(1 for c in cases if c.status == "fail")
        skipped = sum(1 for c in cases if c.status == "skip")
        errors = sum(1 for c in cases if c.status == "error")
        el = ET.SubElement(
            root,
            "testsuite",
            name=f"driftline.{suite}",
            tests=str(len(cases)),
            failures=str(failures),
            errors=str(errors),
            skipped=str(skipped),
            time=f"{seconds:.3f}",
        )
        if properties:
            props = ET.SubElement(el, "properties")
            for k, v in properties.items():
                ET.SubElement(props, "property", name=k, value=v)
        for c in cases:
            case = ET.SubElement(
                el, "testcase", classname=f"driftline.{suite}", name=c.name, time="0"
            )
            if c.status == "fail":
                ET.SubElement(case, "failure", message=c.message, type=suite).text = c.message
            elif c.status == "error":  # too little data to decide: neither a pass nor a failure
                ET.SubElement(case, "error", message=c.message, type=suite).text = c.message
            elif c.status == "skip":
                ET.SubElement(case, "skipped", message=c.message)
            else:
                ET.SubElement(case, "system-out").text = c.message
        totals["tests"] += len(cases)
        totals["failures"] += failures
        totals["skipped"] += skipped
        totals["errors"] += errors
    for key, total in totals.items():
        root.set(key, str(total))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(
    path: str | Path,
    checks: Sequence[Check],
    *,
    properties: Mapping[str, str] | None = None,
    seconds: float = 0.0,
) -> Path:
    p = Path(path)
    p.write_text(junit_xml(checks, properties=properties, seconds=seconds))
    return p
