/* The unit-test runner: forks each registered test with a timeout. */
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

/* A skipped test exits with this status after printing its reason. */
#define EXIT_SKIPPED 77

void test_skip(const char *name, const char *why)
{
	printf("skip %s: %s\n", name, why);
	fflush(stdout);
	_exit(EXIT_SKIPPED);
}

#define MAX_TESTS 1024
#define TEST_TIMEOUT_S 60

struct test { const char *name, *file; test_fn fn; };
static struct test tests[MAX_TESTS];
static int ntests;
int test_failed;

void test_register(const char *name, const char *file, test_fn fn)
{
	if (ntests < MAX_TESTS)
		tests[ntests++] = (struct test){ name, file, fn };
}

int main(int argc, char **argv)
{
	int pass = 0, fail = 0, skip = 0;

	for (int i = 0; i < ntests; i++) {
		const struct test *t = &tests[i];
		if (argc > 1 && fnmatch(argv[1], t->name, 0) != 0)
			continue;
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(TEST_TIMEOUT_S);
			t->fn();
			fflush(stdout);
			_exit(test_failed ? 1 : 0);
		}
		int st = 0;
		while (waitpid(pid, &st, 0) < 0)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			printf("ok   %s\n", t->name);
			pass++;
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_SKIPPED) {
			skip++;
		} else {
			if (WIFSIGNALED(st))
				printf("FAIL %s (%s, signal %d)\n", t->name, t->file, WTERMSIG(st));
			else
				printf("FAIL %s (%s)\n", t->name, t->file);
			fail++;
		}
	}
	printf("%d passed, %d failed, %d skipped\n", pass, fail, skip);
	return fail ? 1 : 0;
}
