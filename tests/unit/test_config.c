/* Unit tests for src/config/: the table, the file parser, the environment,
 * the flags and their precedence. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "test.h"

static void clear_env(void)
{
	unsetenv("SAFEXEC_LISTEN");
	unsetenv("SAFEXEC_CONFIG");
	unsetenv("SAFEXEC_DATA_DIR");
	unsetenv("SAFEXEC_WORKERS");
}

static int parse_text(struct cfg *c, const char *text, char *why, size_t len)
{
	return cfg_parse(c, text, strlen(text), "test.conf", why, len);
}

/* Writes text to a new temporary file; returns its malloc'ed path. */
static char *temp_file(const char *text)
{
	char *path = strdup("/tmp/safexec-test-conf-XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

static int from_args(struct cfg *c, char *why, size_t len, int argc, ...)
{
	char *argv[32];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc && i < 31; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return cfg_from_args(c, argc, argv, why, len);
}

TEST(cfg_defaults)
{
	struct cfg c;
	char why[256];

	cfg_init(&c);
	ASSERT_STREQ(c.listen, "127.0.0.1:8080");
	ASSERT_STREQ(c.data_dir, "data");
	ASSERT_STREQ(c.db, "");
	ASSERT_STREQ(c.log, "logs/executions.log");
	ASSERT_EQ(c.workers, 0);
	ASSERT_EQ(c.queue, 64);
	ASSERT_EQ(c.max_body, 1 << 20);
	ASSERT_EQ(c.grace_period, 15);
	ASSERT_EQ(c.keep_count, 100000);
	ASSERT_EQ(c.keep_days, 0);
	ASSERT_EQ(c.connection_timeout, 30);
	ASSERT_EQ(c.connection_limit, 1024);
	ASSERT_EQ(c.max_wall_time_ms, 20000);
	ASSERT_EQ(c.max_cpu_time_ms, 15000);
	ASSERT_EQ(c.max_memory_bytes, 512ull << 20);
	ASSERT_EQ(c.max_processes, 256);
	ASSERT_EQ(c.max_output_bytes, 1ull << 20);

	ASSERT_EQ(cfg_finish(&c, why, sizeof(why)), 0);
	ASSERT_STREQ(c.db, "data/history.db");
	ASSERT_EQ(c.workers, sysconf(_SC_NPROCESSORS_ONLN));
}

TEST(cfg_table_defaults_are_valid)
{
	/* Every default passes its own bounds (cfg_init ignores errors). */
	struct cfg c;
	char why[256];

	cfg_init(&c);
	for (size_t i = 0; i < cfg_table_count; i++) {
		int r = cfg_set(&c, cfg_table[i].name, cfg_table[i].def, why, sizeof(why));

		if (r != 0)
			fprintf(stderr, "  %s: %s\n", cfg_table[i].name, why);
		ASSERT_EQ(r, 0);
		ASSERT(cfg_table[i].help && cfg_table[i].help[0]);
	}
}

TEST(cfg_set_values)
{
	struct cfg c;
	char why[256];

	cfg_init(&c);
	ASSERT_EQ(cfg_set(&c, "max_body", "512K", why, sizeof(why)), 0);
	ASSERT_EQ(c.max_body, 512 * 1024);
	ASSERT_EQ(cfg_set(&c, "max_memory_bytes", "1G", why, sizeof(why)), 0);
	ASSERT_EQ(c.max_memory_bytes, 1ull << 30);
	ASSERT_EQ(cfg_set(&c, "grace_period", "5s", why, sizeof(why)), 0);
	ASSERT_EQ(c.grace_period, 5);
	ASSERT_EQ(cfg_set(&c, "grace_period", "0", why, sizeof(why)), 0);
	ASSERT_EQ(c.grace_period, 0);
	ASSERT_EQ(cfg_set(&c, "workers", "3", why, sizeof(why)), 0);
	ASSERT_EQ(c.workers, 3);
	ASSERT_EQ(cfg_set(&c, "log", "", why, sizeof(why)), 0);
	ASSERT_STREQ(c.log, "");
	ASSERT_EQ(cfg_set(&c, "data_dir", "/var/lib/safexec", why, sizeof(why)), 0);
	ASSERT_STREQ(c.data_dir, "/var/lib/safexec");
}

TEST(cfg_set_errors)
{
	struct cfg c;
	char why[256];

	cfg_init(&c);
	ASSERT_EQ(cfg_set(&c, "wokers", "3", why, sizeof(why)), -ENOENT);
	ASSERT(strstr(why, "wokers"));
	ASSERT_EQ(cfg_set(&c, "connection_timeout", "0", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "connection_timeout"));
	ASSERT(strstr(why, "minimum 1"));
	ASSERT_EQ(cfg_set(&c, "max_wall_time_ms", "600001", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "maximum 600000"));
	ASSERT_EQ(cfg_set(&c, "queue", "-1", why, sizeof(why)), -EINVAL);
	ASSERT_EQ(cfg_set(&c, "queue", "12abc", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "12abc"));
	ASSERT_EQ(cfg_set(&c, "queue", "", why, sizeof(why)), -EINVAL);
	ASSERT_EQ(cfg_set(&c, "max_body", "1T", why, sizeof(why)), -EINVAL);
	ASSERT_EQ(cfg_set(&c, "max_body", "999999999999999999999999", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "max_body"));
	ASSERT_EQ(cfg_set(&c, "listen", "a\tb", why, sizeof(why)), -EINVAL);
	/* The failed sets changed nothing. */
	ASSERT_EQ(c.queue, 64);
	ASSERT_EQ(c.max_body, 1 << 20);
	ASSERT_STREQ(c.listen, "127.0.0.1:8080");
	{
		char long_path[CFG_PATH_MAX + 10];

		memset(long_path, 'a', sizeof(long_path) - 1);
		long_path[sizeof(long_path) - 1] = '\0';
		ASSERT_EQ(cfg_set(&c, "db", long_path, why, sizeof(why)), -EINVAL);
		ASSERT(strstr(why, "too long"));
	}
}

TEST(cfg_file_syntax)
{
	struct cfg c;
	char why[256];
	const char *text =
		"# a comment\n"
		"\n"
		"   # indented comment\n"
		"listen = 0.0.0.0:9000\n"
		"workers=4\r\n"
		"  data_dir   =   \"/srv/safe exec\"  \n"
		"log = \"\"\n"
		"max_body = 2M";	/* no final newline */

	cfg_init(&c);
	ASSERT_EQ(parse_text(&c, text, why, sizeof(why)), 0);
	ASSERT_STREQ(c.listen, "0.0.0.0:9000");
	ASSERT_EQ(c.workers, 4);
	ASSERT_STREQ(c.data_dir, "/srv/safe exec");
	ASSERT_STREQ(c.log, "");
	ASSERT_EQ(c.max_body, 2 << 20);
}

TEST(cfg_file_errors_name_line_and_key)
{
	struct cfg c;
	char why[256];

	cfg_init(&c);
	ASSERT_EQ(parse_text(&c, "# ok\nworkers = 2\nqueue = lots\n", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "test.conf:3:"));
	ASSERT(strstr(why, "queue"));
	ASSERT_EQ(parse_text(&c, "\n\nnot a setting\n", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "test.conf:3:"));
	ASSERT(strstr(why, "key = value"));
	ASSERT_EQ(parse_text(&c, "bogus = 1\n", why, sizeof(why)), -ENOENT);
	ASSERT(strstr(why, "test.conf:1:"));
	ASSERT(strstr(why, "bogus"));
	ASSERT_EQ(parse_text(&c, "= 1\n", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "missing key"));
	ASSERT_EQ(parse_text(&c, "log = \"abc\n", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "quote"));
	ASSERT_EQ(cfg_parse(&c, "queue = 1\0\n", 11, "x.conf", why, sizeof(why)), -EINVAL);
	ASSERT(strstr(why, "NUL"));
}

TEST(cfg_file_missing)
{
	struct cfg c;
	char why[256];

	cfg_init(&c);
	ASSERT_EQ(cfg_load_file(&c, "/nonexistent/safexec.conf", why, sizeof(why)), -ENOENT);
	ASSERT(strstr(why, "/nonexistent/safexec.conf"));
	ASSERT(cfg_load_file(&c, "/tmp", why, sizeof(why)) < 0);
}

TEST(cfg_example_file_parses)
{
	/* The commented example at the repository root must stay valid. */
	struct cfg c;
	char why[256];

	cfg_init(&c);
	if (access("safexec.conf.example", R_OK) != 0)
		TEST_FAIL_("%s", "safexec.conf.example not found (run from the repository root)");
	ASSERT_EQ(cfg_load_file(&c, "safexec.conf.example", why, sizeof(why)), 0);
}

TEST(cfg_precedence)
{
	struct cfg c;
	char why[512];
	char *file = temp_file("listen = 127.0.0.1:1111\nworkers = 3\nqueue = 5\n"
			       "data_dir = /from/file\n");

	clear_env();
	/* File only. */
	ASSERT_EQ(from_args(&c, why, sizeof(why), 3, "serve", "--config", file), 0);
	ASSERT_STREQ(c.listen, "127.0.0.1:1111");
	ASSERT_EQ(c.workers, 3);
	ASSERT_EQ(c.queue, 5);
	ASSERT_STREQ(c.db, "/from/file/history.db");

	/* The environment beats the file. */
	setenv("SAFEXEC_LISTEN", "127.0.0.1:2222", 1);
	setenv("SAFEXEC_WORKERS", "2", 1);
	ASSERT_EQ(from_args(&c, why, sizeof(why), 3, "serve", "--config", file), 0);
	ASSERT_STREQ(c.listen, "127.0.0.1:2222");
	ASSERT_EQ(c.workers, 2);
	ASSERT_EQ(c.queue, 5);

	/* Flags beat both, whatever their order relative to --config. */
	ASSERT_EQ(from_args(&c, why, sizeof(why), 7, "serve", "--listen", "127.0.0.1:3333",
			    "--config", file, "--workers=1", "--db=/x.db"), 0);
	ASSERT_STREQ(c.listen, "127.0.0.1:3333");
	ASSERT_EQ(c.workers, 1);
	ASSERT_EQ(c.queue, 5);
	ASSERT_STREQ(c.db, "/x.db");

	/* SAFEXEC_CONFIG names the file when no flag does. */
	clear_env();
	setenv("SAFEXEC_CONFIG", file, 1);
	ASSERT_EQ(from_args(&c, why, sizeof(why), 1, "serve"), 0);
	ASSERT_EQ(c.queue, 5);
	setenv("SAFEXEC_DATA_DIR", "/from/env", 1);
	ASSERT_EQ(from_args(&c, why, sizeof(why), 1, "serve"), 0);
	ASSERT_STREQ(c.data_dir, "/from/env");
	unlink(file);
	free(file);
}

TEST(cfg_flags)
{
	struct cfg c;
	char why[512];

	clear_env();
	ASSERT_EQ(from_args(&c, why, sizeof(why), 1, "serve"), 0);
	ASSERT_STREQ(c.listen, "127.0.0.1:8080");
	ASSERT_STREQ(c.log, "logs/executions.log");
	ASSERT_EQ(from_args(&c, why, sizeof(why), 2, "serve", "--no-log"), 0);
	ASSERT_STREQ(c.log, "");
	ASSERT_EQ(from_args(&c, why, sizeof(why), 5, "serve", "--max-body", "64K",
			    "--grace-period", "3"), 0);
	ASSERT_EQ(c.max_body, 64 * 1024);
	ASSERT_EQ(c.grace_period, 3);
	ASSERT_EQ(from_args(&c, why, sizeof(why), 11, "serve", "--max-wall-time-ms", "1000",
			    "--max-cpu-time-ms", "900", "--max-memory-bytes", "64M",
			    "--max-processes", "10", "--max-output-bytes", "1K"), 0);
	ASSERT_EQ(c.max_wall_time_ms, 1000);
	ASSERT_EQ(c.max_cpu_time_ms, 900);
	ASSERT_EQ(c.max_memory_bytes, 64 << 20);
	ASSERT_EQ(c.max_processes, 10);
	ASSERT_EQ(c.max_output_bytes, 1024);
	ASSERT_EQ(from_args(&c, why, sizeof(why), 2, "serve", "--help"), 1);
	ASSERT_EQ(from_args(&c, why, sizeof(why), 2, "serve", "-h"), 1);
}

TEST(cfg_flag_errors)
{
	struct cfg c;
	char why[512];

	clear_env();
	ASSERT_EQ(from_args(&c, why, sizeof(why), 2, "serve", "--bogus"), -EINVAL);
	ASSERT(strstr(why, "--bogus"));
	ASSERT_EQ(from_args(&c, why, sizeof(why), 2, "serve", "--workers"), -EINVAL);
	ASSERT(strstr(why, "needs a value"));
	ASSERT_EQ(from_args(&c, why, sizeof(why), 3, "serve", "--queue", "x"), -EINVAL);
	ASSERT(strstr(why, "--queue"));
	ASSERT_EQ(from_args(&c, why, sizeof(why), 3, "serve", "--max-body", "10"), -EINVAL);
	ASSERT(strstr(why, "--max-body"));
	ASSERT(strstr(why, "minimum"));
	ASSERT_EQ(from_args(&c, why, sizeof(why), 2, "serve", "extra"), -EINVAL);
	ASSERT(strstr(why, "extra"));
	ASSERT_EQ(from_args(&c, why, sizeof(why), 2, "serve", "--config"), -EINVAL);
	ASSERT_EQ(from_args(&c, why, sizeof(why), 3, "serve", "--listen", "nowhere"), -EINVAL);
	ASSERT(strstr(why, "listen"));
	ASSERT(from_args(&c, why, sizeof(why), 3, "serve", "--config", "/nonexistent.conf") < 0);
	setenv("SAFEXEC_WORKERS", "many", 1);
	ASSERT_EQ(from_args(&c, why, sizeof(why), 1, "serve"), -EINVAL);
	ASSERT(strstr(why, "SAFEXEC_WORKERS"));
	clear_env();
}

TEST(cfg_listen_forms)
{
	char host[64];
	uint16_t port;

	ASSERT_EQ(cfg_split_listen("127.0.0.1:8080", host, sizeof(host), &port), 0);
	ASSERT_STREQ(host, "127.0.0.1");
	ASSERT_EQ(port, 8080);
	ASSERT_EQ(cfg_split_listen("[::1]:80", host, sizeof(host), &port), 0);
	ASSERT_STREQ(host, "::1");
	ASSERT_EQ(port, 80);
	ASSERT_EQ(cfg_split_listen("localhost:0", host, sizeof(host), &port), 0);
	ASSERT_STREQ(host, "localhost");
	ASSERT_EQ(port, 0);
	static const char *bad[] = { "8080", ":8080", "host:", "host:65536", "host:-1",
				     "::1:80", "[::1]80", "[::1", "h:8080x", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(cfg_split_listen(bad[i], host, sizeof(host), &port), -EINVAL);
}
