"""Text columns: descriptors profiled like numeric columns, unseen vocabulary, bad text."""

from __future__ import annotations

import inspect
import json
import re
import unicodedata

import numpy as np
import pyarrow as pa
import pytest

import driftline
from driftline._utils.text import NAMES, describe
from driftline.schema import Kind
from driftline.stats.accumulators.vocabulary import VocabularySketch, unseen_share
from driftline.stats.column_profile import ColumnProfile
from driftline.stats.descriptors import DESCRIPTORS, descriptors_for


def _real_texts() -> list[str]:
    """Real English prose: the docstrings of the standard library's json, re and inspect."""
    out = []
    for mod in (json, re, inspect):
        for obj in vars(mod).values():
            doc = inspect.getdoc(obj) if callable(obj) else None
            if doc and len(doc) > 20:
                out.extend(p.strip() for p in doc.split("\n\n") if p.strip())
    return out


MIXED = [
    "Hello world, this is plain English.",
    "Привет, мир! Это русский текст.",
    "你好，世界。这是中文。",
    "mixed Latin и кириллица 123",
    "write to jane.doe@example.com or call +44 20 7946 0958",
    "   ",
    "",
    "numbers 4111 1111 1111 1111 and 10.0.0.1",
    "naïve café — déjà vu",
    None,
]


