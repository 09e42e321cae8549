    -- The transaction's context, numbered in C (extension pgwarden_wal): the same flag and
    -- numbers as the PL/pgSQL block, so a transaction may write tables captured by either.
    seq := warden_wal.audit_seq();
