/*
 * runtime.c - runtime files, the registry, version probes, and the
 * compile and run stages of one execution.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime.h"
#include "util/util.h"

#define RT_FILE_MAX (64u << 10)
#define RT_MAX_WORDS (SBX_MAX_CMD - 1)

/* ---- parsing ------------------------------------------------------------ */

static void free_words(char **w)
{
	if (!w)
		return;
	for (char **p = w; *p; p++)
		free(*p);
	free(w);
}

/* Splits a command into words: spaces separate, double quotes group, and
 * inside them \" and \\ stand for " and \.  NULL-terminated; NULL with a
 * message on a bad command. */
static char **split_words(const char *s, char *why, size_t whylen)
{
	char **w = calloc(RT_MAX_WORDS + 1, sizeof(*w));
	size_t n = 0, len = strlen(s);
	char *word = malloc(len + 1);

	if (!w || !word)
		goto nomem;
	for (size_t i = 0; i < len;) {
		size_t k = 0;
		bool quoted = false;

		while (i < len && s[i] == ' ')
			i++;
		if (i == len)
			break;
		while (i < len && (quoted || s[i] != ' ')) {
			if (s[i] == '"') {
				quoted = !quoted;
				i++;
			} else if (quoted && s[i] == '\\' && i + 1 < len &&
				   (s[i + 1] == '"' || s[i + 1] == '\\')) {
				word[k++] = s[i + 1];
				i += 2;
			} else {
				word[k++] = s[i++];
			}
		}
		if (quoted) {
			snprintf(why, whylen, "unterminated quote");
			goto fail;
		}
		if (n == RT_MAX_WORDS) {
			snprintf(why, whylen, "more than %u words", RT_MAX_WORDS);
			goto fail;
		}
		word[k] = '\0';
		if (!(w[n++] = strdup(word)))
			goto nomem;
	}
	free(word);
	if (n == 0 || w[0][0] != '/') {
		snprintf(why, whylen, "the first word must be an absolute path");
		free_words(w);
		return NULL;
	}
	return w;
nomem:
	snprintf(why, whylen, "out of memory");
fail:
	free(word);
	free_words(w);
	return NULL;
}

/* Copies a comma-separated list into list (at most max names of size
 * size each). */
static int set_list(char (*list)[RT_NAME_MAX], size_t size, size_t max, size_t *n,
		    const char *v, char *why, size_t whylen)
{
	*n = 0;
	for (const char *p = v; *p;) {
		p += strspn(p, ", ");
		size_t k = strcspn(p, ", ");
		if (!k)
			break;
		if (*n == max || k >= size) {
			snprintf(why, whylen, "at most %zu names of at most %zu bytes", max, size - 1);
			return -EINVAL;
		}
		memcpy((char *)list + *n * RT_NAME_MAX, p, k);
		((char *)list + *n * RT_NAME_MAX)[k] = '\0';
		(*n)++;
		p += k;
	}
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= RT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      strchr("_+#.-", s[i])))
			return false;
	return true;
}

