/*
 * store.h - the history of executions: an SQLite database (WAL) and an
 * append-only JSON-lines log of the same records.  Knows nothing of HTTP.
 *
 * Thread-safe: one struct store is shared by all worker threads.
 */
#ifndef SAFEXEC_STORE_H
#define SAFEXEC_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

struct store_config {
	const char *db_path;	/* SQLite file; its directory is created */
	const char *log_path;	/* JSON-lines log; NULL or "" = no log */
	uint64_t keep_count;	/* keep at most this many records; 0 = all */
	uint64_t keep_days;	/* drop records older than this; 0 = never */
};

/* One execution to record.  All pointers are borrowed. */
struct store_record {
	int64_t created_ms;		/* Unix time in ms when it was received */
	const char *client;		/* client address, e.g. "127.0.0.1" */
	const char *endpoint;		/* "run" or "execute" */
	const char *language;
	const char *code;
	size_t code_len;
	const char *stdin_data;		/* may be NULL */
	size_t stdin_len;
	const char *const *argv;
	size_t argc;
	const struct sbx_limits *limits;
	const struct sbx_result *result;
};

struct store;

/* Opens (creating if needed) the database and the log.  Returns 0 or a
 * negative errno with a message in why. */
int store_open(struct store **out, const struct store_config *cfg,
	       char *why, size_t whylen);
void store_close(struct store *st);

/* Records one execution in both the database and the log; *id gets its id.
 * Applies retention now and then.  Returns 0 or a negative errno. */
int store_insert(struct store *st, const struct store_record *rec, int64_t *id);

/* One execution as a JSON object: id, created_at (RFC 3339 UTC), client,
 * endpoint, language, code, stdin, args, limits {wall_time_ms, cpu_time_ms,
 * memory_bytes, max_processes, output_bytes}, and every result field (see
 * codec.h).  Returns 0, -ENOENT, or another negative errno. */
int store_get(struct store *st, int64_t id, json_t **out);

/* Up to limit executions with id < before (before <= 0: from the newest),
 * newest first, as {"executions": [...], "next_before": ID or null}.  Each
 * item is a summary: id, created_at, client, endpoint, language, status,
 * exit_code, signal, wall_time_ms, cpu_time_ms, memory_bytes, and
 * code_preview (the start of the code, at most 80 characters).
 * Returns 0 or a negative errno. */
int store_list(struct store *st, int64_t before, unsigned limit, json_t **out);

#endif
