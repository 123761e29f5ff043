/*
 * test.h - a tiny unit-test harness.  Each TEST() registers itself at load
 * time, so a new test file needs no edit elsewhere.  Every test runs in its
 * own forked process with a timeout; ASSERT_* print both values.
 */
#ifndef SAFEXEC_TEST_H
#define SAFEXEC_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
extern int test_failed;	/* set by a failing ASSERT in the current test */
/* Ends the current test as skipped, with the reason; never returns. */
__attribute__((noreturn)) void test_skip(const char *name, const char *why);
#define TEST_SKIP(why) test_skip(__func__ + 5, (why))	/* "test_" + name */

#define TEST(name)							\
	static void test_##name(void);					\
	__attribute__((constructor)) static void reg_##name(void)	\
	{ test_register(#name, __FILE__, test_##name); }		\
	static void test_##name(void)

#define TEST_FAIL_(fmt, ...) do {					\
		fprintf(stderr, "  %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__); \
		test_failed = 1;					\
		return;							\
	} while (0)

#define ASSERT(c) do { if (!(c)) TEST_FAIL_("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ(a, b) do {						\
		long long a_ = (long long)(a), b_ = (long long)(b);	\
		if (a_ != b_)						\
			TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_); \
	} while (0)
#define ASSERT_STREQ(a, b) do {						\
		const char *a_ = (a), *b_ = (b);			\
		if (!a_ || !b_ || strcmp(a_, b_) != 0)			\
			TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b,	\
				   a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)
#define ASSERT_MEMEQ(a, alen, b, blen) do {				\
		size_t al_ = (alen), bl_ = (blen);			\
		if (al_ != bl_ || memcmp((a), (b), al_) != 0)		\
			TEST_FAIL_("%s (%zu bytes) != %s (%zu bytes)", #a, al_, #b, bl_); \
	} while (0)

#endif
