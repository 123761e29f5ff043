/*
 * sqlite.c - the store's embedded backend: one SQLite connection in WAL
 * mode, guarded by a mutex, for one process.  Its queue is that process's
 * alone: the HTTP service hands its jobs to its workers itself, and at
 * start runs what a stop or a crash left (store_job_unfinished()).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/util.h"

/* Bump when the schema changes; the open refuses a newer database. */
#define SQLITE_SCHEMA_VERSION	4
/* How long a statement waits for a lock held by another process (an
 * operator's sqlite3 shell, a backup) before giving up. */
#define BUSY_TIMEOUT_MS	5000

struct store_db {
	pthread_mutex_t lock;		/* guards db, the statements, counters */
	sqlite3 *db;
	sqlite3_stmt *ins, *get, *list;
	sqlite3_stmt *job_add, *job_start, *job_finish, *job_get, *job_delete;
	uint64_t keep_count, keep_days;
	unsigned since_prune;		/* inserts since retention last ran */
	unsigned jobs_since_prune;	/* jobs finished since then */
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS executions ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" created_ms INTEGER NOT NULL,"
	" client TEXT NOT NULL,"
	" endpoint TEXT NOT NULL,"
	" language TEXT NOT NULL,"
	" code BLOB NOT NULL,"
	" stdin BLOB,"
	" args TEXT NOT NULL,"
	" limit_wall_time_ms INTEGER NOT NULL,"
	" limit_cpu_time_ms INTEGER NOT NULL,"
	" limit_memory_bytes INTEGER NOT NULL,"
	" limit_max_processes INTEGER NOT NULL,"
	" limit_output_bytes INTEGER NOT NULL,"
	" status TEXT NOT NULL,"
	" exit_code INTEGER,"
	" signal INTEGER,"
	" stdout BLOB NOT NULL,"
	" stderr BLOB NOT NULL,"
	" output BLOB NOT NULL,"
	" stdout_truncated INTEGER NOT NULL,"
	" stderr_truncated INTEGER NOT NULL,"
	" wall_time_ms INTEGER NOT NULL,"
	" cpu_time_ms INTEGER NOT NULL,"
	" memory_bytes INTEGER NOT NULL,"
	" compile TEXT,"	/* since version 2: the compile stage, JSON */
	" verdict TEXT,"	/* since version 3: the tests' verdict */
	" tests TEXT,"		/* since version 3: {verdict, tests, totals} */
	" limit_file_size_bytes INTEGER," /* since version 3; NULL before */
	" files TEXT);"		/* since version 4: {files, files_dropped...} */
	"CREATE INDEX IF NOT EXISTS executions_created_ms"
	" ON executions(created_ms);"
	/* Since version 3.  The token is the key; the implicit rowid is
	 * kept so that jobs created in the same millisecond still have an
	 * order. */
	"CREATE TABLE IF NOT EXISTS jobs ("
	" token TEXT PRIMARY KEY NOT NULL,"
	" api TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),"
	" attempts INTEGER NOT NULL,"
	" created_ms INTEGER NOT NULL,"
	" started_ms INTEGER NOT NULL,"
	" finished_ms INTEGER NOT NULL,"
	" request TEXT NOT NULL,"
	" peer TEXT,"
	" answer TEXT,"
	" callback_url TEXT,"
	" execution_id INTEGER NOT NULL,"
	" client TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS jobs_state_finished_ms"
	" ON jobs(state, finished_ms);";

/* What each version before the current one lacks, in order; each step is
 * run when the database's version is below its own. */
static const struct {
	int version;		/* the version that brought it */
	const char *sql;
} migrations[] = {
	{ 2, "ALTER TABLE executions ADD COLUMN compile TEXT" },
	{ 3, "ALTER TABLE executions ADD COLUMN verdict TEXT;"
	     "ALTER TABLE executions ADD COLUMN tests TEXT;"
	     "ALTER TABLE executions ADD COLUMN limit_file_size_bytes INTEGER" },
	/* The jobs table comes with schema_sql's CREATE ... IF NOT EXISTS. */
	{ 4, "ALTER TABLE executions ADD COLUMN files TEXT" },
};

static const char insert_sql[] =
	"INSERT INTO executions (created_ms, client, endpoint, language, code,"
	" stdin, args, limit_wall_time_ms, limit_cpu_time_ms,"
	" limit_memory_bytes, limit_max_processes, limit_output_bytes, status,"
	" exit_code, signal, stdout, stderr, output, stdout_truncated,"
	" stderr_truncated, wall_time_ms, cpu_time_ms, memory_bytes, compile,"
	" verdict, tests, limit_file_size_bytes, files)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
	" ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)";

static const char get_sql[] =
	"SELECT " STORE_GET_COLUMNS " FROM executions WHERE id = ?1";

static const char list_sql[] =
	"SELECT " STORE_LIST_COLUMNS ", substr(code, 1, ?3)"
	" FROM executions WHERE id < ?1 ORDER BY id DESC LIMIT ?2";

/* ---- small helpers ------------------------------------------------------ */

/* A negative errno for an SQLite result code, so callers see one contract. */
static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:	return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:	return -EBUSY;
	case SQLITE_FULL:	return -ENOSPC;
	case SQLITE_READONLY:	return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:	return -EACCES;
	case SQLITE_CANTOPEN:	return -ENOENT;
	case SQLITE_TOOBIG:	return -E2BIG;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:	return -EILSEQ;
	default:		return -EIO;
	}
}

