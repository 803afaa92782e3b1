#!/usr/bin/env bash
# Installs, at pinned versions, the external programs signway's tests and
# benchmarks run against. Idempotent and cheap when everything is present,
# so `make test` runs it every time. Reaches only the Go module proxy and
# (with --bench or --awscli-v2) Debian's archive: nothing else is reachable on CI.
#
#   scripts/install-tools.sh          tools the tests need
#   scripts/install-tools.sh --bench  also the load generator (wrk)
#   scripts/install-tools.sh --awscli-v2  also Debian's AWS CLI v2 (/usr/bin/aws)
set -euo pipefail

VERSITYGW_MODULE=github.com/versity/versitygw/cmd/versitygw
VERSITYGW_VERSION=v1.8.0  # keep in step with internal/testenv/versitygw.go

log() { printf 'install-tools: %s\n' "$*" >&2; }

gobin() {
	local d
	d=$(go env GOBIN)
	[ -n "$d" ] || d="$(go env GOPATH | cut -d: -f1)/bin"
	printf '%s\n' "$d"
}

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
	go install "$VERSITYGW_MODULE@$VERSITYGW_VERSION"
	log "versitygw $VERSITYGW_VERSION installed at $bin"
}

# botocore, moto and the AWS CLI v1 come with this machine's Python; PyPI is
# not reachable, so report what is missing instead of trying pip.
check_python_tools() {
	local missing=()
	if ! python3 -c 'import botocore, moto' >/dev/null 2>&1; then
		missing+=("python3 modules botocore and moto (pip packages botocore, 'moto[server]')")
	fi
	command -v moto_server >/dev/null 2>&1 || missing+=("moto_server on PATH (pip package 'moto[server]')")
	if ! aws --version >/dev/null 2>&1; then
		missing+=("aws (AWS CLI v1) on PATH (pip package awscli)")
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		log "WARNING: missing, and PyPI is not reachable from here to install them:"
		local m
		for m in "${missing[@]}"; do log "  - $m"; done
		if [ -d "$HOME/.pyenv/shims" ]; then
			log "  (this machine has pyenv: is $HOME/.pyenv/shims on PATH? make and .ci/run add it)"
		fi
		log "tests that need them skip, or fail when SIGNWAY_E2E=require"
		return
	fi
	log "python3 botocore+moto, moto_server and aws $(aws --version 2>&1 | cut -d' ' -f1) present"
}

apt_install() {
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
}

install_wrk() {
	if command -v wrk >/dev/null 2>&1; then
		log "wrk present at $(command -v wrk)"
		return
	fi
	log "installing wrk from Debian"
	apt_install wrk
	log "wrk installed at $(command -v wrk)"
}

# Debian's awscli is v2 and installs to /usr/bin/aws; the pyenv shims come
# first on PATH, so plain `aws` stays v1 and testenv.AWSCLIv2 uses the path.
install_awscli_v2() {
	if /usr/bin/aws --version 2>/dev/null | grep -q '^aws-cli/2\.'; then
		log "AWS CLI v2 present at /usr/bin/aws"
		return
	fi
	log "installing AWS CLI v2 from Debian (awscli)"
	apt_install awscli
	log "AWS CLI $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1) installed at /usr/bin/aws"
}

main() {
	local bench=0 awscli_v2=0 arg
	for arg in "$@"; do
		case "$arg" in
		--bench) bench=1 ;;
		--awscli-v2) awscli_v2=1 ;;
		-h | --help)
			sed -n '2,9p' "$0"
			return 0
			;;
		*)
			log "unknown argument: $arg"
			return 2
			;;
		esac
	done
	command -v go >/dev/null 2>&1 || { log "go is not on PATH"; return 1; }
	install_versitygw
	check_python_tools
	if [ "$bench" -eq 1 ]; then install_wrk; fi
	if [ "$awscli_v2" -eq 1 ]; then install_awscli_v2; fi
}

main "$@"
