/*
 * key.c - `safexec key NAME [--file FILE] [OPTION=VALUE]...`: makes an API
 * key.  The key is printed once, on standard output, and never stored:
 * only the line for the keys file holds its SHA-256 (src/auth/auth.h).
 * With --file the line is appended to FILE (made with mode 0600 when it
 * does not exist), after the whole file with it has been checked as the
 * server will read it; otherwise it is printed after the key.
 * Exit status: 0, 1 when the file cannot be read or written, 2 for a
 * usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fputs("usage: safexec key NAME [--file FILE] [OPTION=VALUE]...\n"
	      "\n"
	      "Makes an API key for `safexec serve --keys-file FILE`.  Prints the key\n"
	      "(shown this once: give it to the client) and the line of the keys file\n"
	      "that holds its SHA-256; with --file, appends that line to FILE instead.\n"
	      "\n"
	      "Options of the key (docs/deploy.md):\n"
	      "  endpoints=run,jobs,history,languages,judge0,piston,metrics   (default: all)\n"
	      "  max_wall_time_ms=N max_cpu_time_ms=N max_memory_bytes=SIZE\n"
	      "  max_processes=N max_output_bytes=SIZE\n"
	      "  rate_limit=N rate_burst=N max_concurrent_runs=N\n", f);
}

/* Appends line to path once the file with it parses. */
static int append_line(const char *path, const char *line, char *why, size_t whylen)
{
	char *old = NULL, *all;
	size_t len = 0, n = strlen(line);
	struct auth_keys *keys = NULL;
	int r, fd;

	r = util_read_file(path, AUTH_FILE_MAX, &old, &len);
	if (r < 0 && r != -ENOENT)
		return util_msg(why, whylen, "%s: %s", path, strerror(-r));
	if (!(all = malloc(len + n + 2))) {
		free(old);
		return util_msg(why, whylen, "out of memory");
	}
	if (len)
		memcpy(all, old, len);
	/* A last line without its newline gets one first. */
	bool newline = len && old[len - 1] != '\n';
	size_t at = len;
	if (newline)
		all[at++] = '\n';
	memcpy(all + at, line, n);
	all[at + n] = '\n';
	r = auth_keys_parse(all, at + n + 1, path, &keys, why, whylen);
	auth_keys_free(keys);
	free(old);
	free(all);
	if (r < 0)
		return r;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return util_msg(why, whylen, "%s: %s", path, strerror(errno));
	r = (newline && write(fd, "\n", 1) != 1) || write(fd, line, n) != (ssize_t)n ||
	    write(fd, "\n", 1) != 1 ? -EIO : 0;
	if (close(fd) < 0 || r < 0)
		return util_msg(why, whylen, "%s: cannot write", path);
	return 0;
}

int cli_key(int argc, char **argv)
{
	char key[AUTH_KEY_LEN + 1], hash[80], line[AUTH_LINE_MAX + 1], why[512];
	const char *name = NULL, *file = NULL;
	struct auth_keys *keys = NULL;
	size_t len;
	int r;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-') {
		usage(stderr);
		return 2;
	}
	name = argv[1];
	if (strlen(name) > AUTH_NAME_MAX) {
		fprintf(stderr, "safexec key: the name must be 1 to %d of A-Z a-z 0-9 . _ -\n",
			AUTH_NAME_MAX);
		return 2;
	}
	if ((r = auth_key_make(key, sizeof(key), hash, sizeof(hash))) < 0) {
		fprintf(stderr, "safexec key: no randomness: %s\n", strerror(-r));
		return 1;
	}
	len = (size_t)snprintf(line, sizeof(line), "%s %s", name, hash);
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
			file = argv[++i];
			continue;
		}
		if (strncmp(argv[i], "--file=", 7) == 0) {
			file = argv[i] + 7;
			continue;
		}
		if (len + 1 + strlen(argv[i]) >= sizeof(line)) {
			fprintf(stderr, "safexec key: the line would be longer than %d bytes\n",
				AUTH_LINE_MAX);
			return 2;
		}
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s", argv[i]);
	}
	/* The line alone first: a bad name or option is a usage error. */
	if (auth_keys_parse(line, len, "key", &keys, why, sizeof(why)) < 0) {
		fprintf(stderr, "safexec %s\n", why);
		return 2;
	}
	auth_keys_free(keys);
	if (file && append_line(file, line, why, sizeof(why)) < 0) {
		fprintf(stderr, "safexec key: %s\n", why);
		return 1;
	}
	printf("%s\n", key);
	if (!file)
		printf("%s\n", line);
	explicit_bzero(key, sizeof(key));
	if (fflush(stdout) != 0)
		return 1;
	if (isatty(STDERR_FILENO))
		fprintf(stderr, file ? "The key is above, shown this once; %s holds its hash.\n"
			: "The first line is the key, shown this once; the second goes into the keys "
			  "file%s.\n", file ? file : "");
	return 0;
}
