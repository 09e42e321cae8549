    -- The context row, inserted once per context: the backend remembers, where no session
    -- can forge it, that the row is there (again after a subtransaction holding it aborted).
    if written > 0 then
        fresh := warden_wal.audit_record(seq);
    end if;
