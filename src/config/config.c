/*
 * config.c - the settings of `safexec serve` as one table, like redis'
 * static_configs[]: adding a setting is one line here plus a field in
 * struct cfg; the file parser, the environment, the flags, the bounds
 * checks and `--help` all read the same table.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "sandbox/sandbox.h"
#include "util/util.h"

#define CFG_FILE_MAX (1u << 20)

/* Where `make install` puts the runtime files, the config file and the
 * documentation (the Makefile sets them from PREFIX); for the help and the
 * manual page. */
#ifndef SAFEXEC_RUNTIMES_DIR
#define SAFEXEC_RUNTIMES_DIR "/usr/share/safexec/runtimes"
#endif
#ifndef SAFEXEC_CONFIG_FILE
#define SAFEXEC_CONFIG_FILE "/etc/safexec/safexec.conf"
#endif
#ifndef SAFEXEC_DOC_DIR
#define SAFEXEC_DOC_DIR "/usr/share/doc/safexec"
#endif

static int check_listen(const char *value, char *why, size_t whylen);
static int check_warm(const char *value, char *why, size_t whylen);

#define STR(field, def, env, help)                                            \
	{ #field, CFG_STRING, offsetof(struct cfg, field),                    \
	  sizeof(((struct cfg *)0)->field), def, 0, 0, 0, NULL, env, help }
#define STR_CHECKED(field, def, env, check, help)                             \
	{ #field, CFG_STRING, offsetof(struct cfg, field),                    \
	  sizeof(((struct cfg *)0)->field), def, 0, 0, 0, check, env, help }
