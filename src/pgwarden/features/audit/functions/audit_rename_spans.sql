-- function warden.audit_rename_spans(integer,timestamp with time zone)
-- The translations to use for events after p_at, one per span of time between two recorded
-- column changes: an event at E in [from_at, to_at) translates with moves. Events after the
-- last change need none (no row).
CREATE OR REPLACE FUNCTION warden.audit_rename_spans(p_table_id integer, p_at timestamp with time zone) RETURNS TABLE(from_at timestamp with time zone, to_at timestamp with time zone, moves jsonb)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select s.lo, s.hi, m.moves
      from (select b.lo, lead(b.lo) over (order by b.lo) as hi
              from (select p_at as lo
                    union
                    select c.since from warden.audit_columns c
                     where c.table_id = p_table_id and c.since > p_at) b) s
     cross join lateral (select warden.audit_moves(p_table_id, s.lo) as moves) m
     where s.hi is not null and m.moves is not null
$$;
REVOKE ALL ON FUNCTION warden.audit_rename_spans(p_table_id integer, p_at timestamp with time zone) FROM PUBLIC;
