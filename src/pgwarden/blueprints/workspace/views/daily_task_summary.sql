-- The seed's daily_task_summary, per organization (the seed's had none: one tenant's
-- dashboard would have counted every tenant's tasks) and over all time rather than the last
-- 90 days (a sliding window changes with the clock, not the data). Live tasks only. The mean
-- duration is minutes / timed: kept as a sum and a count, so that days can be added up.
select t.organization_id,
       (t.created_at at time zone 'UTC')::date as day,
       count(*) as created,
       count(*) filter (where t.status = 'done') as completed,
       coalesce(sum(t.actual_duration_minutes), 0) as minutes,
       count(t.actual_duration_minutes) as timed
  from workspace.tasks t
 where t.deleted_at is null
 group by 1, 2
