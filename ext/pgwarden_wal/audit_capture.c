/*
 * Trigger capture's statement triggers, in C (capture = "trigger", extension 1.2).
 *
 * warden_wal.audit_capture() does what the INSERT, UPDATE and DELETE branches of a generated
 * PL/pgSQL capture function do (src/pgwarden/features/audit/capture.sql and _sql.py), for a
 * fraction of their cost: it reads the statement's transition tables itself (for an UPDATE
 * the old and new rows in lockstep, which pairs them as row_number() over () does in SQL),
 * builds each image as to_jsonb(row) without the excluded columns and with the redacted
 * ones as keyed hashes (warden.audit_redact), the keys as key_expr() reads them, skips
 * unchanged rows, numbers the statement from warden.audit_statement_seq and the context as
 * audit_context.c does, and inserts the events through one saved plan, up to BATCH rows per
 * execution.  The events are byte for byte those of the PL/pgSQL function (tested).  TRUNCATE
 * and partitioned tables stay with the PL/pgSQL functions.
 *
 * Its trigger arguments: the table id, "skip" or "all" (skip_unchanged), the attribute
 * numbers of the excluded and of the redacted columns ("{1,3}"), then the key columns' names
 * (none: the whole row is the key).  Any role may create a trigger calling it, so nothing is
 * written unless warden.audit_tables registers this table under that id with that key,
 * those hidden columns and that skip_unchanged (looked up once per backend and trigger,
 * again when the table's triggers or definition change); it then runs as the owner of
 * warden.audit_events, as the SECURITY DEFINER PL/pgSQL function does.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#if PG_VERSION_NUM >= 160000
#include "utils/jsonfuncs.h"
#endif
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"

#include "pgwarden_wal.h"

#if PG_VERSION_NUM < 160000
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"

/* Before PostgreSQL 16 to_jsonb's workings are not exported: called through fmgr, told the
 * argument's type as a call in SQL would. */
typedef int JsonTypeCategory;

static void
json_categorize_type(Oid type, bool is_jsonb, JsonTypeCategory *category, Oid *outfunc)
{
	*category = 0;
	*outfunc = type;
}

static Datum
datum_to_jsonb(Datum row, JsonTypeCategory category, Oid type)
{
	static FmgrInfo *flinfo;
	static Oid	flinfo_type;

	if (flinfo == NULL || flinfo_type != type)
	{
		MemoryContext previous = MemoryContextSwitchTo(TopMemoryContext);

		if (flinfo == NULL)
			flinfo = palloc0(sizeof(FmgrInfo));
		fmgr_info(F_TO_JSONB, flinfo);
		flinfo->fn_expr = (Node *) makeFuncExpr(F_TO_JSONB, JSONBOID,
												list_make1(makeNullConst(type, -1, InvalidOid)),
												InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		MemoryContextSwitchTo(previous);
		flinfo_type = type;
	}
	return FunctionCall1(flinfo, row);
}
#endif

#define BATCH 1000				/* events per execution of the insert */
#define KNOWN_MAX 64			/* registrations remembered */

PG_FUNCTION_INFO_V1(pgwarden_audit_capture);

static const char *const insert_sql =
	"insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, "
	"row_key, old_key, old_row, new_row) "
	"select $1, $2, $3, $4, $5, $6, u.k, u.ok, u.o, u.n "
	"from rows from (pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
	"pg_catalog.unnest($10)) u(k, ok, o, n)";
/* One event (most statements): no arrays to build and unnest. */
static const char *const insert_one_sql =
	"insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, "
	"row_key, old_key, old_row, new_row) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
static const char *const registered_sql =
	"select t.key_columns, t.hidden_attnums, t.skip_unchanged from warden.audit_tables t where t.table_id operator(pg_catalog.=) $1 "
	"and t.relid operator(pg_catalog.=) $2 and t.dropped_at is null";
static const char *const live_key_sql = "select warden.audit_live_key($1, $2)";
static const char *const secret_sql =
	"select s.value from warden.secrets s where s.name operator(pg_catalog.=) 'audit_redaction'";

static SPIPlanPtr insert_plan;
static SPIPlanPtr insert_one_plan;
static SPIPlanPtr registered_plan;
static SPIPlanPtr live_key_plan;
static SPIPlanPtr secret_plan;

/* Triggers found to match their table's registration, forgotten when the table is
 * invalidated (its triggers or its definition changed). */
static struct
{
	Oid			trigger;
	Oid			relid;
}			known[KNOWN_MAX];
static int	known_count;

static void
forget_relation(Datum arg, Oid relid)
{
	int			kept = 0;

	for (int i = 0; i < known_count; i++)
		if (OidIsValid(relid) && known[i].relid != relid)
			known[kept++] = known[i];
	known_count = kept;
}

void
pgwarden_audit_capture_init(void)
{
	CacheRegisterRelcacheCallback(forget_relation, (Datum) 0);
}

static SPIPlanPtr
saved_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	made = SPI_prepare(query, nargs, types);

		if (made == NULL)
			elog(ERROR, "pgwarden_wal: SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(made) != 0)
			elog(ERROR, "pgwarden_wal: SPI_keepplan failed");
		*plan = made;
	}
	return *plan;
}