def _direct(text: str) -> dict[str, float]:
    """The definitions, written out with unicodedata."""
    visible = [c for c in text if not c.isspace()]
    letters = [c for c in visible if unicodedata.category(c).startswith("L")]

    def script(prefix: tuple[str, ...]) -> float:
        hits = [c for c in letters if unicodedata.name(c, "").startswith(prefix)]
        return len(hits) / len(letters) if letters else np.nan

    return {
        "chars": len(text),
        "words": len(text.split()),
        "non_letter_share": (len(visible) - len(letters)) / len(visible) if visible else np.nan,
        "empty": float(not visible),
        "latin_share": script(("LATIN",)),
        "cyrillic_share": script(("CYRILLIC",)),
        "cjk_share": script(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")),
    }


def test_every_text_descriptor_is_its_definition_per_value() -> None:
    texts = MIXED + _real_texts()[:300]
    arr = pa.array(texts, type=pa.string())
    got = {d.name: d.compute(arr) for d in descriptors_for("text")}
    assert set(got) >= {"chars", "words", "non_letter_share", "empty", "latin_share", "pii_hits"}
    for i, text in enumerate(texts):
        if text is None:
            assert all(np.isnan(v[i]) for v in got.values())
            continue
        want = _direct(text)
        for name, value in want.items():
            np.testing.assert_allclose(got[name][i], value, err_msg=f"{name} of {text!r}")
    pii = got["pii_hits"]
    assert pii[MIXED.index("write to jane.doe@example.com or call +44 20 7946 0958")] == 2
    assert pii[MIXED.index("numbers 4111 1111 1111 1111 and 10.0.0.1")] == 2
    assert pii[0] == 0


def test_the_sdk_sends_the_same_descriptors_as_the_profile_computes() -> None:
    from driftline.sdk.privacy import PrivacyPolicy

    texts = [t for t in MIXED if t is not None] + _real_texts()[:100]
    policy = PrivacyPolicy({"answer": "descriptors"})
    arr = pa.array(texts)
    profile_values = {n: DESCRIPTORS[n].compute(arr) for n in NAMES}
    for i, text in enumerate(texts):
        sent = policy.apply_mapping("features", {"answer": text})
        assert "answer" not in sent  # the text itself never leaves
        assert set(sent) == {f"answer.{n}" for n in NAMES}
        for n in NAMES:
            v = sent[f"answer.{n}"]
            want = profile_values[n][i]
            assert (v is None and np.isnan(want)) or v == pytest.approx(want), (n, text)
    assert describe("") == {
        "chars": 0.0, "words": 0.0, "non_letter_share": None, "empty": 1.0,
        "latin_share": None, "pii_hits": 0.0,
    }  # fmt: skip


def test_answers_that_got_shorter_are_length_drift_not_a_kind_change() -> None:
    """Issue 20: the short current answers were re-read as categorical: "not applicable"."""
    texts = [t for t in _real_texts() if len(t) > 80]
    rng = np.random.default_rng(1)
    ref = list(rng.choice(texts, 1500))
    short = [" ".join(t.split()[:4]) for t in rng.choice(texts, 1500)]
    report = driftline.compare({"answer": ref}, {"answer": short}, multivariate=False).to_dict()
    col = report["columns"]["answer"]
    assert col["kind"] == "text" and report["schema"]["current"]["answer"]["kind"] == "text"
    assert col["drift"]["computed"] != "not_applicable"
    assert col["drift"]["drifted"] is True  # characters per answer: the column's own values
    assert report["columns"]["answer.words"]["drift"]["drifted"] is True
    assert report["columns"]["answer.words"]["descriptor_of"] == "answer"
    assert "answer.words" in col["descriptors"] and "answer" in report["dataset"]["drifted_columns"]
    means = report["columns"]["answer.words"]["summary"]
    assert means["current"]["mean"] == pytest.approx(4.0, abs=0.2)
    assert means["reference"]["mean"] > 10


def test_two_samples_of_the_same_texts_do_not_drift() -> None:
    texts = _real_texts()
    rng = np.random.default_rng(2)
    perm = rng.permutation(len(texts))
    half = len(texts) // 2
    a = [texts[i] for i in perm[:half]]
    b = [texts[i] for i in perm[half:]]
    report = driftline.compare(
        {"doc": a}, {"doc": b}, schema={"doc": {"kind": "text"}}, multivariate=False
    ).to_dict()
    assert report["dataset"]["verdict"] == "no_drift", report["dataset"]["drifted_columns"]


def test_unseen_vocabulary_share_against_the_exact_sets() -> None:
    texts = _real_texts()
    ref, cur = texts[::2], texts[1::2] + ["zyxwv qwertyuiop asdfghjkl"] * 50
    r, c = VocabularySketch().update(pa.array(ref)), VocabularySketch().update(pa.array(cur))

    def words(ts: list[str]) -> list[str]:
        out = []
        for t in ts:
            out += [w.strip(".,;:!?\"'()[]{}<>«»“”‘’-…*_/") for w in t.lower().split()]
        return [w for w in out if w]

    seen = set(words(ref))
    cur_words = words(cur)
    exact = sum(w not in seen for w in cur_words) / len(cur_words)
    got = unseen_share(r, c)
    assert got["current_words"] == len(cur_words)
    assert got["raw_share"] <= exact + 1e-12  # collisions only hide new words
    assert got["share"] == pytest.approx(exact, abs=0.01)
    merged = (
        VocabularySketch()
        .update(pa.array(ref[:100]))
        .merge(VocabularySketch().update(pa.array(ref[100:])))
    )
    np.testing.assert_array_equal(merged.counts, r.counts)
    back = VocabularySketch.from_bytes(r.to_bytes())
    np.testing.assert_array_equal(back.counts, r.counts)
    report = driftline.compare(
        {"t": ref}, {"t": cur}, schema={"t": {"kind": "text"}}, multivariate=False
    ).to_dict()
    assert report["columns"]["t"]["unseen_vocabulary"]["share"] == pytest.approx(exact, abs=0.01)


def test_text_profiles_merge_and_round_trip_with_their_descriptors() -> None:
    texts = _real_texts()[:400]
    assert len(texts) > 200
    schema = {"t": {"kind": "text"}}
    whole = driftline.profile({"t": texts}, schema=schema).columns["t"]
    a = driftline.profile({"t": texts[:200]}, schema=schema).columns["t"]
    b = driftline.profile({"t": texts[200:]}, schema=schema).columns["t"]
    a.merge(b)
    back = ColumnProfile.from_bytes(a.to_bytes())
    for col in (a, back):
        assert set(col.descriptors) == set(whole.descriptors)
        words = col.descriptors["words"]
        assert words.spec.name == "t.words" and words.spec.kind is Kind.NUMERIC
        assert words.moments.n == whole.descriptors["words"].moments.n == len(texts)
        assert words.moments.mean == pytest.approx(whole.descriptors["words"].moments.mean)
        np.testing.assert_array_equal(col.vocabulary.counts, whole.vocabulary.counts)


def test_bytes_that_are_not_utf8_are_type_errors_with_a_reason() -> None:
    values = [b"fine text here", "caf\u00e9".encode(), b"\xff\xfe broken", None, b"   "]
    table = pa.table({"t": pa.array(values * 20, type=pa.binary())})
    prof = driftline.profile(table, schema={"t": {"kind": "text"}})
    col = prof.columns["t"]
    assert (col.count, col.type_errors, col.missing) == (100, 20, 20)
    assert col.descriptors["empty"].moments.mean == pytest.approx(1 / 3)  # "   " of 3 decoded
    report = driftline.compare(table, table, schema={"t": {"kind": "text"}}).to_dict()
    check = {q["check"]: q for q in report["columns"]["t"]["quality"]}["type_errors"]
    assert check["details"]["count"] == 20 and "UTF-8" in check["details"]["reason"]


def test_the_collector_reads_long_strings_as_text() -> None:
    from driftline.windows.columns import infer_schema

    long = "a long answer with many words in it that goes on for quite a while"
    events = [{"features": {"answer": long, "plan": "gold"}} for _ in range(5)]
    schema = infer_schema(events)
    assert schema["answer"].kind is Kind.TEXT and schema["plan"].kind is Kind.CATEGORICAL


def _quality(report: dict[str, object], column: str) -> dict[str, dict[str, object]]:
    cols = report["columns"]
    assert isinstance(cols, dict)
    return {q["check"]: q for q in cols[column]["quality"]}


def test_descriptors_get_one_grouped_range_check_on_their_text_column() -> None:
    """Issue 20: each descriptor repeated the generic checks (8 x 4 results per text column)."""
    texts = [t for t in _real_texts() if len(t) > 80]
    rng = np.random.default_rng(3)
    ref = list(rng.choice(texts, 1500))
    cur = list(rng.choice(texts, 1400)) + ["Привет, мир! Это русский текст, много раз."] * 100
    report = driftline.compare({"doc": ref}, {"doc": cur}, multivariate=False).to_dict()
    children = report["columns"]["doc"]["descriptors"]
    assert len(children) >= 6 and all(report["columns"][c]["quality"] == [] for c in children)
    checks = _quality(report, "doc")
    assert "out_of_range" not in checks and "out_of_quantile_range" not in checks
    got = checks["descriptor_range"]
    # the short Cyrillic texts are beyond the reference in length, words and both scripts
    assert got["status"] == "fail"
    assert sorted(got["details"]["beyond"]) == ["chars", "cyrillic_share", "latin_share", "words"]
    per = got["details"]["descriptors"]
    assert got["value"] == max(v["share"] for v in per.values()) == per["words"]["share"]
    # 100 of 1,500 texts are Cyrillic; the reference's share of Cyrillic letters is always 0
    assert per["cyrillic_share"]["share"] == pytest.approx(100 / 1500)
    assert per["cyrillic_share"]["expected"] == 0.0


def test_the_grouped_range_check_passes_two_samples_of_the_same_texts() -> None:
    texts = _real_texts()
    rng = np.random.default_rng(4)
    for trial in range(5):
        perm = rng.permutation(len(texts))
        half = len(texts) // 2
        report = driftline.compare(
            {"doc": [texts[i] for i in perm[:half]]},
            {"doc": [texts[i] for i in perm[half:]]},
            schema={"doc": {"kind": "text"}},
            multivariate=False,
        ).to_dict()
        got = _quality(report, "doc")["descriptor_range"]
        assert got["status"] == "ok", (trial, got)
