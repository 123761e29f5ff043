#!/bin/sh
# Installs the Debian packages safexec needs: to build and run it, and with
# --test, to run the whole test suite too.  Quick when all are present.
set -eu
PKGS="build-essential pkg-config libseccomp-dev libjansson-dev libmicrohttpd-dev libsqlite3-dev python3"
if [ "${1:-}" = "--test" ]; then
	PKGS="$PKGS clang libclang-rt-14-dev chromium util-linux procps"
	# Node.js from elsewhere (NodeSource's package ships npm and conflicts
	# with Debian's npm) will do: only a machine without one gets Debian's.
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		PKGS="$PKGS nodejs npm"
	fi
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