/* "\n", "\t", "\\" and "\"" in a value, for hello. */
static char *unescape(const char *v)
{
	char *out = malloc(strlen(v) + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *p = v; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			*o++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* The limit keys, with "max_" and "compile_" prefixes for maxima and the
 * compile stage ("compile_max_memory_bytes").  Processes are "processes"
 * here: the request's "max_processes" would read as a maximum. */
static const struct {
	const char *name;
	enum sbx_limit_id id;
} limit_keys[] = {
	{ "wall_time_ms", SBX_LIMIT_WALL_MS },	 { "cpu_time_ms", SBX_LIMIT_CPU_MS },
	{ "memory_bytes", SBX_LIMIT_MEMORY },	 { "processes", SBX_LIMIT_PROCESSES },
	{ "output_bytes", SBX_LIMIT_OUTPUT },
};

static int set_limit_key(struct runtime *rt, const char *key, const char *v, char *why,
			 size_t whylen)
{
	struct rt_stage_limits *st = &rt->run_limits;
	bool max = false;

	if (strncmp(key, "compile_", 8) == 0) {
		st = &rt->compile_limits;
		key += 8;
	}
	if (strncmp(key, "max_", 4) == 0) {
		max = true;
		key += 4;
	}
	for (size_t i = 0; i < UTIL_ARRAY_SIZE(limit_keys); i++) {
		if (strcmp(key, limit_keys[i].name) != 0)
			continue;
		const struct sbx_limit_info *li = sbx_limit_info(limit_keys[i].id);
		uint64_t n;
		int r = li->is_size ? util_parse_size(v, UINT64_MAX, &n)
				    : util_parse_u64(v, UINT64_MAX, &n);
		if (r < 0 || !sbx_limit_ok(limit_keys[i].id, n)) {
			snprintf(why, whylen, "%s: must be from %llu to %llu", key,
				 (unsigned long long)li->min, (unsigned long long)li->max);
			return -EINVAL;
		}
		sbx_limit_set(max ? &st->max : &st->def, limit_keys[i].id, n);
		return 0;
	}
	return -ENOENT;
}

static int append(char ***list, size_t *n, size_t max, const char *v, char *why, size_t whylen)
{
	char **l;

	if (*n == max) {
		snprintf(why, whylen, "at most %zu of these", max);
		return -EINVAL;
	}
	l = realloc(*list, (*n + 2) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	*list = l;
	if (!(l[*n] = strdup(v)))
		return -ENOMEM;
	l[++*n] = NULL;
	return 0;
}

static int set_key(void *ctx, const char *key, const char *v, char *why, size_t whylen)
{
	struct runtime *rt = ctx;
	char ***words = NULL;
	int r;

	if (strcmp(key, "name") == 0) {
		if (!name_ok(v)) {
			snprintf(why, whylen, "name: [a-z0-9_+#.-], at most %d bytes", RT_NAME_MAX - 1);
			return -EINVAL;
		}
		snprintf(rt->name, sizeof(rt->name), "%s", v);
		return 0;
	}
	if (strcmp(key, "display_name") == 0) {
		snprintf(rt->display_name, sizeof(rt->display_name), "%s", v);
		return 0;
	}
	if (strcmp(key, "aliases") == 0) {
		if ((r = set_list(rt->aliases, RT_NAME_MAX, RT_MAX_ALIASES, &rt->naliases, v,
				  why, whylen)) < 0)
			return r;
		for (size_t i = 0; i < rt->naliases; i++)
			if (!name_ok(rt->aliases[i])) {
				snprintf(why, whylen, "aliases: [a-z0-9_+#.-] only");
				return -EINVAL;
			}
		return 0;
	}
	if (strcmp(key, "extensions") == 0) {
		char tmp[RT_MAX_EXTS][RT_NAME_MAX];
		if ((r = set_list(tmp, sizeof(rt->extensions[0]), RT_MAX_EXTS, &rt->nextensions, v,
				  why, whylen)) < 0)
			return r;
		for (size_t i = 0; i < rt->nextensions; i++)
			snprintf(rt->extensions[i], sizeof(rt->extensions[i]), "%s", tmp[i]);
		return 0;
	}
	if (strcmp(key, "source_file") == 0) {
		if (!sbx_file_name_ok(v) || strchr(v, '/') || strlen(v) >= sizeof(rt->source_file)) {
			snprintf(why, whylen, "source_file: a plain file name");
			return -EINVAL;
		}
		snprintf(rt->source_file, sizeof(rt->source_file), "%s", v);
		return 0;
	}
	if (strcmp(key, "compile_options") == 0) {
		/* Patterns, not a command: no leading '/' required. */
		char **w = NULL;
		size_t n = 0;
		char *copy = strdup(v), *save = NULL;

		if (!copy)
			return -ENOMEM;
		r = 0;
		for (char *t = strtok_r(copy, " ", &save); t && r == 0; t = strtok_r(NULL, " ", &save))
			r = append(&w, &n, RT_MAX_WORDS, t, why, whylen);
		free(copy);
		if (r < 0) {
			free_words(w);
			return r;
		}
		free_words(rt->compile_options);
		rt->compile_options = w;
		return 0;
	}
	if (strcmp(key, "compile") == 0)
		words = &rt->compile;
	else if (strcmp(key, "run") == 0)
		words = &rt->run;
	else if (strcmp(key, "version") == 0)
		words = &rt->version;
	if (words) {
		free_words(*words);
		if (!(*words = split_words(v, why, whylen)))
			return -EINVAL;
		return 0;
	}
	if (strcmp(key, "env") == 0) {
		if (!strchr(v, '=') || v[0] == '=') {
			snprintf(why, whylen, "env: NAME=value");
			return -EINVAL;
		}
		return append(&rt->env, &rt->nenv, SBX_MAX_ENV, v, why, whylen);
	}
	if (strcmp(key, "path") == 0) {
		if (v[0] != '/' || !sbx_file_name_ok(v + 1) || strlen(v) > SBX_MAX_PATH) {
			snprintf(why, whylen, "path: an absolute path without . or ..");
			return -EINVAL;
		}
		return append(&rt->paths, &rt->npaths, SBX_MAX_BINDS, v, why, whylen);
	}
	if (strcmp(key, "root") == 0) {
		if (v[0] != '/' || !sbx_file_name_ok(v + 1) || strlen(v) > SBX_MAX_PATH) {
			snprintf(why, whylen, "root: an absolute path without . or ..");
			return -EINVAL;
		}
		snprintf(rt->root, sizeof(rt->root), "%s", v);
		return 0;
	}
	if (strcmp(key, "hello") == 0) {
		free(rt->hello);
		return (rt->hello = unescape(v)) ? 0 : -ENOMEM;
	}
	r = set_limit_key(rt, key, v, why, whylen);
	if (r == -ENOENT) {
		snprintf(why, whylen, "unknown key '%.64s'", key);
		r = -EINVAL;
	}
	return r;
}

int rt_parse(struct runtime *rt, const char *text, size_t len, const char *origin,
	     char *why, size_t whylen)
{
	int r;

	memset(rt, 0, sizeof(*rt));
	snprintf(rt->origin, sizeof(rt->origin), "%s", origin);
	r = util_kv_parse(text, len, origin, set_key, rt, why, whylen);
	if (r == 0 && (!rt->name[0] || !rt->source_file[0] || !rt->run || !rt->version)) {
		snprintf(why, whylen, "%s: name, source_file, run and version are required", origin);
		r = -EINVAL;
	}
	if (r == 0 && !rt->display_name[0])
		snprintf(rt->display_name, sizeof(rt->display_name), "%s", rt->name);
	if (r < 0)
		rt_runtime_release(rt);
	return r;
}

void rt_runtime_release(struct runtime *rt)
{
	free_words(rt->compile);
	free_words(rt->compile_options);
	free_words(rt->run);
	free_words(rt->version);
	free_words(rt->env);
	free_words(rt->paths);
	free(rt->hello);
	rt->compile = rt->compile_options = rt->run = rt->version = rt->env = rt->paths = NULL;
	rt->hello = NULL;
}

/* ---- the registry ------------------------------------------------------- */

/* The runtime files' installed folder, $(PREFIX)/share/safexec/runtimes. */
#ifndef SAFEXEC_RUNTIMES_DIR
#define SAFEXEC_RUNTIMES_DIR "/usr/share/safexec/runtimes"
#endif

const char *rt_default_dirs(char *buf, size_t len)
{
	const char *env = getenv("SAFEXEC_RUNTIMES");
	char exe[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (env && *env) {
		snprintf(buf, len, "%s", env);
		return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/../runtimes", exe);
			if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
				return buf;
		}
	}
	/* Where `make install` put them (the Makefile sets it from PREFIX),
	 * if there; else Debian's place. */
	snprintf(buf, len, "%s", SAFEXEC_RUNTIMES_DIR);
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return buf;
	snprintf(buf, len, "/usr/share/safexec/runtimes");
	return buf;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(struct rt_registry *reg, const char *path, char *why, size_t whylen)
{
	_cleanup_free_ char *text = NULL;
	struct runtime rt;
	size_t len;
	int r = util_read_file(path, RT_FILE_MAX, &text, &len);

	if (r < 0) {
		snprintf(why, whylen, "%s: %s", path, r == -EFBIG ? "larger than 64 KiB" : strerror(-r));
		return r;
	}
	if ((r = rt_parse(&rt, text, len, path, why, whylen)) < 0)
		return r;
	for (size_t i = 0; i < reg->n; i++)
		if (strcmp(reg->rt[i].name, rt.name) == 0) {
			rt_runtime_release(&reg->rt[i]);
			reg->rt[i] = rt;
			return 0;
		}
	if (reg->n == RT_MAX_RUNTIMES) {
		rt_runtime_release(&rt);
		snprintf(why, whylen, "%s: more than %d runtimes", path, RT_MAX_RUNTIMES);
		return -E2BIG;
	}
	reg->rt[reg->n++] = rt;
	return 0;
}

static int load_dir(struct rt_registry *reg, const char *dir, char *why, size_t whylen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char *names[RT_MAX_RUNTIMES * 2];
	size_t n = 0;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : (snprintf(why, whylen, "%s: %s", dir, strerror(errno)), -errno);
	while ((e = readdir(d)) && n < UTIL_ARRAY_SIZE(names)) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".conf") != 0)
			continue;
		if (!(names[n] = strdup(e->d_name))) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);	/* the same order everywhere */
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX + 256];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (r == 0)
			r = load_file(reg, path, why, whylen);
		free(names[i]);
	}
	return r;
}

