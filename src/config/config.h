/*
 * config.h - the settings of `safexec serve`: one table of name, type,
 * default, bounds and help (see config.c), filled from, in rising order of
 * precedence, the built-in defaults, a `key = value` file, a few
 * environment variables and the command-line flags.
 *
 * Every setting has one name.  In the file it is written as is
 * (`max_body = 1M`), as a flag with dashes (`--max-body 1M`).
 */
#ifndef SAFEXEC_CONFIG_H
#define SAFEXEC_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_PATH_MAX 1024
#define CFG_LISTEN_MAX 256

struct cfg {
	char listen[CFG_LISTEN_MAX];	/* "HOST:PORT" or "[V6]:PORT" */
	char allowed_hosts[CFG_LISTEN_MAX]; /* names besides IPs and localhost */
	char data_dir[CFG_PATH_MAX];
	char db[CFG_PATH_MAX];		/* "" until cfg_finish(): <data_dir>/history.db */
	char store[CFG_PATH_MAX];	/* "" = SQLite at db; else PostgreSQL */
	char node_name[64];		/* "" until cfg_finish(): the host name */
	char log[CFG_PATH_MAX];		/* "" = no JSON-lines log */
	char runtimes[CFG_PATH_MAX];	/* runtime file folders; "" = the default */
	uint64_t workers;		/* 0 until cfg_finish(): number of CPUs */
	uint64_t queue;			/* waiting executions beyond the workers */
	uint64_t max_body;		/* bytes */
	uint64_t grace_period;		/* seconds */
	uint64_t keep_count;		/* 0 = keep all */
	uint64_t keep_days;		/* 0 = forever */
	uint64_t history_files_max;	/* bytes of output files kept per
					   execution; 0 = names and sizes */
	uint64_t connection_timeout;	/* seconds of idleness */
	uint64_t connection_limit;
	uint64_t jobs_max;		/* submissions queued or running */
	uint64_t wait_max;		/* seconds a wait=true request is held */
	char warm[16];			/* "python" or "": the warm starts */
	uint64_t warm_runs;		/* runs of a zygote before it is replaced */
	uint64_t warm_seconds;		/* its age before it is replaced */
	uint64_t allow_delete;		/* 1: DELETE /submissions/{token} */
	uint64_t job_lease;		/* seconds a claimed job is leased */
	uint64_t job_attempts;		/* starts before a job is given up */
	uint64_t compile_cache;		/* bytes; 0 = no compile cache */
	uint64_t callback_private;	/* 1: callbacks may reach private addresses */
	uint64_t callback_timeout;	/* seconds per attempt */
	uint64_t callback_retries;	/* attempts after the first */
	char keys_file[CFG_PATH_MAX];	/* "" = no API keys */
	uint64_t rate_limit;		/* requests a second per key or address; 0 = none */
	uint64_t rate_burst;		/* 0 = rate_limit */
	uint64_t max_concurrent_runs;	/* per key or address; 0 = no limit */
	uint64_t rate_limit_addresses;	/* client addresses tracked at most */
	/* The most a request may ask for. */
	uint64_t max_wall_time_ms;
	uint64_t max_cpu_time_ms;
	uint64_t max_memory_bytes;
	uint64_t max_processes;
	uint64_t max_output_bytes;
	uint64_t max_output_files;	/* files a run may return (output_files) */
	uint64_t max_output_files_bytes; /* their bytes together */
	/* Judge0's defaults for a submission that gives none (times in ms,
	 * sizes in KB as Judge0 counts them); its maxima of cpu, wall,
	 * memory and processes are the max_* settings above. */
	uint64_t judge0_cpu_time_limit_ms;
	uint64_t judge0_cpu_extra_time_ms;
	uint64_t judge0_max_cpu_extra_time_ms;
	uint64_t judge0_wall_time_limit_ms;
	uint64_t judge0_memory_limit_kb;
	uint64_t judge0_stack_limit_kb;
	uint64_t judge0_max_stack_limit_kb;
	uint64_t judge0_max_processes_and_or_threads;
	uint64_t judge0_max_file_size_kb;
	uint64_t judge0_max_max_file_size_kb;
	uint64_t judge0_number_of_runs;
	uint64_t judge0_max_number_of_runs;
	uint64_t judge0_redirect_stderr_to_stdout;	/* 0 or 1 */
	uint64_t judge0_enable_per_process_and_thread_time_limit;
	uint64_t judge0_enable_per_process_and_thread_memory_limit;
};

