"""A fitted isolation forest's scores without scikit-learn's per-call overhead.

``IsolationForest.score_samples`` validates its input and dispatches every
tree through joblib (a task, a lock and a feature copy per tree): at 100
trees and the collector's batches of a few hundred events that overhead, not
the tree walk, was most of its cost, about 40 % of ingest throughput
(benchmarks/RESULTS.md, issue 18). :class:`IsolationScorer` keeps, per tree,
its Cython ``tree_.apply`` and one array of path lengths per node (the
node's depth plus the average path length of the reference rows that reached
it, minus one, as scikit-learn computes them), converts a batch to float32
once, and adds up the leaves' path lengths: the score is
``2 ** (-mean path length / c(max_samples))``, the same numbers as
``-IsolationForest.score_samples`` (tests/stats/test_outliers.py checks
them), in about a third of the time on 500-row batches. A pure numpy walk of
all trees at once (a trees x rows node array, one step per level) was slower
than the Cython walk here and was dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class IsolationScorer:
    """Scores of a fitted ``sklearn.ensemble.IsolationForest``; :meth:`score` is its hot path."""

    def __init__(self, forest: Any) -> None:
        from sklearn.ensemble._iforest import _average_path_length

        n_features = int(forest.n_features_in_)
        subsample = int(forest._max_features) != n_features
        self._trees: list[tuple[Any, npt.NDArray[np.intp] | None, npt.NDArray[np.float64]]] = []
        for est, cols in zip(forest.estimators_, forest.estimators_features_, strict=True):
            t = est.tree_
            depth = np.asarray(t.compute_node_depths(), dtype=np.float64)
            path = depth + _average_path_length(t.n_node_samples) - 1.0
            features = np.asarray(cols, dtype=np.intp) if subsample else None
            self._trees.append((t, features, path))
        self.denominator = len(self._trees) * float(_average_path_length([forest._max_samples])[0])

    def arrays(self) -> dict[str, Any]:
        """The trees as flat node arrays (every tree's nodes after the previous tree's):
        ``left``/``right`` children (-1 at leaves), ``feature`` (a column of the whole
        input, feature subsets resolved), ``threshold``, ``missing_left``, ``path``
        (a leaf's path length), ``roots`` (each tree's first node) and
        ``denominator``: what :class:`driftline._utils.outlier_wire.WireModel` walks."""
        parts: dict[str, list[np.ndarray]] = {
            k: [] for k in ("left", "right", "feature", "threshold", "missing_left", "path")
        }
        roots = []
        base = 0
        for tree, features, path in self._trees:
            left = np.asarray(tree.children_left, dtype=np.int64)
            right = np.asarray(tree.children_right, dtype=np.int64)
            leaf = left < 0
            feature = np.asarray(tree.feature, dtype=np.int64)
            if features is not None:
                feature = np.where(leaf, feature, features[np.where(leaf, 0, feature)])
            missing = getattr(tree, "missing_go_to_left", None)
            parts["left"].append(np.where(leaf, -1, left + base))
            parts["right"].append(np.where(leaf, -1, right + base))
            parts["feature"].append(np.where(leaf, -1, feature))
            parts["threshold"].append(np.asarray(tree.threshold, dtype=np.float64))
            parts["missing_left"].append(
                np.zeros(left.size, bool) if missing is None else np.asarray(missing, bool)
            )
            parts["path"].append(path)
            roots.append(base)
            base += left.size
        out: dict[str, Any] = {k: np.concatenate(v) for k, v in parts.items()}
        out["roots"] = np.asarray(roots, dtype=np.int64)
        out["denominator"] = self.denominator
        return out

    def score(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """``-IsolationForest.score_samples(x)``: higher is more anomalous."""
        x32 = np.ascontiguousarray(x, dtype=np.float32)
        depths = np.zeros(x32.shape[0], dtype=np.float64)
        for tree, features, path in self._trees:
            xs = x32 if features is None else np.ascontiguousarray(x32[:, features])
            depths += path[tree.apply(xs)]
        if self.denominator == 0:
            return np.ones(x32.shape[0])
        scores: npt.NDArray[np.float64] = 2.0 ** (-depths / self.denominator)
        return scores