#define NUM(field, type, def, min, max, env, help)                            \
	{ #field, type, offsetof(struct cfg, field), 0, def, min, max, 0, NULL, env, help }
/* The most a request may ask for of a limit: within the sandbox's bounds. */
#define LIMIT(field, type, def, id, help)                                     \
	{ #field, type, offsetof(struct cfg, field), 0, def, 0, 0, (id) + 1, NULL, NULL, help }

const struct cfg_entry cfg_table[] = {
	STR_CHECKED(listen, "127.0.0.1:8080", "SAFEXEC_LISTEN", check_listen,
		    "address and port to listen on, HOST:PORT or [IPV6]:PORT"),
	STR(allowed_hosts, "", NULL,
	    "host names clients may use besides IP addresses and localhost, "
	    "comma-separated; * = any (refusing others stops DNS rebinding)"),
	STR(data_dir, "data", "SAFEXEC_DATA_DIR",
	    "directory for the history database"),
	STR(db, "", NULL,
	    "SQLite history database (default: DATA_DIR/history.db)"),
	STR(store, "", "SAFEXEC_STORE",
	    "empty = the SQLite database db; else a PostgreSQL connection string "
	    "(postgres://... or key=value pairs) that several nodes share (docs/deploy.md)"),
	STR(node_name, "", "SAFEXEC_NODE_NAME",
	    "this node's name among those sharing a store (default: the host name)"),
	STR(log, "logs/executions.log", NULL,
	    "append-only JSON-lines log of every execution; empty = none"),
	STR(runtimes, "", "SAFEXEC_RUNTIMES",
	    "folders of runtime files (docs/runtimes.md), colon-separated; empty = the "
	    "runtimes folder beside the binary's, else the installed ones, "
	    SAFEXEC_RUNTIMES_DIR),
	NUM(workers, CFG_UINT, "0", 0, 1024, "SAFEXEC_WORKERS",
	    "sandboxes running at once (0 = number of CPUs)"),
	NUM(queue, CFG_UINT, "64", 0, 1000000, NULL,
	    "executions that may wait for a worker; more get 503"),
	NUM(max_body, CFG_SIZE, "1M", 1024, 64ull << 20, NULL,
	    "largest request body; larger gets 413"),
	NUM(grace_period, CFG_SECONDS, "15", 0, 3600, NULL,
	    "seconds to let executions finish at shutdown before killing them"),
	NUM(keep_count, CFG_UINT, "100000", 0, 1000000000000ull, NULL,
	    "keep at most this many executions in the history (0 = all)"),
	NUM(keep_days, CFG_UINT, "0", 0, 36500, NULL,
	    "drop executions older than this many days (0 = never)"),
	NUM(history_files_max, CFG_SIZE, "1M", 0, 64ull << 20, NULL,
	    "bytes of an execution's output files the history keeps (0 = names and sizes only)"),
	NUM(connection_timeout, CFG_SECONDS, "30", 1, 3600, NULL,
	    "close a connection idle for this many seconds"),
	NUM(connection_limit, CFG_UINT, "1024", 1, 65536, NULL,
	    "most simultaneous client connections"),
	NUM(jobs_max, CFG_UINT, "10000", 1, 10000000, NULL,
	    "submissions (tokens) that may be queued or running at once; more get 503"),
	NUM(wait_max, CFG_SECONDS, "60", 1, 3600, NULL,
	    "longest a wait=true request is held before it is answered with its token"),
	NUM(job_lease, CFG_SECONDS, "10", 2, 3600, NULL,
	    "with a shared store: how long a node holds a job it claimed without renewing; "
	    "after that another node may run it again"),
	NUM(job_attempts, CFG_UINT, "2", 1, 10, NULL,
	    "starts of a job whose server stopped or died before it is ended as internal_error"),
	STR_CHECKED(warm, "", "SAFEXEC_WARM", check_warm,
		    "python = run Python programs warm: in an interpreter started once, a fresh "
		    "sandbox each (docs/sandbox.md); empty = every run starts cold"),
	NUM(warm_runs, CFG_UINT, "1000", 1, 1000000000, NULL,
	    "runs of one warm interpreter (zygote) before it is replaced"),
	NUM(warm_seconds, CFG_SECONDS, "600", 1, 86400, NULL,
	    "seconds one warm interpreter (zygote) serves before it is replaced"),
	NUM(allow_delete, CFG_UINT, "0", 0, 1, NULL,
	    "1 = DELETE /submissions/{token} deletes a finished submission"),
	NUM(compile_cache, CFG_SIZE, "256M", 0, 64ull << 30, NULL,
	    "memory for compiled programs reused across requests; 0 = no cache"),
	NUM(callback_private, CFG_UINT, "0", 0, 1, NULL,
	    "1 = callback_url may reach loopback, private, link-local and metadata addresses"),
	NUM(callback_timeout, CFG_SECONDS, "10", 1, 300, NULL,
	    "seconds each callback attempt may take"),
	NUM(callback_retries, CFG_UINT, "3", 0, 10, NULL,
	    "attempts after a failed callback (1 s, 2 s, 4 s... apart)"),
	STR(keys_file, "", "SAFEXEC_KEYS_FILE",
	    "file of API keys' hashes (docs/deploy.md, `safexec key NAME`); empty = no keys: "
	    "every request is served"),
	NUM(rate_limit, CFG_UINT, "0", 0, 1000000, NULL,
	    "requests a second each key may make (each client address when there are no "
	    "keys), counted by each node alone; more get 429 (0 = no limit)"),
	NUM(rate_burst, CFG_UINT, "0", 0, 1000000, NULL,
	    "requests a key or address may make at once above rate_limit's pace (0 = rate_limit)"),
	NUM(max_concurrent_runs, CFG_UINT, "0", 0, 65536, NULL,
	    "run requests (runs, jobs, submissions) each key or address may have in flight "
	    "on a node; more get 429 (0 = no limit)"),
	NUM(rate_limit_addresses, CFG_UINT, "65536", 16, 1048576, NULL,
	    "client addresses the rate limits track; past that the longest idle is forgotten"),
	LIMIT(max_wall_time_ms, CFG_UINT, "20000", SBX_LIMIT_WALL_MS,
	      "largest limits.wall_time_ms a request may ask for"),
	LIMIT(max_cpu_time_ms, CFG_UINT, "15000", SBX_LIMIT_CPU_MS,
	      "largest limits.cpu_time_ms a request may ask for"),
	LIMIT(max_memory_bytes, CFG_SIZE, "512M", SBX_LIMIT_MEMORY,
	      "largest limits.memory_bytes a request may ask for"),
	LIMIT(max_processes, CFG_UINT, "256", SBX_LIMIT_PROCESSES,
	      "largest limits.max_processes a request may ask for"),
	LIMIT(max_output_bytes, CFG_SIZE, "1M", SBX_LIMIT_OUTPUT,
	      "largest limits.output_bytes a request may ask for"),
	NUM(max_output_files, CFG_UINT, "64", 1, SBX_MAX_OUT_FILES, NULL,
	    "most files a run may return (output_files.max_files)"),
	NUM(max_output_files_bytes, CFG_SIZE, "16M", 1, SBX_MAX_OUT_BYTES, NULL,
	    "most bytes the files of a run may return together (output_files.max_bytes)"),
	NUM(judge0_cpu_time_limit_ms, CFG_UINT, "5000", 0, 600000, NULL, "Judge0 API: cpu_time_limit of a submission that gives none, in ms"),
	NUM(judge0_cpu_extra_time_ms, CFG_UINT, "1000", 0, 600000, NULL, "Judge0 API: cpu_extra_time of a submission that gives none, in ms"),
	NUM(judge0_max_cpu_extra_time_ms, CFG_UINT, "5000", 0, 600000, NULL, "Judge0 API: largest cpu_extra_time, in ms"),
	NUM(judge0_wall_time_limit_ms, CFG_UINT, "10000", 1000, 600000, NULL, "Judge0 API: wall_time_limit of a submission that gives none, in ms"),
	NUM(judge0_memory_limit_kb, CFG_UINT, "128000", 2048, 16777216, NULL, "Judge0 API: memory_limit of a submission that gives none, in KB"),
	NUM(judge0_stack_limit_kb, CFG_UINT, "64000", 0, 16777216, NULL, "Judge0 API: stack_limit of a submission that gives none, in KB (echoed, not enforced apart from memory)"),
	NUM(judge0_max_stack_limit_kb, CFG_UINT, "128000", 0, 16777216, NULL, "Judge0 API: largest stack_limit, in KB"),
	NUM(judge0_max_processes_and_or_threads, CFG_UINT, "60", 1, 4096, NULL, "Judge0 API: max_processes_and_or_threads of a submission that gives none"),
	NUM(judge0_max_file_size_kb, CFG_UINT, "1024", 0, 65536, NULL, "Judge0 API: max_file_size of a submission that gives none, in KB"),
	NUM(judge0_max_max_file_size_kb, CFG_UINT, "4096", 0, 65536, NULL, "Judge0 API: largest max_file_size, in KB"),
	NUM(judge0_number_of_runs, CFG_UINT, "1", 1, 20, NULL, "Judge0 API: number_of_runs of a submission that gives none"),
	NUM(judge0_max_number_of_runs, CFG_UINT, "20", 1, 20, NULL, "Judge0 API: largest number_of_runs"),
	NUM(judge0_redirect_stderr_to_stdout, CFG_UINT, "0", 0, 1, NULL, "Judge0 API: 1 = redirect_stderr_to_stdout when a submission does not say"),
	NUM(judge0_enable_per_process_and_thread_time_limit, CFG_UINT, "0", 0, 1, NULL, "Judge0 API: the value echoed when a submission does not say (limits are always the whole tree's)"),
	NUM(judge0_enable_per_process_and_thread_memory_limit, CFG_UINT, "0", 0, 1, NULL, "Judge0 API: the value echoed when a submission does not say (limits are always the whole tree's)"),
};
const size_t cfg_table_count = UTIL_ARRAY_SIZE(cfg_table);

static const struct cfg_entry *find_entry(const char *name)
{
	for (size_t i = 0; i < cfg_table_count; i++)
		if (strcmp(cfg_table[i].name, name) == 0)
			return &cfg_table[i];
	return NULL;
}

/* The value as it may be shown in a message: printable ASCII, cut short. */
static const char *shown(const char *v, char *buf, size_t len)
{
	size_t i = 0, j = 0;

	for (; v[i] && j + 4 < len; i++)
		buf[j++] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	if (v[i]) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

static int parse_seconds(const char *v, uint64_t max, uint64_t *out)
{
	char buf[32];
	size_t n = strlen(v);

	if (n > 0 && v[n - 1] == 's') {
		if (n >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, v, n - 1);
		buf[n - 1] = '\0';
		return util_parse_u64(buf, max, out);
	}
	return util_parse_u64(v, max, out);
}

int cfg_set(struct cfg *c, const char *name, const char *value,
	    char *why, size_t whylen)
{
	const struct cfg_entry *e = find_entry(name);
	char sb[64];
	uint64_t v = 0, min, max;
	int r;

	if (!e) {
		util_msg(why, whylen, "unknown setting '%s'", shown(name, sb, sizeof(sb)));
		return -ENOENT;
	}
	if (e->type == CFG_STRING) {
		size_t n = strlen(value);

		if (n >= e->size)
			return util_msg(why, whylen, "%s: value is too long (at most %zu bytes)",
				    e->name, e->size - 1);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
				return util_msg(why, whylen, "%s: value contains a control character",
					    e->name);
		if (e->check && e->check(value, why, whylen) < 0)
			return -EINVAL;
		memcpy((char *)c + e->offset, value, n + 1);
		return 0;
	}

	min = e->min;
	max = e->max;
	/* Parse against UINT64_MAX first so that an out-of-range value gets
	 * the bound in the message rather than a bare "invalid". */
	switch (e->type) {
	case CFG_SIZE:
		r = util_parse_size(value, UINT64_MAX, &v);
		break;
	case CFG_SECONDS:
		r = parse_seconds(value, UINT64_MAX, &v);
		break;
	default:
		r = util_parse_u64(value, UINT64_MAX, &v);
		break;
	}
	if (e->limit) {
		const struct sbx_limit_info *li = sbx_limit_info((enum sbx_limit_id)(e->limit - 1));
		min = li->min;
		max = li->max;
	}
	if (r == -ERANGE)
		return util_msg(why, whylen, "%s: '%s' is above the maximum %llu", e->name,
			    shown(value, sb, sizeof(sb)), (unsigned long long)max);
	if (r < 0)
		return util_msg(why, whylen, "%s: '%s' is not %s", e->name,
			    shown(value, sb, sizeof(sb)),
			    e->type == CFG_SIZE ? "a size (like 512K, 8M, 1G)" :
			    e->type == CFG_SECONDS ? "a number of seconds" :
			    "a non-negative integer");
	if (v < min)
		return util_msg(why, whylen, "%s: '%s' is below the minimum %llu%s", e->name,
			    shown(value, sb, sizeof(sb)), (unsigned long long)min,
			    e->limit ? " (what a sandbox needs at least)" : "");
	if (v > max)
		return util_msg(why, whylen, "%s: '%s' is above the maximum %llu", e->name,
			    shown(value, sb, sizeof(sb)), (unsigned long long)max);
	*(uint64_t *)((char *)c + e->offset) = v;
	return 0;
}

void cfg_init(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < cfg_table_count; i++) {
		int r = cfg_set(c, cfg_table[i].name, cfg_table[i].def, NULL, 0);

		/* The defaults are constants checked by the unit tests. */
		(void)r;
	}
}

struct parse_ctx {
	struct cfg *c;
};

static int set_one(void *ctx, const char *key, const char *value, char *why, size_t whylen)
{
	return cfg_set(((struct parse_ctx *)ctx)->c, key, value, why, whylen);
}

int cfg_parse(struct cfg *c, const char *text, size_t len, const char *origin,
	      char *why, size_t whylen)
{
	struct parse_ctx ctx = { c };

	return util_kv_parse(text, len, origin, set_one, &ctx, why, whylen);
}

int cfg_load_file(struct cfg *c, const char *path, char *why, size_t whylen)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = util_read_file(path, CFG_FILE_MAX, &buf, &len);

	if (r < 0) {
		util_msg(why, whylen, "%s: %s", path, r == -EFBIG ? "larger than 1 MiB" :
		     r == -EISDIR ? "not a regular file" : strerror(-r));
		return r;
	}
	return cfg_parse(c, buf, len, path, why, whylen);
}

int cfg_load_env(struct cfg *c, char *why, size_t whylen)
{
	char msg[512];

	for (size_t i = 0; i < cfg_table_count; i++) {
		const struct cfg_entry *e = &cfg_table[i];
		const char *v = e->env ? getenv(e->env) : NULL;
		int r;

		if (!v)
			continue;
		r = cfg_set(c, e->name, v, msg, sizeof(msg));
		if (r < 0) {
			util_msg(why, whylen, "environment %s: %s", e->env, msg);
			return r;
		}
	}
	return 0;
}

/* "--max-body" -> "max_body" into buf; NULL if not a long flag. */
static const char *flag_name(const char *arg, char *buf, size_t len)
{
	size_t n;

	if (strncmp(arg, "--", 2) != 0 || !arg[2])
		return NULL;
	arg += 2;
	n = strcspn(arg, "=");
	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = arg[i] == '-' ? '_' : arg[i];
	buf[n] = '\0';
	return buf;
}

int cfg_from_args(struct cfg *c, int argc, char **argv, char *why, size_t whylen)
{
	const char *file = getenv("SAFEXEC_CONFIG");
	char name[64], sb[64];
	int r;

	cfg_init(c);

	/* The file comes first whatever the flags' order, so find it now. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
		if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc)
				return util_msg(why, whylen, "--config needs a FILE");
			file = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
		}
	}
	if (file && *file) {
		r = cfg_load_file(c, file, why, whylen);
		if (r < 0)
			return r;
	}
	r = cfg_load_env(c, why, whylen);
	if (r < 0)
		return r;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val, *eq;
		char msg[512];

		if (!flag_name(arg, name, sizeof(name)))
			return util_msg(why, whylen, "unexpected argument '%s' (see --help)",
				    shown(arg, sb, sizeof(sb)));
		if (strcmp(name, "config") == 0) {
			if (!strchr(arg, '='))
				i++;
			continue;
		}
		if (strcmp(name, "no_log") == 0 && !strchr(arg, '=')) {
			c->log[0] = '\0';
			continue;
		}
		if (!find_entry(name))
			return util_msg(why, whylen, "unknown option '%s' (see --help)",
				    shown(arg, sb, sizeof(sb)));
		eq = strchr(arg, '=');
		if (eq) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return util_msg(why, whylen, "%s needs a value", arg);
			val = argv[++i];
		}
		r = cfg_set(c, name, val, msg, sizeof(msg));
		if (r < 0) {
			/* Show the flag's spelling, not the file key's. */
			for (char *p = msg; *p && *p != ':'; p++)
				if (*p == '_')
					*p = '-';
			util_msg(why, whylen, "--%s", msg);
			return r;
		}
	}
	return cfg_finish(c, why, whylen);
}

