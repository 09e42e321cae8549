/*
 * The signed tenant context, verified in C (extension 1.3): warden_wal.tenant().
 *
 * What warden.tenant() does in SQL (src/pgwarden/features/tenancy/_tenant_sql.sql): the
 * session's pgwarden.tenant when pgwarden.tenant_mac is the hex HMAC-SHA256, under the
 * database's tenancy key, of '<backend pid>:<transaction start, us since 1970>:<tenant>';
 * NULL otherwise.  Row-level security policies call it once per clause and statement (an
 * InitPlan each): Kitaab's upsert runs seven.  In SQL each call is a SECURITY DEFINER call with
 * its own search_path, two lookups of the key and two sha256() (13-25 us); here the answer is
 * remembered for the transaction, keyed on the claimed tenant and the MAC as they are at each
 * call, so a setting changed (SET, set_config, RESET, a savepoint rolled back) is verified
 * again and fails closed, and only the first call of a transaction reads the key and hashes.
 *
 * A second form binds a MAC to a transaction the application can name before it begins, so
 * the signed context goes with BEGIN in one round trip instead of waiting for the
 * transaction's start: pgwarden.tenant_mac = 's<sequence>.<hex MAC>', the MAC of
 * '<binding>:<sequence>:<tenant>'.  The binding ('<pid>:n<16 random hex digits>', drawn once
 * per backend) and the floor (the highest sequence any ended transaction of this backend
 * held) are shown by the read-only settings pgwarden_wal.tenant_binding and
 * pgwarden_wal.tenant_floor; a sequence verifies only above the floor, and every sequence a
 * transaction held (verified or not) raises the floor when it ends.  So, like the first
 * form, a MAC is good for one transaction of one backend: read by an injected statement, it
 * is worthless anywhere else, in a later transaction, or in a backend that reuses the pid.
 *
 * The key is read from warden.secrets directly, as the server reads a table for its owner:
 * no privilege on it is checked, none is given to the caller, and the caller learns nothing
 * of it (no function signs; the MAC is compared in constant time).  It is read again in each
 * transaction that verifies, so a new key takes effect at the next transaction.
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "datatype/timestamp.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "pgwarden_wal.h"

#define KEY_NAME "tenancy_key"
#define MAC_HEX_LENGTH (PG_SHA256_DIGEST_LENGTH * 2)
/* (extract(epoch from timestamptz '2000-01-01 UTC') * 1000000): PostgreSQL's epoch in Unix us */
#define UNIX_TO_POSTGRES_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

#if PG_VERSION_NUM >= 170000
#define MY_LXID (MyProc->vxid.lxid)
#else
#define MY_LXID (MyProc->lxid)
#endif

PG_FUNCTION_INFO_V1(pgwarden_tenant);

/*
 * The last answer, for the transaction it was given in: the claimed tenant and the MAC as
 * they were then (TopMemoryContext), and whether they verified.  Forgotten at the end of the
 * transaction; compared with the settings on every call.
 */
static struct
{
	bool		valid;
	LocalTransactionId lxid;
	TimestampTz started;
	char	   *claimed;
	char	   *mac;
	bool		verified;
}			answer;

static void
forget_answer(void)
{
	answer.valid = false;
	if (answer.claimed != NULL)
		pfree(answer.claimed);
	if (answer.mac != NULL)
		pfree(answer.mac);
	answer.claimed = answer.mac = NULL;
}

/*
 * The sequence form's state, for the backend whose pid it was drawn in (a library preloaded in
 * the postmaster is inherited by every backend: each draws its own).
 */
static struct
{
	int			pid;
	char		binding[48];	/* '<pid>:n<16 hex>' */
	int64		floor;			/* highest sequence held by an ended transaction */
	int64		seen;			/* highest sequence verified in this transaction */
	char		floor_text[24];
}			sequences;

/* Placeholders the read-only settings point to; what they show comes from their hooks. */
static char *binding_setting = NULL;
static char *floor_setting = NULL;

static const char *
current_binding(void)
{
	if (sequences.pid != MyProcPid)
	{
		uint8		random[8];

		if (!pg_strong_random(random, sizeof(random)))
			ereport(ERROR, (errmsg("pgwarden_wal: could not draw a random tenant binding")));
		snprintf(sequences.binding, sizeof(sequences.binding),
				 "%d:n%02x%02x%02x%02x%02x%02x%02x%02x", MyProcPid, random[0], random[1],
				 random[2], random[3], random[4], random[5], random[6], random[7]);
		sequences.pid = MyProcPid;
		sequences.floor = 0;
		sequences.seen = 0;
	}
	return sequences.binding;
}

