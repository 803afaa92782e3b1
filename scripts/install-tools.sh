#!/usr/bin/env bash
# Installs, at pinned versions, the external programs signway's tests and
# benchmarks run against. Idempotent and cheap when everything is present,
# so `make test` runs it every time. Reaches only the Go module proxy and
# Debian's archive: nothing else is reachable on CI.
#
#   scripts/install-tools.sh              tools the tests need
#   scripts/install-tools.sh --bench      also the load generator (wrk)
#   scripts/install-tools.sh --awscli-v2  also Debian's AWS CLI v2 (/usr/bin/aws)
#   scripts/install-tools.sh --only wrk   just one tool (install_wrk)
#
# Where it cannot install (not root and no passwordless sudo, or not Debian)
# it says what to install and carries on: the tests that need a missing tool
# skip, or fail when SIGNWAY_E2E=require (as on CI, where this script then
# exits non-zero too). It waits for an apt lock held by someone else.
#
# To add a tool: write an install_<tool> function (install_versitygw for a Go
# module, install_wrk for a Debian package: `need_deb COMMAND PACKAGE`) and
# add it to main.
set -euo pipefail

VERSITYGW_MODULE=github.com/versity/versitygw/cmd/versitygw
VERSITYGW_VERSION=v1.8.0  # keep in step with internal/testenv/versitygw.go
# promtool checks deploy/prometheus/alerts.yaml (deploy/monitoring_test.go).
# Prometheus v3.16.0; its Go module versions are v0.3XX.
PROMTOOL_VERSION=v0.316.0

# How long to wait for another apt or dpkg to release its lock, and how often
# to look again.
APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}
APT_RETRY_INTERVAL=${APT_RETRY_INTERVAL:-10}

MISSING=() # what could not be installed, with how to get it

log() { printf 'install-tools: %s\n' "$*" >&2; }

# missing records a tool that is not there and could not be installed.
missing() {
	MISSING+=("$1")
	log "MISSING: $1"
}

gobin() {
	local d
	d=$(go env GOBIN)
	[ -n "$d" ] || d="$(go env GOPATH | cut -d: -f1)/bin"
	printf '%s\n' "$d"
}

# ---- Debian packages -------------------------------------------------------

# apt_cmd prints the command prefix that runs apt-get as root, or fails when
# there is none: not Debian, or not root and no passwordless sudo.
apt_cmd() {
	command -v apt-get >/dev/null 2>&1 || return 1
	if [ "$(id -u)" -eq 0 ]; then
		echo env
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		echo sudo
	else
		return 1
	fi
}

APT_UPDATED=0

# apt_install installs Debian packages, waiting for the apt lock if another
# apt or dpkg holds it rather than failing at once.
apt_install() {
	local run
	run=$(apt_cmd) || return 1
	local opts=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT" -o "Acquire::Retries=3")
	if [ "$APT_UPDATED" -eq 0 ]; then
		log "apt-get update (waiting up to ${APT_LOCK_TIMEOUT}s for the apt lock)"
		# apt honours DPkg::Lock::Timeout for the dpkg lock, but not every
		# version does for the lists lock that update takes: retry while
		# that is held, and fail at once for anything else.
		local waited=0 out
		until out=$($run apt-get "${opts[@]}" update -qq 2>&1); do
			if ! grep -qi 'lock' <<<"$out" || [ "$waited" -ge "$APT_LOCK_TIMEOUT" ]; then
				printf '%s\n' "$out" >&2
				log "apt-get update failed"
				return 1
			fi
			log "apt lock held by another process; waiting (${waited}s of ${APT_LOCK_TIMEOUT}s)"
			sleep "$APT_RETRY_INTERVAL"
			waited=$((waited + APT_RETRY_INTERVAL + 1))
		done
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	$run DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y -qq --no-install-recommends "$@" >/dev/null
}

# need_deb COMMAND PACKAGE [PATH]: makes sure COMMAND (or the executable at
# PATH) is there, installing Debian's PACKAGE if not.
need_deb() {
	local cmd=$1 pkg=$2 path=${3:-}
	local have
	have=${path:-$(command -v "$cmd" 2>/dev/null || true)}
	if [ -n "$have" ] && [ -x "$have" ]; then
		log "$cmd present at $have"
		return 0
	fi
	if ! apt_cmd >/dev/null; then
		missing "$cmd: install Debian's $pkg package (or your system's equivalent); this script can only install it as root or with passwordless sudo on Debian/Ubuntu"
		return 0
	fi
	log "installing $cmd from Debian ($pkg)"
	if ! apt_install "$pkg"; then
		missing "$cmd: apt-get install $pkg failed (see above)"
		return 0
	fi
	have=${path:-$(command -v "$cmd" 2>/dev/null || true)}
	log "$cmd installed at ${have:-?}"
}

# ---- tools -------------------------------------------------------------------

