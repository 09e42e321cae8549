    -- Written whenever events were, not only when the flag says it is missing: the flag is a
    -- setting any session can change, and must not be able to leave events without context.
    if written > 0 then
        insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, reason,
                request_id, login_role, acting_role, client_addr, application_name, backend_pid)
        values (txv, seq, now(),
                nullif(current_setting('pgwarden.actor', true), ''),
                nullif(current_setting('pgwarden.tenant', true), ''),
                nullif(current_setting('pgwarden.reason', true), ''),
                nullif(current_setting('pgwarden.request_id', true), ''),
                session_user,
                -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
                coalesce(nullif(current_setting('role'), 'none'), session_user),
                inet_client_addr(), current_setting('application_name'), pg_backend_pid())
        on conflict do nothing;
        if fresh then
            -- Transaction-local, like the settings it summarises: numbers the next context.
            flag := set_config('pgwarden._context', txv::text || ':' || seq || ':' || sig, true);
            -- Wakes `pgwarden changes --follow` readers, delivered once at commit, when one
            -- follows (each holds the followers' lock, shared). Not otherwise: every commit
            -- that notifies waits until the one before it, in any database, is flushed.
            if pg_try_advisory_lock(5898209076311306152) then
                flag := pg_advisory_unlock(5898209076311306152)::text;
            else
                flag := pg_notify('pgwarden_changes', '')::text;
            end if;
        end if;
    end if;
