#!/usr/bin/env bash
# Runs a command in a clean Debian 12 root, to show that README.md's commands
# work on a stock Debian 12 machine (Debian's packages only, nothing this host
# has installed from elsewhere):
#
#     tools/debian12-root.sh                  # make test
#     tools/debian12-root.sh 'make test'
#     tools/debian12-root.sh --keep bash      # a shell in the last run's root
#
# As root.  The first run builds a Debian 12 root with debootstrap, from the
# Debian mirror this host's apt uses, and keeps it under /var/tmp (a minute
# or two); later runs reuse it (seconds).  The root is debootstrap's standard
# set of packages plus make, which README.md has installed first.  Each run
# starts from that clean root, with an overlay on top that takes the run's
# changes (the packages `make test` installs, the build); the downloaded .deb
# files are kept between runs.  The committed HEAD of this repository (not
# the work tree) is cloned into /work/safexec in the root, and the command
# runs there as root.
#
# The root is entered with a mount namespace and pivot_root, not chroot: a
# process in a chroot cannot create user namespaces, which the sandbox needs.
# /proc is mounted anew for a pid namespace of its own (so that the suites
# see only the processes of this root, not those of other work on the host),
# /sys (with /sys/fs/cgroup, shared with the host) and /dev come from the
# host; the network is the host's, with the certificate authorities the host
# adds in /usr/local/share/ca-certificates (given to node, for npm).
# The overlay's folders are named so that the paths in /proc/self/mountinfo
# contain none of /work, /root and /home, which the escape suite looks for.
#
# Options:
#   --keep      reuse the previous run's root as it was left (no fresh overlay)
#   --fresh     build the debootstrap root again
#   --rev REV   clone this commit instead of HEAD
# Settings: DEBIAN12_ROOT_DIR (default /var/tmp/safexec-debian12), MIRROR and
# SECURITY_MIRROR (default: those of /etc/apt/sources.list*).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${DEBIAN12_ROOT_DIR:-/var/tmp/safexec-debian12}
keep=0 fresh=0 rev=HEAD

if [ "${1:-}" = "--inside" ]; then
	# Second stage, in the new mount and pid namespaces: see enter() below.
	shift
	root=$1 cmd=$2
	mount --make-rprivate /
	mount --bind "$root" "$root"
	mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --make-rslave "$root/sys"
	mount --rbind /dev "$root/dev"
	mount --make-rslave "$root/dev"
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
	mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$root/run"
	mkdir -p "$root/run/lock" "$root/run/user"
	chmod 1777 "$root/run/lock"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# The network is the host's, and so are the certificate authorities
	# it adds (a network that intercepts TLS has one): node, for npm,
	# gets them besides its own.
	extra_ca=
	if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
		cat /usr/local/share/ca-certificates/*.crt > "$root/etc/host-extra-ca.crt"
		extra_ca=NODE_EXTRA_CA_CERTS=/etc/host-extra-ca.crt
	fi
	cd "$root"
	mkdir -p .oldroot
	pivot_root . .oldroot
	cd /
	umount -l /.oldroot
	rmdir /.oldroot
	# From here on every program is the Debian 12 root's own.  This shell is
	# the pid namespace's init: it waits for the command, passes INT and TERM
	# on, and when it ends, whatever the command left running ends with it.
	/usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 $extra_ca \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "cd /work/safexec && $cmd" <&0 &
	child=$!
	trap 'kill -TERM "$child" 2>/dev/null' INT TERM
	set +e
	while :; do
		wait "$child"
		rc=$?
		kill -0 "$child" 2>/dev/null || break
	done
	exit "$rc"
fi

while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1 ;;
	--fresh) fresh=1 ;;
	--rev) rev=$2; shift ;;
	--) shift; break ;;
	-*) echo "debian12-root: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
cmd=${1:-make test}

if [ "$(id -u)" -ne 0 ]; then
	echo "debian12-root: run as root" >&2
	exit 1
fi

# The mirrors this host's apt uses: the first URI of each kind in
# /etc/apt/sources.list and /etc/apt/sources.list.d (one-line or deb822).
mirror_of() { # $1: regexp the URI must match
	local f files=()
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] && files+=("$f")
	done
	[ ${#files[@]} -gt 0 ] || return 0
	sed -e '/^[[:space:]]*#/d' "${files[@]}" | grep -oE 'https?://[^][ ]+' | sed 's,/*$,,' |
		awk -v re="$1" '$0 ~ re && !n++'
}
MIRROR=${MIRROR:-$(mirror_of '/debian$')}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(mirror_of '/debian-security$')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}

base=$dir/base
if [ "$fresh" = 1 ]; then
	rm -rf "$base" "$base.tmp"
fi
if [ ! -e "$base/.complete" ]; then
	t0=$(date +%s)
	if ! command -v debootstrap >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
	fi
	rm -rf "$base.tmp"
	mkdir -p "$dir"
	echo "debian12-root: debootstrap bookworm from $MIRROR into $base" >&2
	# With make, README.md's first step: the rest is for `make test` to do.
	debootstrap --arch=amd64 --include=make bookworm "$base.tmp" "$MIRROR" >"$dir/debootstrap.log" 2>&1 || {
		tail -n 20 "$dir/debootstrap.log" >&2
		exit 1
	}
	cat >"$base.tmp/etc/apt/sources.list" <<-EOF
	deb $MIRROR bookworm main
	deb $MIRROR bookworm-updates main
	deb $SECURITY_MIRROR bookworm-security main
	EOF
	echo safexec-debian12 >"$base.tmp/etc/hostname"
	rm -rf "$base.tmp/var/cache/apt/archives/"*.deb
	touch "$base.tmp/.complete"
	mv "$base.tmp" "$base"
	echo "debian12-root: root ready in $(( $(date +%s) - t0 )) s" >&2
fi

# The run's root: the clean one with an overlay on top.
run=$dir/run
mkdir -p "$dir/apt-archives/partial"
if [ "$keep" = 0 ] || [ ! -d "$run/upper" ]; then
	rm -rf "$run"
	mkdir -p "$run/upper" "$run/scratch" "$run/tree"
	fresh_run=1
else
	mkdir -p "$run/tree"
	fresh_run=0
fi

commit=$(git -C "$here" rev-parse --verify "$rev^{commit}")
echo "debian12-root: $commit in a Debian 12 root: $cmd" >&2

enter() {
	# Everything mounted here goes away with the mount namespace.
	unshare --mount --pid --fork --propagation private -- /bin/bash -c '
		set -euo pipefail
		dir=$1 run=$2 commit=$3 fresh_run=$4 here=$5 script=$6 cmd=$7
		mount -t overlay overlay -o "lowerdir=$dir/base,upperdir=$run/upper,workdir=$run/scratch" "$run/tree"
		mount --bind "$dir/apt-archives" "$run/tree/var/cache/apt/archives"
		if [ "$fresh_run" = 1 ]; then
			git clone -q --no-hardlinks "$here" "$run/tree/work/safexec"
			git -C "$run/tree/work/safexec" checkout -q "$commit"
		fi
		exec "$script" --inside "$run/tree" "$cmd"
	' enter "$dir" "$run" "$commit" "$fresh_run" "$here" "$here/tools/debian12-root.sh" "$cmd"
}
t0=$(date +%s)
rc=0
enter || rc=$?
echo "debian12-root: '$cmd' ended with exit $rc after $(( $(date +%s) - t0 )) s" >&2
exit "$rc"
