-- estimate_within_actor: the saving per assisted item measured inside each person's own items of the month
-- (actor fixed effects, binary treatment), pooled over people, with a 95 % interval clustered by person (CR1, t with
-- G − 1 degrees of freedom). Robust to who chooses the tool and to trends across months; it assumes that within a
-- person and month, which items get the AI is unrelated to how long they would take.
-- grain: one row per workflow, org unit (every level, items pooled over its subtree) and month
-- column workflow: the workflow
-- column metric: the workflow's metric (acw_seconds, work_seconds)
-- column org_unit: the org unit; figures pool the items of its whole subtree
-- column month: YYYY-MM
-- column n_assisted: assisted items of the subtree in the month (hours saved = saving × this)
-- column n_people: people with both assisted and unassisted items in the month (the clusters G)
-- column n_people_one_arm: people with items of one kind only (no within-person comparison)
-- column n_compared_assisted: assisted items of the n_people
-- column n_compared_unassisted: unassisted items of the n_people
-- column assisted_mean: mean metric of the compared assisted items
-- column baseline_mean: assisted_mean + saving_per_item: what the compared assisted items would have taken without the AI
-- column saving_per_item: −β of value ~ assisted | person (OLS with person fixed effects), in the metric's unit
-- column saving_se: CR1 standard error as fixest: sqrt(G / (G − 1) · (N − 1) / (N − 2) · Σ_p u_p²) / Σ_p Sdd_p, u_p the person's score, N the compared items
-- column df: G − 1
-- column saving_ci_low: lower bound of the 95 % interval (t with df)
-- column saving_ci_high: upper bound of the 95 % interval
-- column total_saving_per_item: the same estimate on total agent time (handle + ACW); null for letters
-- column total_saving_ci_low: lower bound of its 95 % interval
-- column total_saving_ci_high: upper bound of its 95 % interval
create or replace table estimate_within_actor as
with items as (  -- items where the tool was available: live, or assisted anyway
  select i.workflow, i.metric, s.ancestor as org_unit, i.month_start, i.actor_key, i.value, i.total_value,
    i.assisted
  from work_items i join org_subtree s on s.org_unit = i.org_unit
  where i.live or i.assisted
),
-- per person: counts and sums, then the within-person (demeaned) cross-products
people as (
  select workflow, metric, org_unit, month_start, actor_key, count(*) as n, count(*) filter (assisted) as n1,
    sum(value) as sy, sum(value) filter (assisted) as sy1,
    sum(total_value) as sz, sum(total_value) filter (assisted) as sz1
  from items group by workflow, metric, org_unit, month_start, actor_key
),
both_arms as (
  select *, n1 * (n - n1) / n as sdd, sy1 - n1 * sy / n as sdy, sz1 - n1 * sz / n as sdz
  from people where n1 > 0 and n1 < n
),
pooled as (
  select workflow, metric, org_unit, month_start, count(*) as g, sum(n1) as n1, sum(n - n1) as n0,
    sum(sy1) / sum(n1) as assisted_mean, sum(sdd) as sdd, sum(sdy) / sum(sdd) as beta,
    sum(sdz) / sum(sdd) as beta_z
  from both_arms group by workflow, metric, org_unit, month_start
),
-- person scores u_p = Σ (d − d̄_p) · residual = Sdy_p − β · Sdd_p; CR1 small-sample factor as fixest counts it
-- (person effects nested in the clusters: the coefficient and one absorbed intercept, K = 2)
clustered as (
  select p.workflow, p.org_unit, p.month_start,
    sqrt(p.g / (p.g - 1) * (p.n1 + p.n0 - 1) / (p.n1 + p.n0 - 2) * sum(pow(b.sdy - p.beta * b.sdd, 2))) / p.sdd as se,
    sqrt(p.g / (p.g - 1) * (p.n1 + p.n0 - 1) / (p.n1 + p.n0 - 2) * sum(pow(b.sdz - p.beta_z * b.sdd, 2))) / p.sdd
      as se_z
  from pooled p
  join both_arms b on b.workflow = p.workflow and b.org_unit = p.org_unit and b.month_start = p.month_start
  where p.g > 1
  group by p.workflow, p.org_unit, p.month_start, p.g, p.n1, p.n0, p.beta, p.beta_z, p.sdd
),
coverage as (
  select workflow, metric, org_unit, month_start, sum(n1) as n_assisted,
    count(*) filter (n1 = 0 or n1 = n) as n_people_one_arm
  from people group by workflow, metric, org_unit, month_start
),
final as (
  select c.workflow, c.metric, c.org_unit, strftime(c.month_start, '%Y-%m') as month, c.n_assisted,
    coalesce(p.g, 0) as n_people, c.n_people_one_arm,
    coalesce(p.n1, 0) as n_compared_assisted, coalesce(p.n0, 0) as n_compared_unassisted,
    p.assisted_mean, p.assisted_mean - p.beta as baseline_mean,
    -p.beta as saving_per_item, k.se as saving_se, p.g - 1 as df,
    -p.beta - t.t975 * k.se as saving_ci_low, -p.beta + t.t975 * k.se as saving_ci_high,
    -p.beta_z as total_saving_per_item,
    -p.beta_z - t.t975 * k.se_z as total_saving_ci_low, -p.beta_z + t.t975 * k.se_z as total_saving_ci_high
  from coverage c
  left join pooled p on p.workflow = c.workflow and p.org_unit = c.org_unit and p.month_start = c.month_start
  left join clustered k on k.workflow = c.workflow and k.org_unit = c.org_unit and k.month_start = c.month_start
  left join t_quantiles t on t.df = least(greatest(p.g - 1, 1), 1000)
)
select * from final order by workflow, org_unit, month