int rt_registry_load(struct rt_registry **out, const char *dirs, char *why, size_t whylen)
{
	struct rt_registry *reg = calloc(1, sizeof(*reg));
	int r = 0;

	if (!reg || !(reg->rt = calloc(RT_MAX_RUNTIMES, sizeof(*reg->rt)))) {
		free(reg);
		return -ENOMEM;
	}
	for (const char *p = dirs; *p && r == 0;) {
		size_t k = strcspn(p, ":");
		char dir[PATH_MAX];
		if (k && k < sizeof(dir)) {
			memcpy(dir, p, k);
			dir[k] = '\0';
			r = load_dir(reg, dir, why, whylen);
		}
		p += k + (p[k] == ':');
	}
	if (r < 0) {
		rt_registry_free(reg);
		return r;
	}
	*out = reg;
	return 0;
}

void rt_registry_free(struct rt_registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++)
		rt_runtime_release(&reg->rt[i]);
	free(reg->rt);
	free(reg);
}

static struct runtime *lookup(const struct rt_registry *reg, const char *name, size_t len,
			      bool any)
{
	for (size_t i = 0; reg && i < reg->n; i++) {
		struct runtime *rt = &reg->rt[i];
		if (!rt->available && !any)
			continue;
		if (strlen(rt->name) == len && memcmp(rt->name, name, len) == 0)
			return rt;
		for (size_t a = 0; a < rt->naliases; a++)
			if (strlen(rt->aliases[a]) == len && memcmp(rt->aliases[a], name, len) == 0)
				return rt;
	}
	return NULL;
}

