/* util.c - number and size parsing, formatting, clocks, reading small
 * files and `key = value` lines, plain file names. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/util.h"

int util_parse_u64n(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

bool util_plain_name_ok(const char *name, size_t len, size_t max)
{
	if (len == 0 || len > max || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '+' || c == '-'))
			return false;
	}
	return true;
}

int util_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	return util_parse_u64n(s, s ? strlen(s) : 0, max, out);
}

int util_parse_size(const char *s, uint64_t max, uint64_t *out)
{
	char digits[32];
	size_t n = 0;
	unsigned shift = 0;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(digits))
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(digits, s, n);
	digits[n] = '\0';

	const char *suffix = s + n;
	switch (*suffix) {
	case 'k': case 'K': shift = 10; suffix++; break;
	case 'm': case 'M': shift = 20; suffix++; break;
	case 'g': case 'G': shift = 30; suffix++; break;
	default: break;
	}
	if (shift && (strcmp(suffix, "iB") == 0 || strcmp(suffix, "ib") == 0))
		suffix += 2;
	else if (*suffix == 'B' || *suffix == 'b')
		suffix++;
	if (*suffix)
		return -EINVAL;

	r = util_parse_u64(digits, UINT64_MAX, &v);
	if (r < 0)
		return r;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	v <<= shift;
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

char *util_format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;
	uint64_t whole = bytes, rem = 0;

	while (whole >= 1024 && u + 1 < UTIL_ARRAY_SIZE(units)) {
		rem = whole % 1024;
		whole /= 1024;
		u++;
	}
	/* One decimal, only when it says something: "1.5 GiB", "128 MiB". */
	unsigned tenth = (unsigned)(rem * 10 / 1024);
	if (tenth)
		snprintf(buf, len, "%llu.%u %s", (unsigned long long)whole, tenth, units[u]);
	else
		snprintf(buf, len, "%llu %s", (unsigned long long)whole, units[u]);
	return buf;
}

uint64_t util_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int util_read_fd(int fd, size_t max, char **out, size_t *outlen)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len + 1 == cap) {
			if (len > max)
				break;
			char *n = realloc(buf, cap * 2);
			if (!n) {
				free(buf);
				return -ENOMEM;
			}
			buf = n;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max) {
		free(buf);
		return -EFBIG;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

int util_read_file(const char *path, size_t max, char **out, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	return util_read_fd(fd, max, out, len);
}

int util_msg(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

int util_kv_parse(const char *text, size_t len, const char *origin,
		  int (*set)(void *ctx, const char *key, const char *value,
			     char *why, size_t whylen),
		  void *ctx, char *why, size_t whylen)
{
	size_t pos = 0;
	unsigned lineno = 0;
	char msg[512];

	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		char key[64], val[UTIL_KV_LINE_MAX];
		size_t a = 0, b = n, k, eq;
		int r;

		pos += n + (nl ? 1 : 0);
		lineno++;
		while (a < b && is_blank(line[a]))
			a++;
		while (b > a && is_blank(line[b - 1]))
			b--;
		if (a == b || line[a] == '#')
			continue;
		if (b - a >= UTIL_KV_LINE_MAX)
			return util_msg(why, whylen, "%s:%u: line too long", origin, lineno);
		if (memchr(line + a, '\0', b - a))
			return util_msg(why, whylen, "%s:%u: NUL byte in line", origin, lineno);
		eq = a;
		while (eq < b && line[eq] != '=')
			eq++;
		if (eq == b)
			return util_msg(why, whylen, "%s:%u: expected 'key = value'", origin, lineno);
		k = eq;
		while (k > a && is_blank(line[k - 1]))
			k--;
		if (k == a)
			return util_msg(why, whylen, "%s:%u: missing key before '='", origin, lineno);
		if (k - a >= sizeof(key))
			return util_msg(why, whylen, "%s:%u: key too long", origin, lineno);
		memcpy(key, line + a, k - a);
		key[k - a] = '\0';
		eq++;
		while (eq < b && is_blank(line[eq]))
			eq++;
		if (b - eq >= 2 && line[eq] == '"' && line[b - 1] == '"') {
			eq++;
			b--;
		} else if (eq < b && line[eq] == '"') {
			return util_msg(why, whylen, "%s:%u: %s: unterminated quote", origin,
				       lineno, key);
		}
		memcpy(val, line + eq, b - eq);
		val[b - eq] = '\0';
		r = set(ctx, key, val, msg, sizeof(msg));
		if (r < 0) {
			util_msg(why, whylen, "%s:%u: %s", origin, lineno, msg);
			return r;
		}
	}
	return 0;
}

int util_dlsyms(const char *soname, const char *package, const struct util_sym *syms,
		size_t n, char *why, size_t whylen)
{
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		snprintf(why, whylen, "cannot load %s: %s (install Debian's %s)", soname,
			 dlerror(), package);
		return -ENOENT;
	}
	for (size_t i = 0; i < n; i++) {
		*syms[i].slot = dlsym(lib, syms[i].name);
		if (!*syms[i].slot) {
			snprintf(why, whylen, "%s lacks %s", soname, syms[i].name);
			return -ENOENT;
		}
	}
	return 0;
}