int cfg_split_listen(const char *listen, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = listen;
	size_t hl;
	uint64_t p;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = listen + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - listen);
		/* A bare IPv6 address needs brackets to tell its port apart. */
		if (memchr(listen, ':', hl))
			return -EINVAL;
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	if (util_parse_u64(colon + 1, 65535, &p) < 0)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int check_warm(const char *value, char *why, size_t whylen)
{
	if (value[0] && strcmp(value, "python") != 0) {
		snprintf(why, whylen, "warm: \"%s\": only python (or empty) can run warm", value);
		return -EINVAL;
	}
	return 0;
}

static int check_listen(const char *value, char *why, size_t whylen)
{
	char host[CFG_LISTEN_MAX], sb[64];
	uint16_t port;

	if (cfg_split_listen(value, host, sizeof(host), &port) < 0)
		return util_msg(why, whylen, "listen: '%s' is not HOST:PORT",
			    shown(value, sb, sizeof(sb)));
	return 0;
}

int cfg_finish(struct cfg *c, char *why, size_t whylen)
{
	if (!c->data_dir[0] && !c->db[0])
		return util_msg(why, whylen, "data_dir: must not be empty");
	if (!c->db[0]) {
		int n = snprintf(c->db, sizeof(c->db), "%s/history.db", c->data_dir);

		if (n < 0 || (size_t)n >= sizeof(c->db))
			return util_msg(why, whylen, "data_dir: path too long");
	}
	if (!c->node_name[0] && (gethostname(c->node_name, sizeof(c->node_name)) < 0 ||
				 !c->node_name[0]))
		snprintf(c->node_name, sizeof(c->node_name), "node");
	c->node_name[sizeof(c->node_name) - 1] = '\0';
	if (c->workers == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		c->workers = n > 0 ? (uint64_t)n : 1;
		if (c->workers > 1024)
			c->workers = 1024;
	}
	return 0;
}

