    -- The transaction's context is recorded once per transaction (again, with the next
    -- sequence number, if the settings change mid-transaction). Simple expressions only.
    sig := concat_ws(chr(31), current_setting('pgwarden.actor', true),
                     current_setting('pgwarden.tenant', true),
                     current_setting('pgwarden.reason', true),
                     current_setting('pgwarden.request_id', true));
    flag := current_setting('pgwarden._context', true);
    if flag is not null and split_part(flag, ':', 1) = txv::text then
        seq := split_part(flag, ':', 2)::int;
        if flag <> txv::text || ':' || seq || ':' || sig then
            seq := seq + 1;
            fresh := true;
        end if;
    else
        seq := 1;
        fresh := true;
    end if;