/* What the trigger's arguments and the table say, for one statement. */
typedef struct Capture
{
	int32		table_id;
	Oid			relid;
	bool		skip_unchanged;
	int			nkeys;			/* 0: the whole image is the key */
	char	  **keys;
	Datum		excluded;		/* text[] of the excluded columns' names, or 0 */
	int			nredacted;
	char	  **redacted;
	text	   *secret;			/* the redaction key (NULL: none, nothing redacted) */
	JsonTypeCategory category;	/* of the row type (before PostgreSQL 16) */
	Oid			outfunc;
	/* Per attribute, found once per statement (composite_to_jsonb finds them per value). */
	JsonTypeCategory *categories;
	Oid		   *outfuncs;
	FmgrInfo   *outputs;
} Capture;

/* "{1,3}" -> the current names of those columns of the table (dropped ones left out). */
static int
column_names(const char *list, TupleDesc desc, char ***names)
{
	char	   *copy = pstrdup(list);
	char	   *save = NULL;
	int			count = 0;

	*names = palloc(sizeof(char *) * (desc->natts + 1));
	for (char *p = strtok_r(copy, "{},", &save); p != NULL; p = strtok_r(NULL, "{},", &save))
	{
		int			attnum = pg_strtoint32(p);

		if (attnum < 1 || attnum > desc->natts || TupleDescAttr(desc, attnum - 1)->attisdropped)
			continue;
		(*names)[count++] = pstrdup(NameStr(TupleDescAttr(desc, attnum - 1)->attname));
	}
	return count;
}

/* Whether the attribute numbers of "{1,3}" and "{2}" are, as a set, those of attnums. */
static bool
same_attnums(const char *excluded, const char *redacted, Datum attnums)
{
	ArrayType  *array = DatumGetArrayTypeP(attnums);
	Datum	   *elems;
	bool	   *nulls;
	int			count;
	int			listed = 0;
	const char *lists[2] = {excluded, redacted};

	deconstruct_array(array, INT2OID, 2, true, TYPALIGN_SHORT, &elems, &nulls, &count);
	for (int l = 0; l < 2; l++)
	{
		char	   *copy = pstrdup(lists[l]);
		char	   *save = NULL;

		for (char *p = strtok_r(copy, "{},", &save); p != NULL; p = strtok_r(NULL, "{},", &save))
		{
			int			attnum = pg_strtoint32(p);
			bool		found = false;

			for (int i = 0; i < count && !found; i++)
				found = !nulls[i] && DatumGetInt16(elems[i]) == attnum;
			if (!found)
				return false;
			listed++;
		}
	}
	return listed == count;
}

/*
 * The trigger's table must be registered under the id it names, with the key, hidden columns
 * and skip_unchanged its arguments give: a role that may create triggers on an audited table
 * cannot have its rows recorded under another table, nor with a redacted column in clear.
 */
