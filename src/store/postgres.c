/*
 * postgres.c - the store's shared backend: PostgreSQL through libpq, which
 * several safexec processes ("nodes") use at once.  The history and the
 * queue are one; each node claims jobs with SELECT ... FOR UPDATE SKIP
 * LOCKED and a lease it renews while it runs them, and learns of new and
 * finished jobs through LISTEN/NOTIFY.
 *
 * libpq is loaded when a PostgreSQL store is opened, not linked: a server
 * on SQLite, and every `safexec run`, never load it.  Connections come from
 * a small pool (one per thread that may use the database at once); one more
 * connection, the listener's, only listens.  A connection found broken is
 * made again, no more often than a backoff of 100 ms doubling to 5 s
 * allows; meanwhile calls fail with -ENOTCONN.
 *
 * Every statement is one round trip and one transaction: where two
 * changes must be atomic (a record and its job finished; a job queued and
 * its notification), they are one statement with data-modifying CTEs.
 * Times that decide leases come from the database's clock, the one clock
 * all the nodes share.
 */
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_internal.h"
#include "util/util.h"

/* Bump when the schema changes (and add its migration); the open refuses a
 * database of a newer version. */
#define PG_SCHEMA_VERSION	1
/* Held while the schema is created or migrated, so that nodes starting
 * together take turns. */
#define PG_SCHEMA_LOCK		7275826616
#define PG_SONAME		"libpq.so.5"
#define PG_PACKAGE		"libpq5"
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
/* The listener's idle wake-up, and so the polling fallback's period. */
#define TICK_MS			1000

/* Type OIDs of the parameters, from PostgreSQL's pg_type.dat. */
#define T_INT8	20
#define T_TEXT	25
#define T_BYTEA	17

static struct {
	__typeof__(PQconnectdbParams) *connectdbParams;
	__typeof__(PQstatus) *status;
	__typeof__(PQfinish) *finish;
	__typeof__(PQerrorMessage) *errorMessage;
	__typeof__(PQexec) *exec;
	__typeof__(PQprepare) *prepare;
	__typeof__(PQexecPrepared) *execPrepared;
	__typeof__(PQexecParams) *execParams;
	__typeof__(PQresultStatus) *resultStatus;
	__typeof__(PQresultErrorField) *resultErrorField;
	__typeof__(PQresultErrorMessage) *resultErrorMessage;
	__typeof__(PQclear) *clear;
	__typeof__(PQntuples) *ntuples;
	__typeof__(PQgetvalue) *getvalue;
	__typeof__(PQgetlength) *getlength;
	__typeof__(PQgetisnull) *getisnull;
	__typeof__(PQsocket) *socket;
	__typeof__(PQconsumeInput) *consumeInput;
	__typeof__(PQnotifies) *notifies;
	__typeof__(PQfreemem) *freemem;
	__typeof__(PQsetNoticeProcessor) *setNoticeProcessor;
	__typeof__(PQbackendPID) *backendPID;
} pq;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_result;
static char load_error[256];

static void load(void)
{
	static const struct util_sym syms[] = {
#define SYM(field) { "PQ" #field, (void **)&pq.field }
		SYM(connectdbParams), SYM(status), SYM(finish), SYM(errorMessage), SYM(exec),
		SYM(prepare), SYM(execPrepared), SYM(execParams), SYM(resultStatus),
		SYM(resultErrorField), SYM(resultErrorMessage), SYM(clear), SYM(ntuples),
		SYM(getvalue), SYM(getlength), SYM(getisnull), SYM(socket),
		SYM(consumeInput), SYM(notifies), SYM(freemem), SYM(setNoticeProcessor),
		SYM(backendPID),
#undef SYM
	};

	load_result = util_dlsyms(PG_SONAME, PG_PACKAGE, syms, UTIL_ARRAY_SIZE(syms),
				  load_error, sizeof(load_error));
}

/* ---- the schema ----------------------------------------------------------- */

static const char schema_sql[] =
	"CREATE TABLE executions ("
	" id BIGSERIAL PRIMARY KEY,"
	" created_ms BIGINT NOT NULL,"
	" client TEXT NOT NULL,"
	" endpoint TEXT NOT NULL,"
	" language TEXT NOT NULL,"
	" code BYTEA NOT NULL,"
	" stdin BYTEA,"
	" args TEXT NOT NULL,"
	" limit_wall_time_ms BIGINT NOT NULL,"
	" limit_cpu_time_ms BIGINT NOT NULL,"
	" limit_memory_bytes BIGINT NOT NULL,"
	" limit_max_processes BIGINT NOT NULL,"
	" limit_output_bytes BIGINT NOT NULL,"
	" status TEXT NOT NULL,"
	" exit_code BIGINT,"
	" signal BIGINT,"
	" stdout BYTEA NOT NULL,"
	" stderr BYTEA NOT NULL,"
	" output BYTEA NOT NULL,"
	" stdout_truncated BIGINT NOT NULL,"
	" stderr_truncated BIGINT NOT NULL,"
	" wall_time_ms BIGINT NOT NULL,"
	" cpu_time_ms BIGINT NOT NULL,"
	" memory_bytes BIGINT NOT NULL,"
	" compile TEXT,"
	" verdict TEXT,"
	" tests TEXT,"
	" limit_file_size_bytes BIGINT,"
	" files TEXT);"
	"CREATE INDEX executions_created_ms ON executions (created_ms);"
	/* seq orders the queue; owner is the claiming process (name, pid
	 * and a random part: a restarted node is another owner), node its
	 * name as the APIs show it; lease_ms is on the database's clock. */
	"CREATE TABLE jobs ("
	" seq BIGSERIAL UNIQUE,"
	" token TEXT PRIMARY KEY,"
	" api TEXT NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),"
	" attempts BIGINT NOT NULL,"
	" created_ms BIGINT NOT NULL,"
	" started_ms BIGINT NOT NULL,"
	" finished_ms BIGINT NOT NULL,"
	" request TEXT NOT NULL,"
	" peer TEXT,"
	" answer TEXT,"
	" callback_url TEXT,"
	" execution_id BIGINT NOT NULL,"
	" client TEXT NOT NULL,"
	" node TEXT,"
	" owner TEXT,"
	" lease_ms BIGINT NOT NULL);"
	"CREATE INDEX jobs_open ON jobs (seq) WHERE state <> 'done';"
	"CREATE INDEX jobs_done ON jobs (finished_ms) WHERE state = 'done';"
	"CREATE INDEX jobs_owner ON jobs (owner) WHERE state = 'running';";

