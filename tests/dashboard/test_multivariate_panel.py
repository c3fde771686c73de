"""The model page's multivariate drift panel and spike/shift badges, from the seeded collector's
real points."""

from __future__ import annotations

import re

from .conftest import Env, client


async def test_model_page_shows_each_multivariate_method_with_its_history(env: Env) -> None:
    end = int(env.clock.time())
    async with client(env, "read") as c:
        r = await c.get(f"/ui/models/scorer?range=1h&end={end}")
        assert r.status_code == 200
        html = r.text
        table = html[html.index('data-testid="multivariate-table"') :]
        table = table[: table.index("</table>")]
        methods = re.findall(r'data-method="([a-z_]+)"', table)
        assert methods == ["pca_reconstruction", "mmd", "correlation"]
        # x moves by 2 sd from window 3 on: the PCA flags the latest window and
        # counts the drifted windows of the range
        row = table[table.index('data-method="pca_reconstruction"') :].split("</tr>")[0]
        assert "row-bad" in table.split('data-method="pca_reconstruction"')[0][-40:]
        counts = re.findall(r'<td class="num">(\d+) / (\d+)</td>', row)
        assert counts and 0 < int(counts[-1][0]) <= int(counts[-1][1])
        # another segment has no multivariate panel (all traffic only)
        r = await c.get(f"/ui/models/scorer?range=1h&end={end}&segment=region%3Deu")
        assert 'data-testid="multivariate-table"' not in r.text


async def test_drift_table_and_model_page_show_a_lasting_shift(env: Env) -> None:
    end = int(env.clock.time())
    async with client(env, "read") as c:
        r = await c.get(f"/ui/models/scorer?range=1h&end={end}")
        assert r.status_code == 200
        html = r.text
    # x drifts by 2 sd from window 3 of 8: five windows in a row, a shift (3 windows make one)
    table = html[html.index('data-testid="drift-table"') :]
    row = table[: table.index("</tr>", table.index(">x</a>"))]
    badge = re.search(r'data-testid="persistence"[^>]*>([^<]+)<', row)
    assert badge is not None and badge.group(1).startswith("shift · ")
    assert int(badge.group(1).split("· ")[1].rstrip("w")) >= 3
    line = html[html.index('data-testid="drift-time"') :].split("</p>")[0]
    assert "shift" in line and "windows in a row" in line
    assert 'data-testid="seasonal"' not in line  # no seasonal_period configured


async def test_model_page_lists_the_abuse_signals_of_the_range(env: Env) -> None:
    end = int(env.clock.time())
    async with client(env, "read") as c:
        r = await c.get(f"/ui/models/scorer?range=1h&end={end}")
    html = r.text
    table = html[html.index('data-testid="abuse-table"') :]
    table = table[: table.index("</table>")]
    signals = set(re.findall(r'data-signal="([a-z_.]+)"', table))
    # numeric features with a reference get boundary probing; after two windows, range jumps
    assert {"abuse.boundary_probing", "abuse.range_jump"} <= signals
    counts = re.findall(r'<td class="num">(\d+) / (\d+)</td>', table)
    assert counts and all(0 <= int(a) <= int(b) for a, b in counts)
