#!/usr/bin/env bash
# Runs every Fuzz* target in the module for a short time each (default 10s),
# one target per `go test -fuzz` run as go test requires. Finds targets by
# grepping the test files so new ones are picked up without editing this.
#
#   scripts/fuzz.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}

found=0
while IFS= read -r file; do
	pkg="./$(dirname "$file")"
	while IFS= read -r name; do
		found=$((found + 1))
		echo "fuzz: $pkg $name for $fuzztime"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
	done < <(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file")
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sed 's|^\./||' | sort)

if [ "$found" -eq 0 ]; then
	echo "fuzz: no Fuzz targets in the module yet"
fi