static void
check_registered(Capture *capture, Trigger *tg)
{
	Oid			types[2] = {INT4OID, OIDOID};
	Datum		values[2] = {Int32GetDatum(capture->table_id), ObjectIdGetDatum(capture->relid)};
	bool		matches = false;
	int			result;

	for (int i = 0; i < known_count; i++)
		if (known[i].trigger == tg->tgoid && known[i].relid == capture->relid)
			return;
	result = SPI_execute_plan(saved_plan(&registered_plan, registered_sql, 2, types),
							  values, NULL, true, 1);
	if (result != SPI_OK_SELECT)
		elog(ERROR, "pgwarden_wal: registration lookup failed: %s",
			 SPI_result_code_string(result));
	if (SPI_processed == 1)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		keys_null,
					hidden_null,
					skip_null;
		Datum		keys = SPI_getbinval(row, desc, 1, &keys_null);
		Datum		hidden = SPI_getbinval(row, desc, 2, &hidden_null);
		Datum		skip = SPI_getbinval(row, desc, 3, &skip_null);

		matches = !hidden_null && !skip_null &&
			DatumGetBool(skip) == capture->skip_unchanged &&
			same_attnums(tg->tgargs[2], tg->tgargs[3], hidden);
		if (matches && keys_null)
			matches = capture->nkeys == 0;
		else if (matches)
		{
			Datum	   *names;
			bool	   *nulls;
			int			count;

			deconstruct_array(DatumGetArrayTypeP(keys), TEXTOID, -1, false, TYPALIGN_INT,
							  &names, &nulls, &count);
			matches = count == capture->nkeys;
			for (int i = 0; i < count && matches; i++)
				matches = !nulls[i] &&
					strcmp(TextDatumGetCString(names[i]), capture->keys[i]) == 0;
		}
	}
	if (!matches)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("pgwarden_wal: table %s is not registered for audit as table %d "
						"with trigger %s's arguments",
						get_rel_name(capture->relid), capture->table_id, tg->tgname),
				 errhint("Only pgwarden's own capture triggers may call warden_wal.audit_capture(); "
						 "`pgwarden apply` makes them again.")));
	if (known_count == KNOWN_MAX)
		known_count = 0;
	known[known_count].trigger = tg->tgoid;
	known[known_count].relid = capture->relid;
	known_count++;
}

static text *
read_secret(void)
{
	bool		isnull;
	Datum		value;
	int			result = SPI_execute_plan(saved_plan(&secret_plan, secret_sql, 0, NULL),
										  NULL, NULL, true, 0);

	if (result != SPI_OK_SELECT)
		elog(ERROR, "pgwarden_wal: secret lookup failed: %s", SPI_result_code_string(result));
	if (SPI_processed == 0)
		return NULL;			/* audit_redact's join finds no secret: nothing redacted */
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	return DatumGetTextPCopy(value);
}

/* p_row ->> name, as jsonb_object_field_text shows it: NULL when absent or JSON null. */
static char *
field_text(Jsonb *image, const char *name, int *length)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(&image->root, name, strlen(name), &v) == NULL)
		return NULL;
	switch (v.type)
	{
		case jbvNull:
			return NULL;
		case jbvString:
			*length = v.val.string.len;
			return v.val.string.val;
		case jbvBool:
			*length = v.val.boolean ? 4 : 5;
			return v.val.boolean ? "true" : "false";
		case jbvNumeric:
			{
				char	   *out = DatumGetCString(DirectFunctionCall1(numeric_out,
																	  NumericGetDatum(v.val.numeric)));

				*length = strlen(out);
				return out;
			}
		case jbvBinary:
			{
				StringInfoData buf;

				initStringInfo(&buf);
				JsonbToCString(&buf, v.val.binary.data, v.val.binary.len);
				*length = buf.len;
				return buf.data;
			}
		default:
			elog(ERROR, "pgwarden_wal: unexpected jsonb value type %d", (int) v.type);
	}
	return NULL;
}

/*
 * warden.audit_redact(image, names): each named column present and not null becomes
 * 'sha256:' || hex(sha256(convert_to(secret || (image ->> name), 'UTF8'))).
 */
