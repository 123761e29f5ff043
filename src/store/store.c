/*
 * store.c - the history of executions and the submissions: one SQLite
 * connection in WAL mode, guarded by a mutex, plus an append-only JSON-lines
 * log of the executions.
 *
 * See docs/store.md for the schema, the JSON shapes, the log format,
 * retention and what survives a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "util/util.h"

/* Bump when the schema changes; store_open() refuses a newer database. */
#define STORE_SCHEMA_VERSION	4
/* How long a statement waits for a lock held by another process (an
 * operator's sqlite3 shell, a backup) before giving up. */
#define STORE_BUSY_TIMEOUT_MS	5000
/* Retention runs on open and then after this many inserts (or finished
 * jobs): often enough to bound the table, rarely enough that its DELETE
 * costs nothing per run. */
#define STORE_PRUNE_EVERY	100
/* Largest page store_list() returns, whatever the caller asks for. */
#define STORE_LIST_MAX		1000
/* code_preview holds at most this many characters (code points). */
#define STORE_PREVIEW_CHARS	80

struct store {
	pthread_mutex_t lock;		/* guards db, the statements, counters */
	sqlite3 *db;
	sqlite3_stmt *ins, *get, *list;
	sqlite3_stmt *job_add, *job_start, *job_finish, *job_get, *job_delete;
	uint64_t keep_count, keep_days;
	uint64_t files_max;		/* history_files_max */
	unsigned since_prune;		/* inserts since retention last ran */
	unsigned jobs_since_prune;	/* jobs finished since then */
	char *log_path;			/* NULL: no log */
	atomic_bool log_failing;	/* in a streak of failed log writes */
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

/* Column order shared by get_sql and full_row(). */
enum {
	C_ID, C_CREATED, C_CLIENT, C_ENDPOINT, C_LANGUAGE, C_CODE, C_STDIN,
	C_ARGS, C_L_WALL, C_L_CPU, C_L_MEM, C_L_PROCS, C_L_OUTPUT, C_STATUS,
	C_EXIT, C_SIGNAL, C_STDOUT, C_STDERR, C_OUTPUT, C_OUT_TRUNC,
	C_ERR_TRUNC, C_WALL, C_CPU, C_MEM, C_COMPILE, C_TESTS, C_L_FSIZE,
	C_FILES,
};

static const char get_sql[] =
	"SELECT id, created_ms, client, endpoint, language, code, stdin, args,"
	" limit_wall_time_ms, limit_cpu_time_ms, limit_memory_bytes,"
	" limit_max_processes, limit_output_bytes, status, exit_code, signal,"
	" stdout, stderr, output, stdout_truncated, stderr_truncated,"
	" wall_time_ms, cpu_time_ms, memory_bytes, compile, tests,"
	" limit_file_size_bytes, files"
	" FROM executions WHERE id = ?1";

/* Column order shared by list_sql and summary_json(). */
enum {
	L_ID, L_CREATED, L_CLIENT, L_ENDPOINT, L_LANGUAGE, L_STATUS, L_EXIT,
	L_SIGNAL, L_WALL, L_CPU, L_MEM, L_VERDICT, L_PREVIEW,
};

/* Only the first bytes of the code are read for the preview: 4 bytes per
 * character is the most UTF-8 needs, so STORE_PREVIEW_CHARS characters
 * always fit. */
static const char list_sql[] =
	"SELECT id, created_ms, client, endpoint, language, status, exit_code,"
	" signal, wall_time_ms, cpu_time_ms, memory_bytes, verdict,"
	" substr(code, 1, 320)"
	" FROM executions WHERE id < ?1 ORDER BY id DESC LIMIT ?2";

_Static_assert(STORE_PREVIEW_CHARS * 4 == 320, "list_sql reads 320 bytes");

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

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_format_time(int64_t ms, char *buf, size_t len)
{
	/* Floor division so that times before 1970 still format correctly. */
	int64_t sec = ms / 1000, frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	char day[32];

	if (!gmtime_r(&t, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm))
		return -EINVAL;
	int n = snprintf(buf, len, "%s.%03dZ", day, (int)frac);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Creates every missing directory of path's parent, mode 0700 (the history
 * holds other people's code and output). */
static int mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	char *slash = strrchr(buf, '/');
	if (!slash || slash == buf)
		return 0;		/* current directory or / */
	*slash = '\0';
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (c == '\0')
			break;
	}
	struct stat sb;
	if (stat(buf, &sb) < 0)
		return -errno;
	return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

/* Sets key to a new value, taking the reference even on failure. */
static int set_new(json_t *obj, const char *key, json_t *value)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		return -ENOMEM;
	return 0;
}

static json_t *json_u64(uint64_t v)
{
	return json_integer((json_int_t)i64(v));
}

static json_t *json_time(int64_t ms)
{
	char buf[64];

	if (store_format_time(ms, buf, sizeof(buf)) < 0)
		return json_null();
	return json_string(buf);
}

static json_t *json_cstr(const char *s)
{
	return codec_string(s ? s : "", s ? strlen(s) : 0);
}

/* ---- the record as JSON -------------------------------------------------- */

/* The full JSON of one record, from a store_row however it was obtained,
 * so that store_get() and the log can never drift apart. */