enum cfg_type {
	CFG_STRING,	/* bounded by the field's size */
	CFG_UINT,	/* decimal */
	CFG_SIZE,	/* decimal with an optional K/M/G suffix */
	CFG_SECONDS,	/* decimal seconds, an optional "s" suffix */
};

struct cfg_entry {
	const char *name;	/* file key; the flag is --name with '-' for '_' */
	enum cfg_type type;
	size_t offset;		/* into struct cfg */
	size_t size;		/* of a CFG_STRING field */
	const char *def;	/* the default, as it would be written */
	uint64_t min, max;	/* numeric bounds, inclusive; for a limit's
				   maximum, the sandbox's bounds instead */
	int limit;		/* SBX_LIMIT_* + 1 for a limit's maximum, else 0 */
	int (*check)(const char *value, char *why, size_t whylen);
	const char *env;	/* environment variable, or NULL */
	const char *help;
};

/* The table, for `serve --help` and the documentation. */
extern const struct cfg_entry cfg_table[];
extern const size_t cfg_table_count;

/* Fills *c with the defaults.  Cannot fail. */
void cfg_init(struct cfg *c);

/* Sets one setting from its text form.  Returns 0, -ENOENT for an unknown
 * name, or -EINVAL / -ERANGE with a message naming the key in why. */
int cfg_set(struct cfg *c, const char *name, const char *value,
	    char *why, size_t whylen);

/* Parses a config file's contents (len bytes, need not be NUL-terminated):
 * one `key = value` per line; blank lines and lines starting with '#' are
 * ignored; a value may be wrapped in double quotes.  origin names the file
 * in messages ("FILE:LINE: ...").  Returns 0 or a negative errno. */
int cfg_parse(struct cfg *c, const char *text, size_t len, const char *origin,
	      char *why, size_t whylen);

/* Reads and parses a file (at most 1 MiB). */
int cfg_load_file(struct cfg *c, const char *path, char *why, size_t whylen);

/* Applies the SAFEXEC_* environment variables that exist. */
int cfg_load_env(struct cfg *c, char *why, size_t whylen);

/*
 * Everything `safexec serve` does with its arguments: defaults, then the
 * file (--config FILE, else $SAFEXEC_CONFIG, else none), then the
 * environment, then the flags, then cfg_finish().  argv[0] is the
 * subcommand's name.  Returns 0, 1 when --help was asked for (nothing else
 * done), or a negative errno with a message in why.
 */
int cfg_from_args(struct cfg *c, int argc, char **argv, char *why, size_t whylen);

/* Fills in what depends on other settings (db, workers).  Every setting
 * was checked where it was given (cfg_set()), so that its message names
 * its source.  Returns 0 or -EINVAL. */
int cfg_finish(struct cfg *c, char *why, size_t whylen);

/* Splits c->listen into host and port.  host gets the address without
 * brackets.  Returns 0 or -EINVAL. */
int cfg_split_listen(const char *listen, char *host, size_t hostlen, uint16_t *port);

/* Prints the usage of `safexec serve` with every setting. */
void cfg_usage(FILE *f);

/* Prints the manual page safexec.conf(5) in roff, every setting of the
 * table with its default, bounds, flag and environment variable
 * (`safexec __conf-man`, which `make install` runs). */
void cfg_man(FILE *f);

#endif
