"""The overview and compare pages count a text column once, as the model page's drift table
groups it (issue 20): a text column whose descriptors drifted is one drifted column, and
the pages name the descriptors.

Two versions see the reference's own rows in one window: v1 with the numeric column ``x``
shifted by 3; v2 with each question's spaces replaced by hyphens, so its length in
characters (the column's own values) is unchanged while its words and non-letter share
drift. Before, the overview said "1 of 10 drifted" for v1 and "2 of 10 drifted" for v2,
and the compare page listed ``question.non_letter_share`` and ``question.words`` as
columns of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

import driftline
from driftline.store.base import MetricQuery
from driftline.windows import schema_to_json

from .conftest import T0, WINDOW, Env, close_windows, seeded

MODEL = "helpdesk"
SCHEMA = {"question": {"kind": "text"}}
N = 200
WORDS = ("refund", "order", "delivery", "invoice", "account", "password", "address",
         "parcel", "payment", "return", "warranty", "discount", "shipping", "customer")  # fmt: skip
#: what each version drifts in, from how its rows are made (not read from the code)
COLUMNS = {"question", "x", "amount"}  # ("y" would be taken for the target)
DRIFTED = {"v1": {"x": []}, "v2": {"question": ["question.non_letter_share", "question.words"]}}
#: the drift_score points flagged: v2's question itself (its characters) did not drift
FLAGGED = {"v1": {"x"}, "v2": {"question.non_letter_share", "question.words"}}


def _reference() -> dict[str, Any]:
    rng = np.random.default_rng(11)
    questions = [" ".join(rng.choice(WORDS, size=int(rng.integers(6, 13)))) + "?" for _ in range(N)]
    return {"question": questions, "x": rng.normal(0, 1, N), "amount": rng.normal(0, 1, N)}


def _seed(env: Env) -> None:
    ref = _reference()
    prof = driftline.profile(ref, schema=SCHEMA, seed=0)
    for version in ("v1", "v2"):
        env.store.put_reference(MODEL, version, prof.to_bytes(), prof.n_rows, T0)
        env.store.replace_version_schema(MODEL, version, schema_to_json(prof.schema))
    events = []
    for version in ("v1", "v2"):
        for k in range(N):
            q, x = ref["question"][k], float(ref["x"][k])
            if version == "v1":
                x += 3.0
            else:
                q = q.replace(" ", "-")  # as many characters; one word; hyphens are not letters
            events.append(
                {
                    "type": "prediction", "event_id": f"{version}-{k}",
                    "prediction_id": f"{version}-{k}", "timestamp": T0 + 0.25 * k,
                    "model": MODEL, "version": version,
                    "features": {"question": q, "x": x, "amount": float(ref["amount"][k])},
                    "prediction": "answer", "status": "ok", "shadow": False, "tags": {},
                }
            )  # fmt: skip
    env.clock.advance(WINDOW)
    res = env.collector.ingest("prediction", events)
    assert res.accepted == len(events), res.rejected[:3]
    close_windows(env)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from seeded(tmp_path_factory, "descriptors", _seed)


def _get(env: Env, url: str, path: str) -> str:
    end = int(env.clock.time())
    sep = "&" if "?" in path else "?"
    r = httpx.get(f"{url}{path}{sep}range=1h&end={end}", headers=env.auth("read"), timeout=120)
    assert r.status_code == 200, r.text[:500]
    return r.text


def _summary(version: str) -> str:
    """The overview's line, from DRIFTED: 'question (non letter share, words)'."""
    parts = []
    for c, ds in DRIFTED[version].items():
        names = [d.removeprefix(c + ".").replace("_", " ") for d in ds]
        parts.append(f"{c} ({', '.join(names)})" if names else c)
    return ", ".join(parts)


def test_the_points_are_as_the_data_were_made(env: Env) -> None:
    """The premise, from the stored points: v2's question did not drift in characters, two
    of its descriptors did; the dataset verdict drifts on the column and names them."""
    rows = env.store.metric_points(
        MetricQuery(model=MODEL, segment="*", metric="drift_score", window_size=WINDOW)
    )
    for version in DRIFTED:
        mine = {r["column"]: r["status"] for r in rows if r["version"] == version}
        flagged = {c for c, s in mine.items() if s == "drift"}
        assert flagged == FLAGGED[version], (version, mine)
        assert {c.split(".")[0] for c in mine} == COLUMNS
        assert len(mine) > len(COLUMNS)  # the descriptors have points of their own
    assert {r["column"]: r["status"] for r in rows if r["version"] == "v2"}["question"] == "ok"
    (verdict,) = env.store.metric_points(
        MetricQuery(model=MODEL, version="v2", segment="*", metric="drift_detected",
                    window_size=WINDOW)
    )  # fmt: skip
    details = verdict["details"]
    if isinstance(details, str):
        import orjson

        details = orjson.loads(details)
    assert verdict["value"] == 1.0
    # the verdict counts the text column once, as the pages do (docs/drift.md)
    assert details["drifted_columns"] == ["question"]
    assert sorted(details["drifted_descriptors"]["question"]) == DRIFTED["v2"]["question"]


