#!/bin/sh
# Runs each test program given by name (from $BUILD/tests) and sums their closing lines into one
# "N passed, N failed" line. Exit status is non-zero if any program fails.
BUILD=${BUILD:-build}
pass=0; failn=0; skip=0; bad=0
for t in "$@"; do
    echo "== $t"
    out=$("$BUILD/tests/$t" 2>&1); rc=$?
    echo "$out"
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ -z "$line" ]; then
        echo "$t: no summary line (exit $rc)"; bad=$((bad + 1)); continue
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
    pass=$((pass + p)); failn=$((failn + f)); skip=$((skip + ${s:-0}))
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && bad=$((bad + 1))
done
failn=$((failn + bad))
echo "$pass passed, $failn failed, $skip skipped"
[ "$failn" -eq 0 ]