/* What each version before the current one lacks, in order. */
static const struct {
	int version;
	const char *sql;
} migrations[] = {
	{ 1, NULL },	/* the first: schema_sql */
};

/* ---- the statements ------------------------------------------------------- */

#define NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
#define JOB_COLUMNS							\
	"token, api, state, attempts, created_ms, started_ms, finished_ms,"	\
	" request, peer, answer, callback_url, execution_id, client, node"
#define RECORD_COLUMNS							\
	"created_ms, client, endpoint, language, code, stdin, args,"	\
	" limit_wall_time_ms, limit_cpu_time_ms, limit_memory_bytes,"	\
	" limit_max_processes, limit_output_bytes, status, exit_code, signal,"	\
	" stdout, stderr, output, stdout_truncated, stderr_truncated,"	\
	" wall_time_ms, cpu_time_ms, memory_bytes, compile, verdict, tests,"	\
	" limit_file_size_bytes, files"
#define RECORD_VALUES							\
	"$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"	\
	" $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28"
#define RECORD_PARAMS 28
/* The types of RECORD_VALUES. */
static const Oid record_types[RECORD_PARAMS] = {
	T_INT8, T_TEXT, T_TEXT, T_TEXT, T_BYTEA, T_BYTEA, T_TEXT, T_INT8, T_INT8,
	T_INT8, T_INT8, T_INT8, T_TEXT, T_INT8, T_INT8, T_BYTEA, T_BYTEA, T_BYTEA,
	T_INT8, T_INT8, T_INT8, T_INT8, T_INT8, T_TEXT, T_TEXT, T_TEXT, T_INT8,
	T_TEXT,
};

enum stmt {
	S_INSERT, S_INSERT_JOB, S_GET, S_LIST, S_JOB_ADD, S_JOB_ADD_MINE, S_JOB_START, S_JOB_FINISH,
	S_JOB_GET, S_JOB_DELETE, S_JOB_CLAIM, S_JOB_RENEW, S_JOB_HAND_BACK, S_COUNT
};

static const struct {
	const char *sql;
	int nparams;
	Oid types[RECORD_PARAMS + 5];
} stmts[S_COUNT] = {
	[S_INSERT] = { "INSERT INTO executions (" RECORD_COLUMNS ") VALUES ("
		       RECORD_VALUES ") RETURNING id", RECORD_PARAMS, { 0 } },
	/* The record goes in only while the job is there to finish, by this
	 * start ($30 = 0: any) of this owner ($31); the answer gets the
	 * record's id as its first key. */
	[S_INSERT_JOB] = {
		"WITH j AS (SELECT token FROM jobs WHERE token = $29 AND state <> 'done'"
		"  AND ($30 = 0 OR (attempts = $30 AND owner = $31)) FOR UPDATE),"
		" e AS (INSERT INTO executions (" RECORD_COLUMNS ") SELECT " RECORD_VALUES
		"  FROM j RETURNING id),"
		" u AS (UPDATE jobs SET state = 'done', execution_id = e.id,"
		"  finished_ms = $33, lease_ms = 0, answer = CASE WHEN $32 IS NULL THEN NULL"
		"  WHEN $32 = '{}' THEN '{\"id\":' || e.id || '}'"
		"  ELSE '{\"id\":' || e.id || ',' || substr($32, 2) END"
		"  FROM e WHERE jobs.token = $29 RETURNING jobs.token)"
		" SELECT e.id, pg_notify('safexec_done', u.token) FROM e, u",
		RECORD_PARAMS + 5, { 0 } },
	[S_GET] = { "SELECT " STORE_GET_COLUMNS " FROM executions WHERE id = $1",
		    1, { T_INT8 } },
	[S_LIST] = { "SELECT " STORE_LIST_COLUMNS ", substring(code FROM 1 FOR $3::integer)"
		     " FROM executions WHERE id < $1 ORDER BY id DESC LIMIT $2",
		     3, { T_INT8, T_INT8, T_INT8 } },
	/* Refused (no row) when $8 jobs are open already. */
	[S_JOB_ADD] = {
		"WITH i AS (INSERT INTO jobs (" JOB_COLUMNS ", owner, lease_ms)"
		"  SELECT $1, $2, 'queued', 0, $3, 0, 0, $4, $5, NULL, $6, 0, $7, NULL, NULL, 0"
		"  WHERE $8 = 0 OR (SELECT count(*) FROM jobs WHERE state <> 'done') < $8"
		"  RETURNING token)"
		" SELECT pg_notify('safexec_queue', '') FROM i",
		8, { T_TEXT, T_TEXT, T_INT8, T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_INT8 } },
	/* The same, claimed at once by this node, which has a worker free
	 * for it: nobody else needs to hear of it. */
	[S_JOB_ADD_MINE] = {
		"INSERT INTO jobs (" JOB_COLUMNS ", owner, lease_ms)"
		" SELECT $1, $2, 'running', 1, $3, " NOW_MS ", 0, $4, $5, NULL, $6, 0, $7, $9, $10,"
		"  " NOW_MS " + $11"
		" WHERE $8 = 0 OR (SELECT count(*) FROM jobs WHERE state <> 'done') < $8"
		" RETURNING token",
		11, { T_TEXT, T_TEXT, T_INT8, T_TEXT, T_TEXT, T_TEXT, T_TEXT, T_INT8, T_TEXT,
		      T_TEXT, T_INT8 } },
	[S_JOB_START] = {
		"UPDATE jobs SET state = 'running', attempts = attempts + 1, started_ms = $2"
		" WHERE token = $1 AND state <> 'done' RETURNING token",
		2, { T_TEXT, T_INT8 } },
	[S_JOB_FINISH] = {
		"WITH u AS (UPDATE jobs SET state = 'done', answer = $2, execution_id = $3,"
		"  finished_ms = $4, lease_ms = 0 WHERE token = $1 AND state <> 'done'"
		"  AND ($5 = 0 OR (attempts = $5 AND owner = $6)) RETURNING token)"
		" SELECT pg_notify('safexec_done', token) FROM u",
		6, { T_TEXT, T_TEXT, T_INT8, T_INT8, T_INT8, T_TEXT } },
	[S_JOB_GET] = { "SELECT " JOB_COLUMNS " FROM jobs WHERE token = $1", 1, { T_TEXT } },
	[S_JOB_DELETE] = { "DELETE FROM jobs WHERE token = $1 AND state = 'done' RETURNING token",
			   1, { T_TEXT } },
	/* The oldest job queued, or running on a lease that expired; a job
	 * another node is claiming is skipped, not waited for. */
	[S_JOB_CLAIM] = {
		"UPDATE jobs SET state = 'running', attempts = attempts + 1,"
		" started_ms = " NOW_MS ", node = $1, owner = $2, lease_ms = " NOW_MS " + $3"
		" WHERE token = (SELECT token FROM jobs WHERE state <> 'done'"
		"  AND (state = 'queued' OR lease_ms < " NOW_MS ")"
		"  ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" RETURNING " JOB_COLUMNS,
		3, { T_TEXT, T_TEXT, T_INT8 } },
	[S_JOB_RENEW] = {
		"UPDATE jobs SET lease_ms = " NOW_MS " + $2 WHERE owner = $1 AND state = 'running'",
		2, { T_TEXT, T_INT8 } },
	/* Back to the queue, the start not counted. */
	[S_JOB_HAND_BACK] = {
		"WITH u AS (UPDATE jobs SET state = 'queued', attempts = attempts - 1,"
		"  node = NULL, owner = NULL, lease_ms = 0 WHERE token = $1 AND owner = $2"
		"  AND attempts = $3 AND state = 'running' RETURNING token)"
		" SELECT pg_notify('safexec_queue', '') FROM u",
		3, { T_TEXT, T_TEXT, T_INT8 } },
};