void cfg_usage(FILE *f)
{
	fputs("usage: safexec serve [--config FILE] [--listen HOST:PORT] [options]\n"
	      "\n"
	      "Serves the HTTP API and the web page.  Settings come from, in rising\n"
	      "precedence: defaults, the config file (--config FILE or $SAFEXEC_CONFIG),\n"
	      "environment variables, and these flags.\n"
	      "\n", f);
	for (size_t i = 0; i < cfg_table_count; i++) {
		const struct cfg_entry *e = &cfg_table[i];
		char flag[64];
		size_t n = strlen(e->name);

		if (n >= sizeof(flag))
			n = sizeof(flag) - 1;
		for (size_t j = 0; j < n; j++)
			flag[j] = e->name[j] == '_' ? '-' : e->name[j];
		flag[n] = '\0';
		fprintf(f, "  --%-22s %s\n", flag, e->help);
		fprintf(f, "  %-24s default: %s%s%s%s\n", "",
			e->def[0] ? e->def : "\"\"",
			e->env ? "; env " : "", e->env ? e->env : "", "");
	}
	fputs("  --no-log                 same as --log \"\"\n"
	      "  --config FILE            read settings from FILE (key = value lines)\n", f);
}

/* ---- the manual page ---------------------------------------------------- */

/* Text for a roff line: backslashes escaped, a leading '.' or '\'' kept
 * from being read as a request, and with dashes as minus signs when the
 * text is a flag or a value rather than prose. */
