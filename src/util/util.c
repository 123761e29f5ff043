/* util.c - number and size parsing, formatting, clocks. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
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