/* ---- connections ------------------------------------------------------------ */

struct pg_conn {
	PGconn *c;
	bool busy;
	atomic_int pid;			/* its server process, or 0 */
};

struct store_db {
	char *conninfo;
	char node[64];			/* this node's name */
	char owner[128];		/* this process: name/pid/random */
	int64_t lease_ms;
	uint64_t keep_count, keep_days, jobs_max;
	pthread_mutex_t lock;		/* guards conns, busy and the backoff */
	pthread_cond_t freed;
	struct pg_conn *conns;
	unsigned nconns;
	uint64_t retry_at_ns;		/* no new connection before (monotonic) */
	unsigned backoff_ms;
	bool connecting;		/* a connection is being made */
	bool ever_up;
	atomic_bool up;
	atomic_ullong reconnects, round_trips, wait_ns, claimed;
	atomic_uint since_prune, jobs_since_prune;
	/* The listener. */
	struct store_events ev;
	pthread_t listener;
	bool listening;
	int wake_fd;			/* eventfd: stop */
	atomic_bool stopping;
};

static void quiet(void *arg, const char *message)
{
	/* "relation ... already exists, skipping" and the like. */
}

/* A new connection with its statements prepared, or NULL with why. */
static PGconn *connect_db(struct store_db *db, bool prepare, char *why, size_t whylen)
{
	/* A database that does not answer must not hold a node for the
	 * minutes TCP would wait: bounds on connecting and on a connection
	 * gone silent, each overridden by the operator's own in the string
	 * (which comes last, expanded from dbname). */
	static const char *const keys[] = {
		"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", "dbname", NULL,
	};
	const char *values[] = { "5", "1", "5", "2", "3", "10000", db->conninfo, NULL };
	PGconn *c = pq.connectdbParams(keys, values, 1);

	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (pq.status(c) != CONNECTION_OK) {
		snprintf(why, whylen, "%s", pq.errorMessage(c));
		goto fail;
	}
	pq.setNoticeProcessor(c, quiet, NULL);
	for (int i = 0; prepare && i < S_COUNT; i++) {
		char name[8];
		const Oid *types = i == S_INSERT || i == S_INSERT_JOB ? NULL : stmts[i].types;
		Oid all[RECORD_PARAMS + 5];

		if (!types) {
			memcpy(all, record_types, sizeof(record_types));
			all[28] = T_TEXT;	/* token */
			all[29] = T_INT8;	/* attempt */
			all[30] = T_TEXT;	/* owner */
			all[31] = T_TEXT;	/* answer */
			all[32] = T_INT8;	/* finished_ms */
			types = all;
		}
		snprintf(name, sizeof(name), "s%d", i);
		PGresult *res = pq.prepare(c, name, stmts[i].sql, stmts[i].nparams, types);
		bool ok = res && pq.resultStatus(res) == PGRES_COMMAND_OK;
		if (!ok)
			snprintf(why, whylen, "cannot prepare a statement: %s",
				 res ? pq.resultErrorMessage(res) : pq.errorMessage(c));
		pq.clear(res);
		if (!ok)
			goto fail;
	}
	return c;
fail:
	/* libpq's messages end with a newline. */
	why[strcspn(why, "\n")] = '\0';
	pq.finish(c);
	return NULL;
}

/* Takes a connection from the pool, made again when it was found broken
 * and the backoff allows.  Returns 0 with *out, or -ENOTCONN. */
