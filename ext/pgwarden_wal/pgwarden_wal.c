/*
 * pgwarden_wal: the statement trigger of pgwarden's WAL capture (capture = "wal"), in C.
 *
 * warden_wal.statement() does what warden.audit_wal_statement() and warden_wal.context() do
 * in PL/pgSQL (migration 0018), for a fraction of their cost on every statement: it builds
 * the transaction's flag (its id once it has one, the declared context, the application and
 * the role), compares it with pgwarden._said, and only when they differ sends the context as
 * a signed transactional logical message and sets the flag.  Flag, message and MAC are byte
 * for byte what the PL/pgSQL functions make, so the ingester checks both alike and one
 * transaction may write tables marked by either.
 *
 * It runs as its caller and only ever says the truth about it: nothing it sends comes from
 * its arguments.  The secret keying the MAC is read from warden.audit_wal_key each time it
 * sends (once per transaction, or when the context changes).
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "pgwarden_wal.h"

PG_MODULE_MAGIC;

#define UNIT_SEPARATOR '\x1f'		/* chr(31), between the flag's and the MAC's parts */
#define MESSAGE_PREFIX "pgwarden.audit"
#define FLAG "pgwarden._said"

/* The declared context, in the order the flag and the message hold it. */
static const char *const declared[] = {
	"pgwarden.actor", "pgwarden.tenant", "pgwarden.reason", "pgwarden.request_id"
};

PG_FUNCTION_INFO_V1(pgwarden_wal_statement);

void		_PG_init(void);

void
_PG_init(void)
{
	pgwarden_audit_context_init();
	pgwarden_audit_capture_init();
	pgwarden_tenant_init();
}

/* A setting as current_setting(name, true) shows it: NULL when it was never set. */
static char *
setting(const char *name)
{
	return GetConfigOptionByName(name, NULL, true);
}

/* nullif(value, '') */
static char *
nonempty(char *value)
{
	return value != NULL && value[0] != '\0' ? value : NULL;
}

static void
append_xid(StringInfo buf, FullTransactionId fxid)
{
	appendStringInfo(buf, UINT64_FORMAT, U64FromFullTransactionId(fxid));
}

/* warden_wal.said(): what the flag holds once this transaction's context has been sent. */
static void
append_said(StringInfo buf)
{
	FullTransactionId fxid = GetTopFullTransactionIdIfAny();
	char	   *value;

	if (FullTransactionIdIsValid(fxid))
		append_xid(buf, fxid);
	for (int i = 0; i < lengthof(declared); i++)
	{
		appendStringInfoChar(buf, UNIT_SEPARATOR);
		if ((value = setting(declared[i])) != NULL)
			appendStringInfoString(buf, value);
	}
	appendStringInfoChar(buf, UNIT_SEPARATOR);
	appendStringInfoString(buf, setting("application_name"));
	appendStringInfoChar(buf, UNIT_SEPARATOR);
	appendStringInfoString(buf, setting("role"));
}

static void
append_json_text(StringInfo buf, const char *value)
{
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/* host(inet_client_addr()): NULL over a Unix socket. */
static char *
client_host(void)
{
	LOCAL_FCINFO(call, 0);
	Datum		address;

	InitFunctionCallInfoData(*call, NULL, 0, InvalidOid, NULL, NULL);
	address = inet_client_addr(call);
	if (call->isnull)
		return NULL;
	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(network_host, address)));
}

/*
 * 'C' || json_build_array(session_user, role, client host, backend pid, actor, tenant,
 * reason, request id, application_name, now()): the payload warden_wal.context() sends.
 */
static void
append_context(StringInfo buf)
{
	char	   *session = GetUserNameFromId(GetSessionUserId(), false);
	char	   *role = setting("role");
	char		now[MAXDATELEN + 1];

	appendStringInfoString(buf, "C[");
	append_json_text(buf, session);
	appendStringInfoString(buf, ", ");
	append_json_text(buf, strcmp(role, "none") != 0 ? role : session);
	appendStringInfoString(buf, ", ");
	append_json_text(buf, client_host());
	appendStringInfo(buf, ", %d", MyProcPid);
	for (int i = 0; i < lengthof(declared); i++)
	{
		appendStringInfoString(buf, ", ");
		append_json_text(buf, nonempty(setting(declared[i])));
	}
	appendStringInfoString(buf, ", ");
	append_json_text(buf, setting("application_name"));
	JsonEncodeDateTime(now, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
					   TIMESTAMPTZOID, NULL);
	appendStringInfo(buf, ", \"%s\"]", now);
}