static Jsonb *
redact(Capture *capture, Jsonb *image)
{
	JsonbParseState *state = NULL;
	JsonbValue *object;
	int			found = 0;
	static const char hex[] = "0123456789abcdef";

	if (capture->secret == NULL)
		return image;
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < capture->nredacted; i++)
	{
		int			length = 0;
		char	   *value = field_text(image, capture->redacted[i], &length);
		StringInfoData plain;
		char	   *utf8;
		uint8		digest[PG_SHA256_DIGEST_LENGTH];
		pg_cryptohash_ctx *ctx;
		char		hashed[7 + 2 * PG_SHA256_DIGEST_LENGTH];
		JsonbValue	key;
		JsonbValue	val;

		if (value == NULL)
			continue;
		initStringInfo(&plain);
		appendBinaryStringInfo(&plain, VARDATA_ANY(capture->secret),
							   VARSIZE_ANY_EXHDR(capture->secret));
		appendBinaryStringInfo(&plain, value, length);
		utf8 = pg_server_to_any(plain.data, plain.len, PG_UTF8);
		ctx = pg_cryptohash_create(PG_SHA256);
		if (pg_cryptohash_init(ctx) < 0 ||
			pg_cryptohash_update(ctx, (uint8 *) utf8, strlen(utf8)) < 0 ||
			pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
			elog(ERROR, "pgwarden_wal: could not compute SHA-256: %s", pg_cryptohash_error(ctx));
		pg_cryptohash_free(ctx);
		memcpy(hashed, "sha256:", 7);
		for (int b = 0; b < PG_SHA256_DIGEST_LENGTH; b++)
		{
			hashed[7 + 2 * b] = hex[digest[b] >> 4];
			hashed[8 + 2 * b] = hex[digest[b] & 0xf];
		}
		key.type = jbvString;
		key.val.string.val = capture->redacted[i];
		key.val.string.len = strlen(capture->redacted[i]);
		val.type = jbvString;
		val.val.string.val = pnstrdup(hashed, sizeof(hashed));
		val.val.string.len = sizeof(hashed);
		pushJsonbValue(&state, WJB_KEY, &key);
		pushJsonbValue(&state, WJB_VALUE, &val);
		found++;
	}
	object = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	if (found == 0)
		return image;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(image),
											  JsonbPGetDatum(JsonbValueToJsonb(object))));
}

#if PG_VERSION_NUM >= 160000
/* What composite_to_jsonb needs of each column, once per statement. */
static void
prepare_columns(Capture *capture, TupleDesc desc)
{
	capture->categories = palloc0(sizeof(JsonTypeCategory) * desc->natts);
	capture->outfuncs = palloc0(sizeof(Oid) * desc->natts);
	capture->outputs = palloc0(sizeof(FmgrInfo) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped)
			continue;
		json_categorize_type(att->atttypid, true, &capture->categories[i],
							 &capture->outfuncs[i]);
		if (capture->categories[i] == JSONTYPE_NUMERIC || capture->categories[i] == JSONTYPE_OTHER)
			fmgr_info(capture->outfuncs[i], &capture->outputs[i]);
	}
}

/*
 * to_jsonb(row): composite_to_jsonb (PostgreSQL's jsonb.c) with each column's category and
 * output function found once per statement.  Scalars are converted as datum_to_jsonb_internal
 * converts them; arrays, composites, json, jsonb and types with a cast to json are converted
 * by datum_to_jsonb itself and pushed whole.
 */