static int conn_get(struct store_db *db, struct pg_conn **out)
{
	struct pg_conn *pc = NULL;
	char why[256];

	pthread_mutex_lock(&db->lock);
	for (;;) {
		/* A free connection that works first, else any free one. */
		for (unsigned i = 0; i < db->nconns; i++)
			if (!db->conns[i].busy && (!pc || (!pc->c && db->conns[i].c)))
				pc = &db->conns[i];
		if (pc)
			break;
		pthread_cond_wait(&db->freed, &db->lock);
	}
	pc->busy = true;
	if (pc->c && pq.status(pc->c) != CONNECTION_OK) {
		pq.finish(pc->c);
		atomic_store(&pc->pid, 0);
		pc->c = NULL;
	}
	if (!pc->c) {
		uint64_t now = util_now_ns();
		/* One connection is made at a time, none before the backoff
		 * allows: meanwhile the others fail at once rather than wait
		 * (the event thread among them). */
		if (now < db->retry_at_ns || db->connecting) {
			pc->busy = false;
			pthread_cond_signal(&db->freed);
			pthread_mutex_unlock(&db->lock);
			return -ENOTCONN;
		}
		db->connecting = true;
		pthread_mutex_unlock(&db->lock);
		PGconn *c = connect_db(db, true, why, sizeof(why));
		pthread_mutex_lock(&db->lock);
		db->connecting = false;
		if (!c) {
			db->backoff_ms = db->backoff_ms ? db->backoff_ms * 2 : BACKOFF_MIN_MS;
			if (db->backoff_ms > BACKOFF_MAX_MS)
				db->backoff_ms = BACKOFF_MAX_MS;
			db->retry_at_ns = util_now_ns() + (uint64_t)db->backoff_ms * 1000000;
			if (atomic_exchange(&db->up, false) || !db->ever_up)
				fprintf(stderr, "store: the database cannot be reached: %s\n", why);
			pc->busy = false;
			pthread_cond_signal(&db->freed);
			pthread_mutex_unlock(&db->lock);
			return -ENOTCONN;
		}
		pc->c = c;
		db->backoff_ms = 0;
		atomic_store(&pc->pid, pq.backendPID(pc->c));
		if (!atomic_exchange(&db->up, true) && db->ever_up) {
			atomic_fetch_add(&db->reconnects, 1);
			fprintf(stderr, "store: connected to the database again\n");
		}
		db->ever_up = true;
	}
	pthread_mutex_unlock(&db->lock);
	*out = pc;
	return 0;
}

static void conn_put(struct store_db *db, struct pg_conn *pc)
{
	pthread_mutex_lock(&db->lock);
	pc->busy = false;
	pthread_cond_signal(&db->freed);
	pthread_mutex_unlock(&db->lock);
}

/* One prepared statement's parameters: text, or binary for bytea. */
struct params {
	int n;
	const char *v[RECORD_PARAMS + 5];
	int len[RECORD_PARAMS + 5];
	int fmt[RECORD_PARAMS + 5];
	char num[RECORD_PARAMS + 5][24];
};

