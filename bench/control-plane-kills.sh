#!/usr/bin/env bash
# Control-plane crash rounds: the two tests that SIGKILL a node while a ledger is being created or deleted through the
# ARM-shaped API, with more rounds than CI runs (3 each). One is a single `vellum start` process killed right after the
# operation is accepted; the other a 3-process cluster whose primary is killed 0, 40 or 200 ms after it. After each
# kill the ledger must be wholly there or wholly gone on every member, and the operation's status must say which, on
# the survivors and on the killed member once restarted. Prints each round's outcome. Not part of CI.
#
#   bench/control-plane-kills.sh            # 20 rounds each, about 5-7 minutes on a 2-core machine
#   KILLS=50 bench/control-plane-kills.sh
set -euo pipefail

KILLS=${KILLS:-20}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 VELLUM_CONTROL_PLANE_KILLS=$KILLS

for project in test/Vellum.Cli.Tests test/Vellum.Cluster.Tests; do
  echo "building $project (Release)" >&2
  dotnet build "$project" -c Release -v quiet -nologo >&2
done

status=0
log=$(mktemp /tmp/vellum-control-plane-kills.XXXXXX)
dotnet test test/Vellum.Cli.Tests -c Release --no-build --filter "FullyQualifiedName~ControlPlaneCrashTests" \
  --logger "console;verbosity=detailed" > "$log" 2>&1 || status=1
dotnet test test/Vellum.Cluster.Tests -c Release --no-build --filter "FullyQualifiedName~Killing_the_primary_during_a_creation" \
  --logger "console;verbosity=detailed" >> "$log" 2>&1 || status=1
grep -E "round [0-9]+:|primary killed|Passed |Failed " "$log"
grep -E -A4 "Error Message" "$log" || true
echo "whole output: $log" >&2
exit $status
