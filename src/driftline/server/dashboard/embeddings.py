"""The model page's embedding and descriptor section (docs/embeddings.md, "Dashboard").

Per embedding column of the version's reference: every vector drift method's
result per window (the ``embedding_drift`` points, all traffic), and for the
latest window with points the norm distribution against the reference's and a
2-D picture (PCA of the window's sampled vectors with the reference's, the HTML
report's :func:`~driftline.report.compare.vector_picture`).

Text and image columns are one row of the drift table each, their descriptors'
rows under it (:func:`group_descriptor_rows`, shown on expanding the row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftline.schema import Kind
from driftline.server.dashboard import charts
from driftline.server.dashboard.queries import ColumnDrift, DescriptorsOf, Series, point_details
from driftline.server.dashboard.timerange import TimeRange
from driftline.store.base import MetricQuery, WindowKey

if TYPE_CHECKING:
    from driftline.stats.profile import DatasetProfile

#: Titles of the built-in vector methods (a plug-in method shows its name).
TITLES = {
    "mmd": "MMD² (RBF kernel)",
    "domain_classifier": "Domain classifier AUC",
    "centroid_cosine": "Centroid cosine distance",
    "out_of_domain": "Out-of-domain share",
    "norm_ks": "Norm KS",
    "projection_ks": "Random projections KS",
}


@dataclass
class VectorMethod:
    method: str
    title: str
    value: float | None = None
    status: str = "unknown"
    p_value: float | None = None
    threshold: float | None = None
    reason: str = ""
    history: Series = field(default_factory=Series)
    drifted_windows: int = 0

    @property
    def is_test(self) -> bool:
        """A test decides by p-value (its threshold is alpha); else the threshold is the
        statistic's (centroid distance)."""
        from driftline.stats.drift.registry import DRIFT_METHODS

        return self.method in DRIFT_METHODS and DRIFT_METHODS[self.method].is_test


@dataclass
class EmbeddingColumn:
    column: str
    dimension: int
    methods: list[VectorMethod] = field(default_factory=list)
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the window the distribution and the picture show (None: no window profile)
    window: float | None = None
    why_no_picture: str = ""


@dataclass
class EmbeddingPanel:
    columns: list[EmbeddingColumn] = field(default_factory=list)


def _not_significant(row: VectorMethod, details: dict[str, Any]) -> str:
    """Why a distance at or past its threshold is ok: its guard test (centroid_cosine's
    permutation test) does not find it significant at this sample size."""
    value, thr = row.value, row.threshold
    if row.status != "ok" or row.is_test or value is None or thr is None or value < thr:
        return ""
    from driftline.stats.drift.embedding_centroid import ALPHA

    guard = details.get("guard_p_value")
    p = f"permutation p = {guard:.2g}" if isinstance(guard, int | float) else "its guard test"
    return f"past the threshold but not significant at this sample size ({p}; needs p < {ALPHA})"


def descriptor_parents(ref: DatasetProfile | None) -> dict[str, str]:
    """``{descriptor column: its text or image column}`` of ``ref`` (``question.words`` ->
    ``question``); empty without a reference. A column sent under a descriptor's name is a
    column of its own, as in the report (``driftline.report.compare.descriptor_parents``)."""
    if ref is None:
        return {}
    return {
        c.name: n
        for n, col in ref.columns.items()
        for c in col.descriptors.values()
        if c.name not in ref.columns
    }


def descriptors_of(dash: Any) -> DescriptorsOf:
    """:func:`descriptor_parents` of a version's reference, read when asked (the evaluator
    caches references): the overview and compare pages count a text column once."""

    def read(model: str, version: str) -> dict[str, str]:
        return descriptor_parents(dash.evaluator.reference(model, version))

    return read


def group_descriptor_rows(
    drift: list[ColumnDrift], ref: DatasetProfile | None
) -> list[ColumnDrift]:
    """The drift table's rows with each text or image column of ``ref`` as one row and
    its descriptors' rows (``question.words``, ...) in its ``descriptors``, most severe
    first; the groups take the place of their worst member. A column whose own row is
    missing (no score in the range) gets a row that only carries its descriptors: drifted
    when one of them is."""
    if ref is None:
        return drift
    parents = {n: c for n, c in ref.columns.items() if c.descriptors}
    if not parents:
        return drift
    rows = {d.column: d for d in drift}
    owner = descriptor_parents(ref)
    out: dict[str, ColumnDrift] = {}
    for d in drift:
        parent = owner.get(d.column)
        if parent is None and d.column not in parents:
            out[d.column] = d
            continue
        name = parent or d.column
        if name not in out:
            own = rows.get(name)
            if own is None:  # descriptors only: the group's row says what they say
                own = ColumnDrift(name, method="", status="unknown")
            own.kind = parents[name].kind.value
            own.descriptors = []
            out[name] = own
        if parent is not None:
            out[name].descriptors.append(d)
    for g in out.values():
        if g.descriptors and g.column not in rows:
            statuses = [d.status for d in g.descriptors]
            g.status = "drift" if "drift" in statuses else ("ok" if "ok" in statuses else "unknown")
            g.drifted_windows = max(d.drifted_windows for d in g.descriptors)
            g.windows = max(d.windows for d in g.descriptors)
    return sorted(out.values(), key=_severity)


