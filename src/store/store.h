/*
 * store.h - the history of executions: an SQLite database (WAL) and an
 * append-only JSON-lines log of the same records.  Knows nothing of HTTP.
 * docs/store.md describes the schema, the JSON shapes and durability.
 *
 * Thread-safe: one struct store is shared by all worker threads (one
 * SQLite connection behind a mutex).
 */
#ifndef SAFEXEC_STORE_H
#define SAFEXEC_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

struct store_config {
	const char *db_path;	/* SQLite file, created 0600; missing parent
				   directories are created 0700 */
	const char *log_path;	/* JSON-lines log, created 0600 (and its
				   directories 0700); NULL or "" = no log */
	uint64_t keep_count;	/* keep at most this many records; 0 = all */
	uint64_t keep_days;	/* drop records older than this; 0 = never.
				   Both apply on open and every 100 inserts;
				   the log is never pruned. */
};

/* One execution to record.  All pointers are borrowed. */
struct store_record {
	int64_t created_ms;		/* Unix time in ms when it was received */
	const char *client;		/* client address, e.g. "127.0.0.1" */
	const char *endpoint;		/* "run" or "execute" */
	const char *language;
	const char *code;
	size_t code_len;
	const char *stdin_data;		/* may be NULL (JSON "stdin": "") */
	size_t stdin_len;
	const char *const *argv;	/* NUL-terminated strings */
	size_t argc;
	const struct sbx_limits *limits; /* NULL: stored as zeros */
	const struct sbx_result *result; /* required: the run stage's */
	const struct sbx_result *compile; /* the compile stage's, or NULL */
	const struct sbx_limits *compile_limits; /* with compile */
	const json_t *tests;		/* {verdict, tests, totals}, or NULL */
};

struct store;

/* Opens (creating if needed) the database and the log, and applies
 * retention.  Returns 0 or a negative errno with a message in why (-EPROTO
 * for a database written by a newer schema version).  A log that cannot be
 * created is an error here; later log failures are not. */
int store_open(struct store **out, const struct store_config *cfg,
	       char *why, size_t whylen);
void store_close(struct store *st);

/* Records one execution in both the database and the log; *id (may be
 * NULL) gets its id.  Applies retention now and then.  Returns an error only
 * when the database refused the record; a failed log write is reported on
 * stderr (once per streak of failures) and does not fail the call.  When the
 * database fails, the log still gets the record, with "id": null. */
int store_insert(struct store *st, const struct store_record *rec, int64_t *id);

/* One execution as a JSON object: id, created_at (RFC 3339 UTC with
 * milliseconds), client, endpoint, language, code, stdin, args, limits
 * {wall_time_ms, cpu_time_ms, memory_bytes, max_processes, output_bytes},
 * and every result field as codec_result_add() writes it.  Bytes that are
 * not valid UTF-8 become U+FFFD in the JSON (the database keeps them as
 * they were).  *out is the caller's reference.  Returns 0, -ENOENT (also
 * for id <= 0), or another negative errno. */
int store_get(struct store *st, int64_t id, json_t **out);

/* Up to limit executions with id < before (before <= 0: from the newest),
 * newest first, as {"executions": [...], "next_before": ID or null}.  Each
 * item is a summary: id, created_at, client, endpoint, language, status,
 * exit_code, signal, wall_time_ms, cpu_time_ms, memory_bytes, and
 * code_preview (the start of the code, at most 80 characters).
 * next_before is the last item's id when older records exist, else null.
 * limit is capped at 1000; 0 gives an empty page.  *out is the caller's
 * reference.  Returns 0 or a negative errno. */
int store_list(struct store *st, int64_t before, unsigned limit, json_t **out);

#endif