static void p_text(struct params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void p_i64(struct params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%" PRId64, v);
	p_text(p, p->num[p->n]);
}

static void p_u64(struct params *p, uint64_t v)
{
	p_i64(p, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* NULL data is SQL NULL; len bytes of anything else a bytea. */
static int p_bytes(struct params *p, const char *data, size_t len)
{
	if (len > INT32_MAX)
		return -E2BIG;
	p->v[p->n] = data;
	p->len[p->n] = (int)len;
	p->fmt[p->n++] = 1;
	return 0;
}

/* Runs statement s on the pool, answers in binary.  Returns the result
 * (the caller clears it) or NULL with *r: -ENOTCONN when the connection
 * broke (the next call makes a new one), -EEXIST for a duplicate key, else
 * -EIO (reported on stderr). */
static PGresult *run(struct store_db *db, enum stmt s, const struct params *p, int *r)
{
	struct pg_conn *pc;
	PGresult *res;
	char name[8];
	uint64_t t0;

	if ((*r = conn_get(db, &pc)) < 0)
		return NULL;
	snprintf(name, sizeof(name), "s%d", (int)s);
	t0 = util_now_ns();
	res = pq.execPrepared(pc->c, name, p->n, p->v, p->len, p->fmt, 1);
	atomic_fetch_add(&db->wait_ns, util_now_ns() - t0);
	atomic_fetch_add(&db->round_trips, 1);
	ExecStatusType st = res ? pq.resultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		*r = 0;
		conn_put(db, pc);
		return res;
	}
	const char *state = res ? pq.resultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? pq.resultErrorMessage(res) : pq.errorMessage(pc->c);
	if (pq.status(pc->c) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0) {
		/* The connection, or the server, went away. */
		*r = -ENOTCONN;
		if (atomic_exchange(&db->up, false))
			fprintf(stderr, "store: lost the database: %.*s\n", (int)strcspn(msg, "\n"),
				msg);
		pq.finish(pc->c);
		atomic_store(&pc->pid, 0);
		pc->c = NULL;
	} else if (strcmp(state, "23505") == 0) {
		*r = -EEXIST;
	} else {
		*r = -EIO;
		fprintf(stderr, "store: statement %d failed: %s", (int)s,
			pq.resultErrorMessage(res));
	}
	pq.clear(res);
	conn_put(db, pc);
	return NULL;
}

/* The same, once more on a new connection when the first broke: for the
 * statements that are safe to send twice (reads, and changes whose second
 * try finds the first's effect and says so). */
static PGresult *run_again(struct store_db *db, enum stmt s, const struct params *p, int *r)
{
	PGresult *res = run(db, s, p, r);

	if (!res && *r == -ENOTCONN)
		res = run(db, s, p, r);
	return res;
}

/* An unprepared statement with text parameters (retention, counts). */
static int exec_simple(struct store_db *db, const char *sql, int n, const char *const *vals,
		       PGresult **out)
{
	struct pg_conn *pc;
	PGresult *res;
	int r;

	if (out)
		*out = NULL;
	if ((r = conn_get(db, &pc)) < 0)
		return r;
	res = pq.execParams(pc->c, sql, n, NULL, vals, NULL, NULL, 1);
	atomic_fetch_add(&db->round_trips, 1);
	ExecStatusType st = res ? pq.resultStatus(res) : PGRES_FATAL_ERROR;
	r = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -EIO;
	if (r < 0) {
		fprintf(stderr, "store: %s", res ? pq.resultErrorMessage(res) : pq.errorMessage(pc->c));
		if (pq.status(pc->c) != CONNECTION_OK) {
			pq.finish(pc->c);
		atomic_store(&pc->pid, 0);
			pc->c = NULL;
			r = -ENOTCONN;
		}
	}
	conn_put(db, pc);
	if (r == 0 && out)
		*out = res;
	else
		pq.clear(res);
	return r;
}

/* ---- rows ------------------------------------------------------------------------ */

struct pg_row {
	PGresult *res;
	int tuple;
};

static bool col_is_null(void *row, int col)
{
	struct pg_row *pr = row;

	return pq.getisnull(pr->res, pr->tuple, col);
}

/* Binary integers are big-endian: int8, or int4 for a few expressions. */
static int64_t col_i64(void *row, int col)
{
	struct pg_row *pr = row;
	const char *p = pq.getvalue(pr->res, pr->tuple, col);
	int len = pq.getlength(pr->res, pr->tuple, col);

	if (pq.getisnull(pr->res, pr->tuple, col))
		return 0;
	if (len == 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		return (int64_t)be64toh(v);
	}
	if (len == 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		return (int32_t)be32toh(v);
	}
	return 0;
}

/* libpq ends every value with a NUL it does not count. */
static const char *col_bytes(void *row, int col, size_t *len)
{
	struct pg_row *pr = row;

	if (pq.getisnull(pr->res, pr->tuple, col)) {
		*len = 0;
		return NULL;
	}
	*len = (size_t)pq.getlength(pr->res, pr->tuple, col);
	return pq.getvalue(pr->res, pr->tuple, col);
}

static void cols_of(struct pg_row *pr, struct store_cols *c)
{
	*c = (struct store_cols){ .row = pr, .is_null = col_is_null, .i64 = col_i64,
				  .bytes = col_bytes };
}

/* ---- retention ----------------------------------------------------------------- */

static void prune(struct store_db *db, bool jobs)
{
	char n[24], cutoff[24];
	const char *v[1];
	int r = 0;

	snprintf(n, sizeof(n), "%" PRIu64, db->keep_count);
	snprintf(cutoff, sizeof(cutoff), "%" PRId64, store_keep_cutoff(db->keep_days));
	if (db->keep_count) {
		v[0] = n;
		r |= exec_simple(db, jobs
			? "DELETE FROM jobs WHERE state = 'done' AND seq <= (SELECT seq FROM jobs"
			  " WHERE state = 'done' ORDER BY seq DESC OFFSET $1 LIMIT 1)"
			: "DELETE FROM executions WHERE id <= (SELECT id FROM executions"
			  " ORDER BY id DESC OFFSET $1 LIMIT 1)", 1, v, NULL);
	}
	if (db->keep_days) {
		v[0] = cutoff;
		r |= exec_simple(db, jobs
			? "DELETE FROM jobs WHERE state = 'done' AND finished_ms < $1"
			: "DELETE FROM executions WHERE created_ms < $1", 1, v, NULL);
	}
	if (r)
		fprintf(stderr, "store: retention failed; it runs again later\n");
}

/* ---- open and close --------------------------------------------------------------- */

/* Creates or migrates the schema, under an advisory lock held for the
 * transaction.  Returns 0 or a negative errno with why. */
static int setup_schema(PGconn *c, char *why, size_t whylen)
{
	PGresult *res;
	int version = 0, r = 0;
	char sql[160];

	snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%lld);"
		 "CREATE TABLE IF NOT EXISTS safexec_schema (version INTEGER NOT NULL)",
		 (long long)PG_SCHEMA_LOCK);
	res = pq.exec(c, sql);
	if (!res || pq.resultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	pq.clear(res);
	res = pq.exec(c, "SELECT max(version) FROM safexec_schema");
	if (!res || pq.resultStatus(res) != PGRES_TUPLES_OK)
		goto fail;
	uint64_t v = 0;
	if (!pq.getisnull(res, 0, 0) && util_parse_u64(pq.getvalue(res, 0, 0), 1000000, &v) < 0)
		goto fail;
	version = (int)v;
	pq.clear(res);
	res = NULL;
	if (version > PG_SCHEMA_VERSION) {
		snprintf(why, whylen, "database schema version %d is newer than this safexec "
			 "understands (%d)", version, PG_SCHEMA_VERSION);
		r = -EPROTO;
		goto rollback;
	}
	if (version == 0) {
		res = pq.exec(c, schema_sql);
		if (!res || pq.resultStatus(res) != PGRES_COMMAND_OK)
			goto fail;
		pq.clear(res);
		res = NULL;
	}
	for (size_t i = 0; version > 0 && i < UTIL_ARRAY_SIZE(migrations); i++) {
		if (version >= migrations[i].version || !migrations[i].sql)
			continue;
		res = pq.exec(c, migrations[i].sql);
		if (!res || pq.resultStatus(res) != PGRES_COMMAND_OK)
			goto fail;
		pq.clear(res);
		res = NULL;
	}
	if (version < PG_SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql), "DELETE FROM safexec_schema;"
			 "INSERT INTO safexec_schema VALUES (%d)", PG_SCHEMA_VERSION);
		res = pq.exec(c, sql);
		if (!res || pq.resultStatus(res) != PGRES_COMMAND_OK)
			goto fail;
		pq.clear(res);
	}
	res = pq.exec(c, "COMMIT");
	if (!res || pq.resultStatus(res) != PGRES_COMMAND_OK)
		goto fail;
	pq.clear(res);
	return 0;
fail:
	snprintf(why, whylen, "cannot create the schema: %s",
		 res ? pq.resultErrorMessage(res) : pq.errorMessage(c));
	why[strcspn(why, "\n")] = '\0';
	r = -EIO;
rollback:
	pq.clear(res);
	pq.clear(pq.exec(c, "ROLLBACK"));
	return r;
}

static void pg_close(struct store_db *db);
static void pg_unlisten(struct store_db *db);