json_t *store_row_json(const struct store_row *row)
{
	json_t *obj = json_object(), *limits = json_object();
	int r = 0;

	if (!obj || !limits)
		goto fail;
	r |= set_new(obj, "id", row->id > 0 ? json_integer(row->id) : json_null());
	r |= set_new(obj, "created_at", json_time(row->created_ms));
	r |= set_new(obj, "client", json_cstr(row->client));
	r |= set_new(obj, "endpoint", json_cstr(row->endpoint));
	r |= set_new(obj, "language", json_cstr(row->language));
	r |= set_new(obj, "code", codec_string(row->code, row->code_len));
	r |= set_new(obj, "stdin", codec_string(row->stdin_data, row->stdin_len));
	r |= set_new(obj, "args", row->args ? json_incref(row->args) : json_array());
	r |= set_new(limits, "wall_time_ms", json_u64(row->limits.wall_ms));
	r |= set_new(limits, "cpu_time_ms", json_u64(row->limits.cpu_ms));
	r |= set_new(limits, "memory_bytes", json_u64(row->limits.memory_bytes));
	r |= set_new(limits, "max_processes", json_u64(row->limits.processes));
	r |= set_new(limits, "output_bytes", json_u64(row->limits.output_bytes));
	/* Records from before version 3 have none. */
	if (row->limits.file_size_bytes)
		r |= set_new(limits, "file_size_bytes", json_u64(row->limits.file_size_bytes));
	r |= set_new(obj, "limits", limits);
	limits = NULL;
	if (r || codec_result_add(obj, &row->result) < 0)
		goto fail;
	char msg[200];
	codec_status_message(&row->result, &row->limits, msg, sizeof(msg));
	if (row->compile) {
		const char *cm = json_string_value(json_object_get(row->compile, "message"));
		if (set_new(obj, "compile", json_incref(row->compile)) < 0)
			goto fail;
		if (row->status && strcmp(row->status, CODEC_COMPILE_ERROR) == 0)
			codec_compile_failed_message(cm, msg, sizeof(msg));
	}
	if (set_new(obj, "message", json_string(msg)) < 0)
		goto fail;
	/* A database written by a later version may hold a status this build
	 * has no enum for; report the stored text rather than a guess. */
	if (row->status && set_new(obj, "status", json_cstr(row->status)) < 0)
		goto fail;
	/* Only these three keys: a stored object can never overwrite the
	 * record's own fields. */
	static const char *const tests_keys[] = { "verdict", "tests", "totals" };
	for (size_t i = 0; row->tests && i < sizeof(tests_keys) / sizeof(tests_keys[0]); i++) {
		/* The reference taken (and dropped with obj) leaves the
		 * caller's object as it was; jansson counts atomically. */
		json_t *v = json_object_get(row->tests, tests_keys[i]);
		if (v && set_new(obj, tests_keys[i], json_incref(v)) < 0)
			goto fail;
	}
	static const char *const files_keys[] = { "files", "files_dropped",
						  "files_dropped_total" };
	for (size_t i = 0; row->files && i < sizeof(files_keys) / sizeof(files_keys[0]); i++) {
		json_t *v = json_object_get(row->files, files_keys[i]);
		if (v && set_new(obj, files_keys[i], json_incref(v)) < 0)
			goto fail;
	}
	return obj;
fail:
	json_decref(limits);
	json_decref(obj);
	return NULL;
}

