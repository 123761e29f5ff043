/*
 * piston.c - Piston's v2 API over /api/v1: the runtimes list, a request
 * into a v1 request, a v1 answer into Piston's.  The facts followed are
 * Piston's own (api/src/api/v2.js, job.js): its checks in its order and
 * words, its defaults, its statuses and the messages isolate writes.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "piston/piston.h"
#include "util/util.h"

/* ---- names -------------------------------------------------------------- */

#define PST_MAX_PISTON_ALIASES 6

/* Where Piston's packages name a language of ours otherwise, or give it
 * other aliases (its public instance's /runtimes); "runtime" is the
 * package that provides it. */
struct pst_name {
	const char *ours, *piston, *runtime;
	const char *aliases[PST_MAX_PISTON_ALIASES];
};

static const struct pst_name names[] = {
	{ "bash", "bash", NULL, { "sh" } },
	{ "c", "c", "gcc", { "gcc" } },
	{ "cpp", "c++", "gcc", { "cpp", "g++" } },
	{ "csharp", "csharp", "mono", { "mono", "mono-csharp", "mono-c#", "mono-cs", "c#", "cs" } },
	{ "fortran", "fortran", "gcc", { "fortran", "f90" } },
	{ "go", "go", NULL, { "go", "golang" } },
	{ "java", "java", NULL, { NULL } },
	{ "javascript", "javascript", "node", { "node-javascript", "node-js", "javascript", "js" } },
	{ "lua", "lua", NULL, { NULL } },
	{ "pascal", "pascal", NULL, { "freepascal", "pp", "pas" } },
	{ "perl", "perl", NULL, { "pl" } },
	{ "php", "php", NULL, { NULL } },
	{ "python", "python", NULL, { "py", "py3", "python3" } },
	{ "r", "rscript", NULL, { "r" } },
	{ "ruby", "ruby", NULL, { "ruby3", "rb" } },
	{ "rust", "rust", NULL, { "rs" } },
	{ "sqlite", "sqlite3", NULL, { "sqlite", "sql" } },
	{ "typescript", "typescript", NULL, { "ts", "node-ts", "tsc" } },
};

/* The built-in Python's aliases, as api/request.c takes them. */
static const char *const builtin_python_aliases[] = { "python3", "py" };

static const struct pst_name *name_of(const char *ours)
{
	for (size_t i = 0; ours && i < UTIL_ARRAY_SIZE(names); i++)
		if (strcmp(names[i].ours, ours) == 0)
			return &names[i];
	return NULL;
}

const char *pst_language_name(const char *ours)
{
	const struct pst_name *n = name_of(ours);

	return n ? n->piston : ours;
}

/* One runtime as Piston shows it. */
struct pst_id {
	const char *language, *runtime;
	const char *aliases[PST_MAX_PISTON_ALIASES + RT_MAX_ALIASES + 2];
	size_t naliases;
	char version[PST_VERSION_MAX];
	char pyalias[32];	/* "python3.11", as Piston's python has */
};

static void add_alias(struct pst_id *id, const char *a)
{
	if (!a || !*a || strcmp(a, id->language) == 0)
		return;
	for (size_t i = 0; i < id->naliases; i++)
		if (strcmp(id->aliases[i], a) == 0)
			return;
	if (id->naliases < UTIL_ARRAY_SIZE(id->aliases))
		id->aliases[id->naliases++] = a;
}

/* Piston's name, version and aliases (Piston's first, then ours) for our
 * language name with its aliases.  id must not move afterwards. */
static void identify(struct pst_id *id, const char *ours, const char *const *our_aliases,
		     size_t n, const char *version_text)
{
	const struct pst_name *pn = name_of(ours);

	memset(id, 0, sizeof(*id));
	id->language = pn ? pn->piston : ours;
	id->runtime = pn ? pn->runtime : NULL;
	pst_version(version_text, id->version, sizeof(id->version));
	for (size_t i = 0; pn && i < PST_MAX_PISTON_ALIASES && pn->aliases[i]; i++)
		id->aliases[id->naliases++] = pn->aliases[i];
	if (strcmp(ours, "python") == 0) {
		unsigned long major, minor;
		if (sscanf(id->version, "%lu.%lu", &major, &minor) == 2 && major == 3) {
			snprintf(id->pyalias, sizeof(id->pyalias), "python3.%lu", minor);
			add_alias(id, id->pyalias);
		}
	}
	add_alias(id, ours);
	for (size_t i = 0; i < n; i++)
		add_alias(id, our_aliases[i]);
}