static const char *
show_binding(void)
{
	return current_binding();
}

static const char *
show_floor(void)
{
	(void) current_binding();
	snprintf(sequences.floor_text, sizeof(sequences.floor_text), INT64_FORMAT,
			 sequences.floor);
	return sequences.floor_text;
}

/*
 * Whether mac has the sequence form 's<sequence>.<64 hex digits>'; its sequence (positive)
 * and where its hex MAC starts.
 */
static bool
sequence_form(const char *mac, int64 *sequence, const char **hex)
{
	int64		value = 0;
	const char *p = mac;

	if (*p++ != 's' || !isdigit((unsigned char) *p))
		return false;
	for (; isdigit((unsigned char) *p); p++)
	{
		if (p - mac > 18)
			return false;		/* int64 holds any 18 digits */
		value = value * 10 + (*p - '0');
	}
	if (*p++ != '.' || strlen(p) != MAC_HEX_LENGTH || value <= 0)
		return false;
	*sequence = value;
	*hex = p;
	return true;
}

static void
forget_at_xact(XactEvent event, void *arg)
{
	const char *mac;
	int64		sequence;
	const char *hex;

	/* Any end (commit, abort, prepare): the next transaction verifies anew. */
	if (answer.valid || answer.claimed != NULL)
		forget_answer();
	if (sequences.pid != MyProcPid)
		return;
	/*
	 * What the transaction held, verified or not, is spent: the callbacks run before the
	 * transaction's settings are undone, so a MAC set but never used is seen here too.
	 */
	mac = GetConfigOption("pgwarden.tenant_mac", true, false);
	if (mac != NULL && sequence_form(mac, &sequence, &hex))
		sequences.seen = Max(sequences.seen, sequence);
	sequences.floor = Max(sequences.floor, sequences.seen);
	sequences.seen = 0;
}

void
pgwarden_tenant_init(void)
{
	RegisterXactCallback(forget_at_xact, NULL);
	DefineCustomStringVariable("pgwarden_wal.tenant_binding",
							   "What a sequence-form tenant MAC binds in this backend.",
							   NULL, &binding_setting, "", PGC_INTERNAL,
							   GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							   NULL, NULL, show_binding);
	DefineCustomStringVariable("pgwarden_wal.tenant_floor",
							   "Sequence-form tenant MACs verify above this sequence.",
							   NULL, &floor_setting, "", PGC_INTERNAL,
							   GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							   NULL, NULL, show_floor);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("pgwarden_wal");
#endif
}