static int pg_open(struct store_db **out, const struct store_config *cfg, char *why,
		   size_t whylen)
{
	struct store_db *db;
	unsigned char rnd[4];
	int r;

	*out = NULL;
	pthread_once(&once, load);
	if (load_result < 0) {
		snprintf(why, whylen, "%s", load_error);
		return load_result;
	}
	db = calloc(1, sizeof(*db));
	if (!db) {
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->freed, NULL);
	db->wake_fd = -1;
	db->conninfo = strdup(cfg->url);
	db->nconns = cfg->pool ? cfg->pool : 4;
	db->conns = calloc(db->nconns, sizeof(*db->conns));
	if (!db->conninfo || !db->conns) {
		snprintf(why, whylen, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	snprintf(db->node, sizeof(db->node), "%s", cfg->node && *cfg->node ? cfg->node : "node");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	snprintf(db->owner, sizeof(db->owner), "%s/%ld/%02x%02x%02x%02x", db->node,
		 (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
	db->lease_ms = (int64_t)(cfg->lease_s ? cfg->lease_s : 10) * 1000;
	db->keep_count = cfg->keep_count;
	db->keep_days = cfg->keep_days;
	db->jobs_max = cfg->jobs_max;

	/* The first connection must work: a store that cannot be opened is
	 * a configuration to fix, not an outage to ride out. */
	PGconn *c = connect_db(db, false, why, whylen);
	if (!c) {
		r = -ENOTCONN;
		goto fail;
	}
	r = setup_schema(c, why, whylen);
	pq.finish(c);
	if (r < 0)
		goto fail;
	struct pg_conn *pc;
	if ((r = conn_get(db, &pc)) < 0) {
		snprintf(why, whylen, "cannot connect to the database");
		goto fail;
	}
	conn_put(db, pc);
	prune(db, false);
	prune(db, true);
	*out = db;
	return 0;
fail:
	pg_close(db);
	return r;
}

static void pg_close(struct store_db *db)
{
	if (!db)
		return;
	pg_unlisten(db);
	if (db->wake_fd >= 0)
		close(db->wake_fd);
	for (unsigned i = 0; db->conns && i < db->nconns; i++)
		if (db->conns[i].c)
			pq.finish(db->conns[i].c);
	free(db->conns);
	free(db->conninfo);
	pthread_mutex_destroy(&db->lock);
	pthread_cond_destroy(&db->freed);
	free(db);
}

/* ---- insert, get, list -------------------------------------------------------------- */

static int record_params(struct params *p, const struct store_prepared *pr)
{
	const struct store_row *row = &pr->row;
	const struct sbx_limits *l = &row->limits;
	const struct sbx_result *res = &row->result;
	int r = 0;

	p_i64(p, row->created_ms);
	p_text(p, row->client);
	p_text(p, row->endpoint);
	p_text(p, row->language);
	r |= p_bytes(p, row->code ? row->code : "", row->code_len);
	r |= p_bytes(p, row->stdin_data, row->stdin_len);
	p_text(p, pr->args);
	p_u64(p, l->wall_ms);
	p_u64(p, l->cpu_ms);
	p_u64(p, l->memory_bytes);
	p_u64(p, l->processes);
	p_u64(p, l->output_bytes);
	p_text(p, row->status);
	if (res->has_exit_code)
		p_i64(p, res->exit_code);
	else
		p_text(p, NULL);
	if (res->signal)
		p_i64(p, res->signal);
	else
		p_text(p, NULL);
	r |= p_bytes(p, res->out.data ? res->out.data : "", res->out.len);
	r |= p_bytes(p, res->err.data ? res->err.data : "", res->err.len);
	r |= p_bytes(p, res->output.data ? res->output.data : "", res->output.len);
	p_i64(p, res->stdout_truncated);
	p_i64(p, res->stderr_truncated);
	p_u64(p, res->wall_time_ms);
	p_u64(p, res->cpu_time_ms);
	p_u64(p, res->memory_bytes);
	p_text(p, pr->compile);
	p_text(p, pr->verdict);
	p_text(p, pr->tests);
	p_u64(p, l->file_size_bytes);
	p_text(p, pr->files);
	return r;
}

static int pg_insert(struct store_db *db, const struct store_prepared *pr, int64_t *id)
{
	struct params p = { .n = 0 };
	struct pg_row row = { 0 };
	char *answer = NULL;
	int r;

	*id = 0;
	if ((r = record_params(&p, pr)) < 0)
		return r;
	if (pr->job_token) {
		if (pr->job_answer) {
			/* The statement puts the record's id first. */
			json_t *copy = json_copy(pr->job_answer);
			if (copy)
				json_object_del(copy, "id");
			answer = copy ? json_dumps(copy, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
			json_decref(copy);
			if (!answer || answer[0] != '{')
				r = -ENOMEM;
		}
		p_text(&p, pr->job_token);
		p_u64(&p, pr->job_attempt);
		p_text(&p, db->owner);
		p_text(&p, answer);
		p_i64(&p, store_now_ms());
		/* Sent twice only when the first try's connection broke: the
		 * second finds the job done if the first went through. */
		row.res = r ? NULL : run_again(db, S_INSERT_JOB, &p, &r);
		if (row.res && pq.ntuples(row.res) == 0)
			r = -EALREADY;
	} else {
		row.res = run(db, S_INSERT, &p, &r);
	}
	if (r == 0 && row.res && pq.ntuples(row.res) == 1)
		*id = col_i64(&row, 0);
	pq.clear(row.res);
	free(answer);
	if (r == 0 && atomic_fetch_add(&db->since_prune, 1) + 1 >= STORE_PRUNE_EVERY) {
		atomic_store(&db->since_prune, 0);
		prune(db, false);
	}
	return r;
}

static int pg_get(struct store_db *db, int64_t id, json_t **out)
{
	struct params p = { .n = 0 };
	struct pg_row row = { 0 };
	struct store_cols c;
	int r;

	p_i64(&p, id);
	if (!(row.res = run_again(db, S_GET, &p, &r)))
		return r;
	if (pq.ntuples(row.res) == 1) {
		cols_of(&row, &c);
		*out = store_cols_record(&c);
		r = *out ? 0 : -ENOMEM;
	} else {
		r = -ENOENT;
	}
	pq.clear(row.res);
	return r;
}

static int pg_list(struct store_db *db, int64_t before, unsigned limit, json_t *items,
		   bool *more)
{
	struct params p = { .n = 0 };
	struct pg_row row = { 0 };
	struct store_cols c;
	int r = 0, n;

	p_i64(&p, before);
	p_i64(&p, (int64_t)limit + 1);
	p_i64(&p, STORE_PREVIEW_BYTES);
	if (!(row.res = run_again(db, S_LIST, &p, &r)))
		return r;
	n = pq.ntuples(row.res);
	cols_of(&row, &c);
	for (row.tuple = 0; row.tuple < n && r == 0; row.tuple++) {
		if ((unsigned)row.tuple == limit) {
			*more = true;
			break;
		}
		json_t *item = store_cols_summary(&c);
		if (!item || json_array_append_new(items, item) < 0)
			r = -ENOMEM;
	}
	pq.clear(row.res);
	return r;
}

/* ---- jobs ------------------------------------------------------------------------------ */

static int pg_job_add(struct store_db *db, const struct store_job *job)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int r;

	p_text(&p, job->token);
	p_text(&p, job->api);
	p_i64(&p, job->created_ms ? job->created_ms : store_now_ms());
	p_text(&p, job->request);
	p_text(&p, job->peer);
	p_text(&p, job->callback_url);
	p_text(&p, job->client);
	p_u64(&p, db->jobs_max);
	enum stmt s = S_JOB_ADD;
	if (job->state == STORE_JOB_RUNNING) {
		s = S_JOB_ADD_MINE;
		p_text(&p, db->node);
		p_text(&p, db->owner);
		p_i64(&p, db->lease_ms);
	}
	res = run(db, s, &p, &r);
	if (!res && r == -ENOTCONN) {
		/* The token is ours alone: when the second try finds it
		 * taken, the first went through. */
		res = run(db, s, &p, &r);
		if (!res && r == -EEXIST)
			return 0;
	}
	if (res && pq.ntuples(res) == 0)
		r = -EAGAIN;
	pq.clear(res);
	return r;
}

/* What a change that touched no row of token means: -ENOENT when there is
 * no such job, else busy_or_done. */
static int missing_or(struct store_db *db, const char *token, int busy_or_done)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int r;

	p_text(&p, token);
	if (!(res = run_again(db, S_JOB_GET, &p, &r)))
		return r;
	r = pq.ntuples(res) ? busy_or_done : -ENOENT;
	pq.clear(res);
	return r;
}

static int pg_job_start(struct store_db *db, const char *token, int64_t now_ms)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int r;

	p_text(&p, token);
	p_i64(&p, now_ms);
	if (!(res = run(db, S_JOB_START, &p, &r)))
		return r;
	r = pq.ntuples(res) ? 0 : missing_or(db, token, -EALREADY);
	pq.clear(res);
	return r;
}

static int pg_job_finish(struct store_db *db, const char *token, unsigned attempt,
			 const char *answer, int64_t execution_id, int64_t now_ms)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int r;

	p_text(&p, token);
	p_text(&p, answer);
	p_i64(&p, execution_id > 0 ? execution_id : 0);
	p_i64(&p, now_ms);
	p_u64(&p, attempt);
	p_text(&p, db->owner);
	if (!(res = run_again(db, S_JOB_FINISH, &p, &r)))
		return r;
	r = pq.ntuples(res) ? 0 : missing_or(db, token, -EALREADY);
	pq.clear(res);
	if (r == 0 && atomic_fetch_add(&db->jobs_since_prune, 1) + 1 >= STORE_PRUNE_EVERY) {
		atomic_store(&db->jobs_since_prune, 0);
		prune(db, true);
	}
	return r;
}

static int pg_job_get(struct store_db *db, const char *token, struct store_job *out)
{
	struct params p = { .n = 0 };
	struct pg_row row = { 0 };
	struct store_cols c;
	int r;

	p_text(&p, token);
	if (!(row.res = run_again(db, S_JOB_GET, &p, &r)))
		return r;
	if (pq.ntuples(row.res) == 1) {
		cols_of(&row, &c);
		r = store_cols_job(&c, out);
	} else {
		r = -ENOENT;
	}
	pq.clear(row.res);
	return r;
}

static int pg_job_delete(struct store_db *db, const char *token)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int r;

	p_text(&p, token);
	if (!(res = run(db, S_JOB_DELETE, &p, &r)))
		return r;
	r = pq.ntuples(res) ? 0 : missing_or(db, token, -EBUSY);
	pq.clear(res);
	return r;
}

