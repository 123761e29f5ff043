/* Unit tests: number and size parsing, size formatting, plain file names. */
#include <errno.h>

#include "test.h"
#include "api/api.h"
#include "sandbox/sandbox.h"
#include "util/util.h"

TEST(util_parse_u64_accepts_plain_decimal)
{
	uint64_t v = 0;
	ASSERT_EQ(util_parse_u64("0", 10, &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(util_parse_u64("10000", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 10000);
	ASSERT_EQ(util_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	ASSERT(v == UINT64_MAX);
}

TEST(util_parse_u64_rejects_junk_and_overflow)
{
	uint64_t v = 7;
	ASSERT_EQ(util_parse_u64("", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("-1", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("+1", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64(" 1", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("1 ", 10, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("1e3", 10000, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("0x10", 100, &v), -EINVAL);
	ASSERT_EQ(util_parse_u64("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	ASSERT_EQ(util_parse_u64("11", 10, &v), -ERANGE);
	ASSERT_EQ(util_parse_u64(NULL, 10, &v), -EINVAL);
	ASSERT_EQ(v, 7);	/* untouched on failure */
}

TEST(util_parse_size_suffixes)
{
	uint64_t v;
	ASSERT_EQ(util_parse_size("512", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 512);
	ASSERT_EQ(util_parse_size("64k", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 64 << 10);
	ASSERT_EQ(util_parse_size("128M", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 128 << 20);
	ASSERT_EQ(util_parse_size("2G", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 2ull << 30);
	ASSERT_EQ(util_parse_size("1MiB", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 1 << 20);
	ASSERT_EQ(util_parse_size("3KB", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 3 << 10);
	ASSERT_EQ(util_parse_size("100B", UINT64_MAX, &v), 0);
	ASSERT_EQ(v, 100);
}

TEST(util_parse_size_rejects)
{
	uint64_t v = 9;
	ASSERT_EQ(util_parse_size("M", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("1T", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("1 M", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("1MM", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("1.5G", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("-1M", UINT64_MAX, &v), -EINVAL);
	ASSERT_EQ(util_parse_size("17179869184G", UINT64_MAX, &v), -ERANGE);	/* 2^64 */
	ASSERT_EQ(util_parse_size("99999999999999999999999999999999", UINT64_MAX, &v), -ERANGE);
	ASSERT_EQ(util_parse_size("17G", 16ull << 30, &v), -ERANGE);
	ASSERT_EQ(v, 9);
}

TEST(util_format_size)
{
	char b[32];
	ASSERT_STREQ(util_format_size(0, b, sizeof(b)), "0 B");
	ASSERT_STREQ(util_format_size(512, b, sizeof(b)), "512 B");
	ASSERT_STREQ(util_format_size(1024, b, sizeof(b)), "1 KiB");
	ASSERT_STREQ(util_format_size(128ull << 20, b, sizeof(b)), "128 MiB");
	ASSERT_STREQ(util_format_size(3ull << 29, b, sizeof(b)), "1.5 GiB");
	ASSERT_STREQ(util_format_size(1536, b, sizeof(b)), "1.5 KiB");
}

TEST(util_plain_name_ok_takes_the_safe_alphabet)
{
	ASSERT(util_plain_name_ok("plot.png", 8, 64));
	ASSERT(util_plain_name_ok("a+b_c-d.1", 9, 64));
	ASSERT(util_plain_name_ok("Main.java", 9, 64));
	ASSERT(util_plain_name_ok("x", 1, 1));
	ASSERT(util_plain_name_ok("a..b", 4, 64));	/* a name, not a path */
	char longest[64];
	memset(longest, 'a', sizeof(longest));
	ASSERT(util_plain_name_ok(longest, 64, 64));
	ASSERT(!util_plain_name_ok(longest, 64, 63));
}

TEST(util_plain_name_ok_refuses_paths_dots_options_and_odd_bytes)
{
	static const char *const bad[] = { ".x", "..", ".", "-x", "-", "a/b", "/a", "a b",
					   "a\tb", "a\nb", "a\\b", "a:b", "a*b", "a?b", "a\"b",
					   "a'b", "a<b", "a%b", "\xc3\xa9", "a\x7f", "a\xff" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (util_plain_name_ok(bad[i], strlen(bad[i]), 64))
			fprintf(stderr, "  accepted: \"%s\"\n", bad[i]);
		ASSERT(!util_plain_name_ok(bad[i], strlen(bad[i]), 64));
	}
	ASSERT(!util_plain_name_ok("", 0, 64));
	ASSERT(!util_plain_name_ok("a\0b", 3, 64));	/* a NUL inside the len bytes */
	ASSERT(util_plain_name_ok("ab\0", 2, 64));	/* only len bytes count */
}

TEST(util_plain_name_ok_is_the_rule_of_both_directions)
{
	/* The API's input names and the sandbox's returned names are one
	 * rule with each part's bound. */
	static const char *const names[] = { "plot.png", ".x", "-x", "a/b", "a b", "x.tar.gz" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]);
		ASSERT_EQ(api_file_name_ok(names[i], n), util_plain_name_ok(names[i], n, API_FILE_NAME_MAX));
		ASSERT_EQ(sbx_out_name_ok(names[i], n), util_plain_name_ok(names[i], n, SBX_MAX_OUT_NAME));
	}
}
