/*
 * warm.h - warm starts: Python programs run in an interpreter initialised
 * once, in a fresh sandbox each.
 *
 * A zygote (`safexec zygote`, a fresh exec of this binary with a clean
 * environment, so that it never holds a request's bytes or the server's
 * secrets) opens a sandbox host of its own and initialises Python exactly
 * as `python3 -E -s -u /box/main.py` does.  For each run it forks a
 * supervisor, which reads the request from the socket the caller handed
 * over, runs it with sbx_run() as every run (new namespaces, root,
 * cgroups, rlimits, no capabilities, seccomp), and in the program's
 * process, instead of execve(), runs /box/main.py with Py_RunMain() in the
 * copy of the interpreter it inherited.  The zygote itself only forks.
 *
 * On the caller's side, warm_open() starts a zygote for a host and offers
 * itself as the host's runner (sbx_host_set_runner()): sbx_run() then
 * gives it every request it can run warm (the built-in Python command, no
 * extra environment, root or output files) and runs the rest as before.
 * A request that finds no usable zygote runs cold; a zygote that dies or
 * does not answer is replaced, and so is one past runs_max runs or
 * seconds_max seconds, which bounds what its runs share (docs/sandbox.md).
 *
 *	struct warm *w;
 *	warm_open(&w, host, &cfg, why, sizeof(why));	   after sbx_host_set_etc()
 *	sbx_run(host, &req, &res);			   any thread, as before
 *	warm_close(w);					   before sbx_host_close()
 */
#ifndef SAFEXEC_WARM_H
#define SAFEXEC_WARM_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct sbx_host;
struct warm;

struct warm_config {
	uint64_t runs_max;	/* runs of one zygote before it is replaced */
	uint64_t seconds_max;	/* its age before it is replaced */
	const char *binary;	/* safexec, run as `safexec zygote`; NULL: this
				   process's own binary */
};

/* Starts the first zygote and waits for it to be ready (tens of ms).
 * Returns 0, or a negative errno with why (no libpython, a Python of
 * another version than the build's, ...): the host then runs all cold. */
int warm_open(struct warm **out, struct sbx_host *host, const struct warm_config *cfg,
	      char *why, size_t whylen);
/* Stops the zygote; runs in progress end first.  NULL is fine. */
void warm_close(struct warm *w);

struct warm_stats {
	uint64_t runs;		/* runs that ran warm */
	uint64_t fallbacks;	/* runs that could have, but found no zygote */
	uint64_t started;	/* zygotes started */
	bool up;		/* a zygote is ready now */
};
void warm_get_stats(struct warm *w, struct warm_stats *st);

/* `safexec zygote`: the zygote's main; not for users. */
int warm_zygote_main(int argc, char **argv);

#endif