def test_the_overview_counts_a_text_column_once_naming_its_descriptors(env: Env, url: str) -> None:
    page = _get(env, url, "/ui/")
    for version in ("v1", "v2"):
        row = re.search(
            rf'<tr data-model="{MODEL}" data-version="{version}">(.*?)</tr>', page, re.S
        )
        assert row, page[:2000]
        count = re.search(r'data-testid="drift-count"[^>]*>([^<]*)<', row.group(1))
        assert count and count.group(1) == f"{len(DRIFTED[version])} of {len(COLUMNS)} drifted"
        names = re.search(r'data-testid="drifted-columns">([^<]*)<', row.group(1))
        assert names and names.group(1) == _summary(version)
        assert 'title="columns that drifted' in row.group(1) and _summary(version) in row.group(1)


def test_the_compare_page_lists_a_text_column_once_with_its_descriptors(env: Env, url: str) -> None:
    page = _get(env, url, f"/ui/models/{MODEL}/compare?a=v1&b=v2")
    row = re.search(r'<tr data-testid="drifted-columns">(.*?)</tr>', page, re.S)
    assert row, page[:2000]
    for version in ("v1", "v2"):
        cell = re.search(rf'<td data-version="{version}">(.*?)</td>', row.group(1), re.S)
        assert cell
        links = re.findall(
            r'<a href="[^"]*/columns/([^?"]+)\?[^"]*"( data-descriptor)?', cell.group(1)
        )
        top = [c for c, d in links if not d]
        subs = [c for c, d in links if d]
        assert top == list(DRIFTED[version])  # one entry per column
        assert subs == [d for ds in DRIFTED[version].values() for d in ds]
        text = re.sub(r"<[^>]+>", "", cell.group(1))
        assert text == _summary(version)


def test_the_model_page_drift_table_agrees(env: Env, url: str) -> None:
    """The drift table of each version has as many column rows as the overview counts, and
    its drifted rows are the overview's drifted columns."""
    for version, drifted in DRIFTED.items():
        page = _get(env, url, f"/ui/models/{MODEL}?version={version}")
        table = page[page.index('data-testid="drift-table"') :].split("</table>")[0]
        rows = re.findall(r"<tr([^>]*)>(.*?)</tr>", table, re.S)
        top = [(a, b) for a, b in rows[1:] if "descriptor-row" not in a]  # rows[0]: the head
        names = [re.findall(r'/columns/([^?"]+)\?', b)[0] for _, b in top]
        assert sorted(names) == sorted(COLUMNS)
        assert {n for n, (a, _) in zip(names, top, strict=True) if "row-bad" in a} == set(drifted)


@pytest.mark.browser
def test_in_chromium(env: Env, url: str) -> None:
    from .test_browser import page_signed_in, shot

    end = int(env.clock.time())
    with page_signed_in(env, url) as (page, console):
        page.goto(f"{url}/ui/?range=1h&end={end}")
        row = page.locator(f'tr[data-model="{MODEL}"][data-version="v2"]')
        assert row.locator('[data-testid="drift-count"]').inner_text() == "1 of 3 drifted"
        assert row.locator('[data-testid="drifted-columns"]').inner_text() == _summary("v2")
        shot(page, "overview-descriptors")
        page.goto(f"{url}/ui/models/{MODEL}/compare?a=v1&b=v2&range=1h&end={end}")
        cell = page.locator('[data-testid="drifted-columns"] td[data-version="v2"]')
        assert cell.inner_text() == _summary("v2")
        shot(page, "compare-descriptors")
        cell.locator('a[data-descriptor="question.words"]').click()
        page.wait_for_url(re.compile(r"/columns/question\.words\?"))
        assert "question.words" in page.locator("h1").inner_text()
        assert not console.errors, console.errors


def test_the_dashboard_counts_a_column_named_like_a_descriptor_as_its_own() -> None:
    """The overview's "k of N drifted" and the model page's drift table group columns by the
    reference's descriptors: a sent column ``question.words`` was grouped under
    ``question``, as the report had counted it."""
    from driftline.server.dashboard.embeddings import descriptor_parents

    ref = _reference()
    ref["question.words"] = np.arange(float(N))
    parents = descriptor_parents(driftline.profile(ref, schema=SCHEMA, seed=0))
    assert "question.words" not in parents
    assert parents["question.non_letter_share"] == "question"
