-- estimate_within_actor: the within_actor method in the common estimate shape: the saving per assisted item
-- measured inside each person's own items of the month (OLS of the metric on `assisted` with person fixed
-- effects), pooled over people, with a 95 % interval clustered by person (CR1 as fixest, t with G − 1 degrees of
-- freedom). Robust to who chooses the tool and to trends across months; it assumes that within a person and
-- month, which items get the AI is unrelated to how long they would take. Computed from per-person sums (n, n
-- assisted, Σ y, Σ y assisted): β = Σ Sdd·(ȳ₁ − ȳ₀) / Σ Sdd with Sdd = n₁n₀/n per person; saving = −β.
-- grain: one row per workflow, metric, org unit (every level, items pooled over its subtree) and month with assisted items
-- column workflow: the workflow
-- column metric: the measure compared (work_items.metric): staff time or a service level
-- column org_unit: the org unit; items of its whole subtree (a person's items in two of its units are one person)
-- column month: YYYY-MM of the items
-- column method: always within_actor
-- column n_assisted: assisted items with the metric, of every person (hours saved = saving × this; the items of people with assisted items only count here, though they inform no comparison)
-- column n_baseline: unassisted items with the metric of the people who have both kinds (the comparison's baseline)
-- column n_without_metric: items where the tool was available (live or assisted) that carry no value of the metric (counted, never imputed)
-- column assisted_mean: mean metric of the compared assisted items (people with both kinds), in the metric's unit
-- column baseline_mean: assisted_mean + saving_per_item: what the compared assisted items would have taken without the AI
-- column saving_per_item: −β of metric ~ assisted | person, in the metric's unit
-- column saving_se: CR1 standard error clustered by person, as fixest: sqrt(G / (G − 1) · (N − 1) / (N − 2) · Σ_p u_p²) / Σ_p Sdd_p, u_p = Sdy_p − β·Sdd_p the person's score, N the compared items
-- column saving_df: G − 1 (G: people with both kinds of items)
-- column saving_ci_low: lower bound of the 95 % interval: saving − t(0.975, G − 1) × se
-- column saving_ci_high: upper bound of the 95 % interval
-- column assisted_actors: distinct people behind the assisted items
-- column hourly_cost_usd: mean hourly cost of the assisted items' actors (item-weighted, roster rate at the item), USD; null under 11 people
-- column units_covered: the org units whose items the row counts (items where the tool was available), sorted
-- column n_people_both: people with both assisted and unassisted items in the month (the clusters G; the row is suppressed under 11)
-- column balance_max_smd: largest absolute standardized difference, over the kinds of work (work_items.stratum: queue, letter type), between the compared assisted and unassisted items of the people with both: |p₁ − p₀| / sqrt(p̄(1 − p̄)), p̄ the share of the kind over both arms
-- column total_saving_per_item: the same estimate on total agent time (handle + ACW, work_items.total_value); null when the metric has none (letters)
-- column total_saving_se: its standard error (CR1, clustered by person)
-- column total_saving_df: G − 1
-- column total_saving_ci_low: lower bound of its 95 % interval
-- column total_saving_ci_high: upper bound of its 95 % interval
create or replace table estimate_within_actor as
with items as (  -- items where the tool was available: live, or assisted anyway
  select i.workflow, i.metric, i.org_unit, i.actor_key, i.month, i.assisted, i.value,
    case when i.value is not null then i.total_value end as total_value,
    coalesce(i.stratum, '') as stratum, c.hourly_cost_usd
  from work_items i
  left join item_costs c on c.workflow = i.workflow and c.item_id = i.item_id
  where i.live or i.assisted
),
unit_people as (  -- exact decimal sums per person and unit: the same figures in any order, additive up the tree
  select workflow, metric, org_unit, month, actor_key,
    count(value) as n, count(value) filter (where assisted) as n1, count(*) - count(value) as n_without,
    sum(value::decimal(38, 18)) as sy, sum(value::decimal(38, 18)) filter (where assisted) as sy1,
    sum(total_value::decimal(38, 18)) as sz, sum(total_value::decimal(38, 18)) filter (where assisted) as sz1,
    sum(hourly_cost_usd::decimal(18, 6)) filter (where assisted and value is not null) as cost_sum,
    count(hourly_cost_usd) filter (where assisted and value is not null) as cost_n
  from items group by all
),
people as materialized (  -- each person's sums over the subtree
  select p.workflow, p.metric, s.ancestor as org_unit, p.month, p.actor_key,
    sum(p.n)::bigint as n, sum(p.n1)::bigint as n1, sum(p.n_without)::bigint as n_without,
    sum(p.sy) as sy, sum(p.sy1) as sy1, sum(p.sz) as sz, sum(p.sz1) as sz1,
    sum(p.cost_sum) as cost_sum, sum(p.cost_n)::bigint as cost_n
  from unit_people p join org_subtree s on s.org_unit = p.org_unit
  group by all
),
-- the people with both kinds of items, and their within-person cross-products (Sdd = Σ (d − d̄)², Sdy = Σ (d − d̄) y)
both_arms as materialized (
  select *, n1 * (n - n1) / n as sdd, sy1::double - n1 * sy::double / n as sdy,
    sz1::double - n1 * sz::double / n as sdz
  from people where n1 > 0 and n1 < n
),
pooled as (
  select workflow, metric, org_unit, month, count(*) as g, sum(n1)::bigint as n1, sum(n - n1)::bigint as n0,
    sum(sy1)::double / sum(n1) as assisted_mean,
    sum(sdd::decimal(38, 18))::double as sdd,
    sum(sdy::decimal(38, 18))::double / sum(sdd::decimal(38, 18))::double as beta,
    sum(sdz::decimal(38, 18))::double / sum(sdd::decimal(38, 18))::double as beta_z
  from both_arms group by all
),
-- person scores u_p = Σ (d − d̄_p) · residual = Sdy_p − β · Sdd_p; CR1 small-sample factor as fixest counts it
-- (person effects nested in the clusters: the coefficient and one absorbed intercept, K = 2)
clustered as (
  select p.workflow, p.metric, p.org_unit, p.month,
    sqrt(p.g / (p.g - 1) * (p.n1 + p.n0 - 1) / (p.n1 + p.n0 - 2)
         * sum(pow(b.sdy - p.beta * b.sdd, 2)::decimal(38, 12))::double) / p.sdd as se,
    sqrt(p.g / (p.g - 1) * (p.n1 + p.n0 - 1) / (p.n1 + p.n0 - 2)
         * sum(pow(b.sdz - p.beta_z * b.sdd, 2)::decimal(38, 12))::double) / p.sdd as se_z
  from pooled p
  join both_arms b using (workflow, metric, org_unit, month)
  where p.g > 1
  group by p.workflow, p.metric, p.org_unit, p.month, p.g, p.n1, p.n0, p.beta, p.beta_z, p.sdd
),
everyone as (  -- every person's assisted items count for hours (and their people and cost)
  select workflow, metric, org_unit, month, sum(n1)::bigint as n_assisted, sum(n_without)::bigint as n_without,
    count(*) filter (where n1 > 0) as actors, sum(cost_sum) as cost_sum, sum(cost_n)::bigint as cost_n
  from people group by all
),
covered as (
  select u.workflow, u.metric, s.ancestor as org_unit, u.month, list(distinct u.org_unit order by u.org_unit) as units
  from (select distinct workflow, metric, org_unit, month from unit_people where n > 0) u
  join org_subtree s on s.org_unit = u.org_unit
  group by all
),
-- balance: the kinds of work of the compared assisted and unassisted items (people with both kinds)
strata as (  -- per person, unit and kind; rolled up to the people with both kinds in the subtree
  select workflow, metric, org_unit, month, actor_key, stratum,
    count(value) filter (where assisted) as a, count(value) filter (where not assisted) as b
  from items group by all
),
strata_compared as (
  select x.workflow, x.metric, s.ancestor as org_unit, x.month, x.stratum, sum(x.a) as a, sum(x.b) as b
  from strata x
  join org_subtree s on s.org_unit = x.org_unit
  join both_arms p on p.workflow = x.workflow and p.metric = x.metric and p.org_unit = s.ancestor
    and p.month = x.month and p.actor_key = x.actor_key
  group by all
),
strata_shares as (
  select *, a / sum(a) over arms as p1, b / sum(b) over arms as p0,
    (a + b) / sum(a + b) over arms as pooled
  from strata_compared
  window arms as (partition by workflow, metric, org_unit, month)
),
balance as (
  select workflow, metric, org_unit, month,
    max(case when pooled > 0 and pooled < 1 then abs(p1 - p0) / sqrt(pooled * (1 - pooled)) else 0 end)
      as balance_max_smd
  from strata_shares group by all
),
final as (
  select e.workflow, e.metric, e.org_unit, e.month, 'within_actor' as method,
    e.n_assisted, coalesce(p.n0, 0) as n_baseline, e.n_without as n_without_metric,
    p.assisted_mean, p.assisted_mean - p.beta as baseline_mean,
    -p.beta as saving_per_item, k.se as saving_se, p.g - 1 as saving_df,
    -p.beta - t.t975 * k.se as saving_ci_low, -p.beta + t.t975 * k.se as saving_ci_high,
    e.actors as assisted_actors,
    case when e.actors >= 11 then e.cost_sum::double / nullif(e.cost_n, 0) end as hourly_cost_usd,
    c.units as units_covered,
    coalesce(p.g, 0) as n_people_both,
    b.balance_max_smd,
    -p.beta_z as total_saving_per_item, k.se_z as total_saving_se, p.g - 1 as total_saving_df,
    -p.beta_z - t.t975 * k.se_z as total_saving_ci_low, -p.beta_z + t.t975 * k.se_z as total_saving_ci_high
  from everyone e
  join covered c using (workflow, metric, org_unit, month)
  left join pooled p using (workflow, metric, org_unit, month)
  left join clustered k using (workflow, metric, org_unit, month)
  left join balance b using (workflow, metric, org_unit, month)
  left join t_quantiles t on t.df = least(greatest(p.g - 1, 1), 1000)
  where e.n_assisted > 0
)
select * from final order by workflow, metric, month, org_unit
