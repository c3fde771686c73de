"""Rich renderings of a report for the terminal: the verdict, the drift table, failed checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from driftline.report._severity import drifted_names, ordered_columns
from driftline.report.gate import Check, fmt


def verdict(report: Mapping[str, Any]) -> Text:
    d = report["dataset"]
    n_drift = len(d["drifted_columns"])
    q = d.get("quality", {})
    if d.get("verdict") == "insufficient_data":
        head = Text("INSUFFICIENT DATA", style="bold yellow")
        head.append(
            f"  {d.get('reason', '')}; {d['n_reference']:,} reference rows vs "
            f"{d['n_current']:,} current rows",
            style="default",
        )
        return head
    head = Text("DRIFT", style="bold red") if d["drifted"] else Text("NO DRIFT", style="bold green")
    head.append(
        f"  {n_drift} of {d['n_columns']} columns drifted; "
        f"{q.get('failed', 0)} quality checks failed, {q.get('warned', 0)} warned"
        f"{undecided_quality(q)}; "
        f"{d['n_reference']:,} reference rows vs {d['n_current']:,} current rows",
        style="default",
    )
    names = drifted_names(d)
    if names:
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        head.append(f"\ndrifted: {', '.join(names[:10])}{more}", style="red")
    for key, what in (
        ("id_like_columns", "ID-like (almost all values distinct), not tested"),
        ("undecided_columns", "undecided (the sketch's error straddles the threshold)"),
        ("insufficient_columns", "not compared (too few values on one side)"),
    ):
        if d.get(key):
            head.append(f"\n{len(d[key])} {what}: {', '.join(d[key])}", style="yellow")
    failed = failed_quality(report)
    if failed:
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        head.append(f"\nquality failed: {', '.join(failed[:5])}{more}", style="red")
    for name, col in report.get("columns", {}).items():
        hint = col.get("drift", {}).get("details", {}).get("hint")
        if hint and col["drift"].get("computed") != "id_like":
            head.append(f"\n{name}: {hint}", style="yellow")
    methods = d.get("methods") or {}
    chosen = d.get("method", "auto")
    if chosen != "auto" and "auto" in methods:
        on = ", ".join(methods.get(chosen, [])) or "no column"
        head.append(
            f"\nmethod {chosen} on {on}; the default rule on "
            f"{', '.join(methods['auto'])} (where {chosen} does not apply)",
            style="default",
        )
    return head


def undecided_quality(q: Mapping[str, Any]) -> str:
    """ ", N undecided (reference too small)" when quality checks could not decide."""
    n = int(q.get("insufficient") or 0)
    return f", {n} undecided (reference too small)" if n else ""


def failed_quality(report: Mapping[str, Any]) -> list[str]:
    """The failed quality checks, ``column: check`` (dataset checks by name alone)."""
    out = [q["check"] for q in report.get("quality", []) if q.get("status") == "fail"]
    for name, col in report.get("columns", {}).items():
        out += [f"{name}: {q['check']}" for q in col.get("quality", []) if q["status"] == "fail"]
    return out


def status_text(d: Mapping[str, Any]) -> Text:
    """A column's drift status: drift, ok, ID-like, undecided, or n/a."""
    if d.get("drifted") is True:
        return Text("drift", "bold red")
    if d.get("drifted") is False:
        return Text("ok", "green")
    if d.get("computed") == "id_like":
        return Text("ID-like", "yellow")
    if d.get("computed") == "sketch":
        return Text("undecided", "yellow")
    return Text("n/a", "dim")


def drift_table(report: Mapping[str, Any], limit: int | None = 20) -> Table:
    """The columns sorted by severity: status, method, statistic, threshold, p-value, how."""
    table = Table(title="Drift by column (most severe first)", title_justify="left")
    for header, justify in [
        ("column", "left"),
        ("kind", "left"),
        ("status", "left"),
        ("method", "left"),
        ("statistic", "right"),
        ("threshold", "right"),
        ("p-value", "right"),
        ("computed", "left"),
    ]:
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    rows = ordered_columns(report)
    for name, col in rows[:limit] if limit else rows:
        d = col["drift"]
        status = status_text(d)
        p = d.get("details", {}).get("p_value_adjusted", d.get("p_value"))
        table.add_row(
            name,
            col["kind"],
            status,
            d["method"],
            fmt(d["statistic"]),
            fmt(d["threshold"]),
            fmt(p),
            d["computed"],
        )
    if limit and len(rows) > limit:
        cols = report.get("columns", {})
        rest = rows[limit:]
        members = sum(1 for _, c in rest if c.get("descriptor_of") in cols)
        more = [f"{len(rest) - members} more columns"] if len(rest) > members else []
        more += [f"{members} more descriptors"] if members else []
        table.caption = f"{' and '.join(more)} in the report"
    return table


#: The metrics the console's performance line shows, by task, when the report has them.
_HEADLINE = {
    "regression": ("mae", "rmse", "r2"),
    "classification": ("accuracy", "f1", "roc_auc"),
}


