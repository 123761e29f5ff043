#!/bin/sh
# The container's entry point: safexec, after one step on cgroup v2.
#
# A container given a writable cgroup of its own (Docker 28's
# --security-opt writable-cgroups=true, Podman's --security-opt
# unmask=/sys/fs/cgroup; with a cgroup namespace, the default on v2) sees
# that cgroup as /sys/fs/cgroup, with the container's processes in it.  v2
# gives no controller to the children of a cgroup that holds processes, so
# they move to a leaf of their own, init, and safexec's runs can then have
# the memory and pids controllers below /sys/fs/cgroup/safexec.  Anywhere
# else (cgroup v1, a read-only cgroup) nothing is done here, and
# `safexec check` says which limits are rlimits only.
set -eu
cg=/sys/fs/cgroup
if [ -f "$cg/cgroup.controllers" ] && [ -w "$cg/cgroup.procs" ] &&
	[ "$(cat /proc/self/cgroup)" = "0::/" ]; then
	mkdir -p "$cg/init"
	# One pid a write; one that has ended meanwhile is no error.
	for pid in $(cat "$cg/cgroup.procs"); do
		echo "$pid" >"$cg/init/cgroup.procs" 2>/dev/null || :
	done
fi
exec /usr/bin/safexec "$@"
