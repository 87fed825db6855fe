"""Estimator helpers for the attribution methods that need more than SQL aggregates.

The method models (`warehouse/sql/22_estimate_within_actor.sql`, `23_did_group_time.sql`, `24_estimate_did.sql`)
are SQL over per-person and cell aggregates, so they scale with DuckDB; the only step SQL cannot do is the joint
pre-trend test of `did`, a Wald statistic b' V⁻¹ b over a handful of pre-period effects. `register(con)` gives
the connection that step as a scalar function (the build calls it before the models):

    wald_pvalue(b DOUBLE[], v DOUBLE[]) -> DOUBLE

`b` holds k estimates, `v` their k × k covariance matrix row by row. The p-value is the chi-square tail of
b' V⁺ b with rank(V) degrees of freedom (V⁺ the pseudo-inverse, so collinear placebo rows count once); null
when there is nothing to test. A connection closes before the interpreter exits (DuckDB's Python functions
otherwise leak at shutdown).

`run_models(con, paths)` runs models of `warehouse/sql` on a connection that holds a `work_items`-shaped table
(and `org_subtree`, `item_costs`, `t_quantiles`), for tests and the coverage benchmark, which feed the methods
without an ingest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import numpy as np
from duckdb import func, sqltypes


def wald_pvalue(b: Sequence[float] | None, v: Sequence[float] | None) -> float | None:
    """p-value of the joint test that every element of b is zero, given its covariance v (row-major k × k)."""
    if not b or v is None:
        return None
    est = np.asarray(b, dtype=float)
    k = est.size
    cov = np.asarray(v, dtype=float)
    if cov.size != k * k or not np.all(np.isfinite(cov)) or not np.all(np.isfinite(est)):
        return None
    cov = cov.reshape(k, k)
    cov = (cov + cov.T) / 2
    scale = float(np.max(np.abs(np.diag(cov)))) if k else 0.0
    if scale <= 0:
        return None
    rank = int(np.linalg.matrix_rank(cov, tol=scale * 1e-10))
    if rank == 0:
        return None
    from scipy.special import chdtrc  # chi-square survival function: scipy.stats.chi2.sf, a lighter import

    stat = float(est @ np.linalg.pinv(cov, rcond=1e-10) @ est)
    return float(chdtrc(rank, stat))


# Welch–Satterthwaite degrees of freedom of a difference of two means, from each mean's variance (var / n) and
# each arm's count; null when an arm has one item or both variances are zero. A temporary macro: the Welch
# methods share it, and it is not left in the warehouse file.
WELCH_DF = """
create or replace temp macro welch_df(v_a, v_b, n_a, n_b) as
  pow(v_a + v_b, 2) / nullif(pow(v_a, 2) / nullif(n_a - 1, 0) + pow(v_b, 2) / nullif(n_b - 1, 0), 0)
"""


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Give `con` the Python function and the SQL macro the method models call."""
    doubles = duckdb.list_type(sqltypes.DOUBLE)
    con.create_function("wald_pvalue", wald_pvalue, [doubles, doubles], sqltypes.DOUBLE,
                        null_handling=func.FunctionNullHandling.SPECIAL)
    con.execute(WELCH_DF)


def run_models(con: duckdb.DuckDBPyConnection, paths: Iterable[Path]) -> None:
    """Run models in order on `con` (which needs `work_items`, `org_subtree`, `item_costs` and `t_quantiles`)."""
    from warehouse.build import _comment, read_model

    for path in paths:
        m = read_model(path)
        con.execute(m.sql)
        _comment(con, m.table, f"{m.purpose} Grain: {m.grain}.", m.columns)


def load_t_quantiles(con: duckdb.DuckDBPyConnection) -> None:
    """The `t_quantiles` table of the build, for connections that do not come from a build."""
    from warehouse.build import _load_t_quantiles

    _load_t_quantiles(con)
