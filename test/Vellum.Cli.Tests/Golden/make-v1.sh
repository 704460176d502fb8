#!/usr/bin/env bash
# Makes the golden v1 data folders (see README.md): make-v1.sh OUT. Needs curl and openssl.
set -euo pipefail
# VELLUM: the vellum command of the build to capture, e.g. "dotnet src/Vellum.Cli/bin/Release/net10.0/vellum.dll" at 987512c.
V=${VELLUM:?set VELLUM to the vellum command of the build to capture}
OUT=${1:-/tmp/goldens}
rm -rf "$OUT"; mkdir -p "$OUT"
wait_up() { for _ in $(seq 1 300); do [ -f "$1/credentials/admin_privk.pem" ] && curl -sk --max-time 2 -o /dev/null "https://127.0.0.1:$2/node/version" && return 0; sleep 0.1; done; echo "node $1 not up" >&2; return 1; }
api="api-version=2022-05-13"
# write N entries into collection C with tag T (through node on port P, creds dir D)
write() {
  local d=$1 p=$2 c=$3 t=$4 n=$5
  for i in $(seq 1 "$n"); do
    curl -sk --fail --cert "$d/credentials/admin_cert.pem" --key "$d/credentials/admin_privk.pem" \
      -H 'content-type: application/json' -d "{\"contents\":\"golden $c entry $i\"}" \
      "https://127.0.0.1:$p/app/transactions?$api&collectionId=$c&tags=$t" -o /dev/null -D - | grep -i '^x-ms-ccf-transaction-id' | tr -d '\r' | awk '{print $2}'
  done
}
populate() {
  local d=$1 p=$2 name=$3
  local ids; ids=$(write "$d" "$p" alpha red 20; write "$d" "$p" beta blue 15; write "$d" "$p" subject-1 red 5)
  # a second user: a Reader certificate
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$OUT/$name.reader_privk.pem" -out "$OUT/$name.reader_cert.pem" -days 3650 -subj "/CN=golden reader" 2>/dev/null
  fp=$(openssl x509 -in "$OUT/$name.reader_cert.pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d ':' | tr 'A-F' 'a-f')
  curl -sk --fail --cert "$d/credentials/admin_cert.pem" --key "$d/credentials/admin_privk.pem" -X PATCH -H 'content-type: application/merge-patch+json' \
    -d '{"assignedRoles":["Reader"]}' "https://127.0.0.1:$p/app/ledgerUsers/$fp?api-version=2024-08-22-preview" -o /dev/null
  write "$d" "$p" alpha green 5 > /dev/null
  sleep 0.5
  mkdir -p "$OUT/$name.receipts"
  for id in $(echo "$ids" | sed -n '1p;7p;21p;36p;40p'); do
    curl -sk --fail --cert "$d/credentials/admin_cert.pem" --key "$d/credentials/admin_privk.pem" \
      "https://127.0.0.1:$p/app/transactions/$id/receipt?$api" -o "$OUT/$name.receipts/$id.json"
    curl -sk --fail --cert "$d/credentials/admin_cert.pem" --key "$d/credentials/admin_privk.pem" \
      "https://127.0.0.1:$p/app/transactions/$id?$api&collectionId=$(case $id in *) echo x;; esac)" -o /dev/null || true
  done
  echo "$ids" > "$OUT/$name.txids"
}
# Public and Private single nodes
for type in Public Private; do
  name=$(echo $type | tr 'A-Z' 'a-z'); d=$OUT/$name; p=$((19100 + ${#type}))
  $V start --data "$d" --listen 127.0.0.1:$p --ledger-type $type > "$OUT/$name.log" 2>&1 &
  pid=$!; wait_up "$d" $p; populate "$d" $p $name; kill -TERM $pid; wait $pid || true
done
# cluster: two members
a=$OUT/cluster-member; b=$OUT/cluster-member-b
$V start --data "$a" --listen 127.0.0.1:19201 --node-listen 127.0.0.1:19211 --peer 127.0.0.1:19212=https://127.0.0.1:19202 > "$OUT/cluster-a.log" 2>&1 &
pa=$!
for _ in $(seq 1 100); do [ -f "$a/credentials/service_cert.pem" ] && break; sleep 0.1; done
$V start --data "$b" --listen 127.0.0.1:19202 --node-listen 127.0.0.1:19212 --peer 127.0.0.1:19211=https://127.0.0.1:19201 --identity-from "$a" > "$OUT/cluster-b.log" 2>&1 &
pb=$!
wait_up "$a" 19201
for _ in $(seq 1 200); do curl -sk --max-time 2 "https://127.0.0.1:19201/node/network" | grep -q '"primary"\|isPrimary\|"Primary"' && break; sleep 0.2; done
curl -sk "https://127.0.0.1:19201/node/network"; echo
populate "$a" 19201 cluster-member
kill -TERM $pa $pb; wait $pa $pb || true
ls -R "$OUT" | head -80; du -sh "$OUT"/*