/* SQLite integers are signed 64-bit; a larger uint64_t is saturated rather
 * than wrapped into a negative number. */
static sqlite3_int64 i64(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)v;
}

static uint64_t u64(sqlite3_int64 v)
{
	return v < 0 ? 0 : (uint64_t)v;
}

/* ---- rows ---------------------------------------------------------------- */

static bool col_is_null(void *row, int col)
{
	return sqlite3_column_type(row, col) == SQLITE_NULL;
}

static int64_t col_i64(void *row, int col)
{
	return sqlite3_column_int64(row, col);
}

/* sqlite3_column_text() is asked first because it guarantees a terminating
 * NUL (which struct store_cols promises) without altering the bytes;
 * sqlite3_column_bytes() then gives the true length, embedded NULs
 * included. */
static const char *col_bytes(void *row, int col, size_t *len)
{
	const char *p = (const char *)sqlite3_column_text(row, col);

	*len = p ? (size_t)sqlite3_column_bytes(row, col) : 0;
	return p;
}

static void cols_of(sqlite3_stmt *s, struct store_cols *c)
{
	*c = (struct store_cols){ .row = s, .is_null = col_is_null, .i64 = col_i64,
				  .bytes = col_bytes };
}

/* ---- retention ---------------------------------------------------------- */

static int exec_i64(sqlite3 *db, const char *sql, int64_t v)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, v);
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE || rc == SQLITE_ROW)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_OK ? 0 : sql_errno(rc);
}

/* Gives the freed pages back to the file system (auto_vacuum is
 * INCREMENTAL on databases this code created). */