/* The JSON array of a record's arguments, every one made valid UTF-8. */
static json_t *args_json(const char *const *argv, size_t argc)
{
	json_t *a = json_array();

	if (!a)
		return NULL;
	for (size_t i = 0; i < argc; i++) {
		json_t *s = json_cstr(argv ? argv[i] : NULL);
		if (!s || json_array_append_new(a, s) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static enum sbx_status status_from_name(const char *name)
{
	for (int s = SBX_OK; s <= SBX_INTERNAL_ERROR; s++)
		if (name && strcmp(name, sbx_status_name((enum sbx_status)s)) == 0)
			return (enum sbx_status)s;
	return SBX_INTERNAL_ERROR;
}

/* A column as bytes.  sqlite3_column_text() is asked first because it
 * guarantees a terminating NUL (which struct sbx_buf promises) without
 * altering the bytes; sqlite3_column_bytes() then gives the true length,
 * embedded NULs included.  NULL only for an SQL NULL. */
static const char *col_bytes(sqlite3_stmt *st, int col, size_t *len)
{
	const char *p = (const char *)sqlite3_column_text(st, col);

	*len = p ? (size_t)sqlite3_column_bytes(st, col) : 0;
	return p;
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const char *p = (const char *)sqlite3_column_text(st, col);
	return p ? p : "";
}

static void col_buf(sqlite3_stmt *st, int col, struct sbx_buf *b)
{
	const char *p = col_bytes(st, col, &b->len);
	/* struct sbx_buf's data is never const in practice here: the codec
	 * only reads it, and the row outlives the JSON being built. */
	b->data = (char *)(p ? p : "");
}

/* A column of JSON text holding an object; NULL for an SQL NULL or text
 * that is not one.  Outputs inside may hold NUL bytes (as \u0000). */
static json_t *col_object(sqlite3_stmt *st, int col)
{
	json_t *o;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	o = json_loads(col_text(st, col), JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* The full record at the current row of stmt (get_sql's columns). */
static json_t *full_row(sqlite3_stmt *st)
{
	struct store_row row = { 0 };
	json_t *out;

	row.id = sqlite3_column_int64(st, C_ID);
	row.created_ms = sqlite3_column_int64(st, C_CREATED);
	row.client = col_text(st, C_CLIENT);
	row.endpoint = col_text(st, C_ENDPOINT);
	row.language = col_text(st, C_LANGUAGE);
	row.code = col_bytes(st, C_CODE, &row.code_len);
	row.stdin_data = col_bytes(st, C_STDIN, &row.stdin_len);

	const char *args = col_text(st, C_ARGS);
	row.args = json_loads(args, JSON_REJECT_DUPLICATES, NULL);
	if (row.args && !json_is_array(row.args)) {
		json_decref(row.args);
		row.args = NULL;
	}
	row.limits.wall_ms = u64(sqlite3_column_int64(st, C_L_WALL));
	row.limits.cpu_ms = u64(sqlite3_column_int64(st, C_L_CPU));
	row.limits.memory_bytes = u64(sqlite3_column_int64(st, C_L_MEM));
	row.limits.processes = (uint32_t)sqlite3_column_int64(st, C_L_PROCS);
	row.limits.output_bytes = u64(sqlite3_column_int64(st, C_L_OUTPUT));
	row.limits.file_size_bytes = u64(sqlite3_column_int64(st, C_L_FSIZE));

	struct sbx_result *res = &row.result;
	row.status = col_text(st, C_STATUS);
	res->status = status_from_name(row.status);
	res->has_exit_code = sqlite3_column_type(st, C_EXIT) != SQLITE_NULL;
	res->exit_code = sqlite3_column_int(st, C_EXIT);
	res->signal = sqlite3_column_int(st, C_SIGNAL);
	col_buf(st, C_STDOUT, &res->out);
	col_buf(st, C_STDERR, &res->err);
	col_buf(st, C_OUTPUT, &res->output);
	res->stdout_truncated = sqlite3_column_int(st, C_OUT_TRUNC) != 0;
	res->stderr_truncated = sqlite3_column_int(st, C_ERR_TRUNC) != 0;
	res->wall_time_ms = u64(sqlite3_column_int64(st, C_WALL));
	res->cpu_time_ms = u64(sqlite3_column_int64(st, C_CPU));
	res->memory_bytes = u64(sqlite3_column_int64(st, C_MEM));
	row.compile = col_object(st, C_COMPILE);
	json_t *tests = col_object(st, C_TESTS);
	row.tests = tests;
	json_t *files = col_object(st, C_FILES);
	row.files = files;

	out = store_row_json(&row);
	json_decref(row.args);
	json_decref(row.compile);
	json_decref(tests);
	json_decref(files);
	return out;
}

/* The first STORE_PREVIEW_CHARS characters of len bytes of code. */
json_t *store_preview(const char *code, size_t len)
{
	size_t n;
	char *clean = codec_utf8_sanitize(code ? code : "", code ? len : 0, &n);
	if (!clean)
		return NULL;
	/* clean is valid UTF-8: count lead bytes to find where to cut. */
	size_t chars = 0, i = 0;
	for (; i < n; i++) {
		if (((unsigned char)clean[i] & 0xC0) == 0x80)
			continue;
		if (chars++ == STORE_PREVIEW_CHARS)
			break;
	}
	json_t *s = json_stringn_nocheck(clean, i);
	free(clean);
	return s;
}

static json_t *summary_row(sqlite3_stmt *st)
{
	json_t *o = json_object();
	size_t plen;
	const char *preview = col_bytes(st, L_PREVIEW, &plen);
	int r = 0;

	if (!o)
		return NULL;
	r |= set_new(o, "id", json_integer(sqlite3_column_int64(st, L_ID)));
	r |= set_new(o, "created_at", json_time(sqlite3_column_int64(st, L_CREATED)));
	r |= set_new(o, "client", json_cstr(col_text(st, L_CLIENT)));
	r |= set_new(o, "endpoint", json_cstr(col_text(st, L_ENDPOINT)));
	r |= set_new(o, "language", json_cstr(col_text(st, L_LANGUAGE)));
	r |= set_new(o, "status", json_cstr(col_text(st, L_STATUS)));
	r |= set_new(o, "exit_code", sqlite3_column_type(st, L_EXIT) == SQLITE_NULL
		     ? json_null() : json_integer(sqlite3_column_int(st, L_EXIT)));
	r |= set_new(o, "signal", sqlite3_column_type(st, L_SIGNAL) == SQLITE_NULL
		     ? json_null() : json_integer(sqlite3_column_int(st, L_SIGNAL)));
	r |= set_new(o, "wall_time_ms", json_integer(sqlite3_column_int64(st, L_WALL)));
	r |= set_new(o, "cpu_time_ms", json_integer(sqlite3_column_int64(st, L_CPU)));
	r |= set_new(o, "memory_bytes", json_integer(sqlite3_column_int64(st, L_MEM)));
	r |= set_new(o, "verdict", sqlite3_column_type(st, L_VERDICT) == SQLITE_NULL
		     ? json_null() : json_cstr(col_text(st, L_VERDICT)));
	r |= set_new(o, "code_preview", store_preview(preview, plen));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- the JSON-lines log -------------------------------------------------- */

/* Appends one line.  The file is opened per record, so that a log rotated
 * by rename is followed at once, and written with a single write() on an
 * O_APPEND descriptor: the kernel then places each line whole at the end of
 * the file, whatever other threads or processes append at the same time. */
static int log_append(const char *path, const char *line, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	int r = 0;

	if (fd < 0)
		return -errno;
	size_t done = 0;
	while (done < len) {
		/* Only a line above ~2 GiB, a full disk or RLIMIT_FSIZE ends
		 * a regular file's write() early. */
		ssize_t n = write(fd, line + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	/* End a torn line so the next record starts on a line of its own. */
	if (r < 0 && done > 0 && write(fd, "\n", 1) < 0)
		r = r ? r : -errno;
	if (close(fd) < 0 && r == 0 && errno != EINTR)
		r = -errno;
	return r;
}

/* Writes rec's log line; failures are reported on stderr once per streak,
 * never to the caller, because the database already holds the record. */
static void log_record(struct store *st, json_t *rec)
{
	char *text = NULL, *line = NULL;
	int r = -ENOMEM;

	text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	if (!text)
		goto out;
	size_t n = strlen(text);
	line = realloc(text, n + 2);
	if (!line)
		goto out;
	text = NULL;
	line[n] = '\n';
	line[n + 1] = '\0';
	r = log_append(st->log_path, line, n + 1);
out:
	if (r < 0) {
		if (!atomic_exchange(&st->log_failing, true))
			fprintf(stderr, "store: cannot append to %s: %s (further "
				"failures not reported until it works again)\n",
				st->log_path, strerror(-r));
	} else if (atomic_load(&st->log_failing) &&
		   atomic_exchange(&st->log_failing, false)) {
		fprintf(stderr, "store: appending to %s again\n", st->log_path);
	}
	free(text);
	free(line);
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

/* The oldest time keep_days keeps. */
static int64_t keep_cutoff(const struct store *st)
{
	uint64_t span = st->keep_days > (uint64_t)INT64_MAX / 86400000
		? (uint64_t)INT64_MAX : st->keep_days * 86400000;
	int64_t now = store_now_ms();

	return (uint64_t)now > span ? now - (int64_t)span : INT64_MIN;
}

/* Gives the freed pages back to the file system (auto_vacuum is
 * INCREMENTAL on databases this code created). */
static void vacuum_locked(struct store *st)
{
	sqlite3_exec(st->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
}

/* Drops records beyond keep_count and older than keep_days.  Called with
 * the lock held.  A failure is reported but harms nothing: the next round
 * tries again. */
static int prune_executions_locked(struct store *st)
{
	int r = 0, r2 = 0;

	st->since_prune = 0;
	if (st->keep_count)
		r = exec_i64(st->db, "DELETE FROM executions WHERE id <= (SELECT id"
			     " FROM executions ORDER BY id DESC LIMIT 1 OFFSET ?1)",
			     i64(st->keep_count));
	if (st->keep_days)
		r2 = exec_i64(st->db, "DELETE FROM executions WHERE created_ms < ?1",
			      keep_cutoff(st));
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
static int prune_jobs_locked(struct store *st)
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
			      " AND finished_ms < ?1", keep_cutoff(st));
	if (r < 0 || r2 < 0) {
		fprintf(stderr, "store: retention of jobs failed: %s\n",
			sqlite3_errmsg(st->db));
		return r < 0 ? r : r2;
	}
	return 0;
}

static int prune_locked(struct store *st)
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
	if (version > STORE_SCHEMA_VERSION) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(why, whylen, "database schema version %d is newer than "
			 "this safexec understands (%d)", version, STORE_SCHEMA_VERSION);
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
	if (rc == SQLITE_OK && version < STORE_SCHEMA_VERSION) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", STORE_SCHEMA_VERSION);
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

static int prepare_job_statements(struct store *st);

int store_open(struct store **out, const struct store_config *cfg,
	       char *why, size_t whylen)
{
	struct store *st = NULL;
	int r, rc;

	*out = NULL;
	if (!cfg || !cfg->db_path || !*cfg->db_path) {
		snprintf(why, whylen, "no database path");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&st->lock, NULL);
	atomic_init(&st->log_failing, false);
	st->keep_count = cfg->keep_count;
	st->keep_days = cfg->keep_days;
	st->files_max = cfg->files_max;

	if ((r = mkdir_parents(cfg->db_path)) < 0) {
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
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
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

	if (cfg->log_path && *cfg->log_path) {
		st->log_path = strdup(cfg->log_path);
		if (!st->log_path) {
			snprintf(why, whylen, "out of memory");
			r = -ENOMEM;
			goto fail;
		}
		/* A log that cannot be written at start is a configuration
		 * error worth refusing; later failures are only reported. */
		if ((r = mkdir_parents(st->log_path)) < 0 ||
		    (r = log_append(st->log_path, "", 0)) < 0) {
			snprintf(why, whylen, "cannot open the log %s: %s",
				 st->log_path, strerror(-r));
			goto fail;
		}
	}

	/* A failure here is reported by prune_locked() and retried after the
	 * next STORE_PRUNE_EVERY inserts; it is no reason to refuse service. */
	prune_locked(st);
	*out = st;
	return 0;
fail:
	store_close(st);
	return r;
}

void store_close(struct store *st)
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
	free(st->log_path);
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

static int bind_record(sqlite3_stmt *s, const struct store_row *row,
		       const char *args, const char *compile, const char *tests,
		       const char *files)
{
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
	rc |= sqlite3_bind_text(s, 7, args, -1, SQLITE_STATIC);
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
	rc |= bind_text_or_null(s, 24, compile);
	rc |= bind_text_or_null(s, 25, json_string_value(json_object_get(row->tests, "verdict")));
	rc |= bind_text_or_null(s, 26, tests);
	rc |= sqlite3_bind_int64(s, 27, i64(l->file_size_bytes));
	rc |= bind_text_or_null(s, 28, files);
	/* Every bind returns SQLITE_OK (0) or an error; OR-ing keeps "some
	 * error" without caring which. */
	return rc;
}

static int finish_job_locked(struct store *st, const char *token, json_t *answer,
			     int64_t execution_id);

/* A copy of a files array whose items keep their content only while
 * *budget holds their size (the rest lose it: names, sizes and types
 * only); *budget is lowered by what was kept.  NULL when out of memory. */
static json_t *files_within(const json_t *files, uint64_t *budget)
{
	json_t *out = json_array(), *item;
	size_t i;

	if (!out)
		return NULL;
	json_array_foreach(files, i, item) {
		json_t *c = json_copy((json_t *)item);
		json_int_t size = json_integer_value(json_object_get(item, "size"));
		if (!c || json_array_append_new(out, c) < 0) {
			json_decref(out);
			return NULL;
		}
		if (size >= 0 && (uint64_t)size <= *budget && json_object_get(c, "content"))
			*budget -= (uint64_t)size;
		else
			json_object_del(c, "content");
	}
	return out;
}

/* The tests object with each test's files within *budget: the items that
 * have files are copied, the rest shared.  NULL when out of memory. */
static json_t *tests_within(const json_t *tests, uint64_t *budget)
{
	json_t *out = json_copy((json_t *)tests), *list, *copy, *item;
	size_t i;

	if (!out)
		return NULL;
	list = json_object_get(out, "tests");
	if (!json_is_array(list))
		return out;
	copy = json_array();
	if (!copy || json_object_set_new(out, "tests", copy) < 0) {
		json_decref(out);
		return NULL;
	}
	json_array_foreach(list, i, item) {
		json_t *files = json_object_get(item, "files"), *t;
		if (!json_is_array(files)) {
			if (json_array_append(copy, item) < 0)
				goto fail;
			continue;
		}
		t = json_copy(item);
		if (!t || json_array_append_new(copy, t) < 0 ||
		    json_object_set_new(t, "files", files_within(files, budget)) < 0)
			goto fail;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

int store_insert(struct store *st, const struct store_record *rec, int64_t *id)
{
	struct store_row row = { 0 };
	json_t *args = NULL, *full = NULL;
	char *args_text = NULL, *compile_text = NULL, *tests_text = NULL, *files_text = NULL;
	json_t *files = NULL, *tests = NULL;
	uint64_t budget = st ? st->files_max : 0;
	int r = 0, rc;

	if (id)
		*id = 0;
	if (!st || !rec || !rec->result)
		return -EINVAL;

	row.created_ms = rec->created_ms;
	row.client = rec->client ? rec->client : "";
	row.endpoint = rec->endpoint ? rec->endpoint : "";
	row.language = rec->language ? rec->language : "python";
	row.code = rec->code;
	row.code_len = rec->code ? rec->code_len : 0;
	row.stdin_data = rec->stdin_data;
	row.stdin_len = rec->stdin_data ? rec->stdin_len : 0;
	if (rec->limits)
		row.limits = *rec->limits;
	row.result = *rec->result;	/* shallow: buffers stay borrowed */
	row.status = sbx_status_name(rec->result->status);
	if (!row.status)
		row.status = "internal_error";
	if (rec->compile) {
		char msg[128];
		row.compile = codec_result_json(rec->compile);
		if (!row.compile || json_object_set_new(row.compile, "message", json_string(
				codec_status_message(rec->compile, rec->compile_limits,
						     msg, sizeof(msg)))) < 0) {
			r = -ENOMEM;
			goto out;
		}
		compile_text = json_dumps(row.compile, JSON_COMPACT);
		if (!compile_text) {
			r = -ENOMEM;
			goto out;
		}
		if (rec->compile->status != SBX_OK)
			row.status = CODEC_COMPILE_ERROR;
	}

	if (rec->output_files) {
		/* The run's files first, then the tests', within files_max. */
		json_t *all = json_object(), *list;
		if (!all || codec_out_files_add(all, rec->result) < 0 ||
		    !(list = files_within(json_object_get(all, "files"), &budget)) ||
		    json_object_set_new(all, "files", list) < 0 ||
		    !(files_text = json_dumps(all, JSON_COMPACT))) {
			json_decref(all);
			r = -ENOMEM;
			goto out;
		}
		files = all;
		row.files = files;
	}
	if (rec->tests) {
		const json_t *t = rec->tests;
		if (rec->output_files) {
			if (!(tests = tests_within(rec->tests, &budget))) {
				r = -ENOMEM;
				goto out;
			}
			t = tests;
		}
		/* NULs in the tests' outputs stay \u0000 in the text. */
		tests_text = json_dumps(t, JSON_COMPACT);
		if (!tests_text) {
			r = -ENOMEM;
			goto out;
		}
		row.tests = t;
	}

	args = args_json(rec->argv, rec->argc);
	args_text = args ? json_dumps(args, JSON_COMPACT) : NULL;
	if (!args_text) {
		r = -ENOMEM;
		goto out;
	}
	row.args = args;

	pthread_mutex_lock(&st->lock);
	if (rec->job_token &&
	    (rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) {
		r = sql_errno(rc);
		fprintf(stderr, "store: insert failed: %s\n", sqlite3_errmsg(st->db));
		pthread_mutex_unlock(&st->lock);
		goto out;
	}
	rc = bind_record(st->ins, &row, args_text, compile_text, tests_text, files_text);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st->ins);
	if (rc == SQLITE_DONE) {
		row.id = sqlite3_last_insert_rowid(st->db);
	} else {
		r = sql_errno(rc);
		fprintf(stderr, "store: insert failed: %s\n", sqlite3_errmsg(st->db));
	}
	sqlite3_reset(st->ins);
	sqlite3_clear_bindings(st->ins);
	if (rec->job_token) {
		if (r == 0)
			r = finish_job_locked(st, rec->job_token, rec->job_answer, row.id);
		rc = sqlite3_exec(st->db, r == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
		if (r == 0 && rc != SQLITE_OK) {
			r = sql_errno(rc);
			fprintf(stderr, "store: commit failed: %s\n", sqlite3_errmsg(st->db));
			sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		}
		if (r < 0)
			row.id = 0;
	}
	if (r == 0 && ++st->since_prune >= STORE_PRUNE_EVERY &&
	    prune_executions_locked(st) == 0)
		vacuum_locked(st);
	pthread_mutex_unlock(&st->lock);

	/* The log line is built and written outside the lock: a record with
	 * megabytes of output should not stall the other workers' inserts.
	 * When the database refused the record, the log still gets it (with
	 * "id": null) so that it is not lost altogether. */
	if (st->log_path) {
		full = store_row_json(&row);
		log_record(st, full);	/* NULL (no memory) counts as a failure */
	}
	if (r == 0 && id)
		*id = row.id;
out:
	json_decref(full);
	json_decref(args);
	json_decref(row.compile);
	free(args_text);
	free(compile_text);
	free(tests_text);
	free(files_text);
	json_decref(files);
	json_decref(tests);
	return r;
}

int store_get(struct store *st, int64_t id, json_t **out)
{
	int r = 0, rc;

	*out = NULL;
	if (!st)
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	pthread_mutex_lock(&st->lock);
	sqlite3_bind_int64(st->get, 1, id);
	rc = sqlite3_step(st->get);
	if (rc == SQLITE_ROW) {
		*out = full_row(st->get);
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

int store_list(struct store *st, int64_t before, unsigned limit, json_t **out)
{
	json_t *res = NULL, *items = NULL;
	int64_t last = 0;
	unsigned n = 0;
	bool more = false;
	int r = 0, rc;

	*out = NULL;
	if (!st)
		return -EINVAL;
	if (limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;
	res = json_object();
	items = json_array();
	if (!res || !items) {
		r = -ENOMEM;
		goto out;
	}

	pthread_mutex_lock(&st->lock);
	sqlite3_bind_int64(st->list, 1, before > 0 ? before : INT64_MAX);
	/* One row more than asked tells whether another page exists. */
	sqlite3_bind_int64(st->list, 2, (sqlite3_int64)limit + 1);
	while ((rc = sqlite3_step(st->list)) == SQLITE_ROW) {
		if (n == limit) {
			more = true;
			break;
		}
		json_t *item = summary_row(st->list);
		if (!item || json_array_append_new(items, item) < 0) {
			r = -ENOMEM;
			break;
		}
		last = sqlite3_column_int64(st->list, L_ID);
		n++;
	}
	if (r == 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r = sql_errno(rc);
		fprintf(stderr, "store: list failed: %s\n", sqlite3_errmsg(st->db));
	}
	sqlite3_reset(st->list);
	sqlite3_clear_bindings(st->list);
	pthread_mutex_unlock(&st->lock);
	if (r < 0)
		goto out;

	r |= set_new(res, "executions", items);
	items = NULL;
	r |= set_new(res, "next_before", more && n ? json_integer(last) : json_null());
	if (r) {
		r = -ENOMEM;
		goto out;
	}
	*out = res;
	res = NULL;
out:
	json_decref(items);
	json_decref(res);
	return r;
}

/* ---- submissions -------------------------------------------------------- */

/* Column order shared by the job SELECTs and job_row(). */
#define JOB_COLUMNS							\
	"token, api, state, attempts, created_ms, started_ms, finished_ms,"	\
	" request, peer, answer, callback_url, execution_id, client"
enum {
	J_TOKEN, J_API, J_STATE, J_ATTEMPTS, J_CREATED, J_STARTED, J_FINISHED,
	J_REQUEST, J_PEER, J_ANSWER, J_CALLBACK, J_EXECUTION, J_CLIENT,
};

static const char job_add_sql[] =
	"INSERT INTO jobs (" JOB_COLUMNS ") VALUES (?1, ?2, 'queued', 0, ?3, 0, 0,"
	" ?4, ?5, NULL, ?6, 0, ?7)";
/* A done job keeps its answer: neither statement touches it again. */
static const char job_start_sql[] =
	"UPDATE jobs SET state = 'running', attempts = attempts + 1,"
	" started_ms = ?2 WHERE token = ?1 AND state <> 'done'";
static const char job_finish_sql[] =
	"UPDATE jobs SET state = 'done', answer = ?2, execution_id = ?3,"
	" finished_ms = ?4 WHERE token = ?1 AND state <> 'done'";
static const char job_get_sql[] =
	"SELECT " JOB_COLUMNS " FROM jobs WHERE token = ?1";
static const char job_delete_sql[] =
	"DELETE FROM jobs WHERE token = ?1 AND state = 'done'";
/* rowid breaks ties between jobs created in the same millisecond. */
static const char job_unfinished_sql[] =
	"SELECT " JOB_COLUMNS " FROM jobs WHERE state <> 'done'"
	" ORDER BY created_ms, rowid";

static const char *const job_state_names[] = {
	[STORE_JOB_QUEUED] = "queued",
	[STORE_JOB_RUNNING] = "running",
	[STORE_JOB_DONE] = "done",
};

const char *store_job_state_name(enum store_job_state s)
{
	return (unsigned)s < sizeof(job_state_names) / sizeof(job_state_names[0])
		? job_state_names[s] : "done";
}

/* The CHECK constraint admits only the three names; anything else (a
 * database edited by hand) is taken as done, so that it is never run. */
static enum store_job_state job_state_from_name(const char *name)
{
	if (strcmp(name, "queued") == 0)
		return STORE_JOB_QUEUED;
	if (strcmp(name, "running") == 0)
		return STORE_JOB_RUNNING;
	return STORE_JOB_DONE;
}

static int prepare_job_statements(struct store *st)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
		{ offsetof(struct store, job_add), job_add_sql },
		{ offsetof(struct store, job_start), job_start_sql },
		{ offsetof(struct store, job_finish), job_finish_sql },
		{ offsetof(struct store, job_get), job_get_sql },
		{ offsetof(struct store, job_delete), job_delete_sql },
	};
	int rc = SQLITE_OK;

	for (size_t i = 0; rc == SQLITE_OK && i < sizeof(stmts) / sizeof(stmts[0]); i++)
		rc = sqlite3_prepare_v3(st->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					(sqlite3_stmt **)((char *)st + stmts[i].off), NULL);
	return rc;
}

/* Exactly STORE_TOKEN_LEN lowercase hex characters: the primary key is
 * text, and "ABC" and "abc" must not name two jobs. */
static bool token_ok(const char *t)
{
	size_t i = 0;

	if (!t)
		return false;
	for (; i < STORE_TOKEN_LEN; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return t[i] == '\0';
}

/* A nullable text column as a malloc'ed string; *r gets -ENOMEM on
 * failure (and is left alone otherwise). */
static char *col_strdup(sqlite3_stmt *s, int col, int *r)
{
	const char *p = (const char *)sqlite3_column_text(s, col);
	char *copy;

	if (!p)
		return NULL;
	copy = strdup(p);
	if (!copy)
		*r = -ENOMEM;
	return copy;
}

/* Fills *out from the current row of s (JOB_COLUMNS). */
static int job_row(sqlite3_stmt *s, struct store_job *out)
{
	int r = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->token, sizeof(out->token), "%s", col_text(s, J_TOKEN));
	snprintf(out->api, sizeof(out->api), "%s", col_text(s, J_API));
	out->state = job_state_from_name(col_text(s, J_STATE));
	out->attempts = (unsigned)sqlite3_column_int64(s, J_ATTEMPTS);
	out->created_ms = sqlite3_column_int64(s, J_CREATED);
	out->started_ms = sqlite3_column_int64(s, J_STARTED);
	out->finished_ms = sqlite3_column_int64(s, J_FINISHED);
	out->request = col_strdup(s, J_REQUEST, &r);
	out->peer = col_strdup(s, J_PEER, &r);
	out->answer = col_strdup(s, J_ANSWER, &r);
	out->callback_url = col_strdup(s, J_CALLBACK, &r);
	out->execution_id = sqlite3_column_int64(s, J_EXECUTION);
	snprintf(out->client, sizeof(out->client), "%s", col_text(s, J_CLIENT));
	if (!out->request && r == 0)
		out->request = strdup("");	/* NOT NULL in the schema */
	if (!out->request)
		r = -ENOMEM;
	if (r < 0)
		store_job_release(out);
	return r;
}

void store_job_release(struct store_job *job)
{
	if (!job)
		return;
	free(job->request);
	free(job->peer);
	free(job->answer);
	free(job->callback_url);
	job->request = job->peer = job->answer = job->callback_url = NULL;
}

void store_job_release_all(struct store_job *jobs, size_t n)
{
	for (size_t i = 0; jobs && i < n; i++)
		store_job_release(&jobs[i]);
	free(jobs);
}

/* Runs a persistent statement that changes at most one row, and resets it.
 * Returns the number of rows changed or a negative errno.  With the lock
 * held. */
static int step_change(struct store *st, sqlite3_stmt *s, const char *what)
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
static int job_missing_or(struct store *st, const char *token, int busy_or_done)
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

int store_job_add(struct store *st, const struct store_job *job)
{
	sqlite3_stmt *s;
	int rc = 0, r;

	if (!st || !job || !token_ok(job->token) || !job->request ||
	    !memchr(job->api, '\0', sizeof(job->api)) || !job->api[0] ||
	    !memchr(job->client, '\0', sizeof(job->client)))
		return -EINVAL;
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

int store_job_start(struct store *st, const char *token, int64_t now_ms)
{
	int r;

	if (!st)
		return -EINVAL;
	if (!token_ok(token))
		return -ENOENT;
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
static int finish_locked(struct store *st, const char *token, const char *answer,
			 int64_t execution_id, int64_t now_ms)
{
	sqlite3_stmt *s = st->job_finish;
	int r;

	sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
	/* Megabytes are fine: SQLITE_STATIC binds the caller's text without
	 * a copy. */
	r = bind_text_or_null(s, 2, answer);
	sqlite3_bind_int64(s, 3, execution_id > 0 ? execution_id : 0);
	sqlite3_bind_int64(s, 4, now_ms);
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

static int finish_job_locked(struct store *st, const char *token, json_t *answer,
			     int64_t execution_id)
{
	char *text;
	int r;

	if (!token_ok(token))
		return -ENOENT;
	if (answer && json_object_set_new(answer, "id", json_integer(execution_id)) < 0)
		return -ENOMEM;
	text = answer ? json_dumps(answer, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (answer && !text)
		return -ENOMEM;
	r = finish_locked(st, token, text, execution_id, store_now_ms());
	free(text);
	return r < 0 ? r : 0;
}

int store_job_finish(struct store *st, const char *token, const char *answer,
		     int64_t execution_id, int64_t now_ms)
{
	int r;

	if (!st)
		return -EINVAL;
	if (!token_ok(token))
		return -ENOENT;
	pthread_mutex_lock(&st->lock);
	r = finish_locked(st, token, answer, execution_id, now_ms);
	pthread_mutex_unlock(&st->lock);
	return r < 0 ? r : 0;
}

int store_job_get(struct store *st, const char *token, struct store_job *out)
{
	int r, rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !out)
		return -EINVAL;
	if (!token_ok(token))
		return -ENOENT;
	pthread_mutex_lock(&st->lock);
	sqlite3_bind_text(st->job_get, 1, token, -1, SQLITE_STATIC);
	rc = sqlite3_step(st->job_get);
	if (rc == SQLITE_ROW) {
		r = job_row(st->job_get, out);
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

int store_job_delete(struct store *st, const char *token)
{
	int r;

	if (!st)
		return -EINVAL;
	if (!token_ok(token))
		return -ENOENT;
	pthread_mutex_lock(&st->lock);
	sqlite3_bind_text(st->job_delete, 1, token, -1, SQLITE_STATIC);
	r = step_change(st, st->job_delete, "deleting a job");
	if (r == 0)
		r = job_missing_or(st, token, -EBUSY);
	pthread_mutex_unlock(&st->lock);
	return r < 0 ? r : 0;
}

int store_job_unfinished(struct store *st, struct store_job **jobs, size_t *n)
{
	sqlite3_stmt *s = NULL;
	struct store_job *arr = NULL;
	size_t count = 0, cap = 0;
	int r = 0, rc;

	*jobs = NULL;
	*n = 0;
	if (!st)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	rc = sqlite3_prepare_v2(st->db, job_unfinished_sql, -1, &s, NULL);
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
		if ((r = job_row(s, &arr[count])) < 0)
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

int store_job_counts(struct store *st, uint64_t *queued, uint64_t *running,
		     uint64_t *done)
{
	sqlite3_stmt *s = NULL;
	uint64_t c[3] = { 0, 0, 0 };
	int r = 0, rc;

	if (!st)
		return -EINVAL;
	pthread_mutex_lock(&st->lock);
	rc = sqlite3_prepare_v2(st->db, "SELECT state, count(*) FROM jobs GROUP BY state",
				-1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		c[job_state_from_name(col_text(s, 0))] += u64(sqlite3_column_int64(s, 1));
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		r = sql_errno(rc);
		fprintf(stderr, "store: counting jobs failed: %s\n", sqlite3_errmsg(st->db));
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->lock);
	if (r < 0)
		return r;
	if (queued)
		*queued = c[STORE_JOB_QUEUED];
	if (running)
		*running = c[STORE_JOB_RUNNING];
	if (done)
		*done = c[STORE_JOB_DONE];
	return 0;
}