static void roff_text(FILE *f, const char *s, int minus)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-' && minus)
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

/* A size as the file would take it: 64M, 1K, 4194304 = 4M. */
static const char *size_text(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		uint64_t u = 1ull << (10 * (3 - i));

		if (v && v % u == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(v / u), units[i]);
			return buf;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

static void man_entry(FILE *f, const struct cfg_entry *e)
{
	char lo[32], hi[32];
	uint64_t min = e->min, max = e->max;

	if (e->limit) {
		const struct sbx_limit_info *li = sbx_limit_info((enum sbx_limit_id)(e->limit - 1));
		min = li->min;
		max = li->max;
	}
	fputs(".TP\n\\fB", f);
	roff_text(f, e->name, 0);
	fputs("\\fR = \\fI", f);
	roff_text(f, e->def[0] ? e->def : "\"\"", 1);
	fputs("\\fR\n", f);
	roff_text(f, e->help, 0);
	fputs(".\n", f);
	switch (e->type) {
	case CFG_STRING:
		fprintf(f, "Text of at most %zu bytes.\n", e->size - 1);
		break;
	case CFG_UINT:
		fprintf(f, "A number from %llu to %llu.\n", (unsigned long long)min,
			(unsigned long long)max);
		break;
	case CFG_SIZE:
		fprintf(f, "A size from %s to %s.\n", size_text(min, lo, sizeof(lo)),
			size_text(max, hi, sizeof(hi)));
		break;
	case CFG_SECONDS:
		fprintf(f, "Seconds, from %llu to %llu.\n", (unsigned long long)min,
			(unsigned long long)max);
		break;
	}
	fputs("Flag: \\fB\\-\\-", f);
	for (const char *p = e->name; *p; p++) {
		if (*p == '_')
			fputs("\\-", f);
		else
			fputc(*p, f);
	}
	fputs("\\fR", f);
	if (e->env) {
		fputs("; environment: \\fB", f);
		roff_text(f, e->env, 0);
		fputs("\\fR", f);
	}
	fputs(".\n", f);
}

void cfg_man(FILE *f)
{
	fputs(".\\\" safexec.conf(5), written by `safexec __conf-man` from the settings'\n"
	      ".\\\" table, cfg_table[] in src/config/config.c: edit that, not this.\n"
	      ".TH SAFEXEC.CONF 5 \"\" \"safexec\" \"File Formats Manual\"\n"
	      ".\\\" Names and flags are not to be hyphenated nor spread out.\n"
	      ".nh\n"
	      ".ad l\n"
	      ".SH NAME\n"
	      "safexec.conf \\- settings of safexec serve\n"
	      ".SH SYNOPSIS\n"
	      ".B safexec serve \\-\\-config\n"
	      ".I FILE\n"
	      ".PP\n", f);
	fprintf(f, ".I %s\n", SAFEXEC_CONFIG_FILE);
	fputs(".SH DESCRIPTION\n"
	      ".B safexec serve\n"
	      "(see\n"
	      ".BR safexec (1))\n"
	      "takes each setting from, lowest precedence first:\n"
	      "its built-in default;\n"
	      "the file named by\n"
	      ".B \\-\\-config\n"
	      ".IR FILE ,\n"
	      "or else by the environment variable\n"
	      ".B SAFEXEC_CONFIG\n"
	      "(no file when neither is given);\n"
	      "the environment variables named below;\n"
	      "and the command-line flags.\n"
	      "A flag is the setting's name with dashes for its underscores\n"
	      ".RB ( max_body\n"
	      "is\n"
	      ".BR \\-\\-max\\-body ),\n"
	      "given as \\fB\\-\\-\\fINAME VALUE\\fR\n"
	      "or \\fB\\-\\-\\fINAME\\fB=\\fIVALUE\\fR.\n"
	      ".PP\n"
	      "The file has one\n"
	      ".IB key \" = \" value\n"
	      "per line.\n"
	      "Blank lines and lines whose first non-blank character is\n"
	      ".B #\n"
	      "are ignored.\n"
	      "Spaces around the key and the value are dropped;\n"
	      "a value may be wrapped in double quotes, which is the only way to write\n"
	      "an empty one.\n"
	      "There is no escaping and no comment after a value.\n"
	      "A file may hold at most 1 MiB.\n"
	      ".PP\n"
	      "Numbers are plain decimal (no sign, no spaces).\n"
	      "Sizes are bytes, with an optional suffix\n"
	      ".BR K ,\n"
	      ".B M\n"
	      "or\n"
	      ".B G\n"
	      "(powers of 1024, optionally followed by\n"
	      ".B B\n"
	      "or\n"
	      ".BR iB ).\n"
	      "Durations are whole seconds, optionally followed by\n"
	      ".BR s .\n"
	      "Relative paths are relative to the directory the server starts in\n"
	      "(the systemd unit\n"
	      ".BR safexec.service 's\n"
	      "is\n"
	      ".IR /var/lib/safexec ).\n"
	      ".PP\n"
	      "A bad setting stops the server before it starts, with exit status 2\n"
	      "and one line that names where it came from (the file and line, the\n"
	      "environment variable or the flag) and the key.\n"
	      ".SH SETTINGS\n"
	      "Each setting with its default, what it does, its bounds, its flag and,\n"
	      "where it has one, its environment variable.\n", f);
	for (size_t i = 0; i < cfg_table_count; i++)
		man_entry(f, &cfg_table[i]);
	fputs(".SH FLAGS\n"
	      "Besides a flag for each setting,\n"
	      ".B safexec serve\n"
	      "takes:\n"
	      ".TP\n"
	      ".BI \\-\\-config \" FILE\"\n"
	      "read the settings of\n"
	      ".I FILE\n"
	      "first, whatever the flags' order.\n"
	      ".TP\n"
	      ".B \\-\\-no\\-log\n"
	      "the same as\n"
	      ".BR \"\\-\\-log \\(dq\\(dq\" .\n"
	      ".TP\n"
	      ".BR \\-\\-help \", \" \\-h\n"
	      "print every setting with its default, and exit.\n"
	      ".SH ENVIRONMENT\n"
	      ".TP\n"
	      ".B SAFEXEC_CONFIG\n"
	      "the file to read when\n"
	      ".B \\-\\-config\n"
	      "is not given.\n", f);
	for (size_t i = 0; i < cfg_table_count; i++) {
		if (!cfg_table[i].env)
			continue;
		fputs(".TP\n.B ", f);
		roff_text(f, cfg_table[i].env, 0);
		fputs("\nthe setting\n.BR ", f);
		roff_text(f, cfg_table[i].name, 0);
		fputs(" .\n", f);
	}
	fputs(".SH FILES\n"
	      ".TP\n", f);
	fprintf(f, ".I %s\n", SAFEXEC_CONFIG_FILE);
	fputs("the file the systemd unit\n"
	      ".B safexec.service\n"
	      "passes to\n"
	      ".BR \"safexec serve \\-\\-config\" .\n"
	      ".SH SEE ALSO\n"
	      ".BR safexec (1),\n"
	      ".BR systemd.exec (5);\n"
	      "the documentation of safexec (docs/config.md, docs/deploy.md),\n"
	      "installed in\n", f);
	fprintf(f, ".IR %s .\n", SAFEXEC_DOC_DIR);
}
