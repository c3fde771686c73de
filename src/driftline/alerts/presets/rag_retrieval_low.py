"""The ``rag_retrieval_low`` alert preset (docs/alerts.md, "Presets"; docs/llm.md)."""

from driftline.alerts.presets.registry import AlertPreset

PRESET = AlertPreset(
    name="rag_retrieval_low",
    description="too few RAG requests retrieve a high-similarity item (the retrieval SLO)",
    signal="model",
    rule={
        "metric": "rag.high_similarity_ratio",
        "op": "<",
        "threshold": 0.8,
        "for": 2,
        "keep_firing_for": 1,
        "min_samples": 20,
        "severity": "warning",
        "team": "ml",
        "annotations": {
            "summary": "only {{ $value | humanizePercentage }} of {{ $labels.model }} "
            "{{ $labels.version }}'s requests retrieve a high-similarity item "
            "(SLO {{ $threshold }}): questions the index cannot answer",
        },
    },
)