static Datum
row_to_jsonb(Capture *capture, TupleTableSlot *slot)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	JsonbParseState *state = NULL;
	JsonbValue *done;

	slot_getallattrs(slot);
	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Datum		val = slot->tts_values[i];
		JsonbValue	key;
		JsonbValue	jb;
		char	   *out;

		if (att->attisdropped)
			continue;
		key.type = jbvString;
		key.val.string.val = NameStr(att->attname);
		key.val.string.len = strlen(key.val.string.val);
		pushJsonbValue(&state, WJB_KEY, &key);
		if (slot->tts_isnull[i])
		{
			jb.type = jbvNull;
			pushJsonbValue(&state, WJB_VALUE, &jb);
			continue;
		}
		switch (capture->categories[i])
		{
			case JSONTYPE_BOOL:
				jb.type = jbvBool;
				jb.val.boolean = DatumGetBool(val);
				break;
			case JSONTYPE_NUMERIC:
				out = OutputFunctionCall(&capture->outputs[i], val);
				/* a valid JSON number, else a string (NaN, Infinity) */
				if (strchr(out, 'N') == NULL && strchr(out, 'n') == NULL)
				{
					jb.type = jbvNumeric;
					jb.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																		 CStringGetDatum(out),
																		 ObjectIdGetDatum(InvalidOid),
																		 Int32GetDatum(-1)));
				}
				else
				{
					jb.type = jbvString;
					jb.val.string.val = out;
					jb.val.string.len = strlen(out);
				}
				break;
			case JSONTYPE_DATE:
			case JSONTYPE_TIMESTAMP:
			case JSONTYPE_TIMESTAMPTZ:
				jb.type = jbvString;
				jb.val.string.val = JsonEncodeDateTime(NULL, val,
													   capture->categories[i] == JSONTYPE_DATE ? DATEOID :
													   capture->categories[i] == JSONTYPE_TIMESTAMP ?
													   TIMESTAMPOID : TIMESTAMPTZOID, NULL);
				jb.val.string.len = strlen(jb.val.string.val);
				break;
			case JSONTYPE_OTHER:
				out = OutputFunctionCall(&capture->outputs[i], val);
				jb.type = jbvString;
				jb.val.string.val = out;
				jb.val.string.len = strlen(out);
				if (jb.val.string.len > JENTRY_OFFLENMASK)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("string too long to represent as jsonb string"),
							 errdetail("Due to an implementation restriction, jsonb strings cannot exceed %d bytes.",
									   JENTRY_OFFLENMASK)));
				break;
			default:
				{
					Jsonb	   *nested = DatumGetJsonbP(datum_to_jsonb(val, capture->categories[i],
																	   capture->outfuncs[i]));

					if (JB_ROOT_IS_SCALAR(nested))
						(void) JsonbExtractScalar(&nested->root, &jb);
					else
					{
						jb.type = jbvBinary;
						jb.val.binary.data = &nested->root;
						jb.val.binary.len = VARSIZE(nested) - VARHDRSZ;
					}
				}
				break;
		}
		pushJsonbValue(&state, WJB_VALUE, &jb);
	}
	done = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbPGetDatum(JsonbValueToJsonb(done));
}
#else
static void
prepare_columns(Capture *capture, TupleDesc desc)
{
}

static Datum
row_to_jsonb(Capture *capture, TupleTableSlot *slot)
{
	return datum_to_jsonb(ExecFetchSlotHeapTupleDatum(slot), capture->category, capture->outfunc);
}
#endif

/* The recorded image of the row in slot. */
static Jsonb *
image_of(Capture *capture, TupleTableSlot *slot)
{
	Datum		image = row_to_jsonb(capture, slot);

	if (capture->excluded != (Datum) 0)
		image = DirectFunctionCall2(jsonb_delete_array, image, capture->excluded);
	if (capture->nredacted > 0)
		return redact(capture, DatumGetJsonbP(image));
	return DatumGetJsonbP(image);
}

/* key_expr(): the key columns' values read from the image by name, or (a key column renamed
 * since the trigger was made) warden.audit_live_key(relid, image); the image without a key. */
