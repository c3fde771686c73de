"""A/B of the plain observe() hot path between two source trees (issue 17: the otel extra off).

    git worktree add /tmp/old <commit>
    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/observe_ab.py   # the old tree
    .venv/bin/python benchmarks/observe_ab.py                           # this tree

Prints the tree and the median added time of ``observe()`` + ``record()`` (memory sink,
shipper idle: the request path alone) over a bare call, 3 x 20 000 calls each, interleaved.
Run the two alternately a few times: the machine's noise is larger than the difference.
"""

from __future__ import annotations

import gc
import statistics
import time

from prometheus_client import CollectorRegistry

import driftline.sdk as sdk
from driftline.sdk import Monitor

mon = Monitor(
    "m",
    "v1",
    sink="memory",
    registry=CollectorRegistry(),
    queue_size=10**7,
    batch_size=100000,
    flush_interval=3600,
)
F = {"age": 41, "income": 52000.0, "region": "eu", "tenure": 3, "prev_score": 0.42}
S = {"approve": 0.8, "reject": 0.2}


def obs():
    with mon.observe(F) as o:
        o.record(prediction="approve", scores=S)


def bare():
    pass


clock = time.perf_counter_ns
res = {}
for name, fn in (("bare", bare), ("observe", obs)) * 3:
    for _ in range(2000):
        fn()
    out = []
    gc.disable()
    for _ in range(20000):
        t0 = clock()
        fn()
        out.append(clock() - t0)
    gc.enable()
    res.setdefault(name, []).extend(out)
    mon._queue.clear()
print(
    sdk.__file__.split("/src/")[0],
    round((statistics.median(res["observe"]) - statistics.median(res["bare"])) / 1000, 3),
)
