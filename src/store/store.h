/*
 * store.h - the history of executions and an append-only JSON-lines log of
 * the same records; and, in the same database, the submissions
 * (asynchronous jobs) from when they are queued until their answer has
 * been kept long enough.  Knows nothing of HTTP.
 *
 * Two databases stand behind this one interface: the embedded SQLite (WAL;
 * the default, one process) and PostgreSQL, which several processes
 * ("nodes") share: then the queue is shared too (store_shared()), and jobs
 * are claimed with a lease (store_job_claim()) rather than handed out by
 * the process that took them.  docs/store.md describes both schemas, the
 * JSON shapes and durability; docs/deploy.md the nodes.
 *
 * Thread-safe: one struct store is shared by all worker threads.
 */
#ifndef SAFEXEC_STORE_H
#define SAFEXEC_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

struct store_config {
	const char *url;	/* NULL or "": the SQLite file db_path; else a
				   libpq connection string (postgres://...,
				   or key=value pairs) */
	const char *db_path;	/* SQLite file, created 0600; missing parent
				   directories are created 0700 */
	const char *node;	/* this process's name among the nodes */
	unsigned lease_s;	/* a claimed job's lease (shared queue) */
	unsigned pool;		/* most connections to the database at once
				   (PostgreSQL), the listener's apart */
	uint64_t jobs_max;	/* most jobs queued or running in a shared
				   queue: store_job_add() says -EAGAIN past it */
	const char *log_path;	/* JSON-lines log, created 0600 (and its
				   directories 0700); NULL or "" = no log */
	uint64_t keep_count;	/* keep at most this many records; 0 = all */
	uint64_t keep_days;	/* drop records older than this; 0 = never.
				   Both apply on open and every 100 inserts;
				   the log is never pruned.  Done jobs are
				   pruned by the same two rules, counted
				   apart (on open and every 100 finished). */
	uint64_t files_max;	/* bytes of output files' contents kept per
				   execution (history_files_max); 0 = names
				   and sizes only */
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
	/* The request asked for output_files: result's out_files and drops
	 * are kept (and each test's files in tests), contents only up to
	 * the store's files_max bytes for the whole execution. */
	bool output_files;
	/* A submission's run: the job of this token is finished with
	 * job_answer (its "id" set to the record's) in the same transaction,
	 * so that a crash leaves both or neither. */
	const char *job_token;
	unsigned job_attempt;		/* the job's start that ran it (from
					   store_job_claim()); 0: any */
	json_t *job_answer;
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
 * every result field as codec_result_add() writes it, compile when it had
 * a compile stage, and verdict, tests and totals when it had tests (the
 * record's tests object merged at the top level); with output_files,
 * files [{name, size, mime_type, content?}] (content, in base64, only
 * for the files kept within files_max), and files_dropped and
 * files_dropped_total when entries were dropped.  Bytes that are
 * not valid UTF-8 become U+FFFD in the JSON (the database keeps them as
 * they were).  *out is the caller's reference.  Returns 0, -ENOENT (also
 * for id <= 0), or another negative errno. */
int store_get(struct store *st, int64_t id, json_t **out);

/* Up to limit executions with id < before (before <= 0: from the newest),
 * newest first, as {"executions": [...], "next_before": ID or null}.  Each
 * item is a summary: id, created_at, client, endpoint, language, status,
 * exit_code, signal, wall_time_ms, cpu_time_ms, memory_bytes, verdict
 * (null without tests), and code_preview (the start of the code, at most
 * 80 characters).
 * next_before is the last item's id when older records exist, else null.
 * limit is capped at 1000; 0 gives an empty page.  *out is the caller's
 * reference.  Returns 0 or a negative errno. */
int store_list(struct store *st, int64_t before, unsigned limit, json_t **out);

/* ---- submissions (asynchronous jobs) ------------------------------------ */

#define STORE_TOKEN_LEN	32			/* lowercase hex characters */
#define STORE_TOKEN_MAX	(STORE_TOKEN_LEN + 1)	/* with the NUL */

enum store_job_state {
	STORE_JOB_QUEUED,	/* waiting for a worker */
	STORE_JOB_RUNNING,	/* a worker took it (perhaps before a crash) */
	STORE_JOB_DONE,		/* answer set; may be pruned from now on */
};

/* One submission.  The strings are malloc'ed when the store fills the
 * struct (store_job_get(), store_job_unfinished()); store_job_add() only
 * reads them. */
struct store_job {
	char token[STORE_TOKEN_MAX];	/* 32 lowercase hex characters, made
					   by the caller; the primary key */
	char api[16];			/* the API it came from: "v1", "judge0" */
	enum store_job_state state;
	unsigned attempts;		/* times it was started */
	int64_t created_ms, started_ms, finished_ms;	/* Unix ms; 0 = not yet */
	char *request;			/* the /api/v1 request, JSON text */
	char *peer;			/* the peer's request as its translator
					   normalized it, JSON text, or NULL */
	char *answer;			/* the /api/v1 answer once done, JSON
					   text, or NULL */
	char *callback_url;		/* NULL: none */
	int64_t execution_id;		/* its record in the history once done;
					   0: none */
	char client[64];		/* client address */
	char node[64];			/* the node that runs or ran it, or ""
					   (shared queues only) */
};

/* "queued", "running" or "done", as the database and the APIs say it. */
const char *store_job_state_name(enum store_job_state s);

/* Adds job as queued (job's attempts, started_ms, finished_ms, answer and
 * execution_id are ignored; so is its state, except in a shared queue,
 * where STORE_JOB_RUNNING adds it claimed by this node at once, for a
 * worker here that is free: attempt 1, leased as store_job_claim() does).
 * The job is committed when this returns 0, so its token may be answered
 * then and not before.  Returns 0, -EINVAL (a token that is not 32
 * lowercase hex characters, no request, no api), -EEXIST (the token is
 * taken), -EAGAIN (a shared queue with jobs_max jobs open) or another
 * negative errno. */
int store_job_add(struct store *st, const struct store_job *job);

/* Marks the job running from now_ms and counts one more attempt; a running
 * job may be started again (after a crash).  Returns 0, -ENOENT, or
 * -EALREADY when it is done. */
int store_job_start(struct store *st, const char *token, int64_t now_ms);

/* Marks the job done at now_ms with its answer (JSON text, may be NULL)
 * and its record in the history (0: none), from queued (a job given up on)
 * or running.  With attempt > 0, only while that start holds it (in a
 * shared queue: on this node, not handed to another since).  Returns 0,
 * -ENOENT, or -EALREADY when it was done already (or is another start's). */
int store_job_finish(struct store *st, const char *token, unsigned attempt,
		     const char *answer, int64_t execution_id, int64_t now_ms);

/* Fills *out (release with store_job_release(); zeroed on failure, so
 * releasing is always safe).  Returns 0, -ENOENT (also for a malformed
 * token), or another negative errno. */
int store_job_get(struct store *st, const char *token, struct store_job *out);

/* Deletes a done job.  Returns 0, -ENOENT, or -EBUSY when it is queued or
 * running. */
int store_job_delete(struct store *st, const char *token);

/* Frees the strings of a job the store filled, and NULLs them. */
void store_job_release(struct store_job *job);

/* For the start of the service: every job not done (queued, or running
 * when the previous process ended), oldest first, to queue again or give
 * up on.  *jobs is a malloc'ed array of *n (NULL when none); free it with
 * store_job_release_all().  Returns 0 or a negative errno. */
int store_job_unfinished(struct store *st, struct store_job **jobs, size_t *n);
void store_job_release_all(struct store_job *jobs, size_t n);

/* How many jobs are in each state (any pointer may be NULL).  Returns 0 or
 * a negative errno. */
int store_job_counts(struct store *st, uint64_t *queued, uint64_t *running,
		     uint64_t *done);

/* ---- a shared queue (several nodes) ---------------------------------------- */

/* "sqlite" or "postgres". */
const char *store_kind(const struct store *st);

/* Whether other processes share the queue: then every job is claimed from
 * the store (store_job_claim()), each node's workers take what any node
 * queued, and who waits learns of the end through store_listen(). */
bool store_shared(const struct store *st);

/* Takes the oldest job that is queued, or running with an expired lease
 * (its node died), for this node: running, one more attempt, leased for
 * lease_s.  Returns 0 with *out (release it), -ENOENT when there is none,
 * -ENOTCONN when the database cannot be reached, or -ENOTSUP when the
 * queue is not shared. */
int store_job_claim(struct store *st, struct store_job *out);

/* Extends the lease of every job this node runs.  Returns how many, or a
 * negative errno (-ENOTCONN: the database cannot be reached). */
int store_job_renew(struct store *st);

/* Gives a job this node claimed (that attempt) back to the queue, its
 * attempt not counted, for another node to run.  Returns 0, -ENOENT when
 * it is no longer this node's, or a negative errno. */
int store_job_hand_back(struct store *st, const char *token, unsigned attempt);

/* What a shared queue tells the nodes.  Each is called on the store's
 * listener thread. */
struct store_events {
	void *arg;
	void (*queued)(void *arg);		/* a job was queued or handed back */
	void (*done)(void *arg, const char *token);	/* a job was finished */
	/* Every second, and when the listener came back after losing the
	 * database (notifications may have been missed meanwhile). */
	void (*tick)(void *arg, bool reconnected);
};

/* Starts the listener thread.  Returns 0, -ENOTSUP when the queue is not
 * shared, or a negative errno. */
int store_listen(struct store *st, const struct store_events *ev);
/* Stops it (store_close() does too): no event is called after it
 * returns. */
void store_unlisten(struct store *st);

struct store_health {
	bool up;			/* the last use of the database worked */
	uint64_t reconnects;		/* connections made again after a loss */
	uint64_t round_trips;		/* statements sent to the database */
	uint64_t wait_ns;		/* time spent waiting for their answers */
	uint64_t claimed;		/* jobs this node claimed */
};

void store_health(struct store *st, struct store_health *out);

#endif