const struct runtime *rt_find(const struct rt_registry *reg, const char *name, size_t len)
{
	return lookup(reg, name, len, false);
}

struct runtime *rt_lookup(struct rt_registry *reg, const char *name, size_t len)
{
	return lookup(reg, name, len, true);
}

struct runtime *rt_for_file(struct rt_registry *reg, const char *file)
{
	const char *slash = strrchr(file, '/'), *dot = strrchr(slash ? slash : file, '.');

	if (!dot || !dot[1])
		return NULL;
	for (size_t i = 0; reg && i < reg->n; i++)
		for (size_t e = 0; e < reg->rt[i].nextensions; e++)
			if (strcmp(reg->rt[i].extensions[e], dot + 1) == 0)
				return &reg->rt[i];
	return NULL;
}

bool rt_version_matches(const struct runtime *rt, const char *sel, size_t len)
{
	size_t have = strlen(rt->version_text);

	return len <= have && memcmp(rt->version_text, sel, len) == 0 &&
	       (len == have || rt->version_text[len] == '.');
}

/* ---- limits ------------------------------------------------------------- */

void rt_run_limits(const struct runtime *rt, const struct sbx_limits *base_def,
		   const struct sbx_limits *base_max, struct sbx_limits *def,
		   struct sbx_limits *max)
{
	*def = *base_def;
	*max = *base_max;
	sbx_limits_apply(def, &rt->run_limits.def);
	for (int i = 0; i < SBX_LIMIT_COUNT; i++) {
		enum sbx_limit_id id = (enum sbx_limit_id)i;
		uint64_t m = sbx_limit_get(&rt->run_limits.max, id);
		if (m && m < sbx_limit_get(max, id))
			sbx_limit_set(max, id, m);
		if (sbx_limit_get(def, id) > sbx_limit_get(max, id))
			sbx_limit_set(def, id, sbx_limit_get(max, id));
	}
}

