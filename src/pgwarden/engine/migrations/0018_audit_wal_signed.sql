-- WAL capture's messages signed. pg_logical_emit_message is executable by every role, so
-- any session can write a message with pgwarden's prefix into the WAL the ingester reads:
-- unsigned, it could claim other roles for its own rows or a TRUNCATE that never happened.
-- Each message pgwarden's capture functions send now ends with a MAC keyed by a secret only
-- the store's owner reads, over the message and its transaction's id (no message can be
-- replayed into another transaction); the ingester drops any message whose MAC is wrong.
--
-- The context (who and why) is now sent once per transaction and again only when it
-- changes, not per statement: statement boundaries matter only inside an UPDATE that changes
-- keys (one row's new key can be another's old key), and those statements are bracketed.

create table if not exists warden.audit_wal_key (
    one    boolean primary key default true check (one),
    secret bytea not null
);
comment on table warden.audit_wal_key is
    'Secret keying the MACs of the WAL capture''s messages (readable only by the owner).';
revoke all on warden.audit_wal_key from public;
-- gen_random_uuid() draws from the server's strong random source: 2 x 122 random bits.
insert into warden.audit_wal_key (secret)
select uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
on conflict do nothing;

-- p_payload with its MAC appended (after chr(31)): sha256(k || sha256(k || txid, payload)),
-- the transaction id as pg_current_xact_id() (64 bits, decimal). For the capture functions,
-- which run as the owner; nobody else may sign.
create or replace function warden.audit_wal_signed(p_payload text) returns text
language sql volatile
set search_path = pg_catalog, pg_temp
as $$
    select p_payload || chr(31) || encode(sha256(k.secret || sha256(k.secret || convert_to(
               pg_current_xact_id()::text || chr(31) || p_payload, getdatabaseencoding()))),
           'hex')
      from warden.audit_wal_key k
$$;
revoke all on function warden.audit_wal_signed(text) from public;
