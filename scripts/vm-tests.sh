#!/bin/bash
# The guest tests of `make test`: every test on the default guest and, meanwhile, the
# smoke subset (pytest -m smoke) on each guest of SMOKE_GUESTS, one after the other,
# then the short soak (soak/soak.py at a tenth of the cycles) on the default guest.
# Under software emulation each VM runs on one host core (single-threaded TCG), so on a
# 2-core machine the two lines of runs take the time of the longer one.  The driver is
# built per guest kernel (.lab/kbuild/<release>/), so the runs share the checkout.
#
# Usage: scripts/vm-tests.sh LAB TIMEOUT "SMOKE GUESTS" PYTEST...
set -u
lab=$1 timeout=$2 smoke_guests=$3
shift 3
mkdir -p .lab
start=$(date +%s)

(
	for g in $smoke_guests; do
		t=$(date +%s)
		"$lab" run --guest "$g" --timeout "$timeout" -- "$@" -m smoke tests/vm >".lab/smoke-$g.log" 2>&1
		echo "$? $(( $(date +%s) - t ))" >".lab/smoke-$g.rc"
	done
	t=$(date +%s)
	"$lab" run --timeout "$timeout" -- env SOAK_SCALE=0.1 python3 soak/soak.py >.lab/soak-short.log 2>&1
	echo "$? $(( $(date +%s) - t ))" >.lab/soak-short.rc
) &
smoke=$!

"$lab" run --timeout "$timeout" -- "$@" tests/vm
full=$?
echo "== vm: all guest tests on ${VNET_LAB_GUEST:-the default guest}: exit $full after $(( $(date +%s) - start )) s"
wait "$smoke"

status=$full
for g in $smoke_guests; do
	read -r rc secs <".lab/smoke-$g.rc" 2>/dev/null || { rc=1; secs=?; }
	echo "== vm-smoke: smoke tests on $g: exit $rc in $secs s"
	cat ".lab/smoke-$g.log"
	[ "$rc" = 0 ] || status=1
done
read -r rc secs <.lab/soak-short.rc 2>/dev/null || { rc=1; secs=?; }
echo "== soak-short: every soak part at a tenth of its cycles: exit $rc in $secs s"
cat .lab/soak-short.log
[ "$rc" = 0 ] || status=1
echo "== vm: guest tests done in $(( $(date +%s) - start )) s"
exit "$status"
