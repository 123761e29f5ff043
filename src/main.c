/* safexec: runs untrusted code in a sandbox.  This file only wires the
 * subcommands to their parts. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "util/util.h"
#include "warm/warm.h"

static void usage(FILE *f)
{
	fputs("usage: safexec run [options] FILE|-|-c CODE [-- ARGS...]\n"
	      "       safexec check\n"
	      "       safexec serve [--listen HOST:PORT] [--config FILE]\n"
	      "       safexec key NAME [--file FILE] [OPTION=VALUE]...\n"
	      "Run `safexec COMMAND --help` for a command's options.\n", f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "run") == 0)
		return cli_run(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cli_check(argc - 1, argv + 1);
	if (strcmp(cmd, "serve") == 0)
		return cli_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "key") == 0)
		return cli_key(argc - 1, argv + 1);
	/* Not for users: started by the warm starts themselves. */
	if (strcmp(cmd, "zygote") == 0)
		return warm_zygote_main(argc, argv);
	/* Not in the usage: the manual page safexec.conf(5), for `make install`. */
	if (strcmp(cmd, "__conf-man") == 0) {
		cfg_man(stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "safexec: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
