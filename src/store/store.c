/*
 * store.c - the front of the store: the record's JSON (one builder for the
 * database's rows and the log), the JSON-lines log, the preparation of a
 * record for the database, and the dispatch to the backend that holds it
 * (sqlite.c or postgres.c).
 *
 * See docs/store.md for the schema, the JSON shapes, the log format,
 * retention and what survives a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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

struct store {
	const struct store_backend *be;
	struct store_db *db;
	uint64_t files_max;		/* history_files_max */
	char *log_path;			/* NULL: no log */
	atomic_bool log_failing;	/* in a streak of failed log writes */
};

/* ---- small helpers ------------------------------------------------------ */

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
int store_mkdir_parents(const char *path)
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
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
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

/* ---- a record's files within history_files_max -------------------------- */

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

/* ---- rows ---------------------------------------------------------------- */

static enum sbx_status status_from_name(const char *name)
{
	for (int s = SBX_OK; s <= SBX_INTERNAL_ERROR; s++)
		if (name && strcmp(name, sbx_status_name((enum sbx_status)s)) == 0)
			return (enum sbx_status)s;
	return SBX_INTERNAL_ERROR;
}

static const char *col_text(const struct store_cols *c, int col)
{
	size_t len;
	const char *p = c->bytes(c->row, col, &len);

	return p ? p : "";
}

static uint64_t col_u64(const struct store_cols *c, int col)
{
	int64_t v = c->i64(c->row, col);

	return v < 0 ? 0 : (uint64_t)v;
}

static void col_buf(const struct store_cols *c, int col, struct sbx_buf *b)
{
	const char *p = c->bytes(c->row, col, &b->len);

	/* struct sbx_buf's data is never const in practice here: the codec
	 * only reads it, and the row outlives the JSON being built. */
	b->data = (char *)(p ? p : "");
	if (!p)
		b->len = 0;
}

/* A column of JSON text holding an object; NULL for an SQL NULL or text
 * that is not one.  Outputs inside may hold NUL bytes (as \u0000). */