/*
 * The secret in warden.audit_wal_key, read as it is now (nobody but its owner may read it
 * through SQL; this code reads the table directly, as the server would for the owner).
 */
static bytea *
read_key(void)
{
	Oid			schema = get_namespace_oid("warden", true);
	Oid			relid = OidIsValid(schema) ? get_relname_relid("audit_wal_key", schema) : InvalidOid;
	AttrNumber	attnum = OidIsValid(relid) ? get_attnum(relid, "secret") : InvalidAttrNumber;
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	bytea	   *secret = NULL;
	int			found = 0;

	if (attnum == InvalidAttrNumber || get_atttype(relid, attnum) != BYTEAOID)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("pgwarden_wal: table warden.audit_wal_key (secret bytea) does not exist"),
				 errhint("Apply pgwarden to this database: its migrations make the key.")));
	rel = table_open(relid, AccessShareLock);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, attnum, &isnull);

		if (++found == 1 && !isnull)
			secret = DatumGetByteaPCopy(value);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	if (found != 1 || secret == NULL || VARSIZE_ANY_EXHDR(secret) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("pgwarden_wal: warden.audit_wal_key must hold exactly one secret")));
	return secret;
}

static void
sha256(const uint8 *first, size_t first_length, const uint8 *second, size_t second_length,
	   const uint8 *third, size_t third_length, uint8 *digest)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, first, first_length) < 0 ||
		pg_cryptohash_update(ctx, second, second_length) < 0 ||
		(third_length > 0 && pg_cryptohash_update(ctx, third, third_length) < 0) ||
		pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "pgwarden_wal: could not compute SHA-256: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

/*
 * warden.audit_wal_signed(): the payload, chr(31), and
 * hex(sha256(k || sha256(k || xid || chr(31) || payload))), the transaction's id given it.
 */
static void
sign(StringInfo message)
{
	static const char hex[] = "0123456789abcdef";
	StringInfoData xid;
	uint8		inner[PG_SHA256_DIGEST_LENGTH];
	uint8		outer[PG_SHA256_DIGEST_LENGTH];
	char		separator = UNIT_SEPARATOR;
	bytea	   *key = read_key();
	uint8	   *secret = (uint8 *) VARDATA_ANY(key);
	size_t		length = VARSIZE_ANY_EXHDR(key);

	initStringInfo(&xid);
	append_xid(&xid, GetTopFullTransactionId());
	appendStringInfoChar(&xid, separator);
	sha256(secret, length, (uint8 *) xid.data, xid.len,
		   (uint8 *) message->data, message->len, inner);
	sha256(secret, length, inner, sizeof(inner), NULL, 0, outer);
	appendStringInfoChar(message, separator);
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
	{
		appendStringInfoChar(message, hex[outer[i] >> 4]);
		appendStringInfoChar(message, hex[outer[i] & 0xf]);
	}
	pfree(xid.data);
	pfree(key);
}

/* warden_wal.context(), once the flag is known to differ: send, then set the flag. */
static void
send_context(void)
{
	StringInfoData message;
	StringInfoData said;

	initStringInfo(&message);
	append_context(&message);
	sign(&message);
#if PG_VERSION_NUM >= 170000
	LogLogicalMessage(MESSAGE_PREFIX, message.data, message.len, true, false);
#else
	LogLogicalMessage(MESSAGE_PREFIX, message.data, message.len, true);
#endif
	/* The transaction has its id now (signing took one): the flag holds it. */
	initStringInfo(&said);
	append_said(&said);
	(void) set_config_option(FLAG, said.data, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
							 true, 0, false);
	pfree(said.data);
	pfree(message.data);
}

Datum
pgwarden_wal_statement(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	StringInfoData said;
	char	   *flag;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("warden_wal.statement() can only be called as a trigger")));
	/* A BEFORE ROW trigger returning NULL would skip the row: refuse to be one. */
	if (!TRIGGER_FIRED_FOR_STATEMENT(trigger->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("warden_wal.statement() must be a FOR EACH STATEMENT trigger"),
				 errdetail("Trigger \"%s\" on \"%s\" is FOR EACH ROW.",
						   trigger->tg_trigger->tgname,
						   RelationGetRelationName(trigger->tg_relation))));
	initStringInfo(&said);
	append_said(&said);
	flag = setting(FLAG);
	if (flag == NULL || strcmp(flag, said.data) != 0)
		send_context();
	pfree(said.data);
	return PointerGetDatum(NULL);
}