static Jsonb *
key_of(Capture *capture, Jsonb *image)
{
	JsonbParseState *state = NULL;
	JsonbValue *array;

	if (capture->nkeys == 0)
		return image;
	pushJsonbValue(&state, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < capture->nkeys; i++)
	{
		JsonbValue *v = palloc(sizeof(JsonbValue));

		if (getKeyJsonValueFromContainer(&image->root, capture->keys[i],
										 strlen(capture->keys[i]), v) == NULL)
		{
			Oid			types[2] = {OIDOID, JSONBOID};
			Datum		values[2] = {ObjectIdGetDatum(capture->relid), JsonbPGetDatum(image)};
			bool		isnull;
			Datum		key;
			int			result;

			result = SPI_execute_plan(saved_plan(&live_key_plan, live_key_sql, 2, types),
									  values, NULL, false, 1);
			if (result != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "pgwarden_wal: warden.audit_live_key failed: %s",
					 SPI_result_code_string(result));
			key = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			return isnull ? NULL : DatumGetJsonbPCopy(key);
		}
		pushJsonbValue(&state, WJB_ELEM, v);
	}
	array = pushJsonbValue(&state, WJB_END_ARRAY, NULL);
	return JsonbValueToJsonb(array);
}

static bool
same(Jsonb *a, Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(a), JsonbPGetDatum(b)));
}

/* The events of one statement waiting to be inserted. */
typedef struct Batch
{
	int			count;
	Datum		k[BATCH], ok[BATCH], o[BATCH], n[BATCH];
	bool		k_null[BATCH], ok_null[BATCH], o_null[BATCH], n_null[BATCH];
	Datum		fixed[6];		/* statement id, txid, context, table id, op, at */
	int64		written;
	MemoryContext memory;
} Batch;

static Datum
jsonb_array(Datum *values, bool *nulls, int count, bool *isnull)
{
	int			dims[1] = {count};
	int			lbs[1] = {1};
	bool		any = false;

	for (int i = 0; i < count && !any; i++)
		any = !nulls[i];
	*isnull = !any;				/* all NULL: unnest pads with NULLs */
	if (!any)
		return (Datum) 0;
	return PointerGetDatum(construct_md_array(values, nulls, 1, dims, lbs, JSONBOID, -1,
											  false, TYPALIGN_INT));
}

static void
flush(Batch *batch)
{
	Oid			types[10] = {INT8OID, XID8OID, INT2OID, INT4OID, CHAROID, TIMESTAMPTZOID,
	JSONBARRAYOID, JSONBARRAYOID, JSONBARRAYOID, JSONBARRAYOID};
	Datum		values[10];
	char		nulls[10];
	bool		isnull;
	int			result;

	if (batch->count == 0)
		return;
	for (int i = 0; i < 6; i++)
	{
		values[i] = batch->fixed[i];
		nulls[i] = ' ';
	}
	if (batch->count == 1)
	{
		Oid			one[10] = {INT8OID, XID8OID, INT2OID, INT4OID, CHAROID, TIMESTAMPTZOID,
		JSONBOID, JSONBOID, JSONBOID, JSONBOID};

		values[6] = batch->k[0];
		nulls[6] = batch->k_null[0] ? 'n' : ' ';
		values[7] = batch->ok[0];
		nulls[7] = batch->ok_null[0] ? 'n' : ' ';
		values[8] = batch->o[0];
		nulls[8] = batch->o_null[0] ? 'n' : ' ';
		values[9] = batch->n[0];
		nulls[9] = batch->n_null[0] ? 'n' : ' ';
		result = SPI_execute_plan(saved_plan(&insert_one_plan, insert_one_sql, 10, one),
								  values, nulls, false, 0);
	}
	else
	{
		values[6] = jsonb_array(batch->k, batch->k_null, batch->count, &isnull);
		nulls[6] = isnull ? 'n' : ' ';
		values[7] = jsonb_array(batch->ok, batch->ok_null, batch->count, &isnull);
		nulls[7] = isnull ? 'n' : ' ';
		values[8] = jsonb_array(batch->o, batch->o_null, batch->count, &isnull);
		nulls[8] = isnull ? 'n' : ' ';
		values[9] = jsonb_array(batch->n, batch->n_null, batch->count, &isnull);
		nulls[9] = isnull ? 'n' : ' ';
		result = SPI_execute_plan(saved_plan(&insert_plan, insert_sql, 10, types),
								  values, nulls, false, 0);
	}
	if (result != SPI_OK_INSERT)
		elog(ERROR, "pgwarden_wal: event insert failed: %s", SPI_result_code_string(result));
	batch->written += SPI_processed;
	batch->count = 0;
	MemoryContextReset(batch->memory);
}

