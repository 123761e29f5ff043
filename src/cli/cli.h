/*
 * cli.h - the subcommands of the safexec binary.  Each takes the arguments
 * after its own name (argv[0] is the subcommand) and returns the process's
 * exit status.
 */
#ifndef SAFEXEC_CLI_H
#define SAFEXEC_CLI_H

/* safexec run [options] FILE|-  |  -c CODE  [-- ARGS...] */
int cli_run(int argc, char **argv);

/* safexec check */
int cli_check(int argc, char **argv);

/* safexec serve [--listen HOST:PORT] [--config FILE] ... */
int cli_serve(int argc, char **argv);

/* safexec key NAME [--file FILE] [OPTION=VALUE]... */
int cli_key(int argc, char **argv);

#endif