static void vacuum_locked(struct store_db *st)
{
	sqlite3_exec(st->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
}

/* Drops records beyond keep_count and older than keep_days.  Called with
 * the lock held.  A failure is reported but harms nothing: the next round
 * tries again. */
static int prune_executions_locked(struct store_db *st)
{
	int r = 0, r2 = 0;

	st->since_prune = 0;
	if (st->keep_count)
		r = exec_i64(st->db, "DELETE FROM executions WHERE id <= (SELECT id"
			     " FROM executions ORDER BY id DESC LIMIT 1 OFFSET ?1)",
			     i64(st->keep_count));
	if (st->keep_days)
		r2 = exec_i64(st->db, "DELETE FROM executions WHERE created_ms < ?1",
			      store_keep_cutoff(st->keep_days));
	if (r < 0 || r2 < 0) {
		fprintf(stderr, "store: retention failed: %s\n",
			sqlite3_errmsg(st->db));
		return r < 0 ? r : r2;
	}
	return 0;
}

/* The same for done jobs, by when they finished: the newest keep_count of
 * them, finished within keep_days.  Queued and running jobs are never
 * pruned, however old. */
static int prune_jobs_locked(struct store_db *st)
{
	int r = 0, r2 = 0;

	st->jobs_since_prune = 0;
	if (st->keep_count)
		r = exec_i64(st->db, "DELETE FROM jobs WHERE state = 'done' AND rowid NOT IN"
			     " (SELECT rowid FROM jobs WHERE state = 'done'"
			     " ORDER BY finished_ms DESC, rowid DESC LIMIT ?1)",
			     i64(st->keep_count));
	if (st->keep_days)
		r2 = exec_i64(st->db, "DELETE FROM jobs WHERE state = 'done'"
			      " AND finished_ms < ?1", store_keep_cutoff(st->keep_days));
	if (r < 0 || r2 < 0) {
		fprintf(stderr, "store: retention of jobs failed: %s\n",
			sqlite3_errmsg(st->db));
		return r < 0 ? r : r2;
	}
	return 0;
}

static int prune_locked(struct store_db *st)
{
	int r = prune_executions_locked(st), r2 = prune_jobs_locked(st);

	if (r == 0 && r2 == 0)
		vacuum_locked(st);
	return r < 0 ? r : r2;
}

/* ---- open and close ----------------------------------------------------- */

/* Creates the database file ourselves, mode 0600, before SQLite sees it:
 * SQLite would create it 0644 and then give the -wal and -shm files the
 * same mode as the database. */
static int create_db_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int setup_schema(sqlite3 *db, char *why, size_t whylen)
{
	sqlite3_stmt *s = NULL;
	int rc, version = -1;

	/* auto_vacuum only takes effect before the first table exists, so it
	 * is set on every open and matters only on the first. */
	rc = sqlite3_exec(db, "PRAGMA auto_vacuum = INCREMENTAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
		if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
		    strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
			snprintf(why, whylen, "cannot switch the database to WAL mode");
			sqlite3_finalize(s);
			return -ENOTSUP;
		}
		rc = sqlite3_finalize(s);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA synchronous = NORMAL;"
				  "PRAGMA foreign_keys = OFF;", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sqlfail;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto sqlfail;
	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
	if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (version < 0)
		goto rollback;
	if (version > SQLITE_SCHEMA_VERSION) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(why, whylen, "database schema version %d is newer than "
			 "this safexec understands (%d)", version, SQLITE_SCHEMA_VERSION);
		return -EPROTO;
	}
	/* Version 0 is a new database: schema_sql makes it whole.  Older
	 * ones gain what they lack, all in this one transaction. */
	rc = SQLITE_OK;
	for (size_t i = 0; version > 0 && rc == SQLITE_OK &&
	     i < sizeof(migrations) / sizeof(migrations[0]); i++)
		if (version < migrations[i].version)
			rc = sqlite3_exec(db, migrations[i].sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, schema_sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK && version < SQLITE_SCHEMA_VERSION) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SQLITE_SCHEMA_VERSION);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK)
		goto rollback;
	rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto rollback;
	return 0;
rollback:
	rc = sqlite3_errcode(db);
	snprintf(why, whylen, "cannot create the schema: %s", sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return sql_errno(rc);
sqlfail:
	snprintf(why, whylen, "cannot configure the database: %s", sqlite3_errmsg(db));
	return sql_errno(rc);
}

static int prepare_job_statements(struct store_db *st);
static void sq_close(struct store_db *st);

