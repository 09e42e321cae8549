/* pgwarden_wal: what its C files share. */
#ifndef PGWARDEN_WAL_H
#define PGWARDEN_WAL_H

/* audit_context.c: registers the callbacks that forget a context row gone with its
 * (sub)transaction. */
extern void pgwarden_audit_context_init(void);

/* audit_context.c: the transaction's context number (audit_seq()) and its row, once per
 * context (audit_record(seq)), for audit_capture.c. */
extern int	pgwarden_audit_seq_internal(void);
extern bool pgwarden_audit_record_internal(int seq);

/* audit_capture.c: registers the callback that forgets registrations of a changed table. */
extern void pgwarden_audit_capture_init(void);

/* tenant.c: registers the callback that forgets the verified tenant at a transaction's end. */
extern void pgwarden_tenant_init(void);

#endif
