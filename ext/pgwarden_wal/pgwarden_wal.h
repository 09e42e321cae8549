/* pgwarden_wal: what its C files share. */
#ifndef PGWARDEN_WAL_H
#define PGWARDEN_WAL_H

/* audit_context.c: registers the callbacks that forget a context row gone with its
 * (sub)transaction. */
extern void pgwarden_audit_context_init(void);

#endif
