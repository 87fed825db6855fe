"""The attribution methods `did` and `within_actor` against published numbers, maintained packages and hand sums.

- `did` (warehouse/sql/23_did_group_time.sql) reproduces Callaway & Sant'Anna's minimum-wage example (mpdta)
  to 4 decimals, equals moderndid's ATT(g,t) on generated cells, and its person-clustered interval equals the
  delta method over a clustered regression (pyfixest) on the same items.
- `within_actor` (22_estimate_within_actor.sql) equals pyfixest's `feols(value ~ d | actor, CRV1 actor)`, and a
  four-person fixture is worked out by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import numpy as np
import pandas as pd
import pytest

from warehouse import methods
from warehouse.build import SQL_DIR

DID = SQL_DIR / "23_did_group_time.sql"
WITHIN = SQL_DIR / "22_estimate_within_actor.sql"


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("set timezone = 'UTC'")
    methods.register(c)
    methods.load_t_quantiles(c)
    yield c
    c.close()


def _load(con: duckdb.DuckDBPyConnection, items: pd.DataFrame, tree: dict[str, list[str]]) -> None:
    """`items` as work_items; `tree` maps each ancestor to the units under it (every unit is its own ancestor).
    Items cost $30 an hour each."""
    items = items.assign(month=[str(m)[:7] for m in items["month_start"]], item_id=range(len(items)))
    for col in ("stratum", "total_value"):
        if col not in items:
            items[col] = None
    con.register("incoming", items)
    con.execute("create or replace table work_items as select * replace (total_value::double as total_value, "
                "stratum::varchar as stratum) from incoming")
    con.unregister("incoming")
    con.execute("create or replace table item_costs as select workflow, item_id, 30.0 as hourly_cost_usd "
                "from work_items")
    pairs = [(u, u) for u in items["org_unit"].unique()] + [(a, u) for a, units in tree.items() for u in units]
    con.execute("create or replace table org_subtree (ancestor varchar, org_unit varchar)")
    con.executemany("insert into org_subtree values (?, ?)", pairs)


def _items(seed: int, go_live: dict[str, dt.date | None], months: int = 5, people: int = 8,
           saving: float = 90.0, trend: float = 0.0, unit_trend: dict[str, float] | None = None) -> pd.DataFrame:
    """Calls of `people` agents per unit over `months` months from 2026-01: ACW = 300 + the agent's pace + trend
    per month (+ a unit's own trend) + noise − saving if assisted; live calls assisted at random (p = 0.5);
    handle 400 ± 60; agents keep their pace across months."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit, live_from in go_live.items():
        for p in range(people):
            pace = rng.normal(0, 30)
            for m in range(months):
                start = dt.date(2026, 1 + m, 1)
                for _ in range(rng.poisson(6) + 1):
                    day = start + dt.timedelta(days=int(rng.integers(0, 28)))
                    live = live_from is not None and day >= live_from
                    assisted = bool(live and rng.random() < 0.5)
                    drift = trend * m + (unit_trend or {}).get(unit, 0.0) * m
                    acw = 300 + pace + drift + rng.normal(0, 60) - saving * assisted
                    rows.append(dict(workflow="calls", metric="acw_seconds", org_unit=unit, actor_key=f"{unit}-p{p}",
                                     month_start=start, value=acw, total_value=acw + 400 + rng.normal(0, 60),
                                     assisted=assisted, live=live, go_live_date=live_from))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------- did: mpdta
@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    import moderndid
    return moderndid.load_mpdta().to_pandas()


def _mpdta_items(mpdta: pd.DataFrame) -> pd.DataFrame:
    """mpdta as work items: one item per county and year (the county is its own unit and its own person)."""
    g = mpdta["first.treat"]
    county = mpdta["countyreal"].astype(str)
    treated = (g > 0) & (mpdta["year"] >= g)
    return pd.DataFrame(dict(
        workflow="min_wage", metric="lemp", org_unit=county, actor_key=county,
        month_start=[dt.date(int(y), 1, 1) for y in mpdta["year"]], value=mpdta["lemp"], total_value=np.nan,
        assisted=treated, live=treated, go_live_date=[dt.date(int(x), 1, 1) if x > 0 else None for x in g]))


def _att_gt(con: duckdb.DuckDBPyConnection, org_unit: str) -> dict[tuple[int, int], float]:
    rows = con.execute("select cohort, month, att from did_group_time where org_unit = ? and kind <> 'month'",
                       [org_unit]).fetchall()
    return {(int(c[:4]), int(m[:4])): a for c, m, a in rows}


def test_did_reproduces_callaway_santanna_mpdta(con, mpdta):
    items = _mpdta_items(mpdta)
    _load(con, items, {"US": list(items["org_unit"].unique())})
    con.execute("set variable did_control_group = 'never_treated'")
    methods.run_models(con, [DID])
    att = _att_gt(con, "US")
    # the did package's published group-time effects (never-treated controls, no covariates)
    assert round(att[(2004, 2004)], 4) == -0.0105
    assert round(att[(2004, 2006)], 4) == -0.1373
    assert round(att[(2006, 2007)], 4) == -0.0412
    assert round(att[(2007, 2007)], 4) == -0.0261
    # the simple overall ATT: post (g, t) effects weighted by the size of their group
    post = con.execute("select sum(att * n_treated_units) / sum(n_treated_units) from did_group_time "
                       "where org_unit = 'US' and kind = 'post'").fetchall()[0][0]
    assert round(post, 4) == -0.0400
    # each county is its own (one-county) org unit too: county 8001 went live in 2007
    assert _att_gt(con, "8001")[(2007, 2007)] == pytest.approx(
        (items.query("org_unit == '8001' and month_start.astype('str') == '2007-01-01'")["value"].iloc[0]
         - items.query("org_unit == '8001' and month_start.astype('str') == '2006-01-01'")["value"].iloc[0])
        - (items.query("go_live_date.isna() and month_start.astype('str') == '2007-01-01'")["value"].mean()
           - items.query("go_live_date.isna() and month_start.astype('str') == '2006-01-01'")["value"].mean()))


@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
def test_did_equals_moderndid_every_group_time_and_calendar(con, mpdta, control):
    import moderndid

    items = _mpdta_items(mpdta)
    _load(con, items, {"US": list(items["org_unit"].unique())})
    con.execute("set variable did_control_group = ?", [control])
    methods.run_models(con, [DID])
    ref = moderndid.att_gt(mpdta, yname="lemp", tname="year", idname="countyreal", gname="first.treat",
                           est_method="reg", control_group=control.replace("_", ""))
    expected = {(int(g), int(t)): a for g, t, a in zip(ref.groups, ref.times, ref.att_gt, strict=True)}
    assert _att_gt(con, "US") == pytest.approx(expected, abs=1e-12)  # pre-period placebos included
    with pytest.warns(UserWarning):  # moderndid notes that it bootstraps the calendar bands
        cal = moderndid.aggte(ref, type="calendar", random_state=1)
    months = dict(con.execute("select month, att from did_group_time where org_unit = 'US' and kind = 'month'")
                  .fetchall())
    assert {int(m[:4]): a for m, a in months.items()} == pytest.approx(
        {int(t): a for t, a in zip(cal.event_times, cal.att_by_event, strict=True)}, abs=1e-12)


# --------------------------------------------------------------------------------------------- did: items
GO_LIVE = {"U1": dt.date(2026, 3, 1), "U2": dt.date(2026, 4, 10), "U3": None, "U4": dt.date(2026, 5, 1)}


def test_did_on_items_equals_moderndid_on_the_cell_means(con):
    import moderndid

    go_live = {**GO_LIVE, "U5": None, "U6": None}  # moderndid's 2 × 2 regressions need more than one control
    items = _items(3, go_live, trend=12.0)
    _load(con, items, {"D1": ["U1", "U2"], "ENT": list(go_live)})
    methods.run_models(con, [DID])
    cells = items.groupby(["org_unit", "month_start"], as_index=False).agg(y=("value", "mean"), n=("value", "size"))
    cells["unit"] = cells["org_unit"].str[1].astype(int)
    cells["period"] = [d.month for d in cells["month_start"]]
    cells["g"] = [go_live[u].month if go_live[u] else 0 for u in cells["org_unit"]]
    ref = moderndid.att_gt(cells[["unit", "period", "g", "y"]], yname="y", tname="period", idname="unit",
                           gname="g", est_method="reg", control_group="notyettreated")
    expected = {(int(g), int(t)): a for g, t, a in zip(ref.groups, ref.times, ref.att_gt, strict=True)}
    # one unit per cohort at ENT: its ATT(g,t) are moderndid's, cohort by cohort
    got = {(int(c[5:]), int(m[5:])): a for c, m, a in con.execute(
        "select cohort, month, att from did_group_time where org_unit = 'ENT' and kind <> 'month'").fetchall()}
    assert got == pytest.approx(expected, abs=1e-9)
    # the month row weighs each live unit by its items in the month (moderndid weighs units equally)
    n = {(u, m.month): k for u, m, k in zip(cells["org_unit"], cells["month_start"], cells["n"], strict=True)}
    for month in (4, 5):
        live = [u for u, d in go_live.items() if d and d.month <= month]
        want = sum(n[(u, month)] * expected[(go_live[u].month, month)] for u in live) / sum(n[(u, month)] for u in live)
        (att,) = con.execute("select att from did_group_time where org_unit = 'ENT' and kind = 'month' "
                             "and month = ?", [f"2026-{month:02d}"]).fetchall()[0]
        assert att == pytest.approx(want, abs=1e-9)


def test_did_interval_is_the_delta_method_over_a_person_clustered_regression(con):
    """saving = −att / share is a function of cell means of the metric and of `assisted`; pyfixest regresses
    both (stacked) on cell dummies with errors clustered by person, and the delta method gives the same se."""
    import pyfixest as pf
    items = _items(5, GO_LIVE)
    _load(con, items, {"ENT": list(GO_LIVE)})
    methods.run_models(con, [DID])
    row = con.execute("select att, share_assisted, saving_per_item, saving_se, n_people, df, saving_ci_low "
                      "from did_group_time where org_unit = 'U1' and kind = 'post' and month = '2026-04'").fetchall()[0]
    att, share, saving, se, n_people, df, ci_low = row
    # ATT(U1 from March, April) = (U1 Apr − U1 Feb) − mean over controls (U3 never live; U4 live from May) of the same
    # (U2, live from 10 April, is not a control in April)
    cells = {("U1", 4): 1.0, ("U1", 2): -1.0, ("U3", 4): -0.5, ("U3", 2): 0.5, ("U4", 4): -0.5, ("U4", 2): 0.5}
    sub = items[[(u, m.month) in cells for u, m in zip(items["org_unit"], items["month_start"], strict=True)]].copy()
    sub["cell"] = [f"{u}_{m.month}" for u, m in zip(sub["org_unit"], sub["month_start"], strict=True)]
    stacked = pd.concat([sub.assign(v=sub["value"], key="y_" + sub["cell"]),
                         sub.assign(v=sub["assisted"].astype(float), key="d_" + sub["cell"])])
    fit = pf.feols("v ~ 0 + C(key)", data=stacked, vcov={"CRV1": "actor_key"}, ssc=pf.ssc(k_adj=False, G_adj=True))
    names = list(fit.coef().index)
    beta = fit.coef().to_numpy()
    cy = np.array([cells.get(_cell(n, "y"), 0.0) for n in names])
    cd = np.array([1.0 if _cell(n, "d") == ("U1", 4) else 0.0 for n in names])
    theta, s = cy @ beta, cd @ beta
    assert att == pytest.approx(theta, rel=1e-12)
    assert share == pytest.approx(s, rel=1e-12)
    assert saving == pytest.approx(-theta / s, rel=1e-12)
    grad = -cy / s + theta / s**2 * cd  # ∂(−θ/s)/∂β
    assert se == pytest.approx(float(np.sqrt(grad @ fit._vcov @ grad)), rel=1e-9)
    assert n_people == sub["actor_key"].nunique() and df == n_people - 1
    from scipy.stats import t as student_t

    assert ci_low == pytest.approx(saving - student_t.ppf(0.975, df) * se, rel=1e-9)


def _cell(name: str, prefix: str) -> tuple[str, int] | None:
    """`C(key)[y_U1_4]` → ('U1', 4) when the key starts with the prefix."""
    key = name.split("[", 1)[1].rstrip("]")
    kind, unit, month = key.split("_")
    return (unit, int(month)) if kind == prefix else None


def test_did_pretrend_test_flags_a_unit_with_its_own_trend(con):
    parallel = _items(11, GO_LIVE, people=12, trend=15.0)
    _load(con, parallel, {"ENT": list(GO_LIVE)})
    methods.run_models(con, [DID])
    (p_ok,) = con.execute("select pretrend_p from did_group_time where org_unit = 'ENT' and kind = 'month' "
                          "and month = '2026-05'").fetchall()[0]
    # U4 drifts 25 s a month on its own before it goes live in May
    diverging = _items(11, GO_LIVE, people=12, trend=15.0, unit_trend={"U4": 25.0})
    _load(con, diverging, {"ENT": list(GO_LIVE)})
    methods.run_models(con, [DID])
    (p_bad, k) = con.execute("select pretrend_p, pretrend_periods from did_group_time where org_unit = 'ENT' "
                             "and kind = 'month' and month = '2026-05'").fetchall()[0]
    # pre rows tested in May: U1 (March) has Feb; U2 (April) has Feb, Mar; U4 (May) has Feb, Mar, Apr
    assert k == 6
    assert p_ok > 0.05 and p_bad < 1e-4
    # per cohort: U4's own effect row fails its test, U1's (which did not drift) passes
    by_cohort = dict(con.execute("select cohort, pretrend_p from did_group_time where org_unit = 'ENT' "
                                 "and kind = 'post' and month = '2026-05'").fetchall())
    assert by_cohort["2026-05"] < 1e-4 and by_cohort["2026-03"] > 0.05


def test_did_without_controls_or_base_month_has_no_row(con):
    go_live = {"U1": dt.date(2026, 1, 1), "U2": dt.date(2026, 3, 1)}  # U1 live from the first month: no base
    items = _items(2, go_live, months=4)
    _load(con, items, {"ENT": list(go_live)})
    methods.run_models(con, [DID])
    rows = con.execute("select org_unit, month, cohort, kind from did_group_time where kind <> 'pre' "
                       "order by all").fetchall()
    # U2 has controls in neither March nor April (U1 is live throughout, there is no never-live unit);
    # U1 has no month before its go-live: nothing but placebo rows can exist
    assert rows == []
    pre = con.execute("select distinct org_unit, cohort from did_group_time where kind = 'pre' order by all").fetchall()
    assert pre == []  # U2's placebos need a control too: U1 is live in Feb, so there is none


# --------------------------------------------------------------------------------------------- within_actor
def test_within_actor_equals_pyfixest_feols_with_person_fixed_effects(con):
    import pyfixest as pf
    rng = np.random.default_rng(4)
    n = 4000
    actor = rng.integers(0, 60, n)
    pace = rng.normal(0, 40, 60)
    # self-selection: slower people (long ACW) take the AI more often
    assisted = rng.random(n) < 1 / (1 + np.exp(-pace[actor] / 20))
    value = 300 + pace[actor] + rng.normal(0, 60, n) - 90 * assisted
    items = pd.DataFrame(dict(workflow="calls", metric="acw_seconds", org_unit=np.where(actor < 30, "T1", "T2"),
                              actor_key=[f"a{a}" for a in actor], month_start=dt.date(2026, 1, 1), value=value,
                              total_value=value + 420, assisted=assisted, live=True))
    _load(con, items, {"D1": ["T1", "T2"]})
    methods.run_models(con, [WITHIN])
    got = con.execute("select saving_per_item, saving_se, saving_ci_low, saving_ci_high, n_people_both, saving_df, "
                      "n_assisted "
                      "from estimate_within_actor where org_unit = 'D1'").fetchall()[0]
    both = items.groupby("actor_key")["assisted"].transform(lambda a: 0 < a.sum() < len(a))
    data = items[both].assign(d=lambda x: x["assisted"].astype(int))
    fit = pf.feols("value ~ d | actor_key", data=data, vcov={"CRV1": "actor_key"})
    lo, hi = fit.confint().loc["d"]
    assert got[0] == pytest.approx(-fit.coef()["d"], rel=1e-10)
    assert got[1] == pytest.approx(fit.se()["d"], rel=1e-10)
    assert (got[2], got[3]) == pytest.approx((-hi, -lo), rel=1e-10)
    assert got[4] == data["actor_key"].nunique() and got[5] == got[4] - 1
    assert got[6] == int(assisted.sum())  # hours count every assisted item, also of one-arm people
    # the naive difference of means is pulled down by who takes the tool; within-person it is not
    naive = items.loc[~items.assisted, "value"].mean() - items.loc[items.assisted, "value"].mean()
    assert naive < 75 and got[2] < 90 < got[3]


def test_within_actor_by_hand(con):
    """Three people in one team, one month; a fourth has only assisted items.
    P1: assisted 100, 110; unassisted 200, 190 → within P1: 105 vs 195
    P2: assisted 150; unassisted 240, 260, 250 → 150 vs 250
    P3: assisted 300, 320, 310; unassisted 380 → 310 vs 380
    P4: assisted 500, 520 (no unassisted item: no comparison, but counts in n_assisted)
    Sdd = n1·n0/n: P1 2·2/4 = 1, P2 1·3/4 = 0.75, P3 3·1/4 = 0.75 → Σ 2.5
    Sdy = Σ (d − d̄)(y − ȳ) = n1·n0/n · (ȳ1 − ȳ0): P1 1·(−90) = −90, P2 0.75·(−100) = −75, P3 0.75·(−70) = −52.5
    β = −217.5 / 2.5 = −87 → saving 87 s
    u_p = Sdy − β·Sdd: P1 −90 + 87 = −3, P2 −75 + 65.25 = −9.75, P3 −52.5 + 65.25 = 12.75; Σ u² = 9 + 95.0625 + 162.5625
    = 266.625; G = 3, N = 12: var = 3/2 · 11/10 · 266.625 / 2.5² = 70.39; se = 8.3899
    t(2) 0.975 = 4.302653 → 87 ± 36.099"""
    rows = []

    def add(person, values, assisted):
        for v in values:
            rows.append(dict(workflow="calls", metric="acw_seconds", org_unit="T1", actor_key=person,
                             month_start=dt.date(2026, 3, 1), value=float(v), total_value=float(v) + 400,
                             assisted=assisted, live=True))

    add("P1", [100, 110], True), add("P1", [200, 190], False)
    add("P2", [150], True), add("P2", [240, 260, 250], False)
    add("P3", [300, 320, 310], True), add("P3", [380], False)
    add("P4", [500, 520], True)
    _load(con, pd.DataFrame(rows), {})
    methods.run_models(con, [WITHIN])
    r = con.execute("select * from estimate_within_actor").df().iloc[0]
    assert r.saving_per_item == pytest.approx(87.0)
    assert r.saving_se == pytest.approx(np.sqrt(1.5 * 1.1 * 266.625) / 2.5)
    assert r.saving_se == pytest.approx(8.3899, abs=1e-4)
    assert (r.saving_ci_low, r.saving_ci_high) == pytest.approx((87 - 4.302653 * 8.38988, 87 + 4.302653 * 8.38988),
                                                                 abs=1e-3)
    assert (r.n_people_both, r.saving_df, r.assisted_actors) == (3, 2, 4)  # P4 has no comparison, but assisted items
    assert (r.n_assisted, r.n_baseline) == (8, 6)  # P4's two count for hours; the baseline: P1–P3's unassisted items
    assert r.units_covered.tolist() == ["T1"] and pd.isna(r.hourly_cost_usd)  # 4 people: no mean cost under 11
    assert r.assisted_mean == pytest.approx((100 + 110 + 150 + 300 + 320 + 310) / 6)
    assert r.baseline_mean - r.assisted_mean == pytest.approx(87.0)
    assert r.total_saving_per_item == pytest.approx(87.0)  # handle is a constant 400 here


def test_within_actor_needs_two_people_for_an_interval(con):
    rows = [dict(workflow="calls", metric="acw_seconds", org_unit="T1", actor_key="P1", month_start=dt.date(2026, 3, 1),
                 value=v, total_value=None, assisted=a, live=True) for v, a in ((100.0, True), (200.0, False))]
    # a not-live unassisted item (before go-live) never enters the comparison
    rows.append(dict(rows[0], value=900.0, assisted=False, live=False))
    _load(con, pd.DataFrame(rows), {})
    methods.run_models(con, [WITHIN])
    got = con.execute("select saving_per_item, saving_se, saving_ci_low, n_people_both from estimate_within_actor")
    assert got.fetchall() == [(100.0, None, None, 1)]  # one person: a point, no interval


# --------------------------------------------------------------------------------------------- wald
def test_wald_pvalue():
    from scipy.stats import chi2

    assert methods.wald_pvalue([1.0, 2.0], [1.0, 0.0, 0.0, 4.0]) == pytest.approx(chi2.sf(1 + 1, 2))  # 1²/1 + 2²/4
    # collinear rows count once: (1, 1) with a rank-1 covariance of ones → b'V⁺b = 2²/4 · ... = 1, one df
    assert methods.wald_pvalue([1.0, 1.0], [1.0, 1.0, 1.0, 1.0]) == pytest.approx(chi2.sf(1.0, 1))
    assert methods.wald_pvalue([], []) is None
    assert methods.wald_pvalue([0.1], [0.0]) is None  # no variance: nothing to test
    assert methods.wald_pvalue([0.1, 0.2], [1.0]) is None  # malformed matrix


# --------------------------------------------------------------------------------------------- planted biases
def _generated(con: duckdb.DuckDBPyConnection, seed: int, trend: float, selection: float) -> dict:
    """The generator's calls (300 people, 6 months to 2026-10, CC-PRV-B never live) through the method models,
    as the coverage benchmark runs them; (method, org unit, month) → the attribution_estimates row."""
    from bench import coverage

    coverage._load(con, seed, trend, selection)
    methods.run_models(con, coverage.MODELS)
    r = con.execute("select * from attribution_estimates where metric = 'acw_seconds'")
    cols = [d[0] for d in r.description]
    rows = [dict(zip(cols, row, strict=True)) for row in r.fetchall()]
    return {(row["method"], row["org_unit"], row["month"]): row for row in rows}


def _covers(row: dict, saving: float = 90.0) -> bool:
    return row["saving_ci_low"] <= saving <= row["saving_ci_high"]


def test_a_trend_breaks_pre_go_live_and_not_did_or_within_actor(con):
    # ACW rises 15 s a month everywhere; agents take the AI at random. The business unit in October: pre_go_live
    # compares October with the 3 months before each team's go-live and books the drift as saving (≈ −15 s ×
    # the months between: the saving looks 30–60 s smaller); did and within_actor compare within the same months
    est = _generated(con, seed=21, trend=15.0, selection=0.0)
    pre, did, within = (est[(m, "BU-CC", "2026-10")] for m in ("pre_go_live", "did", "within_actor"))
    assert not _covers(pre) and pre["saving_per_item"] < 90 - 25
    assert _covers(did) and _covers(within)
    assert "disagrees_with_did" in pre["diagnostics"] and pre["methods_disagree"]
    assert did["pretrend_p"] > 0.05 and did["recommended"]  # a trend shared by every team passes did's test
    # random choice: concurrent_control holds too (it disagrees with pre_go_live only)
    assert est[("concurrent_control", "BU-CC", "2026-10")]["diagnostics"] == ["disagrees_with_pre_go_live"]


def test_self_selection_breaks_concurrent_control_and_not_within_actor_or_did(con):
    # slow agents take the AI most (log-odds + 2 per sd of pace), no trend: concurrent_control compares slow
    # people's assisted calls with fast people's unassisted ones, and the saving looks ≈ 35 s smaller
    est = _generated(con, seed=22, trend=0.0, selection=2.0)
    cc, within, did = (est[(m, "BU-CC", "2026-10")] for m in ("concurrent_control", "within_actor", "did"))
    assert not _covers(cc) and cc["saving_per_item"] < 90 - 20
    assert _covers(within) and _covers(did)
    assert {"disagrees_with_within_actor", "disagrees_with_did"} <= set(cc["diagnostics"])
    # within_actor agrees with did (both robust to who chooses) and disagrees with the biased comparisons; its
    # arms are imbalanced by queue (slow agents' queues take the AI more), which it does not need: it compares a
    # person with themself
    assert "disagrees_with_concurrent_control" in within["diagnostics"]
    assert "disagrees_with_did" not in within["diagnostics"]
    assert did["recommended"] or within["recommended"]
    # exactly one recommended row per org unit and month
    keys = {(u, mo) for _, u, mo in est}
    assert all(sum(r["recommended"] for (m, u, mo), r in est.items() if (u, mo) == k) == 1 for k in keys)


def test_t_quantiles_are_students():
    """The build's t table (scipy.special.stdtrit, a light import) equals scipy.stats' t quantiles."""
    from scipy.stats import t as student_t

    con = duckdb.connect()
    try:
        methods.load_t_quantiles(con)
        got = dict(con.execute("select df, t975 from t_quantiles").fetchall())
    finally:
        con.close()
    assert sorted(got) == list(range(1, 1001))
    assert got[1] == pytest.approx(12.706204736, rel=1e-9)  # the textbook's first row
    assert got[30] == pytest.approx(2.042272456, rel=1e-9)
    assert all(got[df] == pytest.approx(student_t.ppf(0.975, df), rel=1e-12) for df in (2, 7, 60, 250, 1000))
