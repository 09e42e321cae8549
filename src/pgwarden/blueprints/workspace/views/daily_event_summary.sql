-- Events per organization, day and source (Linear, GitHub, Slack).
select e.organization_id,
       (e.occurred_at at time zone 'UTC')::date as day,
       e.source,
       count(*) as events,
       count(distinct e.event_type) as event_types
  from workspace.events e
 group by 1, 2, 3
