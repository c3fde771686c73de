"""``driftline demo``: a loan-default model whose inputs drift, end to end in a few seconds.

The reference is four weeks of loan applications the model was validated on;
the current batch is the next four weeks. From the second week a new sales
channel (``mobile_app``, never seen in the reference) grows, a marketing
campaign brings in higher incomes, and in the last two weeks a credit-bureau
change lowers credit scores while ``debt_to_income`` goes missing more often.
The model's score follows. Only numpy and pyarrow are needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

N_ROWS = 40_000
REFERENCE_START = np.datetime64("2025-01-06T00:00:00")  # a Monday
CURRENT_START = np.datetime64("2025-02-03T00:00:00")
CHANNELS = ["branch", "web", "partner", "phone"]
EMPLOYMENT = ["salaried", "self_employed", "contractor", "retired", "student"]
REGIONS = ["north", "south", "east", "west", "central", "coast", "highlands", "islands"]
#: The columns the current batch shifts (the rest keep the reference's distribution).
SHIFTED = ("income", "credit_score", "channel", "default_score")


def make_batch(n: int, start: np.datetime64, drifted: bool, seed: int) -> pa.Table:
    """``n`` applications over 28 days from ``start``; with ``drifted``, the drift of the demo."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, 28 * 86_400, size=n))
    applied_at = start + seconds.astype("timedelta64[s]")
    week = seconds // (7 * 86_400)  # 0..3
    age = np.clip(rng.normal(41, 12, n), 18, 85).round()
    income = rng.lognormal(np.log(52_000), 0.45, n)
    credit = np.clip(rng.normal(690, 55, n), 300, 850).round()
    dti = rng.beta(2.2, 6.0, n)
    loan = rng.lognormal(np.log(14_000), 0.6, n).round(-2)
    channel_p = np.array([0.35, 0.40, 0.15, 0.10])
    channel = rng.choice(CHANNELS, size=n, p=channel_p).astype(object)
    dti_missing = rng.random(n) < 0.01
    if drifted:
        income *= np.where(week >= 1, 1.0 + 0.12 * week, 1.0)
        credit = np.where(week >= 2, np.clip(credit - 35, 300, 850), credit)
        app_share = np.array([0.0, 0.08, 0.16, 0.24])[week]
        channel = np.where(rng.random(n) < app_share, "mobile_app", channel)
        dti_missing = rng.random(n) < np.where(week >= 2, 0.12, 0.01)
    employment = rng.choice(EMPLOYMENT, size=n, p=[0.62, 0.14, 0.12, 0.08, 0.04])
    region = rng.choice(REGIONS, size=n)
    logit = (
        -2.4
        - 0.012 * (credit - 690)
        + 3.2 * (dti - 0.27)
        - 0.6 * (np.log(income) - np.log(52_000))
        + 0.35 * (np.log(loan) - np.log(14_000))
        + 0.5 * (employment == "student")
    )
    score = 1 / (1 + np.exp(-logit))
    defaulted = rng.random(n) < score
    return pa.table(
        {
            "application_id": [f"A{seed:02d}-{i:06d}" for i in range(n)],
            "applied_at": pa.array(applied_at.astype("datetime64[s]"), pa.timestamp("s")),
            "age": age,
            "income": income.round(2),
            "credit_score": credit,
            "debt_to_income": pa.array(dti.round(4), mask=dti_missing),
            "loan_amount": loan,
            "employment": employment,
            "channel": channel.astype(str),
            "region": region,
            "default_score": score.round(5),
            "predicted_default": score >= 0.25,
            "defaulted": defaulted,
        }
    )


SCHEMA = {
    "columns": {
        "application_id": {"role": "id"},
        "applied_at": {"role": "timestamp"},
        "default_score": {"role": "score"},
        "predicted_default": {"role": "prediction"},
        "defaulted": {"role": "target"},
    }
}


def run_demo(output_dir: Path, console: Console | None = None) -> dict[str, Any]:
    """Write the demo data and reports to ``output_dir``; print the comparison; return the dict."""
    from driftline.report.chunks import chunked_report
    from driftline.report.console import drift_table, verdict
    from driftline.report.html import save_html

    con = console or Console()
    output_dir.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = output_dir / "reference.parquet", output_dir / "current.parquet"
    pq.write_table(make_batch(N_ROWS, REFERENCE_START, False, seed=1), ref_path)
    pq.write_table(make_batch(N_ROWS, CURRENT_START, True, seed=2), cur_path)
    report = chunked_report(ref_path, cur_path, "week", SCHEMA, seed=0)
    report.data["inputs"] = {"reference": ref_path.name, "current": cur_path.name}
    data = report.to_dict()
    html_path = save_html(data, output_dir / "report.html", title="Loan default model: drift")
    json_path = report.save_json(output_dir / "report.json")
    con.print(verdict(data))
    con.print(drift_table(data, limit=None))
    con.print(_chunk_table(data))
    con.print(f"\n{report.summary()}", highlight=False)
    con.print(f"\nwrote {html_path}, {json_path}, {ref_path} and {cur_path}", highlight=False)
    con.print(
        f"try: driftline check {ref_path} {cur_path} --junit {output_dir / 'junit.xml'}",
        highlight=False,
    )
    return data


def _chunk_table(data: dict[str, Any]) -> Table:
    table = Table(title="Week by week (current vs reference)", title_justify="left")
    table.add_column("week of")
    table.add_column("rows", justify="right")
    table.add_column("drifted columns")
    table.add_column("quality failed", justify="right")
    for c in data.get("chunks", []):
        names = ", ".join(c["dataset"]["drifted_columns"]) or "-"
        style = "red" if c["dataset"]["drifted"] else "green"
        table.add_row(
            str(c["start"]),
            f"{c['n']:,}",
            f"[{style}]{names}[/]",
            str(c["dataset"]["quality"]["failed"]),
        )
    return table
