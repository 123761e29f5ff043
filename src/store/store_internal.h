/*
 * store_internal.h - what the front of the store (store.c: the record's
 * JSON, the log, retention's rules, dispatch) shares with its two backends
 * (sqlite.c, the embedded default; postgres.c, shared by several nodes) and
 * with its unit tests; not part of the store's public contract.
 */
#ifndef SAFEXEC_STORE_INTERNAL_H
#define SAFEXEC_STORE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"
#include "store/store.h"

/* Retention runs on open and then after this many inserts (or finished
 * jobs): often enough to bound the table, rarely enough that its DELETE
 * costs nothing per run. */
#define STORE_PRUNE_EVERY	100
/* Largest page store_list() returns, whatever the caller asks for. */
#define STORE_LIST_MAX		1000
/* code_preview holds at most this many characters (code points); the list
 * reads only the first 4 bytes per character of the code, the most UTF-8
 * needs. */
#define STORE_PREVIEW_CHARS	80
#define STORE_PREVIEW_BYTES	320

/* One record, wherever it comes from (a struct store_record being inserted
 * or a database row being read).  Every pointer is borrowed. */
struct store_row {
	int64_t id;			/* <= 0: not in the database ("id": null) */
	int64_t created_ms;
	const char *client, *endpoint, *language;
	const char *code;
	size_t code_len;
	const char *stdin_data;		/* NULL: none ("stdin": "") */
	size_t stdin_len;
	json_t *args;			/* array of strings; NULL: [] */
	struct sbx_limits limits;	/* only the six stored ones are used */
	struct sbx_result result;	/* buffers borrowed */
	const char *status;		/* status text; NULL: from result.status */
	json_t *compile;		/* the compile stage as stored, or NULL */
	const json_t *tests;		/* {verdict, tests, totals}, or NULL */
	const json_t *files;		/* {files, files_dropped, ...}, or NULL */
};

/* The full JSON object of one record, as store_get() returns it and as the
 * log holds it: tests' verdict, tests and totals (whichever it has) come
 * at the top level.  NULL only when out of memory. */
json_t *store_row_json(const struct store_row *row);

/* code_preview: at most 80 characters of code, invalid UTF-8 replaced. */
json_t *store_preview(const char *code, size_t len);

/* Formats Unix time in ms as "2026-11-27T10:00:53.123Z".  Returns 0 or a
 * negative errno. */
int store_format_time(int64_t ms, char *buf, size_t len);

/* Wall-clock time now, in ms since the epoch. */
int64_t store_now_ms(void);

/* ---- the backends ------------------------------------------------------- */

/* The columns of a record, in the order both backends select them for
 * store_get() (get_sql) ... */
enum {
	C_ID, C_CREATED, C_CLIENT, C_ENDPOINT, C_LANGUAGE, C_CODE, C_STDIN,
	C_ARGS, C_L_WALL, C_L_CPU, C_L_MEM, C_L_PROCS, C_L_OUTPUT, C_STATUS,
	C_EXIT, C_SIGNAL, C_STDOUT, C_STDERR, C_OUTPUT, C_OUT_TRUNC,
	C_ERR_TRUNC, C_WALL, C_CPU, C_MEM, C_COMPILE, C_TESTS, C_L_FSIZE,
	C_FILES,
};
#define STORE_GET_COLUMNS						\
	"id, created_ms, client, endpoint, language, code, stdin, args,"	\
	" limit_wall_time_ms, limit_cpu_time_ms, limit_memory_bytes,"	\
	" limit_max_processes, limit_output_bytes, status, exit_code, signal,"	\
	" stdout, stderr, output, stdout_truncated, stderr_truncated,"	\
	" wall_time_ms, cpu_time_ms, memory_bytes, compile, tests,"	\
	" limit_file_size_bytes, files"

/* ... and for store_list(), the last being the code's first
 * STORE_PREVIEW_BYTES bytes. */
enum {
	L_ID, L_CREATED, L_CLIENT, L_ENDPOINT, L_LANGUAGE, L_STATUS, L_EXIT,
	L_SIGNAL, L_WALL, L_CPU, L_MEM, L_VERDICT, L_PREVIEW,
};
#define STORE_LIST_COLUMNS						\
	"id, created_ms, client, endpoint, language, status, exit_code,"	\
	" signal, wall_time_ms, cpu_time_ms, memory_bytes, verdict"

