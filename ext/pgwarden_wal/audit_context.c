/*
 * Trigger capture's context, in C (capture = "trigger", when this extension is installed).
 *
 * warden_wal.audit_seq() and warden_wal.audit_record(seq) do what the context block of a
 * PL/pgSQL capture function does (src/pgwarden/features/audit/_context.sql and
 * _context_record.sql), with the same flag (pgwarden._context), the same numbering and the
 * same context row, so one transaction may write tables captured by either.
 *
 * The PL/pgSQL block inserts the context row (ON CONFLICT DO NOTHING) after every statement
 * that wrote events: the flag is a setting any session can change, so it cannot be trusted to
 * say the row is there.  Here what this backend itself inserted, or found already there, is
 * remembered in its own memory, which no SQL can change: the INSERT runs once per context,
 * not once per statement.  A subtransaction that aborts forgets it (the row may have gone
 * with it); so does the end of the transaction.
 *
 * Both run as their caller: the capture function, SECURITY DEFINER, as the store's owner.
 * Called by any other role, the INSERT fails (no privilege on warden.audit_contexts) and
 * nothing is remembered.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/xid8.h"

#include "pgwarden_wal.h"

#define CONTEXT_FLAG "pgwarden._context"
#define CHANNEL "pgwarden_changes"
#define UNIT_SEPARATOR '\x1f'
/* The followers' lock: the first 64 bits of md5('pgwarden_changes'), as a bigint. */
#define FOLLOWERS INT64CONST(5898209076311306152)

/* The declared context: concat_ws(chr(31), ...) of these makes the flag's signature. */
static const char *const declared[] = {
	"pgwarden.actor", "pgwarden.tenant", "pgwarden.reason", "pgwarden.request_id"
};

/* What audit_seq() found, for audit_record() in the same statement. */
static FullTransactionId numbered_fxid;
static int	numbered_seq;
static bool numbered_fresh;
static char *numbered_flag;		/* the flag to set when fresh (TopMemoryContext) */

/* The context row this backend knows to be in the store, and the subtransaction it is in. */
static FullTransactionId recorded_fxid;
static int	recorded_seq;
static SubTransactionId recorded_subid = InvalidSubTransactionId;

static SPIPlanPtr insert_plan;

static const char *const insert_sql =
	"insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, "
	"reason, request_id, login_role, acting_role, client_addr, application_name, backend_pid) "
	"values ($1, $2, pg_catalog.now(), "
	"nullif(pg_catalog.current_setting('pgwarden.actor', true), ''), "
	"nullif(pg_catalog.current_setting('pgwarden.tenant', true), ''), "
	"nullif(pg_catalog.current_setting('pgwarden.reason', true), ''), "
	"nullif(pg_catalog.current_setting('pgwarden.request_id', true), ''), "
	"session_user, "
	"coalesce(nullif(pg_catalog.current_setting('role'), 'none'), session_user), "
	"pg_catalog.inet_client_addr(), pg_catalog.current_setting('application_name'), "
	"pg_catalog.pg_backend_pid()) "
	"on conflict do nothing";

PG_FUNCTION_INFO_V1(pgwarden_audit_seq);
PG_FUNCTION_INFO_V1(pgwarden_audit_record);

static void
forget_at_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
				  void *arg)
{
	if (recorded_subid == InvalidSubTransactionId || recorded_subid < mySubid)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		recorded_subid = InvalidSubTransactionId;
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		recorded_subid = parentSubid;	/* the row is the parent's now */
}

static void
forget_at_xact(XactEvent event, void *arg)
{
	recorded_subid = InvalidSubTransactionId;
	numbered_fxid = InvalidFullTransactionId;
}

void
pgwarden_audit_context_init(void)
{
	RegisterXactCallback(forget_at_xact, NULL);
	RegisterSubXactCallback(forget_at_subxact, NULL);
}

/*
 * Whether a reader of the change feed follows it: each holds the followers' lock (advisory,
 * bigint FOLLOWERS) shared while it does.  Tested with a mode that conflicts with theirs and
 * not with itself, so writers never wait for one another here, and let go at once.
 */
static bool
followed(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (FOLLOWERS >> 32), (uint32) FOLLOWERS, 1);
	if (LockAcquire(&tag, RowExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, RowExclusiveLock, false);
	return false;
}

/* current_setting(name, true): NULL when it was never set. */
static char *
setting(const char *name)
{
	return GetConfigOptionByName(name, NULL, true);
}

/*
 * seq := the flag's number when the flag is this transaction's, + 1 (fresh) when the declared
 * context changed since; 1 (fresh) when the flag is another transaction's or missing.  Read
 * as PL/pgSQL reads it: split_part(flag, ':', 1) = txid, split_part(flag, ':', 2)::int.
 */