void rt_compile_limits(const struct runtime *rt, struct sbx_limits *def, struct sbx_limits *max)
{
	sbx_limits_default(def);
	def->wall_ms = def->cpu_ms = RT_COMPILE_DEFAULT_MS;
	def->memory_bytes = RT_COMPILE_DEFAULT_MEMORY;
	def->processes = RT_COMPILE_DEFAULT_PROCS;
	def->output_bytes = RT_COMPILE_DEFAULT_OUTPUT;
	*max = *def;
	max->wall_ms = max->cpu_ms = RT_COMPILE_MAX_MS;
	max->memory_bytes = RT_COMPILE_MAX_MEMORY;
	max->processes = RT_COMPILE_MAX_PROCS;
	max->output_bytes = RT_COMPILE_MAX_OUTPUT;
	sbx_limits_apply(def, &rt->compile_limits.def);
	sbx_limits_apply(max, &rt->compile_limits.max);
	/* As for the run stage: a default never above the maximum. */
	for (int i = 0; i < SBX_LIMIT_COUNT; i++)
		if (sbx_limit_get(def, (enum sbx_limit_id)i) > sbx_limit_get(max, (enum sbx_limit_id)i))
			sbx_limit_set(def, (enum sbx_limit_id)i, sbx_limit_get(max, (enum sbx_limit_id)i));
}

/* ---- running ------------------------------------------------------------ */

bool rt_option_allowed(const struct runtime *rt, const char *opt, char *why, size_t whylen)
{
	bool takes = false;
	size_t len = 0;

	for (char **w = rt->compile; w && *w; w++)
		takes |= strcmp(*w, "{options}") == 0;
	if (!takes || !rt->compile_options) {
		snprintf(why, whylen, "%s takes no compile options", rt->name);
		return false;
	}
	for (char **p = rt->compile_options; *p; p++)
		if (fnmatch(*p, opt, 0) == 0)
			return true;
	len = (size_t)snprintf(why, whylen, "'%.64s' is not a compile option %s allows; it allows:",
			       opt, rt->name);
	for (char **p = rt->compile_options; *p && len < whylen; p++)
		len += (size_t)snprintf(why + len, whylen - len, " %s", *p);
	return false;
}

/* The words with {file}, {stem}, {memory_bytes} and {memory_mib} filled
 * in, and a word {options} replaced by the options (none or more words);
 * one malloc'ed block (pointers, then the strings). */
static char **expand(char *const *words, const char *file, const struct sbx_limits *l,
		     const char *const *opts, size_t nopts)
{
	const char *dot = strrchr(file, '.');
	char stem[SBX_MAX_NAME + 1], mem[32], mib[32];
	const char *keys[] = { "{file}", "{stem}", "{memory_bytes}", "{memory_mib}" };
	const char *vals[] = { file, stem, mem, mib };
	size_t n = 0, bytes = 0, k = 0;

	snprintf(stem, sizeof(stem), "%.*s", dot && dot != file ? (int)(dot - file) : (int)strlen(file),
		 file);
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)l->memory_bytes);
	snprintf(mib, sizeof(mib), "%llu", (unsigned long long)(l->memory_bytes >> 20));
	while (words[n])
		n++;
	/* Each placeholder can grow a word by at most the longest value. */
	for (size_t i = 0; i < n; i++)
		bytes += (strlen(words[i]) + 1) * (SBX_MAX_NAME + 1);
	for (size_t i = 0; i < nopts; i++)
		bytes += strlen(opts[i]) + 1;
	char **out = malloc((n + nopts + 1) * sizeof(*out) + bytes);
	if (!out)
		return NULL;
	char *p = (char *)(out + n + nopts + 1);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(words[i], "{options}") == 0) {
			for (size_t o = 0; o < nopts; o++) {
				out[k++] = p;
				p = stpcpy(p, opts[o]) + 1;
			}
			continue;
		}
		out[k++] = p;
		for (const char *w = words[i]; *w;) {
			size_t j;
			for (j = 0; j < UTIL_ARRAY_SIZE(keys); j++)
				if (strncmp(w, keys[j], strlen(keys[j])) == 0)
					break;
			if (j < UTIL_ARRAY_SIZE(keys)) {
				size_t vl = strlen(vals[j]);
				memcpy(p, vals[j], vl);
				p += vl;
				w += strlen(keys[j]);
			} else {
				*p++ = *w++;
			}
		}
		*p++ = '\0';
	}
	out[k] = NULL;
	return out;
}