static int pg_job_unfinished(struct store_db *db, struct store_job **jobs, size_t *n)
{
	struct pg_row row = { 0 };
	struct store_cols c;
	int r, count;

	r = exec_simple(db, "SELECT " JOB_COLUMNS " FROM jobs WHERE state <> 'done' ORDER BY seq",
			0, NULL, &row.res);
	if (r < 0)
		return r;
	count = pq.ntuples(row.res);
	if (count > 0 && !(*jobs = calloc((size_t)count, sizeof(**jobs))))
		r = -ENOMEM;
	cols_of(&row, &c);
	for (row.tuple = 0; r == 0 && row.tuple < count; row.tuple++) {
		if ((r = store_cols_job(&c, &(*jobs)[row.tuple])) == 0)
			(*n)++;
	}
	pq.clear(row.res);
	if (r < 0) {
		store_job_release_all(*jobs, *n);
		*jobs = NULL;
		*n = 0;
	}
	return r;
}

static int pg_job_counts(struct store_db *db, uint64_t c[3])
{
	struct pg_row row = { 0 };
	int r, n;

	r = exec_simple(db, "SELECT state, count(*) FROM jobs GROUP BY state", 0, NULL, &row.res);
	if (r < 0)
		return r;
	n = pq.ntuples(row.res);
	for (row.tuple = 0; row.tuple < n; row.tuple++)
		c[store_job_state_from_name(pq.getvalue(row.res, row.tuple, 0))] +=
			(uint64_t)col_i64(&row, 1);
	pq.clear(row.res);
	return 0;
}