def _severity(c: ColumnDrift) -> tuple[bool, int, float, str]:
    """Drifted now (the column or a descriptor), drifted most often, worst score."""
    members = [c, *c.descriptors]
    return (
        not any(m.status == "drift" for m in members),
        -max(m.drifted_windows for m in members),
        -max(m.severity for m in members),
        c.column,
    )


def embedding_panel(
    dash: Any,
    tr: TimeRange,
    model: str,
    version: str,
    x_range: tuple[float, float] | None = None,
    limit: int = 20_000,
) -> EmbeddingPanel | None:
    """The section, or None when the reference has no embedding column."""
    ref: DatasetProfile | None = dash.evaluator.reference(model, version)
    if ref is None:
        return None
    embeddings = [n for n, c in ref.columns.items() if c.kind is Kind.EMBEDDING]
    if not embeddings:
        return None
    panel = EmbeddingPanel()
    points = dash.store.metric_points(
        MetricQuery(
            model=model, version=version, segment="*", metric="embedding_drift",
            window_size=tr.window_size, start=tr.start, end=tr.end, limit=limit,
        )
    )  # fmt: skip
    points.sort(key=lambda p: p["window_start"])
    for name in embeddings:
        mine = [p for p in points if p["column"] == name]
        panel.columns.append(_column(dash, tr, model, version, ref, name, mine, x_range))
    return panel


def _column(
    dash: Any,
    tr: TimeRange,
    model: str,
    version: str,
    ref: DatasetProfile,
    name: str,
    points: list[dict[str, Any]],
    x_range: tuple[float, float] | None,
) -> EmbeddingColumn:
    out = EmbeddingColumn(name, ref.columns[name].vectors.dim)
    methods: dict[str, VectorMethod] = {}
    for p in points:
        m = str(p["method"])
        row = methods.setdefault(m, VectorMethod(m, TITLES.get(m, m.replace("_", " "))))
        row.history.add(float(p["window_start"]), p["value"])
        row.drifted_windows += p["status"] == "drift"
        d = point_details(p.get("details"))
        row.value, row.status = p["value"], str(p["status"])
        row.p_value, row.threshold = d.get("p_value"), d.get("threshold")
        row.reason = str(d.get("reason") or "") or _not_significant(row, d)
    out.methods = [methods[m] for m in TITLES if m in methods]
    out.methods += [r for m, r in methods.items() if m not in TITLES]
    if out.methods:
        out.figures["methods"] = charts.line(
            f"{name}: each method's statistic per window (its own scale; tests decide by p-value)",
            [(r.title, r.history) for r in out.methods],
            x_range=x_range,
        )
    if not points:
        out.why_no_picture = "no evaluated window in this range"
        return out
    start = float(points[-1]["window_start"])
    out.window = start
    stats = dash.evaluator.collect(WindowKey(model, version, tr.window_size, int(start)))
    cur = stats.get("*")
    if cur is None:
        out.why_no_picture = "the window's profile is gone (past the store's retention)"
        return out
    cur.fold()
    c = cur.profile.columns.get(name)
    r = ref.columns[name]
    if c is None or c.kind is not Kind.EMBEDDING:
        out.why_no_picture = "the window has no vectors in this column"
        return out
    when = charts.iso(start).replace("T", " ")
    norms = _norm_bins(r, c)
    if norms is not None:
        labels, rs, cs = norms
        out.figures["norms"] = charts.distribution(
            f"{name}: vector norms, reference vs window of {when} UTC", labels, rs, cs
        )
    from driftline.report.compare import vector_picture

    picture = vector_picture(r.vectors, c.vectors)
    if picture is None:
        out.why_no_picture = "too few vectors sampled, or the dimensions differ"
    else:
        out.figures["picture"] = scatter(
            f"{name}: {picture['method']}, window of {when} UTC",
            picture,
        )
    return out


def _norm_bins(r: Any, c: Any) -> tuple[list[str], list[float], list[float]] | None:
    from driftline.stats.drift.rules import value_bins

    if not (r.histogram.total and c.histogram.total):
        return None
    bins = value_bins(r, c)
    rt, ct = max(float(bins.reference.sum()), 1.0), max(float(bins.current.sum()), 1.0)
    return (
        [str(x) for x in bins.labels],
        [float(x) / rt for x in bins.reference],
        [float(x) / ct for x in bins.current],
    )


def scatter(title: str, picture: dict[str, Any]) -> dict[str, Any]:
    """Reference and current points on the picture's two axes."""
    ev = picture.get("explained_variance") or [0.0, 0.0]
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": side,
            "x": picture[side][0],
            "y": picture[side][1],
            "marker": {"size": 4, "color": color, "opacity": 0.6},
        }
        for side, color in (("reference", "#94a3b8"), ("current", charts.COLORS[0]))
    ]
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 14}, "x": 0, "xanchor": "left"},
        "margin": {"l": 50, "r": 10, "t": 34, "b": 40},
        "height": 300,
        "xaxis": {"title": {"text": f"PC 1 ({ev[0]:.0%} of variance)"}, "gridcolor": charts.GRID},
        "yaxis": {"title": {"text": f"PC 2 ({ev[1]:.0%})"}, "gridcolor": charts.GRID},
        "legend": {"orientation": "h", "y": -0.25},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        "font": {"family": "system-ui, sans-serif", "size": 11},
        "hovermode": "closest",
    }
    return {"data": data, "layout": layout}
