#!/usr/bin/env bash
# The reconcile job over a generated demo on MariaDB: peak RSS and wall time, recorded in
# bench/RESULTS-reconcile.md. Usage: bash bench/reconcile.sh [SKUS] (default 100000).
# Needs MariaDB at 127.0.0.1:3306 (root, no password); drops its databases afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
SKUS="${1:-100000}"
PREFIX="ig_bench"
DIR="$(mktemp -d /tmp/ig-bench-reconcile-XXXXXX)"
cleanup() {
  for s in erp wms shop tpl; do mariadb -uroot -h127.0.0.1 -e "drop database if exists \`${PREFIX}_${s}\`" || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT

npx tsx src/cli/demo-data.ts --skus "$SKUS" --mysql mysql://root@127.0.0.1:3306/test --prefix "$PREFIX" --dir "$DIR" 2>/dev/null
node bin/inventory-graph.mjs skus import "$DIR/sku-map.csv" --config "$DIR/inventory-graph.yaml"
# twice: as shipped, then with V8's old space capped at 96 MB (it must still finish: memory is bounded)
for heap in "" "--max-old-space-size=96"; do
  echo "== node ${heap:-(default heap)}"
  NODE_OPTIONS="$heap" /usr/bin/time -v node bin/inventory-graph.mjs reconcile --config "$DIR/inventory-graph.yaml" --out "$DIR/out" 2> "$DIR/time.txt"
  grep -E 'Maximum resident set size|Elapsed \(wall clock\)|Exit status' "$DIR/time.txt"
  node -e 'const s=require(process.argv[1]); console.log(JSON.stringify({seconds:s.seconds,skus:s.skus,lines:s.lines,byStatus:s.byStatus,orphans:s.orphans.count,gaps:s.gaps.count,statements:s.statements}))' "$DIR/out/summary.json"
done
ls -l "$DIR/out" "$DIR/3pl"
