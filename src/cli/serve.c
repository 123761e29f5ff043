/*
 * serve.c - `safexec serve`: reads the settings, opens the sandbox host and
 * the history, starts the HTTP service and stops it gracefully on SIGTERM
 * or SIGINT.  Exit status: 0 after a graceful stop, 1 when the service
 * cannot start, 2 for bad settings.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "config/config.h"
#include "http/http.h"
#include "pysite/pysite.h"
#include "runtime/runtime.h"
#include "sandbox/sandbox.h"
#include "store/store.h"
#include "util/util.h"
#include "warm/warm.h"

static int stop_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_signal;

/* A handler rather than a blocked mask and sigwait(): a blocked mask would
 * be inherited by every sandboxed program through fork and exec. */
static void on_stop_signal(int sig)
{
	int saved = errno;
	char c = 1;

	stop_signal = sig;
	if (write(stop_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a stop is already pending. */
	}
	errno = saved;
}

static int install_signals(void)
{
	struct sigaction sa;

	if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	/* Only the handler's end must never block. */
	if (fcntl(stop_pipe[0], F_SETFL, 0) < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	/* libmicrohttpd sends with MSG_NOSIGNAL; this covers everything else. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void wait_for_stop(void)
{
	char c;

	while (read(stop_pipe[0], &c, 1) != 1)
		;
}

/* Every connection is a descriptor; the default soft limit of 1024 would
 * cap the connection limit below its default.  Returns 0, or -1 after
 * saying why the configured connection_limit cannot be had. */
static int raise_nofile(uint64_t connections, uint64_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= want)
		return 0;
	fprintf(stderr, "safexec serve: connection_limit: %llu connections need %llu open files, "
		"but the limit is %llu (raise it: ulimit -n, or LimitNOFILE= in a systemd unit)\n",
		(unsigned long long)connections, (unsigned long long)want,
		(unsigned long long)rl.rlim_cur);
	return -1;
}

/* The sandbox must work before the service says it listens: a host where
 * no run can succeed is told at once, with the likely cause. */
static int open_sandbox(struct sbx_host **host)
{
	char why[512], notes[2048] = "";

	if (sbx_host_open(host, why, sizeof(why)) == 0) {
		if (sbx_host_selftest(*host, why, sizeof(why)) == 0)
			return 0;
		sbx_host_close(*host);
		*host = NULL;
	}
	sbx_diagnose(notes, sizeof(notes));
	fprintf(stderr, "safexec serve: no sandbox can run here: %s\n", why);
	for (char *p = notes, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		fprintf(stderr, "safexec serve: %.*s\n", (int)(nl - p), p);
	}
	if (!notes[0])
		fprintf(stderr, "safexec serve: `safexec check` says more\n");
	return -1;
}

int cli_serve(int argc, char **argv)
{
	struct cfg c;
	struct sbx_host *host = NULL;
	struct warm *warm = NULL;
	struct store *st = NULL;
	struct http_server *srv = NULL;
	struct rt_registry *runtimes = NULL;
	struct auth_keys *keys = NULL;
	struct http_config hc;
	char why[1024], bind_host[CFG_LISTEN_MAX];
	const struct sbx_features *f;
	int r, status = 1;

	r = cfg_from_args(&c, argc, argv, why, sizeof(why));
	if (r == 1) {
		cfg_usage(stdout);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "safexec serve: %s\n", why);
		return 2;
	}
	/* A keys file that cannot be read is a bad setting: a server meant
	 * to need keys must not start without them. */
	if (c.keys_file[0] && auth_keys_load(c.keys_file, &keys, why, sizeof(why)) < 0) {
		fprintf(stderr, "safexec serve: keys_file: %s\n", why);
		return 2;
	}
	if (raise_nofile(c.connection_limit, c.connection_limit + 64 * c.workers + 256) < 0) {
		auth_keys_free(keys);
		return 2;
	}
	if ((r = install_signals()) < 0) {
		fprintf(stderr, "safexec serve: signals: %s\n", strerror(-r));
		auth_keys_free(keys);
		return 1;
	}

	/* The port first: a start that fails leaves nothing behind. */
	memset(&hc, 0, sizeof(hc));
	cfg_split_listen(c.listen, bind_host, sizeof(bind_host), &hc.port);
	hc.listen_fd = -1;
	if ((r = http_listen(bind_host, hc.port, &hc.listen_fd, why, sizeof(why))) < 0) {
		fprintf(stderr, "safexec serve: listen: %s\n", why);
		goto out;
	}
	if (open_sandbox(&host) < 0)
		goto out;
	char dirs[CFG_PATH_MAX];
	if ((r = rt_registry_load(&runtimes, c.runtimes[0] ? c.runtimes
						  : rt_default_dirs(dirs, sizeof(dirs)),
				  why, sizeof(why))) < 0) {
		fprintf(stderr, "safexec serve: runtimes: %s\n", why);
		goto out;
	}
	rt_registry_probe(runtimes, host);
	/* Before the first run: matplotlib's font list is built here once
	 * rather than in every run that plots. */
	char note[512];
	if ((r = pysite_install(host, PYSITE_FONT_LIST, note, sizeof(note))) < 0 && r != -ENOENT) {
		fprintf(stderr, "safexec serve: %s\n", note);
		goto out;
	}
	if (note[0] && strcmp(note, "no matplotlib") != 0)
		fprintf(stderr, "safexec: python: %s\n", note);
	/* After the /etc entries, which the zygotes take. */
	if (c.warm[0]) {
		struct warm_config wc = { .runs_max = c.warm_runs, .seconds_max = c.warm_seconds };
		if (warm_open(&warm, host, &wc, note, sizeof(note)) < 0)
			fprintf(stderr, "safexec: warm starts are off, every run starts cold: %s\n",
				note);
	}
	size_t available = 0;
	for (size_t i = 0; i < runtimes->n; i++) {
		if (runtimes->rt[i].available)
			available++;
		else
			fprintf(stderr, "safexec: %s is not offered: %s\n", runtimes->rt[i].name,
				runtimes->rt[i].why);
	}
	why[0] = '\0';
	struct store_config sc = {
		.url = c.store,
		.db_path = c.db,
		.node = c.node_name,
		.lease_s = (unsigned)c.job_lease,
		/* The workers, the history reader and the event thread. */
		.pool = (unsigned)c.workers + 2,
		.jobs_max = c.jobs_max,
		.log_path = c.log[0] ? c.log : NULL,
		.keep_count = c.keep_count,
		.keep_days = c.keep_days,
		.files_max = c.history_files_max,
	};
	if ((r = store_open(&st, &sc, why, sizeof(why))) < 0) {
		fprintf(stderr, "safexec serve: history: %s\n", why);
		goto out;
	}

	hc.host = bind_host;
	hc.workers = (unsigned)c.workers;
	hc.queue = (unsigned)c.queue;
	hc.max_body = (size_t)c.max_body;
	hc.connection_timeout = (unsigned)c.connection_timeout;
	hc.connection_limit = (unsigned)c.connection_limit;
	hc.allowed_hosts = c.allowed_hosts;
	hc.runtimes = runtimes;
	hc.maxima = (struct api_maxima){
		.wall_time_ms = c.max_wall_time_ms,
		.cpu_time_ms = c.max_cpu_time_ms,
		.memory_bytes = c.max_memory_bytes,
		.max_processes = c.max_processes,
		.output_bytes = c.max_output_bytes,
		.output_files = c.max_output_files,
		.output_files_bytes = c.max_output_files_bytes,
	};
	hc.jobs_max = c.jobs_max;
	hc.wait_max_s = (unsigned)c.wait_max;
	hc.allow_delete = c.allow_delete != 0;
	hc.job_attempts = (unsigned)c.job_attempts;
	hc.job_lease_s = (unsigned)c.job_lease;
	hc.node = c.node_name;
	hc.compile_cache = (size_t)c.compile_cache;
	hc.callbacks = (struct cb_config){
		.allow_private = c.callback_private != 0,
		.timeout_s = (unsigned)c.callback_timeout,
		.retries = (unsigned)c.callback_retries,
	};
	j0_settings_from_cfg(&c, &hc.judge0);
	hc.warm = warm;
	hc.keys = keys;
	hc.rate = (struct auth_rate){
		.per_s = c.rate_limit,
		.burst = c.rate_burst,
		.concurrent = c.max_concurrent_runs,
	};
	hc.rate_slots = (size_t)c.rate_limit_addresses;
	why[0] = '\0';
	r = http_start(&srv, &hc, host, st, why, sizeof(why));
	hc.listen_fd = -1;	/* the server's now, whatever happened */
	if (r < 0) {
		fprintf(stderr, "safexec serve: %s\n", why);
		goto out;
	}
	f = sbx_host_features(host);
	fprintf(stderr, "safexec: listening on http://%s%s%s:%u (%u worker%s, queue %u, "
		"cgroup %s, %zu languages, history %s%s%s%s)\n",
		strchr(bind_host, ':') ? "[" : "", bind_host,
		strchr(bind_host, ':') ? "]" : "", http_port(srv), hc.workers,
		hc.workers == 1 ? "" : "s", hc.queue,
		f->cgroup == SBX_CGROUP_V2 ? "v2" : f->cgroup == SBX_CGROUP_V1 ? "v1" : "none",
		available ? available : 1, c.store[0] ? "on PostgreSQL, node " : c.db,
		c.store[0] ? c.node_name : "", keys ? ", API keys on" : "",
		warm ? ", Python warm" : "");

	wait_for_stop();
	fprintf(stderr, "safexec: %s: stopping (grace period %llu s)\n",
		strsignal(stop_signal), (unsigned long long)c.grace_period);
	http_shutdown(srv, (unsigned)c.grace_period);
	status = 0;
out:
	if (hc.listen_fd >= 0)
		close(hc.listen_fd);
	http_free(srv);
	if (st)
		store_close(st);
	rt_registry_free(runtimes);
	auth_keys_free(keys);
	warm_close(warm);
	if (host)
		sbx_host_close(host);
	if (status == 0)
		fprintf(stderr, "safexec: stopped\n");
	return status;
}
