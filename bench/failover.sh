#!/usr/bin/env bash
# Failover distribution: a 3-node cluster of real `vellum start` processes under load (eight waitForCommit writers
# spread over every node), its primary SIGKILLed KILLS times (default 20) and restarted each time. For every kill it
# records, from the kill: the first surviving member to call itself primary, the moment it is ready, and the first
# write through a surviving member that commits (waitForCommit answered 200). After each restart it checks that the
# returning member causes no election. It then rewrites the failover section of docs/benchmarks.md (between
# <!-- failover:begin --> and <!-- failover:end -->). Not part of the tests or CI (which kill 5 times).
#
#   bench/failover.sh                 # 20 kills, about 6-8 minutes on a 2-core machine
#   KILLS=40 bench/failover.sh
#
# It is the cluster test FailoverTests with more kills: the same harness, the same assertions (a kill that takes
# more than 10 s, or an election on rejoin, fails the run). Settings (environment): KILLS (default 20), OUT (folder
# for the per-kill CSV and the members' logs; default a new folder under /tmp), DOCS (default 1: rewrite the section).
set -euo pipefail

KILLS=${KILLS:-20}
DOCS=${DOCS:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-$(mktemp -d /tmp/vellum-failover.XXXXXX)}
mkdir -p "$OUT"
REPORT=$OUT/kills.csv
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

echo "building (Release)" >&2
dotnet build test/Vellum.Cluster.Tests -c Release -v quiet -nologo >&2
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
load_before=$(cut -d' ' -f1 /proc/loadavg)
echo "running $KILLS kills (logs and CSV in $OUT)" >&2
status=0
VELLUM_FAILOVER_KILLS=$KILLS VELLUM_FAILOVER_REPORT=$REPORT VELLUM_FAILOVER_LOGS=$OUT/logs \
  dotnet test test/Vellum.Cluster.Tests -c Release --no-build \
  --filter "FullyQualifiedName~FailoverTests" --logger "console;verbosity=detailed" > "$OUT/test.log" 2>&1 || status=$?
load_after=$(cut -d' ' -f1 /proc/loadavg)
if [ ! -s "$REPORT" ]; then
  echo "the run wrote no measurements (exit $status); see $OUT/test.log" >&2
  grep -A5 "Error Message" "$OUT/test.log" >&2 || true
  exit 1
fi

# One line per kill: killed node, elected, ready, committed (s), attempts.
table=$(python3 - "$REPORT" "$KILLS" "$started" "$commit" "$load_before" "$load_after" "$status" <<'PY'
import sys, math
path, kills, started, commit, load_before, load_after, status = sys.argv[1:]
rows = [line.strip().split(',') for line in open(path) if line.strip()]
def col(i):
    return sorted(float(r[i]) for r in rows if r[i] != '-')
def pct(values, p):
    # nearest rank
    if not values:
        return float('nan')
    k = max(0, math.ceil(p / 100 * len(values)) - 1)
    return values[k]
out = []
out.append(f"Run of {started} on `{commit}`: {len(rows)} kills of the primary (asked for {kills}); load average "
           f"{load_before} before, {load_after} after; the test {'passed' if status == '0' else 'FAILED (exit ' + status + ')'}.")
out.append("")
out.append("| from the SIGKILL to … (s) | min | p50 | p95 | max |")
out.append("|---|---|---|---|---|")
for name, i in (("a surviving member calls itself primary", 1), ("that primary is ready", 2), ("a write through a surviving member commits", 3)):
    v = col(i)
    out.append(f"| {name} | {v[0]:.2f} | {pct(v, 50):.2f} | {pct(v, 95):.2f} | {v[-1]:.2f} |")
c = col(3)
out.append("")
out.append(f"Goal p95 ≤ 3 s and max ≤ 5 s for the committed write: p95 {pct(c, 95):.2f} s, max {c[-1]:.2f} s "
           f"({'met' if pct(c, 95) <= 3 and c[-1] <= 5 else 'NOT met'}).")
out.append("")
out.append("Every kill, in order (s to the committed write): " + ", ".join(r[3][:5] for r in rows) + ".")
print("\n".join(out))
PY
)
echo "$table"
if [ "$DOCS" = 1 ]; then
  python3 - docs/benchmarks.md "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- failover:begin -->", "<!-- failover:end -->"
if begin not in text:
    raise SystemExit(f"{path} has no {begin} marker")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w").write(head + begin + "\n" + table + "\n" + end + tail)
PY
  echo "rewrote the failover section of docs/benchmarks.md" >&2
fi
exit "$status"