static int sq_open(struct store_db **out, const struct store_config *cfg, char *why,
		   size_t whylen)
{
	struct store_db *st = NULL;
	int r, rc;

	*out = NULL;
	if (!cfg->db_path || !*cfg->db_path) {
		snprintf(why, whylen, "no database path");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&st->lock, NULL);
	st->keep_count = cfg->keep_count;
	st->keep_days = cfg->keep_days;

	if ((r = store_mkdir_parents(cfg->db_path)) < 0) {
		snprintf(why, whylen, "cannot create the directory of %s: %s",
			 cfg->db_path, strerror(-r));
		goto fail;
	}
	if ((r = create_db_file(cfg->db_path)) < 0) {
		snprintf(why, whylen, "cannot open %s: %s", cfg->db_path, strerror(-r));
		goto fail;
	}
	rc = sqlite3_open_v2(cfg->db_path, &st->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "cannot open %s: %s", cfg->db_path,
			 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		r = sql_errno(rc);
		goto fail;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	if ((r = setup_schema(st->db, why, whylen)) < 0)
		goto fail;

	rc = sqlite3_prepare_v3(st->db, insert_sql, -1, SQLITE_PREPARE_PERSISTENT, &st->ins, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(st->db, get_sql, -1, SQLITE_PREPARE_PERSISTENT, &st->get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(st->db, list_sql, -1, SQLITE_PREPARE_PERSISTENT, &st->list, NULL);
	if (rc == SQLITE_OK)
		rc = prepare_job_statements(st);
	if (rc != SQLITE_OK) {
		snprintf(why, whylen, "cannot prepare statements: %s", sqlite3_errmsg(st->db));
		r = sql_errno(rc);
		goto fail;
	}
	/* A failure here is reported by prune_locked() and retried after the
	 * next STORE_PRUNE_EVERY inserts; it is no reason to refuse service. */
	prune_locked(st);
	*out = st;
	return 0;
fail:
	sq_close(st);
	return r;
}

static void sq_close(struct store_db *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->ins);
	sqlite3_finalize(st->get);
	sqlite3_finalize(st->list);
	sqlite3_finalize(st->job_add);
	sqlite3_finalize(st->job_start);
	sqlite3_finalize(st->job_finish);
	sqlite3_finalize(st->job_get);
	sqlite3_finalize(st->job_delete);
	if (st->db) {
		sqlite3_exec(st->db, "PRAGMA optimize", NULL, NULL, NULL);
		sqlite3_close(st->db);
	}
	pthread_mutex_destroy(&st->lock);
	free(st);
}

/* ---- insert, get, list -------------------------------------------------- */

static int bind_bytes(sqlite3_stmt *s, int i, const char *p, size_t len)
{
	if (len > INT_MAX)
		return SQLITE_TOOBIG;
	/* A zero-length blob must not be bound from NULL: that stores NULL. */
	return sqlite3_bind_blob(s, i, p && len ? p : "", (int)len, SQLITE_STATIC);
}

static int bind_text_or_null(sqlite3_stmt *s, int i, const char *text)
{
	return text ? sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC)
		    : sqlite3_bind_null(s, i);
}

static int bind_record(sqlite3_stmt *s, const struct store_prepared *p)
{
	const struct store_row *row = &p->row;
	const struct sbx_limits *l = &row->limits;
	const struct sbx_result *res = &row->result;
	int rc = 0;

	rc |= sqlite3_bind_int64(s, 1, row->created_ms);
	rc |= sqlite3_bind_text(s, 2, row->client, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 3, row->endpoint, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 4, row->language, -1, SQLITE_STATIC);
	rc |= bind_bytes(s, 5, row->code, row->code_len);
	if (row->stdin_data)
		rc |= bind_bytes(s, 6, row->stdin_data, row->stdin_len);
	else
		rc |= sqlite3_bind_null(s, 6);
	rc |= sqlite3_bind_text(s, 7, p->args, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(s, 8, i64(l->wall_ms));
	rc |= sqlite3_bind_int64(s, 9, i64(l->cpu_ms));
	rc |= sqlite3_bind_int64(s, 10, i64(l->memory_bytes));
	rc |= sqlite3_bind_int64(s, 11, l->processes);
	rc |= sqlite3_bind_int64(s, 12, i64(l->output_bytes));
	rc |= sqlite3_bind_text(s, 13, row->status, -1, SQLITE_STATIC);
	if (res->has_exit_code)
		rc |= sqlite3_bind_int(s, 14, res->exit_code);
	else
		rc |= sqlite3_bind_null(s, 14);
	if (res->signal)
		rc |= sqlite3_bind_int(s, 15, res->signal);
	else
		rc |= sqlite3_bind_null(s, 15);
	rc |= bind_bytes(s, 16, res->out.data, res->out.len);
	rc |= bind_bytes(s, 17, res->err.data, res->err.len);
	rc |= bind_bytes(s, 18, res->output.data, res->output.len);
	rc |= sqlite3_bind_int(s, 19, res->stdout_truncated);
	rc |= sqlite3_bind_int(s, 20, res->stderr_truncated);
	rc |= sqlite3_bind_int64(s, 21, i64(res->wall_time_ms));
	rc |= sqlite3_bind_int64(s, 22, i64(res->cpu_time_ms));
	rc |= sqlite3_bind_int64(s, 23, i64(res->memory_bytes));
	rc |= bind_text_or_null(s, 24, p->compile);
	rc |= bind_text_or_null(s, 25, p->verdict);
	rc |= bind_text_or_null(s, 26, p->tests);
	rc |= sqlite3_bind_int64(s, 27, i64(l->file_size_bytes));
	rc |= bind_text_or_null(s, 28, p->files);
	/* Every bind returns SQLITE_OK (0) or an error; OR-ing keeps "some
	 * error" without caring which. */
	return rc;
}

static int finish_locked(struct store_db *st, const char *token, unsigned attempt,
			 const char *answer, int64_t execution_id, int64_t now_ms);

static int sq_insert(struct store_db *st, const struct store_prepared *p, int64_t *id)
{
	int r = 0, rc;

	*id = 0;
	pthread_mutex_lock(&st->lock);
	if (p->job_token &&
	    (rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
		r = sql_errno(rc);
		fprintf(stderr, "store: insert failed: %s\n", sqlite3_errmsg(st->db));
		pthread_mutex_unlock(&st->lock);
		return r;
	}
	rc = bind_record(st->ins, p);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st->ins);
	if (rc == SQLITE_DONE) {
		*id = sqlite3_last_insert_rowid(st->db);
	} else {
		r = sql_errno(rc);
		fprintf(stderr, "store: insert failed: %s\n", sqlite3_errmsg(st->db));
	}
	sqlite3_reset(st->ins);
	sqlite3_clear_bindings(st->ins);
	if (p->job_token) {
		if (r == 0) {
			char *text = p->job_answer ? store_answer_text(p->job_answer, *id) : NULL;
			if (p->job_answer && !text)
				r = -ENOMEM;
			else
				r = finish_locked(st, p->job_token, p->job_attempt, text, *id,
						  store_now_ms());
			free(text);
			if (r > 0)
				r = 0;
		}
		rc = sqlite3_exec(st->db, r == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
		if (r == 0 && rc != SQLITE_OK) {
			r = sql_errno(rc);
			fprintf(stderr, "store: commit failed: %s\n", sqlite3_errmsg(st->db));
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		}
		if (r < 0)
			*id = 0;
	}
	if (r == 0 && ++st->since_prune >= STORE_PRUNE_EVERY &&
	    prune_executions_locked(st) == 0)
		vacuum_locked(st);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int sq_get(struct store_db *st, int64_t id, json_t **out)
{
	struct store_cols c;
	int r = 0, rc;

	pthread_mutex_lock(&st->lock);
	sqlite3_bind_int64(st->get, 1, id);
	rc = sqlite3_step(st->get);
	if (rc == SQLITE_ROW) {
		cols_of(st->get, &c);
		*out = store_cols_record(&c);
		if (!*out)
			r = -ENOMEM;
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = sql_errno(rc);
		fprintf(stderr, "store: get %" PRId64 " failed: %s\n", id,
			sqlite3_errmsg(st->db));
	}
	sqlite3_reset(st->get);
	sqlite3_clear_bindings(st->get);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int sq_list(struct store_db *st, int64_t before, unsigned limit, json_t *items,
		   bool *more)
{
	struct store_cols c;
	unsigned n = 0;
	int r = 0, rc;

	pthread_mutex_lock(&st->lock);
	sqlite3_bind_int64(st->list, 1, before);
	/* One row more than asked tells whether another page exists. */
	sqlite3_bind_int64(st->list, 2, (sqlite3_int64)limit + 1);
	sqlite3_bind_int(st->list, 3, STORE_PREVIEW_BYTES);
	cols_of(st->list, &c);
	while ((rc = sqlite3_step(st->list)) == SQLITE_ROW) {
		if (n == limit) {
			*more = true;
			break;
		}
		json_t *item = store_cols_summary(&c);
		if (!item || json_array_append_new(items, item) < 0) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = sql_errno(rc);
		fprintf(stderr, "store: list failed: %s\n", sqlite3_errmsg(st->db));
	}
	sqlite3_reset(st->list);
	sqlite3_clear_bindings(st->list);
	pthread_mutex_unlock(&st->lock);
	return r;
}

/* ---- submissions -------------------------------------------------------- */

/* Column order of enum J_* (no node: one process runs them all). */
#define JOB_COLUMNS							\
	"token, api, state, attempts, created_ms, started_ms, finished_ms,"	\
	" request, peer, answer, callback_url, execution_id, client"

static const char job_add_sql[] =
	"INSERT INTO jobs (" JOB_COLUMNS ") VALUES (?1, ?2, 'queued', 0, ?3, 0, 0,"
	" ?4, ?5, NULL, ?6, 0, ?7)";
/* A done job keeps its answer: neither statement touches it again. */
static const char job_start_sql[] =
	"UPDATE jobs SET state = 'running', attempts = attempts + 1,"
	" started_ms = ?2 WHERE token = ?1 AND state <> 'done'";
static const char job_finish_sql[] =
	"UPDATE jobs SET state = 'done', answer = ?2, execution_id = ?3,"
	" finished_ms = ?4 WHERE token = ?1 AND state <> 'done'"
	" AND (?5 = 0 OR attempts = ?5)";
static const char job_get_sql[] =
	"SELECT " JOB_COLUMNS ", NULL FROM jobs WHERE token = ?1";
static const char job_delete_sql[] =
	"DELETE FROM jobs WHERE token = ?1 AND state = 'done'";
/* rowid breaks ties between jobs created in the same millisecond. */
static const char job_unfinished_sql[] =
	"SELECT " JOB_COLUMNS ", NULL FROM jobs WHERE state <> 'done'"
	" ORDER BY created_ms, rowid";

static int prepare_job_statements(struct store_db *st)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
		{ offsetof(struct store_db, job_add), job_add_sql },
		{ offsetof(struct store_db, job_start), job_start_sql },
		{ offsetof(struct store_db, job_finish), job_finish_sql },
		{ offsetof(struct store_db, job_get), job_get_sql },
		{ offsetof(struct store_db, job_delete), job_delete_sql },
	};
	int rc = SQLITE_OK;

	for (size_t i = 0; rc == SQLITE_OK && i < sizeof(stmts) / sizeof(stmts[0]); i++)
		rc = sqlite3_prepare_v3(st->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					(sqlite3_stmt **)((char *)st + stmts[i].off), NULL);
	return rc;
}

/* Runs a persistent statement that changes at most one row, and resets it.
 * Returns the number of rows changed or a negative errno.  With the lock
 * held. */
static int step_change(struct store_db *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s), r;

	if (rc == SQLITE_DONE) {
		r = sqlite3_changes(st->db);
	} else {
		r = (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
			? -EEXIST : sql_errno(rc);
		if (r != -EEXIST)
			fprintf(stderr, "store: %s failed: %s\n", what, sqlite3_errmsg(st->db));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

/* Why a statement on token changed nothing: -ENOENT when there is no such
 * job, else busy_or_done (the job is in the state the statement
 * excludes).  With the lock held. */
static int job_missing_or(struct store_db *st, const char *token, int busy_or_done)
{
	sqlite3_stmt *s = st->job_get;
	int rc, r;

	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	r = rc == SQLITE_ROW ? busy_or_done : rc == SQLITE_DONE ? -ENOENT : sql_errno(rc);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return r;
}

static int sq_job_add(struct store_db *st, const struct store_job *job)
{
	sqlite3_stmt *s;
	int rc = 0, r;

	pthread_mutex_lock(&st->lock);
	s = st->job_add;
	rc |= sqlite3_bind_text(s, 1, job->token, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_text(s, 2, job->api, -1, SQLITE_STATIC);
	rc |= sqlite3_bind_int64(s, 3, job->created_ms ? job->created_ms : store_now_ms());
	rc |= sqlite3_bind_text(s, 4, job->request, -1, SQLITE_STATIC);
	rc |= bind_text_or_null(s, 5, job->peer);
	rc |= bind_text_or_null(s, 6, job->callback_url);
	rc |= sqlite3_bind_text(s, 7, job->client, -1, SQLITE_STATIC);
	if (rc != SQLITE_OK) {
		r = sql_errno(rc);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	} else {
		/* In autocommit mode the INSERT is its own transaction: when
		 * step returns, it is in the WAL. */
		r = step_change(st, s, "adding a job");
	}
	pthread_mutex_unlock(&st->lock);
	return r < 0 ? r : 0;
}

static int sq_job_start(struct store_db *st, const char *token, int64_t now_ms)
{
	int r;

	pthread_mutex_lock(&st->lock);
	sqlite3_bind_text(st->job_start, 1, token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st->job_start, 2, now_ms);
	r = step_change(st, st->job_start, "starting a job");
	if (r == 0)
		r = job_missing_or(st, token, -EALREADY);
	pthread_mutex_unlock(&st->lock);
	return r < 0 ? r : 0;
}

/* Marks a job done with its answer, the lock held; > 0 when it changed. */
static int finish_locked(struct store_db *st, const char *token, unsigned attempt,
			 const char *answer, int64_t execution_id, int64_t now_ms)
{
	sqlite3_stmt *s = st->job_finish;
	int r;

	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	/* Megabytes are fine: SQLITE_STATIC binds the caller's text without
	 * a copy. */
	r = bind_text_or_null(s, 2, answer);
	sqlite3_bind_int64(s, 3, execution_id > 0 ? execution_id : 0);
	sqlite3_bind_int64(s, 4, now_ms);
	sqlite3_bind_int64(s, 5, attempt);
	if (r != SQLITE_OK) {
		r = sql_errno(r);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	} else {
		r = step_change(st, s, "finishing a job");
	}
	if (r == 0)
		r = job_missing_or(st, token, -EALREADY);
	if (r > 0 && ++st->jobs_since_prune >= STORE_PRUNE_EVERY &&
	    prune_jobs_locked(st) == 0)
		vacuum_locked(st);
	return r;
}

static int sq_job_finish(struct store_db *st, const char *token, unsigned attempt,
			 const char *answer, int64_t execution_id, int64_t now_ms)
{
	int r;

	pthread_mutex_lock(&st->lock);
	r = finish_locked(st, token, attempt, answer, execution_id, now_ms);
	pthread_mutex_unlock(&st->lock);
	return r < 0 ? r : 0;
}

static int sq_job_get(struct store_db *st, const char *token, struct store_job *out)
{
	struct store_cols c;
	int r, rc;

	pthread_mutex_lock(&st->lock);
	sqlite3_bind_text(st->job_get, 1, token, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->job_get);
	if (rc == SQLITE_ROW) {
		cols_of(st->job_get, &c);
		r = store_cols_job(&c, out);
	} else if (rc == SQLITE_DONE) {
		r = -ENOENT;
	} else {
		r = sql_errno(rc);
		fprintf(stderr, "store: getting a job failed: %s\n", sqlite3_errmsg(st->db));
	}
	sqlite3_reset(st->job_get);
	sqlite3_clear_bindings(st->job_get);
	pthread_mutex_unlock(&st->lock);
	return r;
}

static int sq_job_delete(struct store_db *st, const char *token)
{
	int r;

	pthread_mutex_lock(&st->lock);
	sqlite3_bind_text(st->job_delete, 1, token, -1, SQLITE_STATIC);
	r = step_change(st, st->job_delete, "deleting a job");
	if (r == 0)
		r = job_missing_or(st, token, -EBUSY);
	pthread_mutex_unlock(&st->lock);
	return r < 0 ? r : 0;
}

static int sq_job_unfinished(struct store_db *st, struct store_job **jobs, size_t *n)
{
	sqlite3_stmt *s = NULL;
	struct store_job *arr = NULL;
	struct store_cols c;
	size_t count = 0, cap = 0;
	int r = 0, rc;

	pthread_mutex_lock(&st->lock);
	rc = sqlite3_prepare_v2(st->db, job_unfinished_sql, -1, &s, NULL);
	cols_of(s, &c);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_job *na = realloc(arr, ncap * sizeof(*arr));
			if (!na) {
				r = -ENOMEM;
				break;
			}
			arr = na;
			cap = ncap;
		}
		if ((r = store_cols_job(&c, &arr[count])) < 0)
			break;
		count++;
	}
	if (r == 0 && rc != SQLITE_DONE) {
		r = sql_errno(rc);
		fprintf(stderr, "store: listing unfinished jobs failed: %s\n",
			sqlite3_errmsg(st->db));
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	if (r < 0) {
		store_job_release_all(arr, count);
		return r;
	}
	if (count == 0) {
		free(arr);
		arr = NULL;
	}
	*jobs = arr;
	*n = count;
	return 0;
}

static int sq_job_counts(struct store_db *st, uint64_t c[3])
{
	sqlite3_stmt *s = NULL;
	int r = 0, rc;

	pthread_mutex_lock(&st->lock);
	rc = sqlite3_prepare_v2(st->db, "SELECT state, count(*) FROM jobs GROUP BY state",
				-1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(s, 0);
		c[store_job_state_from_name(state ? state : "")] += u64(sqlite3_column_int64(s, 1));
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		r = sql_errno(rc);
		fprintf(stderr, "store: counting jobs failed: %s\n", sqlite3_errmsg(st->db));
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	return r;
}

const struct store_backend store_sqlite = {
	.kind = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.insert = sq_insert,
	.get = sq_get,
	.list = sq_list,
	.job_add = sq_job_add,
	.job_start = sq_job_start,
	.job_finish = sq_job_finish,
	.job_get = sq_job_get,
	.job_delete = sq_job_delete,
	.job_unfinished = sq_job_unfinished,
	.job_counts = sq_job_counts,
};
