-- attribution_estimates: every attribution method's estimate side by side (the estimate_<method> models, in the
-- common estimate shape), with its 95 % interval, the small-cell rule, the diagnostics a reviewer filters on and
-- the recommended method. workflow_attribution_monthly (staff time) and service_level_monthly (the service
-- metric) read it; a new method adds one `union all by name` line here. Unsuppressed: an analyst's table.
-- Recommended, first rule that applies (per workflow, metric, org unit and month): (1) did, when not suppressed,
-- with a control unit, at least one pre-period placebo and pretrend_p >= 0.05; (2) within_actor, when not
-- suppressed (so at least 11 people have both kinds of items); (3) concurrent_control, when not suppressed and
-- balance_max_smd < 0.1; (4) pre_go_live, when not suppressed; (5) otherwise the first row in the order did,
-- within_actor, concurrent_control, pre_go_live (suppressed or failing a check, but still exactly one row).
-- A step also needs the row to have an interval.
-- grain: one row per workflow, metric, org unit (every level, items pooled over its subtree), month and method
-- column workflow: the workflow
-- column metric: the measure compared (work_items.metric): the workflow's staff-time metric or its service metric
-- column org_unit: the org unit; items of its whole subtree
-- column month: YYYY-MM
-- column method: concurrent_control, pre_go_live, within_actor or did
-- column n_assisted: assisted items with the metric (hours saved = saving × this)
-- column n_baseline: baseline items with the metric, as the method defines its baseline
-- column n_without_metric: items the method would count that carry no value of the metric (counted, never imputed)
-- column assisted_mean: mean metric of the assisted items, in the metric's unit
-- column baseline_mean: mean metric of the baseline items (within_actor, did: the counterfactual mean of the assisted items)
-- column assisted_median: median metric of the assisted items (concurrent_control, pre_go_live; service metrics only)
-- column assisted_p90: 90th percentile of the metric over the assisted items (as assisted_median)
-- column baseline_median: median metric of the baseline items (as assisted_median)
-- column baseline_p90: 90th percentile of the metric over the baseline items (as assisted_median)
-- column saving_per_item: the saving per assisted item, in the metric's unit
-- column saving_se: its standard error
-- column saving_df: its degrees of freedom
-- column saving_ci_low: lower bound of its 95 % interval: the method's own, else saving − t(0.975, ⌊df⌋) × se
-- column saving_ci_high: upper bound of its 95 % interval
-- column assisted_actors: distinct people behind the assisted items
-- column hourly_cost_usd: mean hourly cost of the assisted items' actors (item-weighted), USD; null under 11 people
-- column units_covered: the org units whose items the row counts (the license cost follows it)
-- column total_saving_per_item: the method's saving on total agent time (handle + ACW) for calls; null for letters
-- column total_saving_se: its standard error (null when the method gives its interval directly)
-- column total_saving_df: its degrees of freedom
-- column total_saving_ci_low: lower bound of its 95 % interval
-- column total_saving_ci_high: upper bound of its 95 % interval
-- column share_assisted: assisted items / items where the tool was available (live or assisted), with the metric, in the subtree and month (the same on every method's row)
-- column balance_max_smd: largest absolute standardized difference of the kinds of work (queue for calls, letter type for letters) between the two arms the method compares: assisted vs unassisted live items (concurrent_control), assisted vs pre-period items (pre_go_live), assisted vs unassisted items of the people with both (within_actor), the treated units' items in the month vs their base months (did); 0 = same mix
-- column pretrend_p: did: p-value of the joint pre-trend placebo test; null for other methods and without placebo periods
-- column pretrend_periods: did: placebo effects in that test
-- column n_control_units: did: units never or not yet live the month compares with
-- column n_people_both: within_actor: people with both assisted and unassisted items in the month (its clusters; under 11 the row is suppressed)
-- column suppressed: fewer than 11 assisted items, baseline items or assisted people (or, for within_actor, people with both kinds of items): the finance tables null every figure of the row
-- column methods_disagree: the row's 95 % interval and another method's do not overlap (both rows shown, with intervals); null when the row is suppressed, has no interval, or no other method has a shown row with an interval
-- column disagrees_with: the methods whose interval does not overlap the row's (as methods_disagree), sorted
-- column diagnostics: the checks the row fails, by name: pretrend_failed (did, pretrend_p < 0.05), no_pretrend_periods (did), few_people_both_arms (within_actor, under 11), imbalanced_arms (balance_max_smd >= 0.1), low_share_assisted (share_assisted < 0.05), no_interval, disagrees_with_<method> (one per method in disagrees_with); empty when it passes every check that applies
-- column recommended_step: the step of the rule (1–5, table comment) that applies to the row; the row with the lowest step (ties: did, within_actor, concurrent_control, pre_go_live) is recommended
-- column recommended: the one method recommended for the workflow, metric, org unit and month, by the rule in the table comment
create or replace table attribution_estimates as
with estimates as (  -- one model per method, all in the common estimate shape
  select * from estimate_concurrent_control
  union all by name
  select * from estimate_pre_go_live
  union all by name
  select * from estimate_within_actor
  union all by name
  select * from estimate_did
),
intervals as (  -- the method's own interval, else estimate ± t(0.975, df) × se with df rounded down
  select e.* replace (
      coalesce(e.saving_ci_low, e.saving_per_item - t.t975 * e.saving_se) as saving_ci_low,
      coalesce(e.saving_ci_high, e.saving_per_item + t.t975 * e.saving_se) as saving_ci_high,
      coalesce(e.total_saving_ci_low, e.total_saving_per_item - z.t975 * e.total_saving_se) as total_saving_ci_low,
      coalesce(e.total_saving_ci_high, e.total_saving_per_item + z.t975 * e.total_saving_se) as total_saving_ci_high)
  from estimates e
  left join t_quantiles t on t.df = least(greatest(floor(e.saving_df + 1e-9), 1), 1000)::int
  left join t_quantiles z on z.df = least(greatest(floor(e.total_saving_df + 1e-9), 1), 1000)::int
),
available as (  -- the share of assisted items where the tool was available, per subtree and month
  select x.workflow, x.metric, s.ancestor as org_unit, x.month, sum(x.n1) / nullif(sum(x.n), 0) as share_assisted
  from (select workflow, metric, org_unit, month, count(value) filter (where assisted) as n1, count(value) as n
        from work_items where live or assisted group by all) x
  join org_subtree s on s.org_unit = x.org_unit
  group by all
),
flagged as (
  select i.*, a.share_assisted,
    i.n_assisted < 11 or i.n_baseline < 11 or i.assisted_actors < 11 or coalesce(i.n_people_both < 11, false)
      as suppressed
  from intervals i
  left join available a using (workflow, metric, org_unit, month)
),
disagreements as (  -- shown rows with intervals, against every other method's shown row with an interval
  select a.workflow, a.metric, a.org_unit, a.month, a.method,
    coalesce(list(b.method order by b.method)
               filter (where a.saving_ci_high < b.saving_ci_low or b.saving_ci_high < a.saving_ci_low), [])
      as disagrees_with
  from flagged a
  join flagged b on b.workflow = a.workflow and b.metric = a.metric and b.org_unit = a.org_unit
    and b.month = a.month and b.method <> a.method
  where not a.suppressed and not b.suppressed and a.saving_ci_low is not null and b.saving_ci_low is not null
  group by all
),
checks as (
  select f.*, len(d.disagrees_with) > 0 as methods_disagree, coalesce(d.disagrees_with, []) as disagrees_with,
    [x for x in [
      case when f.method = 'did' and f.pretrend_p < 0.05 then 'pretrend_failed' end,
      case when f.method = 'did' and f.pretrend_periods = 0 then 'no_pretrend_periods' end,
      case when f.method = 'within_actor' and f.n_people_both < 11 then 'few_people_both_arms' end,
      case when f.balance_max_smd >= 0.1 then 'imbalanced_arms' end,
      case when f.share_assisted < 0.05 then 'low_share_assisted' end,
      case when f.saving_ci_low is null then 'no_interval' end] if x is not null]
    || [('disagrees_with_' || m) for m in coalesce(d.disagrees_with, [])] as diagnostics,
    case
      when f.method = 'did' and not f.suppressed and f.n_control_units > 0 and f.pretrend_periods > 0
        and f.pretrend_p >= 0.05 and f.saving_ci_low is not null then 1
      when f.method = 'within_actor' and not f.suppressed and f.saving_ci_low is not null then 2
      when f.method = 'concurrent_control' and not f.suppressed and f.balance_max_smd < 0.1
        and f.saving_ci_low is not null then 3
      when f.method = 'pre_go_live' and not f.suppressed and f.saving_ci_low is not null then 4
      else 5
    end as recommended_step
  from flagged f
  left join disagreements d using (workflow, metric, org_unit, month, method)
),
final as (
  select workflow, metric, org_unit, month, method, n_assisted, n_baseline, n_without_metric,
    assisted_mean, baseline_mean, assisted_median, assisted_p90, baseline_median, baseline_p90,
    saving_per_item, saving_se, saving_df, saving_ci_low, saving_ci_high, assisted_actors, hourly_cost_usd,
    units_covered, total_saving_per_item, total_saving_se, total_saving_df, total_saving_ci_low,
    total_saving_ci_high, share_assisted, balance_max_smd, pretrend_p, pretrend_periods, n_control_units,
    n_people_both, suppressed, methods_disagree, disagrees_with, diagnostics, recommended_step,
    row_number() over (
      partition by workflow, metric, org_unit, month
      order by recommended_step,
        case method when 'did' then 1 when 'within_actor' then 2 when 'concurrent_control' then 3
                    when 'pre_go_live' then 4 else 5 end,
        method) = 1 as recommended
  from checks
)
select * from final order by workflow, metric, month, org_unit, method
