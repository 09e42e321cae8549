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
-- which run as the owner with a fixed search_path; nobody else may sign. (No SET of its
-- own: called once per writing transaction, it would cost ~6 us each time, measured.)
create or replace function warden.audit_wal_signed(p_payload text) returns text
language sql volatile
as $$
    select pg_catalog.concat(p_payload, pg_catalog.chr(31), pg_catalog.encode(pg_catalog.sha256(
               k.secret operator(pg_catalog.||) pg_catalog.sha256(
                   k.secret operator(pg_catalog.||) pg_catalog.convert_to(pg_catalog.concat(
                       pg_catalog.pg_current_xact_id(), pg_catalog.chr(31), p_payload),
                   pg_catalog.getdatabaseencoding()))),
           'hex'))
      from warden.audit_wal_key k
$$;
revoke all on function warden.audit_wal_signed(text) from public;

-- The context, as a short text to compare: when a transaction's flag (pgwarden._said) is not
-- this, its context has not been sent, or has changed since (the transaction id is in it
-- once the transaction has one).
create schema if not exists warden_wal;
comment on schema warden_wal is
    'What every role''s statements call for pgwarden''s WAL capture: the context they send.';
revoke all on schema warden_wal from public;
grant usage on schema warden_wal to public;

create or replace function warden_wal.said() returns text
language sql volatile
as $$
    select pg_catalog.concat(pg_catalog.pg_current_xact_id_if_assigned(), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.actor', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.tenant', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.reason', true), pg_catalog.chr(31),
        pg_catalog.current_setting('pgwarden.request_id', true), pg_catalog.chr(31),
        pg_catalog.current_setting('application_name'), pg_catalog.chr(31),
        pg_catalog.current_setting('role'))
$$;

-- Sends this transaction's context (signed) if it has not been sent as it is now, and
-- remembers it in the flag. Anyone may call it: it only ever says the truth about the
-- caller (who runs the transaction as the database knows it, and what it declares).
create or replace function warden_wal.context() returns text
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    sent pg_lsn;
begin
    if current_setting('pgwarden._said', true) is not distinct from warden_wal.said() then
        return null;
    end if;
    sent := pg_logical_emit_message(true, 'pgwarden.audit', warden.audit_wal_signed(
        'C' || json_build_array(
            session_user,
            -- SECURITY DEFINER hides the caller's current_user; SET ROLE shows here.
            coalesce(nullif(current_setting('role'), 'none'), session_user),
            host(inet_client_addr()), pg_backend_pid(),
            nullif(current_setting('pgwarden.actor', true), ''),
            nullif(current_setting('pgwarden.tenant', true), ''),
            nullif(current_setting('pgwarden.reason', true), ''),
            nullif(current_setting('pgwarden.request_id', true), ''),
            current_setting('application_name'), now())::text));
    -- The transaction has its id now (the message took one): the flag holds it.
    return set_config('pgwarden._said', warden_wal.said(), true);
end
$$;
revoke all on function warden_wal.context() from public;
grant execute on function warden_wal.context() to public;
grant execute on function warden_wal.said() to public;

-- The trigger pgwarden_audit_w of every table captured from the WAL (BEFORE INSERT OR UPDATE
-- OR DELETE, each statement). It runs as the caller, with no settings of its own: a
-- SECURITY DEFINER function with SET search_path costs ~10 us more per call, on every
-- statement. It only tests the flag; warden_wal.context() (which re-tests it as the owner)
-- sends. A caller tampering with what this test sees only keeps its own context out, as
-- forging the flag would.
create or replace function warden.audit_wal_statement() returns trigger
language plpgsql
as $$
declare
    said text;
begin
    if pg_catalog.current_setting('pgwarden._said', true) is distinct from warden_wal.said() then
        said := warden_wal.context();
    end if;
    return null;
end
$$;