/* The columns of a job, in the order both backends select them. */
enum {
	J_TOKEN, J_API, J_STATE, J_ATTEMPTS, J_CREATED, J_STARTED, J_FINISHED,
	J_REQUEST, J_PEER, J_ANSWER, J_CALLBACK, J_EXECUTION, J_CLIENT, J_NODE,
};

/* One row of a result, read by column number: each backend wraps its own
 * row in it so that the JSON is built in one place. */
struct store_cols {
	void *row;
	bool (*is_null)(void *row, int col);
	int64_t (*i64)(void *row, int col);
	/* The bytes of a text or blob column, followed by a NUL that len
	 * does not count; NULL for an SQL NULL. */
	const char *(*bytes)(void *row, int col, size_t *len);
};

/* A record's full JSON (STORE_GET_COLUMNS), a list's item
 * (STORE_LIST_COLUMNS), or a job (*out filled; J_* columns; returns 0 or
 * -ENOMEM, *out released on failure). */
json_t *store_cols_record(const struct store_cols *c);
json_t *store_cols_summary(const struct store_cols *c);
int store_cols_job(const struct store_cols *c, struct store_job *out);

/* A record ready for the database: its row and the JSON texts of its
 * columns, and the job to finish with it. */
struct store_prepared {
	struct store_row row;
	const char *args;		/* never NULL */
	const char *compile, *tests, *files, *verdict;	/* NULL: SQL NULL */
	const char *job_token;		/* NULL: no job */
	unsigned job_attempt;		/* 0: whatever the job's attempt */
	json_t *job_answer;		/* the job's answer; "id" is the record's */
};

/* The database behind a store. */
struct store_db;

struct store_backend {
	const char *kind;		/* "sqlite", "postgres" */
	int (*open)(struct store_db **out, const struct store_config *cfg, char *why,
		    size_t whylen);
	void (*close)(struct store_db *db);
	/* The record and, with job_token, the job finished in the same
	 * transaction (-EALREADY, and no record, when the job is not there
	 * to finish). */
	int (*insert)(struct store_db *db, const struct store_prepared *p, int64_t *id);
	int (*get)(struct store_db *db, int64_t id, json_t **out);
	/* Appends up to limit summaries to items; *more when older ones are
	 * left. */
	int (*list)(struct store_db *db, int64_t before, unsigned limit, json_t *items,
		    bool *more);
	int (*job_add)(struct store_db *db, const struct store_job *job);
	int (*job_start)(struct store_db *db, const char *token, int64_t now_ms);
	int (*job_finish)(struct store_db *db, const char *token, unsigned attempt,
			  const char *answer, int64_t execution_id, int64_t now_ms);
	int (*job_get)(struct store_db *db, const char *token, struct store_job *out);
	int (*job_delete)(struct store_db *db, const char *token);
	int (*job_unfinished)(struct store_db *db, struct store_job **jobs, size_t *n);
	int (*job_counts)(struct store_db *db, uint64_t counts[3]);
	/* A shared queue's (NULL in the others). */
	int (*job_claim)(struct store_db *db, struct store_job *out);
	int (*job_renew)(struct store_db *db);
	int (*job_hand_back)(struct store_db *db, const char *token, unsigned attempt);
	int (*listen)(struct store_db *db, const struct store_events *ev);
	void (*unlisten)(struct store_db *db);
	void (*health)(struct store_db *db, struct store_health *out);
};

extern const struct store_backend store_sqlite;
extern const struct store_backend store_postgres;

/* The text of a job's answer with its "id" set to the record's (id <= 0:
 * null).  NULL when out of memory. */
char *store_answer_text(json_t *answer, int64_t id);

/* Exactly STORE_TOKEN_LEN lowercase hex characters. */
bool store_token_ok(const char *t);

/* "queued", "running" and "done" back to the state; anything else (a
 * database edited by hand) is done, so that it is never run. */
enum store_job_state store_job_state_from_name(const char *name);

/* The oldest creation (or finishing) time keep_days keeps; INT64_MIN when
 * keep_days is 0. */
int64_t store_keep_cutoff(uint64_t keep_days);

/* Creates every missing directory of path's parent, mode 0700. */
int store_mkdir_parents(const char *path);

#endif