/* The parts of a request every stage of rt shares. */
static void stage_request(const struct runtime *rt, struct sbx_request *req)
{
	sbx_request_init(req);
	req->language = rt->name;
	req->env = (const char *const *)rt->env;
	req->nenv = rt->nenv;
	req->binds = (const char *const *)rt->paths;
	req->nbinds = rt->npaths;
	req->root = rt->root;
}

static const char *entry_of(const struct runtime *rt, const struct rt_job *job)
{
	return job->nfiles ? job->files[0].name : rt->source_file;
}

int rt_compile(const struct runtime *rt, struct sbx_host *host, const struct rt_job *job,
	       struct sbx_result *out)
{
	struct sbx_request req;
	char **cmd;
	int r;

	stage_request(rt, &req);
	if (!(cmd = expand(rt->compile, entry_of(rt, job), &job->compile_limits, job->options,
			   job->noptions)))
		return -ENOMEM;
	req.cmd = (const char *const *)cmd;
	req.files = job->files;
	req.nfiles = job->nfiles;
	req.limits = job->compile_limits;
	req.collect_files = true;
	req.cancel_fd = job->cancel_fd;
	r = sbx_run(host, &req, out);
	free(cmd);
	return r;
}

/* Whether a file of a compile stage's /box lies in the run stage's output
 * directory, SBX_OUT_DIR: /box/out, or below it. */
static bool in_out_dir(const char *name)
{
	return strncmp(name, "out", 3) == 0 && (name[3] == '\0' || name[3] == '/');
}

int rt_run(const struct runtime *rt, struct sbx_host *host, const struct rt_job *job,
	   const struct sbx_file *files, size_t nfiles, struct sbx_result *out)
{
	struct sbx_request req;
	struct sbx_file *kept = NULL;
	char **cmd;
	int r;

	/* The run stage's output directory starts empty: what a compile
	 * stage left in its own /box/out stays behind. */
	for (size_t i = 0; job->collect_out && i < nfiles; i++) {
		if (!in_out_dir(files[i].name))
			continue;
		if (!(kept = malloc(nfiles * sizeof(*kept))))
			return -ENOMEM;
		size_t n = 0;
		for (size_t j = 0; j < nfiles; j++)
			if (!in_out_dir(files[j].name))
				kept[n++] = files[j];
		files = kept;
		nfiles = n;
		break;
	}
	stage_request(rt, &req);
	if (!(cmd = expand(rt->run, entry_of(rt, job), &job->run_limits, NULL, 0))) {
		free(kept);
		return -ENOMEM;
	}
	req.cmd = (const char *const *)cmd;
	req.files = files;
	req.nfiles = nfiles;
	req.stdin_data = job->stdin_data;
	req.stdin_len = job->stdin_len;
	req.argv = job->argv;
	req.argc = job->argc;
	req.merge_stderr = job->merge_stderr;
	req.collect_out = job->collect_out;
	req.out_max_files = job->out_max_files;
	req.out_max_bytes = job->out_max_bytes;
	req.limits = job->run_limits;
	req.on_output = job->on_output;
	req.output_arg = job->output_arg;
	req.cancel_fd = job->cancel_fd;
	r = sbx_run(host, &req, out);
	free(cmd);
	free(kept);
	return r;
}

