"""The expectation suites: batch-level data quality that no single row can tell.

Each check is a DuckDB query over the warehouse being built that yields one figure (or one per group), and
a range the figure must lie in. DuckDB computes the figures over millions of rows; Great Expectations gets
one small frame per suite — columns `check`, `grp`, `value` — and validates each check on its rows
(`expect_column_values_to_be_between` with a row condition). Severity `critical` blocks the build;
`warning` is reported and stored.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    suite: str
    name: str
    severity: str  # critical | warning
    figure: str  # what the value is, named like a column
    sql: str  # yields rows (grp, value)
    min_value: float | None = None
    max_value: float | None = None
    description: str = ""

    def threshold(self) -> str:
        if self.min_value is not None and self.max_value is not None:
            return f"between {self.min_value:g} and {self.max_value:g}"
        return f"≥ {self.min_value:g}" if self.min_value is not None else f"≤ {self.max_value:g}"


def freshness_hours() -> float:
    """How old the newest event may be before the freshness warning: $UPTAKE_FRESHNESS_HOURS, default 48."""
    return float(os.environ.get("UPTAKE_FRESHNESS_HOURS", "48"))


def _share(condition: str, table: str = "events", where: str = "true") -> str:
    return f"select 'all' as grp, coalesce(avg(({condition})::int), 1.0) as value from {table} where {where}"


EVENTS = "landed_events"
WAREHOUSE = "warehouse_tables"

CHECKS: tuple[Check, ...] = (
    # ---------------------------------------------------------------- landed events, critical
    Check(EVENTS, "org_unit_resolved", "critical", "share_org_unit_known",
          _share("org_unit_known"), min_value=0.99,
          description="≥ 99 % of events resolve to a known org unit (given, or through the roster)"),
    Check(EVENTS, "actor_in_roster", "critical", "share_actor_in_roster",
          _share("actor_in_roster"), min_value=0.98,
          description="≥ 98 % of actors resolve in the roster at occurred_at"),
    Check(EVENTS, "event_id_unique", "critical", "duplicate_event_ids",
          "select 'all', count(*) - count(distinct event_id) from events", max_value=0,
          description="every event_id is unique"),
    Check(EVENTS, "review_has_call", "critical", "share_reviews_with_call",
          _share("exists (select 1 from calls c where c.workflow = e.workflow and c.call_id = e.work_item_id)",
                 "events e", "e.tool = 'call_summarization' and e.event_type = 'summary_reviewed'"),
          min_value=0.99, description="≥ 99 % of summary_reviewed events have their call_completed"),
    Check(EVENTS, "submission_has_request", "critical", "share_submissions_with_request",
          _share("status = 'submitted'", "letters", "submitted_at is not null"), min_value=0.99,
          description="≥ 99 % of letter_submitted events have their letter_requested"),
    # ---------------------------------------------------------------- landed events, warning
    Check(EVENTS, "acw_plausible", "warning", "share_acw_within_2h",
          _share("acw_seconds <= 7200", "calls", "acw_seconds is not null"), min_value=0.999,
          description="≥ 99.9 % of calls have acw_seconds ≤ 2 h"),
    Check(EVENTS, "handle_plausible", "warning", "share_handle_within_4h",
          _share("handle_seconds <= 14400", "calls", "handle_seconds is not null"), min_value=0.999,
          description="≥ 99.9 % of calls have handle_seconds ≤ 4 h"),
    Check(EVENTS, "turnaround_plausible", "warning", "share_turnaround_within_60d",
          _share("turnaround_hours <= 1440", "letters", "turnaround_hours is not null"), min_value=0.999,
          description="≥ 99.9 % of letters have a turnaround ≤ 60 days"),
    Check(EVENTS, "daily_volume", "warning", "volume_over_trailing_median",
          """with daily as (
               select tool, occurred_at::date as day, count(*) as n from events group by all
             ), prior as (
               select tool, day, n,
                 median(n) over w as med, count(*) over w as weeks
               from daily
               window w as (partition by tool, isodow(day) order by day
                            range between interval 28 day preceding and interval 7 day preceding)
             )
             select tool || ' ' || day, n / med from prior where weeks = 4""",
          min_value=0.5, max_value=2.0,
          description="a day's volume per tool is within 50 %–200 % of its trailing 4-week median for the weekday"),
    Check(EVENTS, "freshness", "warning", "hours_since_newest_event",
          "select 'all', coalesce(epoch(now() - max(occurred_at)) / 3600.0, 0) from events",
          max_value=None, description="the newest event is no older than $UPTAKE_FRESHNESS_HOURS (default 48 h)"),
    # ---------------------------------------------------------------- warehouse tables, critical
    Check(WAREHOUSE, "rates_not_negative", "critical", "adoption_rate",
          """select 'adoption_monthly ' || tool || ' ' || org_unit || ' ' || month || ' ' || k, v
             from adoption_monthly unpivot (v for k in (active_rate, sustained_rate)) where v is not null
             union all
             select 'leader_scorecard_monthly ' || org_unit || ' ' || month || ' ' || k, v
             from leader_scorecard_monthly unpivot (v for k in (active_rate, sustained_rate)) where v is not null""",
          min_value=0, description="adoption and scorecard rates are ≥ 0"),
    Check(WAREHOUSE, "seats_not_negative", "critical", "seats",
          "select tool || ' ' || org_unit || ' ' || month, seats from adoption_monthly where seats is not null",
          min_value=0, description="seats ≥ 0"),
    Check(WAREHOUSE, "finance_rows_not_mixed", "critical", "rows_with_another_attribution",
          """select 'workflow_attribution_monthly', count(*) from workflow_attribution_monthly
               where attribution <> 'workflow_measured'
             union all
             select 'productivity_estimate_monthly', count(*) from productivity_estimate_monthly
               where attribution <> 'business_unit_estimate'""",
          max_value=0, description="no finance row sums workflow-level value and estimates"),
    Check(WAREHOUSE, "staff_time_only", "critical", "rows_with_another_metric",
          """select a.workflow, count(*) from workflow_attribution_monthly a
             left join ref_workflows w on w.workflow = a.workflow and w.metric = a.metric
             where w.workflow is null group by all
             union all
             select 'service_level_monthly', count(*) from service_level_monthly s
             where s.metric not in (select service_metric from ref_workflows where service_metric is not null)""",
          max_value=0, description="workflow_attribution_monthly values each workflow's staff-time metric only "
                                   "(never turnaround), service_level_monthly its service metric only"),
    Check(WAREHOUSE, "small_cells_suppressed", "critical", "unsuppressed_small_cells",
          """select 'adoption_monthly', count(*) from adoption_monthly
               where active_users < 11 or (suppressed and (active_users is not null or active_rate is not null))
             union all
             select 'workflow_attribution_monthly', count(*) from workflow_attribution_monthly
               where n_assisted < 11 or n_baseline < 11
                  or (suppressed and (saving_per_item is not null or hours_saved is not null or value_usd is not null
                                      or hourly_cost_usd is not null))
             union all
             select 'service_level_monthly', count(*) from service_level_monthly
               where n_assisted < 11 or n_baseline < 11 or submitted < 11 or backlog_open < 11
                  or (suppressed and (saving_hours is not null or assisted_mean_hours is not null))
                  or (backlog_suppressed and (backlog_open is not null or oldest_open_hours is not null))
             union all
             select 'productivity_estimate_monthly', count(*) from productivity_estimate_monthly
               where active_users < 11 or (suppressed and (assisted_hours is not null or value_usd is not null))
             union all
             select 'license_utilization_monthly', count(*) from license_utilization_monthly
               where active_users < 11 or (suppressed and (active_users is not null or idle_seats is not null
                                                           or users_over_seats is not null))
             union all
             select 'roster_cells', count(*) from roster_cells
               where people < 11 or (suppressed and (people is not null or hourly_cost_usd is not null))""",
          max_value=0, description="every cell under 11 people or items is null and flagged suppressed"),
    # ---------------------------------------------------------------- warehouse tables, warning
    Check(WAREHOUSE, "adoption_within_seats", "warning", "adoption_rate_over_seats",
          """select tool || ' ' || org_unit || ' ' || month || ' ' || k, v from adoption_monthly
             unpivot (v for k in (active_rate, sustained_rate)) where v is not null""",
          max_value=1, description="active and sustained rates ≤ 1; above 1, people use a tool beyond its seats "
                                   "(free tiers, a late license file, movers): a finding for finance "
                                   "(license_utilization_monthly.users_over_seats), never a build failure"),
    Check(WAREHOUSE, "letters_carry_work_seconds", "warning", "share_letters_with_work_seconds",
          """select workflow || ' ' || month, avg((work_seconds is not null)::int) from letters
             where status = 'submitted' group by all""",
          min_value=0.8, description="≥ 80 % of submitted letters carry work_seconds (the rest are counted in "
                                     "n_without_metric, never imputed)"),
)


def checks(suite: str | None = None) -> list[Check]:
    out = []
    for c in CHECKS:
        if c.name == "freshness":
            c = Check(c.suite, c.name, c.severity, c.figure, c.sql, None, freshness_hours(), c.description)
        if suite is None or c.suite == suite:
            out.append(c)
    return out


SUITES = (EVENTS, WAREHOUSE)