static void
add(Batch *batch, Jsonb *key, Jsonb *old_key, Jsonb *old_row, Jsonb *new_row)
{
	int			i = batch->count;

	batch->k[i] = PointerGetDatum(key);
	batch->k_null[i] = key == NULL;
	batch->ok[i] = PointerGetDatum(old_key);
	batch->ok_null[i] = old_key == NULL;
	batch->o[i] = PointerGetDatum(old_row);
	batch->o_null[i] = old_row == NULL;
	batch->n[i] = PointerGetDatum(new_row);
	batch->n_null[i] = new_row == NULL;
	if (++batch->count == BATCH)
		flush(batch);
}

/* A read pointer of its own on a transition table, at its start. */
static void
rewind_store(Tuplestorestate *store, int *pointer)
{
	*pointer = tuplestore_alloc_read_pointer(store, EXEC_FLAG_REWIND);
	tuplestore_select_read_pointer(store, *pointer);
	tuplestore_rescan(store);
}

static bool
next_row(Tuplestorestate *store, int pointer, TupleTableSlot *slot)
{
	tuplestore_select_read_pointer(store, pointer);
	return tuplestore_gettupleslot(store, true, false, slot);
}

static void
capture_rows(Capture *capture, TriggerData *trigger, Batch *batch, TupleDesc desc)
{
	Tuplestorestate *olds = trigger->tg_oldtable;
	Tuplestorestate *news = trigger->tg_newtable;
	TupleTableSlot *old_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	TupleTableSlot *new_slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			old_ptr = 0;
	int			new_ptr = 0;
	bool		update = TRIGGER_FIRED_BY_UPDATE(trigger->tg_event);

	if (olds != NULL)
		rewind_store(olds, &old_ptr);
	if (news != NULL)
		rewind_store(news, &new_ptr);
	for (;;)
	{
		MemoryContext previous = MemoryContextSwitchTo(batch->memory);
		Jsonb	   *oj = NULL,
				   *nj = NULL,
				   *ok = NULL,
				   *nk = NULL;

		CHECK_FOR_INTERRUPTS();
		if (olds != NULL)
		{
			if (!next_row(olds, old_ptr, old_slot))
			{
				MemoryContextSwitchTo(previous);
				break;
			}
			oj = image_of(capture, old_slot);
			/* A row read back from a spilled store was allocated here: let go before the
			 * batch's memory is reset under it. */
			ExecClearTuple(old_slot);
		}
		if (news != NULL)
		{
			if (!next_row(news, new_ptr, new_slot))
			{
				MemoryContextSwitchTo(previous);
				if (update)
					elog(ERROR, "pgwarden_wal: fewer new rows than old ones");
				break;
			}
			nj = image_of(capture, new_slot);
			ExecClearTuple(new_slot);
		}
		if (update)
		{
			if (!capture->skip_unchanged || !same(oj, nj))
			{
				ok = key_of(capture, oj);
				nk = key_of(capture, nj);
				add(batch, nk, same(ok, nk) ? NULL : ok, oj, nj);
			}
		}
		else if (nj != NULL)
			add(batch, key_of(capture, nj), NULL, NULL, nj);
		else
			add(batch, key_of(capture, oj), NULL, oj, NULL);
		MemoryContextSwitchTo(previous);
	}
	flush(batch);
	ExecDropSingleTupleTableSlot(old_slot);
	ExecDropSingleTupleTableSlot(new_slot);
}

/* The owner of warden.audit_events, whom capture runs as (the store's only writer). */
static Oid
store_owner(Oid *sequence)
{
	Oid			schema = get_namespace_oid("warden", false);
	Oid			store = get_relname_relid("audit_events", schema);
	HeapTuple	tuple;
	Oid			owner;

	*sequence = get_relname_relid("audit_statement_seq", schema);
	if (!OidIsValid(store) || !OidIsValid(*sequence))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("pgwarden_wal: warden.audit_events or warden.audit_statement_seq does not exist")));
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(store));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "pgwarden_wal: cache lookup failed for relation %u", store);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

