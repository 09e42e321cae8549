    -- The transaction's context, recorded once per transaction (again if the settings change
    -- mid-transaction). The flag is transaction-local, like the context settings themselves.
    sig := concat_ws(chr(31), current_setting('pgwarden.actor', true),
                     current_setting('pgwarden.tenant', true),
                     current_setting('pgwarden.reason', true),
                     current_setting('pgwarden.request_id', true));
    flag := current_setting('pgwarden._context', true);
    xid := pg_current_xact_id()::text;
    if flag is not null and split_part(flag, ':', 1) = xid
       and flag = xid || ':' || split_part(flag, ':', 2) || ':' || sig then
        ctx := split_part(flag, ':', 2)::bigint;
    else
        ctx := nextval('warden.audit_context_seq');
        insert into warden.audit_contexts (context_id, txid, tx_started_at, actor, tenant, reason,
                request_id, login_role, acting_role, client_addr, application_name, backend_pid)
        values (ctx, pg_current_xact_id(), now(),
                nullif(current_setting('pgwarden.actor', true), ''),
                nullif(current_setting('pgwarden.tenant', true), ''),
                nullif(current_setting('pgwarden.reason', true), ''),
                nullif(current_setting('pgwarden.request_id', true), ''),
                session_user,
                -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
                coalesce(nullif(current_setting('role'), 'none'), session_user),
                inet_client_addr(), current_setting('application_name'), pg_backend_pid());
        perform set_config('pgwarden._context', xid || ':' || ctx || ':' || sig, true);
        -- Wakes `pgwarden changes --follow` readers; delivered once, at commit.
        perform pg_notify('pgwarden_changes', '');
    end if;