static void identify_rt(struct pst_id *id, const struct runtime *rt)
{
	const char *al[RT_MAX_ALIASES];

	for (size_t i = 0; i < rt->naliases && i < RT_MAX_ALIASES; i++)
		al[i] = rt->aliases[i];
	identify(id, rt->name, al, rt->naliases < RT_MAX_ALIASES ? rt->naliases : RT_MAX_ALIASES,
		 rt->version_text);
}

static void identify_builtin(struct pst_id *id, const char *python_version)
{
	identify(id, "python", builtin_python_aliases, UTIL_ARRAY_SIZE(builtin_python_aliases),
		 python_version ? python_version : "");
}

static bool id_has(const struct pst_id *id, const char *name)
{
	if (strcmp(id->language, name) == 0)
		return true;
	for (size_t i = 0; i < id->naliases; i++)
		if (strcmp(id->aliases[i], name) == 0)
			return true;
	return false;
}

char *pst_version(const char *text, char *buf, size_t len)
{
	unsigned long long part[3] = { 0, 0, 0 };
	size_t n = 0;
	const char *p = text ? text : "";

	if (len == 0)
		return buf;
	buf[0] = '\0';
	while (*p && (*p < '0' || *p > '9'))
		p++;
	if (!*p)
		return buf;
	while (n < 3 && *p >= '0' && *p <= '9') {
		char *end;
		part[n++] = strtoull(p, &end, 10);
		p = end;
		if (*p != '.' || p[1] < '0' || p[1] > '9')
			break;
		p++;
	}
	snprintf(buf, len, "%llu.%llu.%llu", part[0], part[1], part[2]);
	return buf;
}

json_t *pst_error_json(const char *msg)
{
	return json_pack("{s:s}", "message", msg ? msg : "");
}

/* ---- GET /api/v2/runtimes ----------------------------------------------- */