/* current_setting(name, true) as nullif(..., ''): NULL when never set, reset or empty. */
static const char *
setting(const char *name)
{
	const char *value = GetConfigOption(name, true, false);

	return value != NULL && value[0] != '\0' ? value : NULL;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The tenancy key (warden.secrets, name 'tenancy_key', hex), decoded into a palloc'd buffer;
 * NULL when the table or the row is missing or not hex (no tenant verifies then).
 */
static uint8 *
read_key(size_t *length)
{
	Oid			schema = get_namespace_oid("warden", true);
	Oid			relid = OidIsValid(schema) ? get_relname_relid("secrets", schema) : InvalidOid;
	AttrNumber	name_att = OidIsValid(relid) ? get_attnum(relid, "name") : InvalidAttrNumber;
	AttrNumber	value_att = OidIsValid(relid) ? get_attnum(relid, "value") : InvalidAttrNumber;
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	char	   *hex = NULL;
	uint8	   *key = NULL;
	size_t		digits;
	bool		pushed;

	if (name_att == InvalidAttrNumber || value_att == InvalidAttrNumber ||
		get_atttype(relid, name_att) != TEXTOID || get_atttype(relid, value_att) != TEXTOID)
		return NULL;
	/* Read as the statement reads (a policy's InitPlan runs with its snapshot active). */
	pushed = !ActiveSnapshotSet();
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(relid, AccessShareLock);
	scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (hex == NULL && table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		name = slot_getattr(slot, name_att, &isnull);

		if (isnull || strcmp(TextDatumGetCString(name), KEY_NAME) != 0)
			continue;
		name = slot_getattr(slot, value_att, &isnull);
		if (!isnull)
			hex = TextDatumGetCString(name);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	if (pushed)
		PopActiveSnapshot();
	if (hex == NULL || (digits = strlen(hex)) == 0 || digits % 2 != 0)
		return NULL;
	key = palloc(digits / 2);
	for (size_t i = 0; i < digits / 2; i++)
	{
		int			high = hex_value(hex[2 * i]);
		int			low = hex_value(hex[2 * i + 1]);

		if (high < 0 || low < 0)
		{
			pfree(key);
			return NULL;
		}
		key[i] = (uint8) (high << 4 | low);
	}
	memset(hex, 0, digits);
	pfree(hex);
	*length = digits / 2;
	return key;
}

/* Whether hex (64 digits) is the HMAC of message under key, compared in constant time. */
static bool
hmac_matches(const uint8 *key, size_t key_length, const char *message, const char *hex)
{
	static const char digits[] = "0123456789abcdef";
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *utf8;
	pg_hmac_ctx *ctx;
	unsigned char differ = 0;

	/* convert_to(..., 'UTF8') as the SQL function does: the application signs UTF-8. */
	utf8 = pg_server_to_any(message, strlen(message), PG_UTF8);
	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (pg_hmac_init(ctx, key, key_length) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) utf8, strlen(utf8)) < 0 ||
		pg_hmac_final(ctx, digest, sizeof(digest)) < 0)
	{
		const char *why = pg_hmac_error(ctx);

		pg_hmac_free(ctx);
		elog(ERROR, "pgwarden_wal: could not compute HMAC-SHA256: %s", why);
	}
	pg_hmac_free(ctx);
	if (utf8 != message)
		pfree(utf8);
	/* Constant time: how much of a forged MAC matched is not told by how long it took. */
	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		differ |= (unsigned char) (hex[2 * i] ^ digits[digest[i] >> 4]) |
			(unsigned char) (hex[2 * i + 1] ^ digits[digest[i] & 0xf]);
	return differ == 0;
}

/*
 * Whether mac verifies claimed in this transaction: the HMAC of
 * '<pid>:<transaction start us>:<claimed>' (64 hex digits), or of
 * '<binding>:<sequence>:<claimed>' with a sequence above the floor ('s<sequence>.<hex>').
 */
static bool
verify(const char *claimed, const char *mac)
{
	size_t		key_length = 0;
	uint8	   *key;
	char	   *message;
	const char *hex = mac;
	int64		sequence = 0;
	bool		matches;

	if (strlen(mac) == MAC_HEX_LENGTH)
		message = psprintf("%d:" INT64_FORMAT ":%s", MyProcPid,
						   (int64) GetCurrentTransactionStartTimestamp() + UNIX_TO_POSTGRES_US,
						   claimed);
	else if (sequence_form(mac, &sequence, &hex))
	{
		const char *binding = current_binding();

		if (sequence <= sequences.floor)
			return false;
		message = psprintf("%s:" INT64_FORMAT ":%s", binding, sequence, claimed);
	}
	else
		return false;
	key = read_key(&key_length);
	if (key == NULL)
	{
		pfree(message);
		return false;
	}
	matches = hmac_matches(key, key_length, message, hex);
	memset(key, 0, key_length);
	pfree(key);
	pfree(message);
	if (matches && sequence > 0)
		sequences.seen = Max(sequences.seen, sequence);
	return matches;
}

Datum
pgwarden_tenant(PG_FUNCTION_ARGS)
{
	const char *claimed = setting("pgwarden.tenant");
	const char *mac = setting("pgwarden.tenant_mac");
	TimestampTz started = GetCurrentTransactionStartTimestamp();
	bool		verified;

	if (claimed == NULL || mac == NULL)
		PG_RETURN_NULL();
	if (answer.valid && answer.lxid == MY_LXID && answer.started == started &&
		strcmp(answer.claimed, claimed) == 0 && strcmp(answer.mac, mac) == 0)
		verified = answer.verified;
	else
	{
		/* Copied first: reading the key may run code that changes the settings' storage. */
		char	   *claimed_copy = MemoryContextStrdup(TopMemoryContext, claimed);
		char	   *mac_copy = MemoryContextStrdup(TopMemoryContext, mac);

		forget_answer();
		answer.claimed = claimed_copy;
		answer.mac = mac_copy;
		verified = verify(claimed_copy, mac_copy);
		answer.lxid = MY_LXID;
		answer.started = started;
		answer.verified = verified;
		answer.valid = true;
		claimed = claimed_copy;
	}
	if (!verified)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(claimed));
}