Datum
pgwarden_audit_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;
	TimestampTz at = GetCurrentTimestamp();	/* clock_timestamp(), as the function starts */
	Trigger    *tg;
	TupleDesc	desc;
	Capture		capture;
	Batch	   *batch;
	FullTransactionId fxid;
	Oid			saved_user;
	int			saved_context;
	Oid			sequence;
	int			seq;
	char		op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "pgwarden_wal: audit_capture() is a trigger function");
	tg = trigger->tg_trigger;
	if (!TRIGGER_FIRED_AFTER(trigger->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(trigger->tg_event)
		|| TRIGGER_FIRED_BY_TRUNCATE(trigger->tg_event) || tg->tgnargs < 4)
		elog(ERROR, "pgwarden_wal: audit_capture() runs AFTER INSERT, UPDATE or DELETE, "
			 "FOR EACH STATEMENT, with its arguments");
	op = TRIGGER_FIRED_BY_INSERT(trigger->tg_event) ? 'I' :
		TRIGGER_FIRED_BY_UPDATE(trigger->tg_event) ? 'U' : 'D';
	if ((op != 'I' && trigger->tg_oldtable == NULL) || (op != 'D' && trigger->tg_newtable == NULL))
		elog(ERROR, "pgwarden_wal: audit_capture() needs the statement's transition tables");

	/* No transaction id yet: this statement changed no row, nor did any before it. */
	fxid = GetTopFullTransactionIdIfAny();
	if (!FullTransactionIdIsValid(fxid))
		return PointerGetDatum(NULL);

	desc = RelationGetDescr(trigger->tg_relation);
	memset(&capture, 0, sizeof(capture));
	capture.table_id = pg_strtoint32(tg->tgargs[0]);
	capture.relid = RelationGetRelid(trigger->tg_relation);
	capture.skip_unchanged = strcmp(tg->tgargs[1], "skip") == 0;
	capture.nkeys = tg->tgnargs - 4;
	capture.keys = tg->tgargs + 4;
	json_categorize_type(desc->tdtypeid, true, &capture.category, &capture.outfunc);
	prepare_columns(&capture, desc);

	/* Made before SPI_connect: SPI_finish frees what was allocated after it. */
	batch = palloc0(sizeof(Batch));
	batch->memory = AllocSetContextCreate(CurrentMemoryContext, "pgwarden capture",
										  ALLOCSET_DEFAULT_SIZES);
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(store_owner(&sequence), saved_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "pgwarden_wal: SPI_connect failed");
	check_registered(&capture, tg);
	{
		char	  **names;
		int			count = column_names(tg->tgargs[2], desc, &names);

		if (strcmp(tg->tgargs[2], "{}") != 0)
		{
			Datum	   *texts = palloc(sizeof(Datum) * (count + 1));

			for (int i = 0; i < count; i++)
				texts[i] = CStringGetTextDatum(names[i]);
			capture.excluded = PointerGetDatum(construct_array(texts, count, TEXTOID, -1,
															   false, TYPALIGN_INT));
		}
		capture.nredacted = column_names(tg->tgargs[3], desc, &capture.redacted);
		if (capture.nredacted > 0)
			capture.secret = read_secret();
	}

	seq = pgwarden_audit_seq_internal();
	batch->fixed[0] = Int64GetDatum(nextval_internal(sequence, true));
	batch->fixed[1] = FullTransactionIdGetDatum(fxid);
	batch->fixed[2] = Int16GetDatum((int16) seq);
	batch->fixed[3] = Int32GetDatum(capture.table_id);
	batch->fixed[4] = CharGetDatum(op);
	batch->fixed[5] = TimestampTzGetDatum(at);
	capture_rows(&capture, trigger, batch, desc);
	SPI_finish();
	if (batch->written > 0)
		(void) pgwarden_audit_record_internal(seq);
	SetUserIdAndSecContext(saved_user, saved_context);
	MemoryContextDelete(batch->memory);
	pfree(batch);
	return PointerGetDatum(NULL);
}