static json_t *col_object(const struct store_cols *c, int col)
{
	size_t len;
	const char *p = c->bytes(c->row, col, &len);
	json_t *o;

	if (!p)
		return NULL;
	o = json_loadb(p, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

json_t *store_cols_record(const struct store_cols *c)
{
	struct store_row row = { 0 };
	json_t *out;

	row.id = c->i64(c->row, C_ID);
	row.created_ms = c->i64(c->row, C_CREATED);
	row.client = col_text(c, C_CLIENT);
	row.endpoint = col_text(c, C_ENDPOINT);
	row.language = col_text(c, C_LANGUAGE);
	row.code = c->bytes(c->row, C_CODE, &row.code_len);
	row.stdin_data = c->bytes(c->row, C_STDIN, &row.stdin_len);

	row.args = json_loads(col_text(c, C_ARGS), JSON_REJECT_DUPLICATES, NULL);
	if (row.args && !json_is_array(row.args)) {
		json_decref(row.args);
		row.args = NULL;
	}
	row.limits.wall_ms = col_u64(c, C_L_WALL);
	row.limits.cpu_ms = col_u64(c, C_L_CPU);
	row.limits.memory_bytes = col_u64(c, C_L_MEM);
	row.limits.processes = (uint32_t)col_u64(c, C_L_PROCS);
	row.limits.output_bytes = col_u64(c, C_L_OUTPUT);
	row.limits.file_size_bytes = col_u64(c, C_L_FSIZE);

	struct sbx_result *res = &row.result;
	row.status = col_text(c, C_STATUS);
	res->status = status_from_name(row.status);
	res->has_exit_code = !c->is_null(c->row, C_EXIT);
	res->exit_code = (int)c->i64(c->row, C_EXIT);
	res->signal = (int)c->i64(c->row, C_SIGNAL);
	col_buf(c, C_STDOUT, &res->out);
	col_buf(c, C_STDERR, &res->err);
	col_buf(c, C_OUTPUT, &res->output);
	res->stdout_truncated = c->i64(c->row, C_OUT_TRUNC) != 0;
	res->stderr_truncated = c->i64(c->row, C_ERR_TRUNC) != 0;
	res->wall_time_ms = col_u64(c, C_WALL);
	res->cpu_time_ms = col_u64(c, C_CPU);
	res->memory_bytes = col_u64(c, C_MEM);
	row.compile = col_object(c, C_COMPILE);
	json_t *tests = col_object(c, C_TESTS);
	row.tests = tests;
	json_t *files = col_object(c, C_FILES);
	row.files = files;

	out = store_row_json(&row);
	json_decref(row.args);
	json_decref(row.compile);
	json_decref(tests);
	json_decref(files);
	return out;
}

static json_t *col_int_or_null(const struct store_cols *c, int col)
{
	return c->is_null(c->row, col) ? json_null() : json_integer(c->i64(c->row, col));
}

json_t *store_cols_summary(const struct store_cols *c)
{
	json_t *o = json_object();
	size_t plen;
	const char *preview = c->bytes(c->row, L_PREVIEW, &plen);
	int r = 0;

	if (!o)
		return NULL;
	r |= set_new(o, "id", json_integer(c->i64(c->row, L_ID)));
	r |= set_new(o, "created_at", json_time(c->i64(c->row, L_CREATED)));
	r |= set_new(o, "client", json_cstr(col_text(c, L_CLIENT)));
	r |= set_new(o, "endpoint", json_cstr(col_text(c, L_ENDPOINT)));
	r |= set_new(o, "language", json_cstr(col_text(c, L_LANGUAGE)));
	r |= set_new(o, "status", json_cstr(col_text(c, L_STATUS)));
	r |= set_new(o, "exit_code", col_int_or_null(c, L_EXIT));
	r |= set_new(o, "signal", col_int_or_null(c, L_SIGNAL));
	r |= set_new(o, "wall_time_ms", json_integer(c->i64(c->row, L_WALL)));
	r |= set_new(o, "cpu_time_ms", json_integer(c->i64(c->row, L_CPU)));
	r |= set_new(o, "memory_bytes", json_integer(c->i64(c->row, L_MEM)));
	r |= set_new(o, "verdict", c->is_null(c->row, L_VERDICT)
		     ? json_null() : json_cstr(col_text(c, L_VERDICT)));
	r |= set_new(o, "code_preview", store_preview(preview, plen));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A nullable text column as a malloc'ed string; *r gets -ENOMEM on
 * failure (and is left alone otherwise). */
static char *col_strdup(const struct store_cols *c, int col, int *r)
{
	size_t len;
	const char *p = c->bytes(c->row, col, &len);
	char *copy;

	if (!p)
		return NULL;
	copy = strndup(p, len);
	if (!copy)
		*r = -ENOMEM;
	return copy;
}

int store_cols_job(const struct store_cols *c, struct store_job *out)
{
	int r = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->token, sizeof(out->token), "%s", col_text(c, J_TOKEN));
	snprintf(out->api, sizeof(out->api), "%s", col_text(c, J_API));
	out->state = store_job_state_from_name(col_text(c, J_STATE));
	out->attempts = (unsigned)col_u64(c, J_ATTEMPTS);
	out->created_ms = c->i64(c->row, J_CREATED);
	out->started_ms = c->i64(c->row, J_STARTED);
	out->finished_ms = c->i64(c->row, J_FINISHED);
	out->request = col_strdup(c, J_REQUEST, &r);
	out->peer = col_strdup(c, J_PEER, &r);
	out->answer = col_strdup(c, J_ANSWER, &r);
	out->callback_url = col_strdup(c, J_CALLBACK, &r);
	out->execution_id = c->i64(c->row, J_EXECUTION);
	snprintf(out->client, sizeof(out->client), "%s", col_text(c, J_CLIENT));
	snprintf(out->node, sizeof(out->node), "%s", col_text(c, J_NODE));
	if (!out->request && r == 0)
		out->request = strdup("");	/* NOT NULL in the schema */
	if (!out->request)
		r = -ENOMEM;
	if (r < 0)
		store_job_release(out);
	return r;
}

int64_t store_keep_cutoff(uint64_t keep_days)
{
	uint64_t span = keep_days > (uint64_t)INT64_MAX / 86400000
		? (uint64_t)INT64_MAX : keep_days * 86400000;
	int64_t now = store_now_ms();

	if (!keep_days)
		return INT64_MIN;
	return (uint64_t)now > span ? now - (int64_t)span : INT64_MIN;
}

char *store_answer_text(json_t *answer, int64_t id)
{
	if (json_object_set_new(answer, "id", id > 0 ? json_integer(id) : json_null()) < 0)
		return NULL;
	return json_dumps(answer, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* ---- open and close ----------------------------------------------------- */

/* Whether url names a PostgreSQL database: a URI, or key=value pairs. */
static bool is_postgres(const char *url)
{
	return url && (strncmp(url, "postgres://", 11) == 0 ||
		       strncmp(url, "postgresql://", 13) == 0 || strchr(url, '='));
}

int store_open(struct store **out, const struct store_config *cfg,
	       char *why, size_t whylen)
{
	struct store *st = NULL;
	int r;

	*out = NULL;
	if (!cfg) {
		snprintf(why, whylen, "no configuration");
		return -EINVAL;
	}
	if (cfg->url && *cfg->url && !is_postgres(cfg->url)) {
		snprintf(why, whylen, "store: not a PostgreSQL connection string "
			 "(postgres://..., or key=value pairs)");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&st->log_failing, false);
	st->files_max = cfg->files_max;
	st->be = cfg->url && *cfg->url ? &store_postgres : &store_sqlite;
	if ((r = st->be->open(&st->db, cfg, why, whylen)) < 0)
		goto fail;
	if (cfg->log_path && *cfg->log_path) {
		st->log_path = strdup(cfg->log_path);
		if (!st->log_path) {
			snprintf(why, whylen, "out of memory");
			r = -ENOMEM;
			goto fail;
		}
		/* A log that cannot be written at start is a configuration
		 * error worth refusing; later failures are only reported. */
		if ((r = store_mkdir_parents(st->log_path)) < 0 ||
		    (r = log_append(st->log_path, "", 0)) < 0) {
			snprintf(why, whylen, "cannot open the log %s: %s",
				 st->log_path, strerror(-r));
			goto fail;
		}
	}
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
	if (st->db)
		st->be->close(st->db);
	free(st->log_path);
	free(st);
}

const char *store_kind(const struct store *st)
{
	return st->be->kind;
}

bool store_shared(const struct store *st)
{
	return st->be->job_claim != NULL;
}

/* ---- insert, get, list -------------------------------------------------- */

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

int store_insert(struct store *st, const struct store_record *rec, int64_t *id)
{
	struct store_prepared p = { .row = { 0 } };
	struct store_row *row = &p.row;
	json_t *args = NULL, *full = NULL, *files = NULL, *tests = NULL;
	char *args_text = NULL, *compile_text = NULL, *tests_text = NULL, *files_text = NULL;
	uint64_t budget = st ? st->files_max : 0;
	int r = 0;

	if (id)
		*id = 0;
	if (!st || !rec || !rec->result)
		return -EINVAL;

	row->created_ms = rec->created_ms;
	row->client = rec->client ? rec->client : "";
	row->endpoint = rec->endpoint ? rec->endpoint : "";
	row->language = rec->language ? rec->language : "python";
	row->code = rec->code;
	row->code_len = rec->code ? rec->code_len : 0;
	row->stdin_data = rec->stdin_data;
	row->stdin_len = rec->stdin_data ? rec->stdin_len : 0;
	if (rec->limits)
		row->limits = *rec->limits;
	row->result = *rec->result;	/* shallow: buffers stay borrowed */
	row->status = sbx_status_name(rec->result->status);
	if (!row->status)
		row->status = "internal_error";
	if (rec->compile) {
		char msg[128];
		row->compile = codec_result_json(rec->compile);
		if (!row->compile || json_object_set_new(row->compile, "message", json_string(
				codec_status_message(rec->compile, rec->compile_limits,
						     msg, sizeof(msg)))) < 0) {
			r = -ENOMEM;
			goto out;
		}
		compile_text = json_dumps(row->compile, JSON_COMPACT);
		if (!compile_text) {
			r = -ENOMEM;
			goto out;
		}
		if (rec->compile->status != SBX_OK)
			row->status = CODEC_COMPILE_ERROR;
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
		row->files = files;
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
		row->tests = t;
		p.verdict = json_string_value(json_object_get(t, "verdict"));
	}

	args = args_json(rec->argv, rec->argc);
	args_text = args ? json_dumps(args, JSON_COMPACT) : NULL;
	if (!args_text) {
		r = -ENOMEM;
		goto out;
	}
	row->args = args;
	p.args = args_text;
	p.compile = compile_text;
	p.tests = tests_text;
	p.files = files_text;
	p.job_token = rec->job_token;
	p.job_attempt = rec->job_attempt;
	p.job_answer = rec->job_answer;
	if (p.job_token && !store_token_ok(p.job_token)) {
		r = -ENOENT;
		goto out;
	}

	r = st->be->insert(st->db, &p, &row->id);
	if (r < 0)
		row->id = 0;

	/* The log line is built and written after the database's insert: a
	 * record with megabytes of output should not stall the other
	 * workers' inserts.  When the database refused the record, the log
	 * still gets it (with "id": null) so that it is not lost
	 * altogether; a job's record that another start of the job wrote
	 * already (-EALREADY) is not logged twice. */
	if (st->log_path && r != -EALREADY) {
		full = store_row_json(row);
		log_record(st, full);	/* NULL (no memory) counts as a failure */
	}
	if (r == 0 && id)
		*id = row->id;
out:
	json_decref(full);
	json_decref(args);
	json_decref(row->compile);
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
	*out = NULL;
	if (!st)
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	return st->be->get(st->db, id, out);
}

int store_list(struct store *st, int64_t before, unsigned limit, json_t **out)
{
	json_t *res = NULL, *items = NULL, *last;
	bool more = false;
	int r;

	*out = NULL;
	if (!st)
		return -EINVAL;
	if (limit > STORE_LIST_MAX)
		limit = STORE_LIST_MAX;
	items = json_array();
	if (!items)
		return -ENOMEM;
	r = st->be->list(st->db, before > 0 ? before : INT64_MAX, limit, items, &more);
	if (r < 0) {
		json_decref(items);
		return r;
	}
	last = json_array_get(items, json_array_size(items) - 1);
	res = json_pack("{s:o, s:o}", "executions", items, "next_before",
			more && last ? json_incref(json_object_get(last, "id")) : json_null());
	if (!res)
		return -ENOMEM;
	*out = res;
	return 0;
}

/* ---- submissions -------------------------------------------------------- */

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

enum store_job_state store_job_state_from_name(const char *name)
{
	if (strcmp(name, "queued") == 0)
		return STORE_JOB_QUEUED;
	if (strcmp(name, "running") == 0)
		return STORE_JOB_RUNNING;
	return STORE_JOB_DONE;
}

/* Exactly STORE_TOKEN_LEN lowercase hex characters: the primary key is
 * text, and "ABC" and "abc" must not name two jobs. */
bool store_token_ok(const char *t)
{
	size_t i = 0;

	if (!t)
		return false;
	for (; i < STORE_TOKEN_LEN; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return false;
	return t[i] == '\0';
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

int store_job_add(struct store *st, const struct store_job *job)
{
	if (!st || !job || !store_token_ok(job->token) || !job->request ||
	    !memchr(job->api, '\0', sizeof(job->api)) || !job->api[0] ||
	    !memchr(job->client, '\0', sizeof(job->client)))
		return -EINVAL;
	return st->be->job_add(st->db, job);
}

int store_job_start(struct store *st, const char *token, int64_t now_ms)
{
	if (!st)
		return -EINVAL;
	if (!store_token_ok(token))
		return -ENOENT;
	return st->be->job_start(st->db, token, now_ms);
}

int store_job_finish(struct store *st, const char *token, unsigned attempt,
		     const char *answer, int64_t execution_id, int64_t now_ms)
{
	if (!st)
		return -EINVAL;
	if (!store_token_ok(token))
		return -ENOENT;
	return st->be->job_finish(st->db, token, attempt, answer, execution_id, now_ms);
}

int store_job_get(struct store *st, const char *token, struct store_job *out)
{
	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !out)
		return -EINVAL;
	if (!store_token_ok(token))
		return -ENOENT;
	return st->be->job_get(st->db, token, out);
}

int store_job_delete(struct store *st, const char *token)
{
	if (!st)
		return -EINVAL;
	if (!store_token_ok(token))
		return -ENOENT;
	return st->be->job_delete(st->db, token);
}

int store_job_unfinished(struct store *st, struct store_job **jobs, size_t *n)
{
	*jobs = NULL;
	*n = 0;
	if (!st)
		return -EINVAL;
	return st->be->job_unfinished(st->db, jobs, n);
}

int store_job_counts(struct store *st, uint64_t *queued, uint64_t *running,
		     uint64_t *done)
{
	uint64_t c[3] = { 0, 0, 0 };
	int r;

	if (!st)
		return -EINVAL;
	if ((r = st->be->job_counts(st->db, c)) < 0)
		return r;
	if (queued)
		*queued = c[STORE_JOB_QUEUED];
	if (running)
		*running = c[STORE_JOB_RUNNING];
	if (done)
		*done = c[STORE_JOB_DONE];
	return 0;
}

/* ---- a shared queue ------------------------------------------------------ */

int store_job_claim(struct store *st, struct store_job *out)
{
	memset(out, 0, sizeof(*out));
	return st->be->job_claim ? st->be->job_claim(st->db, out) : -ENOTSUP;
}

int store_job_renew(struct store *st)
{
	return st->be->job_renew ? st->be->job_renew(st->db) : -ENOTSUP;
}

int store_job_hand_back(struct store *st, const char *token, unsigned attempt)
{
	if (!st->be->job_hand_back)
		return -ENOTSUP;
	if (!store_token_ok(token))
		return -ENOENT;
	return st->be->job_hand_back(st->db, token, attempt);
}

int store_listen(struct store *st, const struct store_events *ev)
{
	return st->be->listen ? st->be->listen(st->db, ev) : -ENOTSUP;
}

void store_unlisten(struct store *st)
{
	if (st->be->unlisten)
		st->be->unlisten(st->db);
}

void store_health(struct store *st, struct store_health *out)
{
	memset(out, 0, sizeof(*out));
	out->up = true;
	if (st->be->health)
		st->be->health(st->db, out);
}