static int pg_job_claim(struct store_db *db, struct store_job *out)
{
	struct params p = { .n = 0 };
	struct pg_row row = { 0 };
	struct store_cols c;
	int r;

	p_text(&p, db->node);
	p_text(&p, db->owner);
	p_i64(&p, db->lease_ms);
	if (!(row.res = run(db, S_JOB_CLAIM, &p, &r)))
		return r;
	if (pq.ntuples(row.res) == 1) {
		cols_of(&row, &c);
		r = store_cols_job(&c, out);
		if (r == 0)
			atomic_fetch_add(&db->claimed, 1);
	} else {
		r = -ENOENT;
	}
	pq.clear(row.res);
	return r;
}

static int pg_job_renew(struct store_db *db)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int r;

	p_text(&p, db->owner);
	p_i64(&p, db->lease_ms);
	if (!(res = run_again(db, S_JOB_RENEW, &p, &r)))
		return r;
	pq.clear(res);
	return 0;
}

static int pg_job_hand_back(struct store_db *db, const char *token, unsigned attempt)
{
	struct params p = { .n = 0 };
	PGresult *res;
	int r;

	p_text(&p, token);
	p_text(&p, db->owner);
	p_u64(&p, attempt);
	if (!(res = run_again(db, S_JOB_HAND_BACK, &p, &r)))
		return r;
	r = pq.ntuples(res) ? 0 : -ENOENT;
	pq.clear(res);
	return r;
}

/* ---- the listener --------------------------------------------------------------------- */

/* Whether a server process is one of this node's connections. */
static bool own_pid(struct store_db *db, int pid)
{
	for (unsigned i = 0; i < db->nconns; i++)
		if (atomic_load(&db->conns[i].pid) == pid)
			return true;
	return false;
}

static void *listen_main(void *arg)
{
	struct store_db *db = arg;
	const struct store_events *ev = &db->ev;
	PGconn *c = NULL;
	unsigned backoff = 0;
	uint64_t last_tick = util_now_ns();
	char why[256];

	while (!atomic_load(&db->stopping)) {
		int wait_ms = TICK_MS;
		bool reconnected = false;

		if (!c) {
			c = connect_db(db, false, why, sizeof(why));
			if (c) {
				PGresult *res = pq.exec(c, "LISTEN safexec_queue; LISTEN safexec_done");
				if (!res || pq.resultStatus(res) != PGRES_COMMAND_OK) {
					pq.finish(c);
					c = NULL;
				}
				pq.clear(res);
			}
			if (c) {
				/* What was missed meanwhile: everyone looks again. */
				backoff = 0;
				reconnected = true;
			} else {
				backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
				if (backoff > BACKOFF_MAX_MS)
					backoff = BACKOFF_MAX_MS;
				wait_ms = (int)backoff;
			}
		}
		if (reconnected || util_now_ns() - last_tick >= (uint64_t)TICK_MS * 1000000) {
			last_tick = util_now_ns();
			ev->tick(ev->arg, reconnected);
		}
		struct pollfd pfd[2] = {
			{ .fd = db->wake_fd, .events = POLLIN },
			{ .fd = c ? pq.socket(c) : -1, .events = POLLIN },
		};
		int n = poll(pfd, c ? 2 : 1, wait_ms);
		if (n <= 0 || !c || !(pfd[1].revents & (POLLIN | POLLERR | POLLHUP)))
			continue;
		if (!pq.consumeInput(c) || pq.status(c) != CONNECTION_OK) {
			pq.finish(c);
			c = NULL;
			continue;
		}
		PGnotify *note;
		while ((note = pq.notifies(c))) {
			/* This node's own events were told to it already. */
			if (!own_pid(db, note->be_pid)) {
				if (strcmp(note->relname, "safexec_done") == 0)
					ev->done(ev->arg, note->extra);
				else
					ev->queued(ev->arg);
			}
			pq.freemem(note);
		}
	}
	if (c)
		pq.finish(c);
	return NULL;
}

static int pg_listen(struct store_db *db, const struct store_events *ev)
{
	int r;

	if (db->listening)
		return -EALREADY;
	db->ev = *ev;
	db->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (db->wake_fd < 0)
		return -errno;
	if ((r = -pthread_create(&db->listener, NULL, listen_main, db)) < 0)
		return r;
	db->listening = true;
	return 0;
}

static void pg_unlisten(struct store_db *db)
{
	uint64_t one = 1;

	if (!db->listening)
		return;
	atomic_store(&db->stopping, true);
	if (write(db->wake_fd, &one, sizeof(one)) < 0)
		fprintf(stderr, "store: cannot wake the listener\n");
	pthread_join(db->listener, NULL);
	db->listening = false;
}

static void pg_health(struct store_db *db, struct store_health *out)
{
	out->up = atomic_load(&db->up);
	out->reconnects = atomic_load(&db->reconnects);
	out->round_trips = atomic_load(&db->round_trips);
	out->wait_ns = atomic_load(&db->wait_ns);
	out->claimed = atomic_load(&db->claimed);
}

const struct store_backend store_postgres = {
	.kind = "postgres",
	.open = pg_open,
	.close = pg_close,
	.insert = pg_insert,
	.get = pg_get,
	.list = pg_list,
	.job_add = pg_job_add,
	.job_start = pg_job_start,
	.job_finish = pg_job_finish,
	.job_get = pg_job_get,
	.job_delete = pg_job_delete,
	.job_unfinished = pg_job_unfinished,
	.job_counts = pg_job_counts,
	.job_claim = pg_job_claim,
	.job_renew = pg_job_renew,
	.job_hand_back = pg_job_hand_back,
	.listen = pg_listen,
	.unlisten = pg_unlisten,
	.health = pg_health,
};
