/* check.c - `safexec check`: what isolation this host offers and what will
 * be in force. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "runtime/runtime.h"
#include "sandbox/sandbox.h"
#include "util/util.h"

static const char *mode_name(enum sbx_cgroup_mode m)
{
	return m == SBX_CGROUP_V2 ? "v2" : m == SBX_CGROUP_V1 ? "v1" : "none";
}

/* The runtime files found and, once probed, which are available. */
static struct rt_registry *probe_runtimes(char *why, size_t whylen)
{
	struct rt_registry *reg = NULL;
	struct sbx_host *host = NULL;
	char dirs[4096];

	if (rt_registry_load(&reg, rt_default_dirs(dirs, sizeof(dirs)), why, whylen) < 0)
		return NULL;
	if (sbx_host_open(&host, why, whylen) == 0) {
		rt_registry_probe(reg, host);
		sbx_host_close(host);
	}
	return reg;
}

static void print_runtimes(const struct rt_registry *reg, const char *why)
{
	if (!reg) {
		printf("languages:         none (%s)\n", why);
		return;
	}
	printf("languages:\n");
	for (size_t i = 0; i < reg->n; i++) {
		const struct runtime *rt = &reg->rt[i];
		if (rt->available)
			printf("  %-14s %s (%s)\n", rt->name, rt->version_text, rt->display_name);
		else
			printf("  %-14s not available: %s\n", rt->name, rt->why);
	}
}

static json_t *runtimes_json(const struct rt_registry *reg)
{
	json_t *list = json_array();

	for (size_t i = 0; list && reg && i < reg->n; i++) {
		const struct runtime *rt = &reg->rt[i];
		json_array_append_new(list, rt->available
			? json_pack("{s:s, s:b, s:s, s:s}", "name", rt->name, "available", 1,
				    "version", rt->version_text, "file", rt->origin)
			: json_pack("{s:s, s:b, s:s, s:s}", "name", rt->name, "available", 0,
				    "why", rt->why, "file", rt->origin));
	}
	return list;
}

static void print_text(const struct sbx_features *f, const char *notes, int ok,
		       const struct rt_registry *reg, const char *why)
{
	const char *yes = "yes", *no = "no";

	printf("running as root:   %s\n", f->root ? yes : "no (rootless)");
	printf("user namespaces:   %s\n", f->userns ? yes : no);
	printf("seccomp:           %s\n", f->seccomp ? yes : no);
	printf("clone3 + pidfd:    %s\n", f->clone3 ? yes : no);
	printf("cgroup:            %s%s%s\n", mode_name(f->cgroup),
	       f->cgroup_path[0] ? " at " : "", f->cgroup_path);
	printf("  memory limit:    %s\n", f->cg_memory ? "cgroup (whole tree, no swap)" : "RLIMIT_AS (per process)");
	printf("  process limit:   %s\n", f->cg_pids ? "cgroup (whole tree)" : "RLIMIT_NPROC (per user namespace)");
	printf("  CPU time limit:  %s\n", f->cg_cpu ? "cgroup (whole tree)" : "RLIMIT_CPU (per process)");
	printf("  cgroup.kill:     %s\n", f->cgroup_kill ? yes : "no (the pid namespace's init is killed instead)");
	printf("  CLONE_INTO_CGROUP: %s\n", f->cgroup_into ? yes : no);
	printf("python:            %s%s%s\n", f->python, f->python_version[0] ? " " : "",
	       f->python_version);
	print_runtimes(reg, why);
	if (notes[0])
		printf("notes:\n");
	for (const char *p = notes; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		printf("  - %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
	printf("%s\n", ok ? "ok: safexec can run here" : "not ok: safexec cannot run here");
}

static void print_json(const struct sbx_features *f, const char *notes, int ok,
		       const struct rt_registry *reg)
{
	json_t *list = json_array();
	for (const char *p = notes; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_array_append_new(list, json_stringn(p, len));
		p += len + (nl ? 1 : 0);
	}
	json_t *obj = json_pack("{s:b, s:b, s:b, s:b, s:b, s:s, s:{s:b, s:b, s:b}, s:b, s:b, s:s, s:s, s:s, s:o}",
				"ok", ok, "root", f->root, "userns", f->userns,
				"seccomp", f->seccomp, "clone3", f->clone3,
				"cgroup", mode_name(f->cgroup),
				"controllers", "memory", f->cg_memory, "pids", f->cg_pids, "cpu", f->cg_cpu,
				"cgroup_kill", f->cgroup_kill, "clone_into_cgroup", f->cgroup_into,
				"cgroup_path", f->cgroup_path, "python", f->python,
				"python_version", f->python_version, "notes", list);
	if (obj)
		json_object_set_new(obj, "runtimes", runtimes_json(reg));
	if (obj) {
		json_dumpf(obj, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	json_decref(obj);
}

int cli_check(int argc, char **argv)
{
	struct sbx_features f;
	char notes[2048];
	int json = argc > 1 && strcmp(argv[1], "--json") == 0;
	int ok = sbx_probe(&f, notes, sizeof(notes)) == 0;

	if (argc > 1 && !json) {
		fputs("usage: safexec check [--json]\n", strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	char why[512] = "";
	struct rt_registry *reg = ok ? probe_runtimes(why, sizeof(why)) : NULL;
	if (json) {
		print_json(&f, notes, ok, reg);
	} else {
		print_text(&f, notes, ok, reg, ok ? why : "no sandbox can run here");
	}
	rt_registry_free(reg);
	return ok ? 0 : 1;
}