def performance_summary(report: Mapping[str, Any]) -> Text | None:
    """The prediction-quality section in a few lines: realized metrics against the
    reference's (or, without labels, the estimates), and the section's warnings."""
    perf = report.get("performance")
    if not perf:
        return None
    task = perf.get("task") or "classification"
    names = _HEADLINE["regression" if task == "regression" else "classification"]
    realized, ref = perf.get("realized") or {}, perf.get("reference") or {}
    out = Text(
        f"Prediction quality ({task}, {perf.get('n_labelled', 0):,} of "
        f"{perf.get('n_rows', 0):,} current rows labelled):",
        style="bold",
    )
    parts = [
        f"{m} {fmt(realized[m])}" + (f" (reference {fmt(ref[m])})" if m in ref else "")
        for m in names
        if realized.get(m) is not None
    ]
    if not parts:
        est = perf.get("estimated") or {}
        parts = [
            f"estimated {m} {fmt(e['value'])} [{fmt(e['lower'])}, {fmt(e['upper'])}]"
            + (f" (reference {fmt(ref[m])})" if m in ref else "")
            for m in names
            if (e := est.get(m)) and e.get("value") is not None
        ]
    if parts:
        out.append("\n  " + "; ".join(parts), style="default")
    for w in perf.get("warnings") or []:
        out.append(f"\n  {w}", style="yellow")
    return out


def multivariate_summary(report: Mapping[str, Any]) -> Text | None:
    """One line per multivariate method: status, value, and where to look."""
    mv = report.get("multivariate")
    if not mv:
        return None
    s = mv.get("sample") or {}
    out = Text(
        f"Multivariate drift (joint sample of {s.get('reference_rows', 0):,} reference and "
        f"{s.get('current_rows', 0):,} current rows):",
        style="bold",
    )
    for name, r in (mv.get("methods") or {}).items():
        d = r.get("details") or {}
        status = {True: ("drift", "bold red"), False: ("ok", "green")}.get(
            r.get("drifted"), ("n/a", "dim")
        )
        out.append(f"\n  {name}: ", style="default")
        out.append(status[0], style=status[1])
        if r.get("drifted") is None:
            out.append(f" ({d.get('reason', r.get('computed'))})", style="dim")
            continue
        out.append(f" {fmt(r.get('statistic'))}", style="default")
        if r.get("p_value") is not None:
            out.append(f", p={fmt(r['p_value'])}", style="default")
        if name == "domain_classifier" and d.get("top_features"):
            names = ", ".join(f["column"] for f in d["top_features"][:3])
            out.append(f"; separating best: {names}", style="default")
        if name == "correlation" and d.get("top_pairs"):
            p = d["top_pairs"][0]
            out.append(
                f"; {p['columns'][0]} x {p['columns'][1]}: {fmt(p['reference'])} -> "
                f"{fmt(p['current'])}",
                style="default",
            )
        if name == "correlation" and d.get("pairs_excluded"):
            from driftline.report._html_multivariate import excluded_pairs

            out.append(excluded_pairs(d), style="dim")
    return out


def failed_table(checks: Sequence[Check]) -> Table:
    """What failed, or could not decide, and why (``driftline check``)."""
    title = "Failed checks" if any(c.failed for c in checks) else "Checks that could not decide"
    table = Table(title=title, title_justify="left")
    table.add_column("suite")
    table.add_column("check")
    table.add_column("why")
    shown = [c for c in checks if c.failed or c.status == "error"]
    # undecided checks for one reason (a 10-row reference makes every range and category
    # check of every column insufficient) are one row naming them, not 60 rows repeating it
    reasons: dict[tuple[str, str], list[Check]] = {}
    for c in shown:
        if c.status == "error" and "; " in c.message:
            reasons.setdefault((c.suite, c.message.split("; ", 1)[1]), []).append(c)
    grouped = {id(c) for group in reasons.values() if len(group) >= GROUP_FROM for c in group}
    done: set[tuple[str, str]] = set()
    for c in shown:
        if id(c) not in grouped:
            table.add_row(c.suite, c.name, c.message)
            continue
        key = (c.suite, c.message.split("; ", 1)[1])
        if key in done:
            continue
        done.add(key)
        group = reasons[key]
        names = ", ".join(g.name for g in group[:4]) + (", ..." if len(group) > 4 else "")
        why = f"insufficient: {key[1]} (--json and --junit list each)"
        table.add_row(c.suite, f"{len(group)} checks ({names})", why)
    return table


#: From this many undecided checks of one suite for one reason, the table shows one row.
GROUP_FROM = 4


def check_summary(checks: Sequence[Check]) -> Text:
    failed = sum(c.failed for c in checks)
    skipped = sum(c.status == "skip" for c in checks)
    short = [c for c in checks if c.suite == "data"]
    undecided = [c for c in checks if c.suite != "data" and c.status in ("error", "warn")]
    passed = len(checks) - failed - skipped - len(undecided)
    passed -= sum(c.status == "error" for c in short)
    if failed:
        head = Text("FAIL", style="bold red")
    elif (short and short[0].status != "pass") or undecided:
        head = Text("INSUFFICIENT DATA", style="bold yellow")
    else:
        head = Text("PASS", style="bold green")
    head.append(f"  {failed} failed, {passed} passed, {skipped} skipped", style="default")
    if undecided:
        head.append(f", {len(undecided)} undecided", style="default")
    if short:
        head.append(f"; {short[0].message}", style="default")
    by_suite: dict[str, int] = {}
    for c in checks:
        if c.failed:
            by_suite[c.suite] = by_suite.get(c.suite, 0) + 1
    if by_suite:
        head.append(" (" + ", ".join(f"{k}: {v}" for k, v in by_suite.items()) + ")")
    id_like = [c.name for c in checks if c.status == "skip" and "ID-like" in c.message]
    if id_like:
        head.append(
            f"\nskipped, ID-like (almost all values distinct): {', '.join(id_like)}",
            style="yellow",
        )
    return head