install_versitygw() {
	local bin have
	bin="$(gobin)/versitygw"
	# `go version -m` reads the module version stamped into the binary, so a
	# stale or hand-built versitygw is replaced.
	have=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/versity/versitygw" { print $3 }' || true)
	if [ "$have" = "$VERSITYGW_VERSION" ]; then
		log "versitygw $have present at $bin"
		return
	fi
	log "installing versitygw $VERSITYGW_VERSION (had: ${have:-none}); the first build takes a few minutes"
	if ! go install "$VERSITYGW_MODULE@$VERSITYGW_VERSION"; then
		missing "versitygw: go install $VERSITYGW_MODULE@$VERSITYGW_VERSION failed (see above)"
		return
	fi
	log "versitygw $VERSITYGW_VERSION installed at $bin"
}

# go_tool installs a Go command at a pinned version unless the binary in
# GOBIN already carries that module version: go_tool NAME MODULE PACKAGE VERSION.
go_tool() {
	local name=$1 module=$2 pkg=$3 version=$4 bin have
	bin="$(gobin)/$name"
	have=$(go version -m "$bin" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }' || true)
	if [ "$have" = "$version" ]; then
		log "$name $have present at $bin"
		return
	fi
	log "installing $name $version (had: ${have:-none}); the first build takes a few minutes"
	if ! go install "$pkg@$version"; then
		missing "$name: go install $pkg@$version failed (see above)"
		return
	fi
	log "$name $version installed at $bin"
}

install_promtool() {
	go_tool promtool github.com/prometheus/prometheus github.com/prometheus/prometheus/cmd/promtool "$PROMTOOL_VERSION"
}

# botocore, moto and the AWS CLI v1 come with this machine's Python; PyPI is
# not reachable, so report what is missing instead of trying pip.
install_python_tools() {
	local before=${#MISSING[@]}
	if ! python3 -c 'import botocore, boto3, moto' >/dev/null 2>&1; then
		missing "python3 modules botocore, boto3 and moto: pip install botocore boto3 'moto[server]'"
	fi
	command -v moto_server >/dev/null 2>&1 || missing "moto_server on PATH: pip install 'moto[server]'"
	aws --version >/dev/null 2>&1 || missing "aws (AWS CLI v1) on PATH: pip install awscli"
	if [ ${#MISSING[@]} -gt "$before" ] && [ -d "$HOME/.pyenv/shims" ]; then
		log "  (this machine has pyenv: is $HOME/.pyenv/shims on PATH? make and .ci/run add it)"
	fi
	if [ ${#MISSING[@]} -eq "$before" ]; then
		log "python3 botocore+boto3+moto, moto_server and aws $(aws --version 2>&1 | cut -d' ' -f1) present"
	fi
}

install_wrk() { need_deb wrk wrk; }

# redis-server backs the shared rate-limit tests (internal/inbound, cmd/signway).
install_redis_server() { need_deb redis-server redis-server; }

# Debian's awscli is v2 and installs to /usr/bin/aws; the pyenv shims come
# first on PATH, so plain `aws` stays v1 and testenv.AWSCLIv2 uses the path.
install_awscli_v2() {
	if /usr/bin/aws --version 2>/dev/null | grep -q '^aws-cli/2\.'; then
		log "AWS CLI v2 present at /usr/bin/aws"
		return
	fi
	need_deb aws awscli /usr/bin/aws
}

# ---- main --------------------------------------------------------------------

report() {
	if [ ${#MISSING[@]} -eq 0 ]; then
		log "all tools present"
		return 0
	fi
	log "not installed (${#MISSING[@]}):"
	local m
	for m in "${MISSING[@]}"; do log "  - $m"; done
	if [ "${SIGNWAY_E2E:-}" = require ]; then
		log "SIGNWAY_E2E=require: the tests that need them would fail; stopping here"
		return 1
	fi
	log "the tests that need them skip (SIGNWAY_E2E=require makes them fail)"
}

main() {
	local bench=0 awscli_v2=0 only=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--bench) bench=1 ;;
		--awscli-v2) awscli_v2=1 ;;
		--only)
			only=${2:-}
			if ! declare -F "install_$only" >/dev/null; then
				log "--only: no tool \"$only\" (want one of: $(declare -F | sed -n 's/^declare -f install_//p' | tr '\n' ' '))"
				return 2
			fi
			shift
			;;
		-h | --help)
			sed -n '2,19p' "$0"
			return 0
			;;
		*)
			log "unknown argument: $1"
			return 2
			;;
		esac
		shift
	done
	command -v go >/dev/null 2>&1 || { log "go is not on PATH: install Go (see go.mod for the version)"; return 1; }
	if [ -n "$only" ]; then
		"install_$only"
	else
		install_versitygw
		install_python_tools
		install_redis_server
		install_promtool
		if [ "$awscli_v2" -eq 1 ]; then install_awscli_v2; fi
		if [ "$bench" -eq 1 ]; then install_wrk; fi
	fi
	report
}

main "$@"
