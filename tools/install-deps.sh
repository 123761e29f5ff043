#!/bin/sh
# Installs the Debian packages safexec needs: to build and run it (and curl,
# for README.md's example), and with --test, to run the whole test suite too.
# Quick when all are present.  Debian 12's own archive only: no npm, no other
# registry.  `--list` prints the packages instead (.ci/run installs those).
#
#     tools/install-deps.sh [--test] [--list]
set -eu
test=0 list=0
for a in "$@"; do
	case $a in
	--test) test=1 ;;
	--list) list=1 ;;
	*) echo "install-deps: unknown option $a" >&2; exit 2 ;;
	esac
done
PKGS="build-essential pkg-config libseccomp-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev python3 curl"
if [ "$test" = 1 ]; then
	# clang and its runtime: the fuzzers; util-linux and procps: the escape
	# suite; chromium, chromium-driver, python3-selenium and python3-pil:
	# the browser suite (tests/browser/run).
	PKGS="$PKGS clang libclang-rt-14-dev util-linux procps chromium chromium-driver python3-selenium python3-pil"
fi
if [ "$list" = 1 ]; then
	echo "$PKGS"
	exit 0
fi
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