int
pgwarden_audit_seq_internal(void)
{
	FullTransactionId fxid = GetTopFullTransactionId();
	char		txid[32];
	char	   *flag = setting(CONTEXT_FLAG);
	StringInfoData signature;
	StringInfoData mine;
	int			seq = 1;
	bool		fresh = true;
	bool		first = true;

	snprintf(txid, sizeof(txid), UINT64_FORMAT, U64FromFullTransactionId(fxid));
	if (flag != NULL && strcspn(flag, ":") == strlen(txid) &&
		strncmp(flag, txid, strlen(txid)) == 0)
	{
		const char *number = flag[strlen(txid)] == ':' ? flag + strlen(txid) + 1 : "";
		char	   *part = pnstrdup(number, strcspn(number, ":"));

		seq = DatumGetInt32(DirectFunctionCall1(int4in, CStringGetDatum(part)));
		fresh = false;
	}
	/* concat_ws(chr(31), the declared settings): those never set are left out */
	initStringInfo(&signature);
	for (int i = 0; i < lengthof(declared); i++)
	{
		char	   *value = setting(declared[i]);

		if (value == NULL)
			continue;
		if (!first)
			appendStringInfoChar(&signature, UNIT_SEPARATOR);
		appendStringInfoString(&signature, value);
		first = false;
	}
	initStringInfo(&mine);
	appendStringInfo(&mine, "%s:%d:%s", txid, seq, signature.data);
	if (!fresh && strcmp(flag, mine.data) != 0)
	{
		seq = seq + 1;			/* the context changed mid-transaction */
		resetStringInfo(&mine);
		appendStringInfo(&mine, "%s:%d:%s", txid, seq, signature.data);
		fresh = true;
	}
	numbered_fxid = fxid;
	numbered_seq = seq;
	numbered_fresh = fresh;
	if (numbered_flag != NULL)
		pfree(numbered_flag);
	numbered_flag = fresh ? MemoryContextStrdup(TopMemoryContext, mine.data) : NULL;
	pfree(mine.data);
	pfree(signature.data);
	return seq;
}

Datum
pgwarden_audit_seq(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(pgwarden_audit_seq_internal());
}

/*
 * After a statement that wrote events numbered seq: their context row (once per context,
 * and again after a subtransaction holding it aborted); when the context is new, the flag
 * and the NOTIFY waking `pgwarden changes --follow` readers.  Returns whether it was new.
 */
bool
pgwarden_audit_record_internal(int seq)
{
	FullTransactionId fxid = GetTopFullTransactionId();
	bool		fresh = true;

	if (FullTransactionIdEquals(fxid, numbered_fxid) && seq == numbered_seq)
		fresh = numbered_fresh;
	if (recorded_subid == InvalidSubTransactionId ||
		!FullTransactionIdEquals(fxid, recorded_fxid) || seq != recorded_seq)
	{
		Oid			types[2] = {XID8OID, INT4OID};
		Datum		values[2] = {FullTransactionIdGetDatum(fxid), Int32GetDatum(seq)};
		int			result;

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "pgwarden_wal: SPI_connect failed");
		if (insert_plan == NULL)
		{
			SPIPlanPtr	plan = SPI_prepare(insert_sql, 2, types);

			if (plan == NULL)
				elog(ERROR, "pgwarden_wal: SPI_prepare failed: %s",
					 SPI_result_code_string(SPI_result));
			if (SPI_keepplan(plan) != 0)
				elog(ERROR, "pgwarden_wal: SPI_keepplan failed");
			insert_plan = plan;
		}
		result = SPI_execute_plan(insert_plan, values, NULL, false, 0);
		if (result != SPI_OK_INSERT)
			elog(ERROR, "pgwarden_wal: context insert failed: %s",
				 SPI_result_code_string(result));
		SPI_finish();
		/* Inserted now, or there already (same transaction): in this subtransaction or above. */
		recorded_fxid = fxid;
		recorded_seq = seq;
		recorded_subid = GetCurrentSubTransactionId();
	}
	if (fresh)
	{
		if (numbered_flag == NULL || !FullTransactionIdEquals(fxid, numbered_fxid) ||
			seq != numbered_seq)
			elog(ERROR, "pgwarden_wal: audit_record(%d) without audit_seq() before it", seq);
		/* Transaction-local, like the settings it summarises: numbers the next context. */
		(void) set_config_option(CONTEXT_FLAG, numbered_flag, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_LOCAL, true, 0, false);
		/* Wakes `pgwarden changes --follow` readers; delivered once, at commit. */
		if (followed())
			Async_Notify(CHANNEL, "");
		numbered_fresh = false;
	}
	return fresh;
}

Datum
pgwarden_audit_record(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(pgwarden_audit_record_internal(PG_GETARG_INT32(0)));
}