static json_t *runtime_json(const struct pst_id *id)
{
	json_t *al = json_array(), *o;

	for (size_t i = 0; al && i < id->naliases; i++)
		if (json_array_append_new(al, json_string(id->aliases[i])) < 0) {
			json_decref(al);
			return NULL;
		}
	if (!al)
		return NULL;
	o = json_pack("{s:s, s:s, s:o}", "language", id->language, "version", id->version,
		      "aliases", al);
	if (o && id->runtime && json_object_set_new(o, "runtime", json_string(id->runtime)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *pst_runtimes_json(const struct rt_registry *reg, const char *python_version)
{
	json_t *list = json_array();
	struct pst_id id;

	if (!list)
		return NULL;
	if (!rt_find(reg, "python", 6)) {
		identify_builtin(&id, python_version);
		if (json_array_append_new(list, runtime_json(&id)) < 0)
			goto fail;
	}
	for (size_t i = 0; reg && i < reg->n; i++) {
		if (!reg->rt[i].available)
			continue;
		identify_rt(&id, &reg->rt[i]);
		if (json_array_append_new(list, runtime_json(&id)) < 0)
			goto fail;
	}
	return list;
fail:
	json_decref(list);
	return NULL;
}

/* ---- SemVer ranges ------------------------------------------------------ */

/* A version, or a bound: pre marks a pre-release of v, which orders just
 * below v (the releases we compare never have one). */
struct sv {
	uint64_t v[3];
	bool pre;
};

/* A partial version of a range: n numbers given (an x or * ends them). */
struct partial {
	uint64_t v[3];
	int n;
	bool pre;
};

#define SV_MAX_SAFE 9007199254740991ull	/* Number.MAX_SAFE_INTEGER */

static int sv_cmp(const struct sv *a, const struct sv *b)
{
	for (int i = 0; i < 3; i++)
		if (a->v[i] != b->v[i])
			return a->v[i] < b->v[i] ? -1 : 1;
	if (a->pre != b->pre)
		return a->pre ? -1 : 1;
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool ident_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '-' || c == '.';
}

/* A number without leading zeros, at most 16 digits and a safe integer,
 * as the package's strict grammar has it. */
static bool parse_num(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	int digits = 0;

	if (*p < '0' || *p > '9')
		return false;
	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		if (++digits > 16)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (v > SV_MAX_SAFE)
		return false;
	*out = v;
	*pp = p;
	return true;
}

/* [v=]* xr (. xr (. xr (-pre)? (+build)?)?)?  where xr is a number, x, X or *. */
static bool parse_partial(const char **pp, struct partial *out)
{
	const char *p = *pp;
	bool wild = false;

	memset(out, 0, sizeof(*out));
	while (*p == 'v' || *p == '=')
		p++;
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (*p != '.')
				break;
			p++;
		}
		if (*p == 'x' || *p == 'X' || *p == '*') {
			p++;
			wild = true;
			continue;
		}
		uint64_t v;
		if (!parse_num(&p, &v))
			return false;
		if (!wild) {
			out->v[i] = v;
			out->n = i + 1;
		}
		if (i == 2) {
			if (*p == '-') {
				if (!ident_char(*++p))
					return false;
				while (ident_char(*p))
					p++;
				out->pre = true;
			}
			if (*p == '+') {
				if (!ident_char(*++p))
					return false;
				while (ident_char(*p))
					p++;
			}
		}
	}
	if (*p && !is_space(*p))
		return false;
	*pp = p;
	return true;
}

enum sv_op { OP_NONE, OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE, OP_TILDE, OP_CARET };

static struct sv sv_of(uint64_t a, uint64_t b, uint64_t c, bool pre)
{
	return (struct sv){ { a, b, c }, pre };
}

/* ver >= lo and ver < hi (hi a "-0" bound: the start of hi's pre-releases). */
static bool in_half_open(const struct sv *ver, struct sv lo, struct sv hi)
{
	return sv_cmp(ver, &lo) >= 0 && sv_cmp(ver, &hi) < 0;
}

/* One comparator of a set, desugared as the package does (its
 * replaceTilde, replaceCaret and replaceXRange). */
static bool test_comparator(const struct sv *ver, enum sv_op op, const struct partial *p)
{
	uint64_t M = p->v[0], m = p->v[1], pt = p->v[2];
	bool xM = p->n < 1, xm = p->n < 2, xp = p->n < 3;
	struct sv full = sv_of(M, m, pt, p->pre);

	switch (op) {
	case OP_TILDE:
		if (xM)
			return true;
		if (xm)
			return in_half_open(ver, sv_of(M, 0, 0, false), sv_of(M + 1, 0, 0, true));
		if (xp)
			return in_half_open(ver, sv_of(M, m, 0, false), sv_of(M, m + 1, 0, true));
		return in_half_open(ver, full, sv_of(M, m + 1, 0, true));
	case OP_CARET:
		if (xM)
			return true;
		if (xm)
			return in_half_open(ver, sv_of(M, 0, 0, false), sv_of(M + 1, 0, 0, true));
		if (xp)
			return in_half_open(ver, sv_of(M, m, 0, false),
					    M == 0 ? sv_of(M, m + 1, 0, true) : sv_of(M + 1, 0, 0, true));
		if (M == 0 && m == 0)
			return in_half_open(ver, full, sv_of(M, m, pt + 1, true));
		if (M == 0)
			return in_half_open(ver, full, sv_of(M, m + 1, 0, true));
		return in_half_open(ver, full, sv_of(M + 1, 0, 0, true));
	default:
		break;
	}
	if (xM)		/* "*", ">=*": anything; ">*", "<*": nothing */
		return op != OP_GT && op != OP_LT;
	if (xp && (op == OP_NONE || op == OP_EQ)) {
		if (xm)
			return in_half_open(ver, sv_of(M, 0, 0, false), sv_of(M + 1, 0, 0, true));
		return in_half_open(ver, sv_of(M, m, 0, false), sv_of(M, m + 1, 0, true));
	}
	if (xp) {
		struct sv b;
		if (xm)
			m = 0;
		pt = 0;
		if (op == OP_GT) {
			op = OP_GE;
			if (xm)
				M++, m = 0;
			else
				m++;
		} else if (op == OP_LE) {
			op = OP_LT;
			if (xm)
				M++;
			else
				m++;
		}
		b = sv_of(M, m, pt, op == OP_LT);
		full = b;
	}
	int c = sv_cmp(ver, &full);
	switch (op) {
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	default: return c == 0;
	}
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

/* "1.2.3 - 2.3": returns 1 (match), 0 (no match), -1 (not a hyphen range). */
static int test_hyphen(const struct sv *ver, const char *s)
{
	struct partial a, b;
	const char *p = s;
	bool ok = true;

	if (!parse_partial(&p, &a) || !is_space(*p))
		return -1;
	while (is_space(*p))
		p++;
	if (*p != '-' || !is_space(p[1]))
		return -1;
	p++;
	while (is_space(*p))
		p++;
	if (!parse_partial(&p, &b))
		return -1;
	while (is_space(*p))
		p++;
	if (*p)
		return -1;
	if (a.n >= 1) {
		struct sv lo = sv_of(a.v[0], a.n >= 2 ? a.v[1] : 0, a.n >= 3 ? a.v[2] : 0,
				     a.n >= 3 && a.pre);
		ok = sv_cmp(ver, &lo) >= 0;
	}
	if (ok && b.n == 1) {
		struct sv hi = sv_of(b.v[0] + 1, 0, 0, true);
		ok = sv_cmp(ver, &hi) < 0;
	} else if (ok && b.n == 2) {
		struct sv hi = sv_of(b.v[0], b.v[1] + 1, 0, true);
		ok = sv_cmp(ver, &hi) < 0;
	} else if (ok && b.n == 3) {
		struct sv hi = sv_of(b.v[0], b.v[1], b.v[2], b.pre);
		ok = sv_cmp(ver, &hi) <= 0;
	}
	return ok;
}

/* One set of comparators, all of which must hold: 1, 0, or -1 (invalid). */
static int test_set(const struct sv *ver, const char *s, size_t len)
{
	char buf[256];
	const char *p, *end;
	int match = 1, h;

	/* Trimmed, NUL-terminated for the parsers. */
	while (len && is_space(*s))
		s++, len--;
	while (len && is_space(s[len - 1]))
		len--;
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((h = test_hyphen(ver, buf)) >= 0)
		return h;
	p = buf;
	end = buf + len;
	while ((p = skip_space(p, end)) < end) {
		enum sv_op op = OP_NONE;
		struct partial part;

		if (p[0] == '~') {
			op = OP_TILDE;
			p += p[1] == '>' ? 2 : 1;
		} else if (p[0] == '^') {
			op = OP_CARET;
			p++;
		} else if (p[0] == '<' || p[0] == '>') {
			bool eq = p[1] == '=';
			op = p[0] == '<' ? (eq ? OP_LE : OP_LT) : (eq ? OP_GE : OP_GT);
			p += eq ? 2 : 1;
		} else if (p[0] == '=') {
			op = OP_EQ;
			p++;
		}
		p = skip_space(p, end);
		if (!parse_partial(&p, &part))
			return -1;
		if (!test_comparator(ver, op, &part))
			match = 0;	/* the rest must still parse */
	}
	return match;
}

bool pst_semver_satisfies(const char *version, const char *range)
{
	struct partial vp;
	struct sv ver;
	const char *p = version, *s;
	bool any = false;

	if (!version || !range || !parse_partial(&p, &vp) || vp.n != 3 || vp.pre)
		return false;
	ver = sv_of(vp.v[0], vp.v[1], vp.v[2], false);
	s = range;
	for (;;) {
		const char *bar = strstr(s, "||");
		size_t len = bar ? (size_t)(bar - s) : strlen(s);
		int r = test_set(&ver, s, len);

		if (r < 0)
			return false;	/* the package throws: nothing matches */
		any |= r == 1;
		if (!bar)
			break;
		s = bar + 2;
	}
	return any;
}

/* ---- POST /api/v2/execute: the request ---------------------------------- */

__attribute__((format(printf, 3, 4)))
static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* JavaScript's truthiness, for Piston's `if (!value)`. */
static bool falsy(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return true;
	if (json_is_number(v))
		return json_number_value(v) == 0;
	if (json_is_string(v))
		return json_string_length(v) == 0;
	return false;
}

enum pst_enc { ENC_UTF8, ENC_BASE64, ENC_HEX };

static enum pst_enc encoding_of(const json_t *f)
{
	const char *e = json_string_value(json_object_get(f, "encoding"));

	/* Piston takes any other value as utf8. */
	if (e && strcmp(e, "base64") == 0)
		return ENC_BASE64;
	if (e && strcmp(e, "hex") == 0)
		return ENC_HEX;
	return ENC_UTF8;
}

/* -1, 0 or 1 as a is below, equal to or above b (pst_version() forms). */
static int version_cmp(const char *a, const char *b)
{
	struct partial pa, pb;
	const char *p = a, *q = b;

	if (!parse_partial(&p, &pa))
		return -1;
	if (!parse_partial(&q, &pb))
		return 1;
	struct sv sa = sv_of(pa.v[0], pa.v[1], pa.v[2], false);
	struct sv sb = sv_of(pb.v[0], pb.v[1], pb.v[2], false);
	return sv_cmp(&sa, &sb);
}

/* The runtime Piston would pick: the language by name or alias, the
 * highest version the range takes.  *builtin: the built-in Python. */
static bool find_runtime(const struct rt_registry *reg, const char *python_version,
			 const char *lang, const char *range, const struct runtime **rt,
			 bool *builtin)
{
	struct pst_id id;
	char best[PST_VERSION_MAX] = "";

	*rt = NULL;
	*builtin = false;
	for (size_t i = 0; reg && i < reg->n; i++) {
		const struct runtime *r = &reg->rt[i];
		if (!r->available)
			continue;
		identify_rt(&id, r);
		if (!id_has(&id, lang) || !pst_semver_satisfies(id.version, range))
			continue;
		if (*rt && version_cmp(id.version, best) <= 0)
			continue;
		*rt = r;
		snprintf(best, sizeof(best), "%s", id.version);
	}
	if (*rt || rt_find(reg, "python", 6))
		return *rt != NULL;
	identify_builtin(&id, python_version);
	*builtin = id_has(&id, lang) && pst_semver_satisfies(id.version, range);
	return *builtin;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard padded base64 of len bytes; NULL when out of memory. */
static char *base64_encode(const unsigned char *in, size_t len)
{
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* Base64 as Node's Buffer.from(s, "base64") reads it: either alphabet
 * (+/ or -_), whitespace skipped, padding optional; other characters are
 * refused here rather than skipped.  Returns the length or -1. */
static ssize_t base64_decode_loose(const char *in, size_t len, unsigned char *out)
{
	uint32_t acc = 0;
	size_t o = 0, chars = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		const char *k;
		unsigned v;

		if (is_space(c))
			continue;
		if (c == '=')
			break;
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		if (!c || !(k = strchr(b64, c)))
			return -1;
		v = (unsigned)(k - b64);
		acc = acc << 6 | v;
		if (++chars % 4 == 0) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
		}
	}
	switch (chars % 4) {
	case 1:
		return -1;
	case 2:
		out[o++] = (unsigned char)(acc >> 4);
		break;
	case 3:
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
		break;
	}
	return (ssize_t)o;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Strict hex (Node's decoder stops silently at the first bad pair: a
 * truncated file is worse than an error).  Returns the length or -1. */
static ssize_t hex_decode(const char *in, size_t len, unsigned char *out)
{
	if (len % 2)
		return -1;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_value(in[i]), lo = hex_value(in[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (ssize_t)(len / 2);
}

/* A file's content as a v1 file's: utf8 as it is, base64 and hex as
 * canonical base64. */
static int v1_content(const json_t *f, size_t i, json_t *out, char *msg, size_t msglen)
{
	const json_t *c = json_object_get(f, "content");
	enum pst_enc enc = encoding_of(f);
	const char *s = json_string_value(c);
	size_t len = json_string_length(c);
	unsigned char *raw;
	ssize_t n;
	char *text;

	if (enc == ENC_UTF8)
		return json_object_set_new(out, "content", json_copy((json_t *)c)) ||
		       json_object_set_new(out, "encoding", json_string("utf8")) ? -ENOMEM : 0;
	if (!(raw = malloc(len / 2 + len / 4 * 3 + 3)))
		return -ENOMEM;
	n = enc == ENC_HEX ? hex_decode(s, len, raw) : base64_decode_loose(s, len, raw);
	if (n < 0) {
		free(raw);
		return fail(msg, msglen, "files[%zu].content is not valid %s", i,
			    enc == ENC_HEX ? "hex" : "base64");
	}
	text = base64_encode(raw, (size_t)n);
	free(raw);
	if (!text || json_object_set_new(out, "content", json_string(text)) ||
	    json_object_set_new(out, "encoding", json_string("base64"))) {
		free(text);
		return -ENOMEM;
	}
	free(text);
	return 0;
}

/* The v1 files: the entry point (the first utf8 file, as Piston runs it)
 * first, named after the runtime's source file when it has no name. */
static int v1_files(const json_t *files, const struct runtime *rt, json_t *v1, char *msg,
		    size_t msglen)
{
	size_t n = json_array_size(files), entry = n;
	json_t *list = json_array();
	int r = 0;

	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < n && entry == n; i++)
		if (encoding_of(json_array_get(files, i)) == ENC_UTF8)
			entry = i;
	for (size_t k = 0; k < n && r == 0; k++) {
		size_t i = k == 0 ? entry : (k <= entry ? k - 1 : k);
		const json_t *f = json_array_get(files, i), *name = json_object_get(f, "name");
		json_t *o = json_object();
		char def[32];

		if (!o) {
			r = -ENOMEM;
			break;
		}
		if (!falsy(name) && !json_is_string(name)) {
			json_decref(o);
			r = fail(msg, msglen, "files[%zu].name must be a string", i);
			break;
		}
		snprintf(def, sizeof(def), "file%zu.code", i);
		if (json_object_set_new(o, "name", !falsy(name) ? json_copy((json_t *)name) :
					json_string(k == 0 ? rt->source_file : def)) < 0) {
			json_decref(o);
			r = -ENOMEM;
			break;
		}
		if ((r = v1_content(f, i, o, msg, msglen)) < 0) {
			json_decref(o);
			break;
		}
		if (json_array_append_new(list, o) < 0)
			r = -ENOMEM;
	}
	if (r == 0 && json_object_set_new(v1, "files", list) < 0)
		return -ENOMEM;
	if (r < 0)
		json_decref(list);
	return r;
}

/* The limits of both stages, Piston's fields in its order of checks. */
struct pst_limit {
	const char *field;
	bool compile;
	enum sbx_limit_id id;
};

static const struct pst_limit pst_limits[] = {
	{ "compile_memory_limit", true, SBX_LIMIT_MEMORY },
	{ "run_memory_limit", false, SBX_LIMIT_MEMORY },
	{ "compile_timeout", true, SBX_LIMIT_WALL_MS },
	{ "run_timeout", false, SBX_LIMIT_WALL_MS },
	{ "compile_cpu_time", true, SBX_LIMIT_CPU_MS },
	{ "run_cpu_time", false, SBX_LIMIT_CPU_MS },
};

static int stage_limits(const json_t *body, const struct runtime *rt, const struct api_maxima *max,
			struct sbx_limits *run, struct sbx_limits *compile, char *msg,
			size_t msglen)
{
	struct sbx_limits base, server_max, rdef, rmax, cdef, cmax;

	api_default_limits(max, &base);
	api_max_limits(max, &server_max);
	if (rt) {
		rt_run_limits(rt, &base, &server_max, &rdef, &rmax);
		rt_compile_limits(rt, &cdef, &cmax);
	} else {
		rdef = base;
		rmax = server_max;
		cdef = cmax = base;
		cdef.wall_ms = cdef.cpu_ms = RT_COMPILE_DEFAULT_MS;
		cmax.wall_ms = cmax.cpu_ms = RT_COMPILE_MAX_MS;
		cdef.memory_bytes = RT_COMPILE_DEFAULT_MEMORY;
		cmax.memory_bytes = RT_COMPILE_MAX_MEMORY;
	}
	memset(run, 0, sizeof(*run));
	memset(compile, 0, sizeof(*compile));
	run->wall_ms = PST_RUN_TIMEOUT_MS < rmax.wall_ms ? PST_RUN_TIMEOUT_MS : rmax.wall_ms;
	run->cpu_ms = PST_RUN_TIMEOUT_MS < rmax.cpu_ms ? PST_RUN_TIMEOUT_MS : rmax.cpu_ms;
	run->memory_bytes = rdef.memory_bytes;
	compile->wall_ms = PST_COMPILE_TIMEOUT_MS < cmax.wall_ms ? PST_COMPILE_TIMEOUT_MS
								  : cmax.wall_ms;
	compile->cpu_ms = PST_COMPILE_TIMEOUT_MS < cmax.cpu_ms ? PST_COMPILE_TIMEOUT_MS
								: cmax.cpu_ms;
	compile->memory_bytes = cdef.memory_bytes;

	for (size_t i = 0; i < UTIL_ARRAY_SIZE(pst_limits); i++) {
		const struct pst_limit *l = &pst_limits[i];
		const json_t *v = json_object_get(body, l->field);
		uint64_t hi = sbx_limit_get(l->compile ? &cmax : &rmax, l->id);
		double d;

		/* Piston's `if (!value) continue`: 0 and null take the default. */
		if (falsy(v))
			continue;
		if (!json_is_number(v))
			return fail(msg, msglen, "If specified, %s must be a number", l->field);
		d = json_number_value(v);
		if (d > (double)hi)
			return fail(msg, msglen, "%s cannot exceed the configured limit of %llu",
				    l->field, (unsigned long long)hi);
		if (d < 0) {
			/* -1 is Piston's "no limit of the request's own". */
			if (l->id == SBX_LIMIT_MEMORY)
				continue;
			return fail(msg, msglen, "%s must be non-negative", l->field);
		}
		sbx_limit_set(l->compile ? compile : run, l->id, (uint64_t)ceil(d));
	}
	return 0;
}

static json_t *limits_json(const struct sbx_limits *l)
{
	return json_pack("{s:I, s:I, s:I}", "wall_time_ms", (json_int_t)l->wall_ms,
			 "cpu_time_ms", (json_int_t)l->cpu_ms,
			 "memory_bytes", (json_int_t)l->memory_bytes);
}

/* stdin and args; Piston adds a newline to stdin that has none. */
static int stdin_args(const json_t *body, json_t *v1, char *msg, size_t msglen)
{
	const json_t *in = json_object_get(body, "stdin"), *args = json_object_get(body, "args");
	const json_t *a;
	size_t len = 0, i;
	char *s;

	if (in && !json_is_null(in) && !json_is_string(in))
		return fail(msg, msglen, "stdin must be a string");
	if (args && !json_is_null(args)) {
		if (!json_is_array(args))
			return fail(msg, msglen, "args must be an array of strings");
		json_array_foreach(args, i, a)
			if (!json_is_string(a))
				return fail(msg, msglen, "args must be an array of strings");
		if (json_object_set_new(v1, "args", json_copy((json_t *)args)) < 0)
			return -ENOMEM;
	}
	if (json_is_string(in))
		len = json_string_length(in);
	if (!(s = malloc(len + 2)))
		return -ENOMEM;
	if (len)
		memcpy(s, json_string_value(in), len);
	if (len == 0 || s[len - 1] != '\n')
		s[len++] = '\n';
	int r = json_object_set_new(v1, "stdin", json_stringn_nocheck(s, len)) < 0 ? -ENOMEM : 0;
	free(s);
	return r;
}

int pst_request_to_v1(const json_t *body, const struct rt_registry *reg,
		      const char *python_version, const struct api_maxima *max, json_t **v1,
		      const struct runtime **rt_out, char *msg, size_t msglen)
{
	const json_t *lang = json_object_get(body, "language");
	const json_t *ver = json_object_get(body, "version");
	const json_t *files = json_object_get(body, "files"), *f;
	const struct runtime *rt;
	struct sbx_limits run, compile;
	bool builtin, utf8 = false;
	json_t *out;
	size_t i;
	int r;

	*v1 = NULL;
	if (rt_out)
		*rt_out = NULL;
	if (msglen)
		msg[0] = '\0';
	if (!json_is_object(body))
		return fail(msg, msglen, "language is required as a string");
	/* Piston's checks, in its order and words. */
	if (falsy(lang) || !json_is_string(lang))
		return fail(msg, msglen, "language is required as a string");
	if (falsy(ver) || !json_is_string(ver))
		return fail(msg, msglen, "version is required as a string");
	if (!json_is_array(files))
		return fail(msg, msglen, "files is required as an array");
	json_array_foreach(files, i, f)
		if (!json_is_string(json_object_get(f, "content")))
			return fail(msg, msglen, "files[%zu].content is required as a string", i);
	if (!find_runtime(reg, python_version, json_string_value(lang), json_string_value(ver),
			  &rt, &builtin))
		return fail(msg, msglen, "%.80s-%.80s runtime is unknown", json_string_value(lang),
			    json_string_value(ver));
	json_array_foreach(files, i, f)
		utf8 |= encoding_of(f) == ENC_UTF8;
	if (!utf8)
		return fail(msg, msglen, "files must include at least one utf8 encoded file");
	if ((r = stage_limits(body, rt, max, &run, &compile, msg, msglen)) < 0)
		return r;
	if (builtin && json_array_size(files) > 1)
		return fail(msg, msglen, "the built-in python runs one file: files must have one");

	if (!(out = json_object()))
		return -ENOMEM;
	if (builtin) {
		r = json_object_set_new(out, "language", json_string("python")) ||
		    json_object_set_new(out, "code", json_copy(json_object_get(
			    json_array_get(files, 0), "content"))) ? -ENOMEM : 0;
	} else {
		r = json_object_set_new(out, "language", json_string(rt->name)) ||
		    json_object_set_new(out, "version", json_string(rt->version_text)) ? -ENOMEM : 0;
		if (r == 0)
			r = v1_files(files, rt, out, msg, msglen);
	}
	if (r == 0)
		r = stdin_args(body, out, msg, msglen);
	if (r == 0 && json_object_set_new(out, "limits", limits_json(&run)) < 0)
		r = -ENOMEM;
	if (r == 0 && rt && rt_compiles(rt) &&
	    json_object_set_new(out, "compile_limits", limits_json(&compile)) < 0)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(out);
		if (r == -ENOMEM)
			snprintf(msg, msglen, "out of memory");
		return r;
	}
	*v1 = out;
	if (rt_out)
		*rt_out = rt;
	return 0;
}

/* ---- the answer --------------------------------------------------------- */

static json_t *copy_string(const json_t *s, const char *key)
{
	const json_t *v = json_object_get(s, key);

	return json_is_string(v) ? json_copy((json_t *)v) : json_string("");
}

static int int_of(const json_t *s, const char *key)
{
	const json_t *v = json_object_get(s, key);

	return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

/* One stage in Piston's words: isolate's status and message, with
 * Piston's own for its output limit, and SIGKILL where it kills. */
static json_t *stage_json(const json_t *s)
{
	const char *st = json_string_value(json_object_get(s, "status"));
	const char *v1msg = json_string_value(json_object_get(s, "message"));
	const json_t *code = json_object_get(s, "exit_code");
	const char *status = NULL, *sig = NULL;
	char message[160] = "", signame[24];
	bool has_code = false, has_msg = true;
	json_int_t mem = json_integer_value(json_object_get(s, "memory_bytes"));

	if (!st)
		st = "internal_error";
	if (strcmp(st, "ok") == 0) {
		has_code = true;
		has_msg = false;
	} else if (strcmp(st, "runtime_error") == 0) {
		status = "RE";
		has_code = true;
		snprintf(message, sizeof(message), "Exited with error status %d",
			 int_of(s, "exit_code"));
	} else if (strcmp(st, "signaled") == 0) {
		int n = int_of(s, "signal");
		const char *ab = n > 0 ? sigabbrev_np(n) : NULL;
		status = "SG";
		if (ab) {
			snprintf(signame, sizeof(signame), "SIG%s", ab);
			sig = signame;
		}
		snprintf(message, sizeof(message), "Caught fatal signal %d", n);
	} else if (strcmp(st, "timeout") == 0) {
		status = "TO";
		sig = "SIGKILL";
		snprintf(message, sizeof(message), "%s", v1msg && strncmp(v1msg, "CPU", 3) == 0 ?
			 "Time limit exceeded" : "Time limit exceeded (wall clock)");
	} else if (strcmp(st, "memory_limit") == 0) {
		/* Piston's cgroup limit: the OOM killer's SIGKILL. */
		status = "SG";
		sig = "SIGKILL";
		snprintf(message, sizeof(message), "Caught fatal signal 9");
	} else if (strcmp(st, "output_limit") == 0) {
		bool err = !json_is_true(json_object_get(s, "stdout_truncated")) &&
			   json_is_true(json_object_get(s, "stderr_truncated"));
		status = err ? "EL" : "OL";
		sig = "SIGKILL";
		snprintf(message, sizeof(message), "%s length exceeded", err ? "stderr" : "stdout");
	} else {
		status = "XX";
		snprintf(message, sizeof(message), "%s", v1msg && *v1msg ? v1msg : "Internal error");
	}
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "stdout", copy_string(s, "stdout"),
			 "stderr", copy_string(s, "stderr"),
			 "output", copy_string(s, "output"),
			 "code", has_code && json_is_integer(code) ? json_copy((json_t *)code)
								   : json_null(),
			 "signal", sig ? json_string(sig) : json_null(),
			 "message", has_msg ? json_string(message) : json_null(),
			 "status", status ? json_string(status) : json_null(),
			 "cpu_time", json_integer(json_integer_value(json_object_get(s, "cpu_time_ms"))),
			 "wall_time", json_integer(json_integer_value(json_object_get(s, "wall_time_ms"))),
			 /* 0 is "not measured": Piston's null. */
			 "memory", mem > 0 ? json_integer(mem) : json_null());
}

json_t *pst_render(const json_t *v1_answer, const char *language, const char *version)
{
	const json_t *c = json_object_get(v1_answer, "compile");
	const char *st = json_string_value(json_object_get(v1_answer, "status"));
	json_t *out = json_object(), *cj = NULL, *run;
	char v[PST_VERSION_MAX];

	if (!out)
		return NULL;
	if (json_is_object(c)) {
		if (!(cj = stage_json(c)) || json_object_set_new(out, "compile", cj) < 0)
			goto fail;
	}
	/* A failed compile: no run; Piston answers the compile as the run. */
	if (cj && st && strcmp(st, "compile_error") == 0)
		run = json_deep_copy(cj);
	else
		run = stage_json(v1_answer);
	pst_version(version, v, sizeof(v));
	if (json_object_set_new(out, "run", run) < 0 ||
	    json_object_set_new(out, "language", json_string(pst_language_name(language ? language
									   : "")))
	    < 0 ||
	    json_object_set_new(out, "version", json_string(*v ? v : version ? version : "")) < 0)
		goto fail;
	return out;
fail:
	json_decref(out);
	return NULL;
}
