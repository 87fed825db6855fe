-- adoption_monthly: who uses each tool, per org unit and month, against the seats licensed.
-- grain: one row per tool, org unit (every level, distinct people of its subtree) and month
-- column tool: copilot, call_summarization or lmn_drafting
-- column org_unit: the org unit; people of its whole subtree, each counted once
-- column level: the org unit's level
-- column month: YYYY-MM
-- column seats: licensed seats of the tool in the subtree and month (licenses.csv)
-- column active_users: people with at least one use in the month (copilot assist; call_summarization summary_reviewed; lmn_drafting letter_drafted with ai_drafted)
-- column sustained_users: people with a use in at least 3 of the 4 ISO weeks ending with the week that holds the month's last day
-- column active_rate: active_users / seats
-- column sustained_rate: sustained_users / seats
-- column suppressed: fewer than 11 active people: user counts and rates are null
create or replace table adoption_monthly as
with uses as (
  select tool, org_unit, actor_key, month, week_start from events
  where (tool = 'copilot' and event_type = 'assist')
     or (tool = 'call_summarization' and event_type = 'summary_reviewed')
     or (tool = 'lmn_drafting' and event_type = 'letter_drafted' and ai_drafted)
),
months as (
  select distinct month, last_day(strptime(month, '%Y-%m')::date) as last_day from (
    select month from uses union select month from ref_licenses)
),
sustain_window as (  -- the 4 ISO weeks ending with the week of the month's last day
  select month, date_trunc('week', last_day)::date as last_week,
    date_trunc('week', last_day)::date - interval 21 day as first_week
  from months
),
uses_up as (
  select u.tool, s.ancestor, u.actor_key, u.month, u.week_start
  from uses u join org_subtree s on s.org_unit = u.org_unit
),
active as (
  select tool, ancestor, month, count(distinct actor_key) as active_users from uses_up group by all
),
sustained as (
  select tool, ancestor, month, count(*) as sustained_users from (
    select u.tool, u.ancestor, w.month, u.actor_key
    from uses_up u join sustain_window w on u.week_start between w.first_week and w.last_week
    group by all having count(distinct u.week_start) >= 3)
  group by all
),
seats as (
  select l.tool, s.ancestor, l.month, sum(l.seats)::bigint as seats
  from ref_licenses l join org_subtree s on s.org_unit = l.org_unit group by all
),
keys as (
  select tool, ancestor, month from active union select tool, ancestor, month from seats
),
final as (
  select k.tool, k.ancestor as org_unit, o.level, k.month, st.seats,
    case when coalesce(a.active_users, 0) >= 11 then a.active_users end as active_users,
    case when coalesce(a.active_users, 0) >= 11 then coalesce(su.sustained_users, 0) end as sustained_users,
    case when coalesce(a.active_users, 0) >= 11 then a.active_users / nullif(st.seats, 0) end as active_rate,
    case when coalesce(a.active_users, 0) >= 11 then coalesce(su.sustained_users, 0) / nullif(st.seats, 0) end
      as sustained_rate,
    coalesce(a.active_users, 0) < 11 as suppressed
  from keys k
  join org_units o on o.org_unit = k.ancestor
  left join active a using (tool, ancestor, month)
  left join sustained su using (tool, ancestor, month)
  left join seats st using (tool, ancestor, month)
)
select * from final order by tool, month, org_unit;
