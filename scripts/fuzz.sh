#!/usr/bin/env bash
# Runs every fuzz target (func Fuzz... in a _test.go file) for FUZZTIME.
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# at the end of a duration-bounded run, with no failing input, when its
# workers are starved of CPU (golang/go#75804, fixed in Go 1.27). A run that
# fails with exactly that signature and wrote no failing input is run once
# more; any other failure, or the same one twice, fails the suite.
set -euo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-3s}
for t in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$t"/*_test.go | sed 's/func //'); do
    for try in 1 2; do
      echo "fuzz $t $f"
      out=$(mktemp)
      if "$GO" test -run='^$' -fuzz="^$f\$" -fuzztime="$FUZZTIME" "$t" 2>&1 | tee "$out"; then
        rm -f "$out"
        break
      fi
      if [ "$try" = 1 ] && grep -q '^    context deadline exceeded$' "$out" && ! grep -q 'Failing input written' "$out"; then
        echo "fuzz $t $f: the Go fuzz coordinator's deadline race (golang/go#75804), no failing input: running it once more"
        rm -f "$out"
        continue
      fi
      rm -f "$out"
      exit 1
    done
  done
done