int rt_execute(const struct runtime *rt, struct sbx_host *host, const struct rt_job *job,
	       struct rt_result *res)
{
	int r;

	memset(res, 0, sizeof(*res));
	if (rt_compiles(rt)) {
		res->compiled = true;
		r = rt_compile(rt, host, job, &res->compile);
		if (r < 0 || rt_compile_failed(res)) {
			res->run.out.data = calloc(1, 1);
			res->run.err.data = calloc(1, 1);
			res->run.output.data = calloc(1, 1);
			return r;
		}
	}
	res->ran = true;
	return rt_compiles(rt) ? rt_run(rt, host, job, res->compile.files, res->compile.nfiles,
					&res->run)
			       : rt_run(rt, host, job, job->files, job->nfiles, &res->run);
}

void rt_result_release(struct rt_result *res)
{
	sbx_result_release(&res->compile);
	sbx_result_release(&res->run);
}

/* ---- availability and versions ------------------------------------------ */

/* Whether the command's program is there: an executable file below the
 * runtime's root (or the host's /), unless it is one the compile makes. */
static bool program_there(const struct runtime *rt, char *const *words, char *why, size_t whylen)
{
	char path[PATH_MAX];

	if (!words || strncmp(words[0], "/box/", 5) == 0)
		return true;
	snprintf(path, sizeof(path), "%s%s", rt->root, words[0]);
	if (access(path, X_OK) == 0)
		return true;
	snprintf(why, whylen, "%.100s: %s", path, strerror(errno));
	return false;
}

/* The first "digits.digits..." of text, or its first line. */
static void version_of(const char *text, char *out, size_t len)
{
	size_t line = strcspn(text, "\n");

	for (size_t i = 0; i < line; i++) {
		if (text[i] < '0' || text[i] > '9' || (i && text[i - 1] >= '0' && text[i - 1] <= '9'))
			continue;
		size_t k = i;
		bool dot = false;
		while (k < line && ((text[k] >= '0' && text[k] <= '9') ||
				    (text[k] == '.' && k + 1 < line && text[k + 1] >= '0' &&
				     text[k + 1] <= '9'))) {
			dot |= text[k] == '.';
			k++;
		}
		if (dot) {
			snprintf(out, len, "%.*s", (int)(k - i), text + i);
			return;
		}
	}
	snprintf(out, len, "%.*s", (int)line, text);
}

bool rt_check(struct runtime *rt)
{
	rt->available = program_there(rt, rt->version, rt->why, sizeof(rt->why)) &&
			program_there(rt, rt->run, rt->why, sizeof(rt->why)) &&
			program_there(rt, rt->compile, rt->why, sizeof(rt->why));
	return rt->available;
}

void rt_probe(struct runtime *rt, struct sbx_host *host)
{
	struct sbx_request req;
	struct sbx_result res;
	struct sbx_limits def, max;
	char **cmd;

	if (!rt_check(rt))
		return;
	rt->available = false;
	/* A toolchain's version needs what its compile stage gets. */
	rt_compile_limits(rt, &def, &max);
	stage_request(rt, &req);
	if (!(cmd = expand(rt->version, rt->source_file, &def, NULL, 0))) {
		snprintf(rt->why, sizeof(rt->why), "out of memory");
		return;
	}
	req.cmd = (const char *const *)cmd;
	req.limits = def;
	sbx_run(host, &req, &res);
	free(cmd);
	if (res.status == SBX_OK && (res.out.len || res.err.len)) {
		version_of(res.out.len ? res.out.data : res.err.data, rt->version_text,
			   sizeof(rt->version_text));
		rt->available = true;
	} else {
		snprintf(rt->why, sizeof(rt->why), "the version command ended as %s%s%.80s",
			 sbx_status_name(res.status), res.error[0] ? ": " : "", res.error);
	}
	sbx_result_release(&res);
}

void rt_registry_probe(struct rt_registry *reg, struct sbx_host *host)
{
	for (size_t i = 0; reg && i < reg->n; i++)
		rt_probe(&reg->rt[i], host);
}
