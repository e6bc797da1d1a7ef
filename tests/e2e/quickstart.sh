#!/usr/bin/env bash
# The README's quickstart, for real, on a fresh clone of the committed tree, on Pulumi's own
# engine, with no `pulumi` on PATH and nothing in fleet's install root (a HOME of its own):
#   npm run quickstart          → no CLI found, the download fails (no internet here), so fleet
#                                 builds Pulumi from engine/go.mod (Go's caches make that quick
#                                 after CI's `npm run engine`), then two local worker processes,
#                                 visible in ps, heartbeats in logs
#   fleet list --json           → both, with their pids
#   fleet delete <one>          → that process stops, the other runs on
#   fleet delete-all --yes      → all stop; the checkpoint holds no workers
#   eval "$(fleet env)"; plain pulumi stack select / config set / preview / up / refresh /
#   stack / stack history / destroy, as the README tells people to type them
# Run by .ci/run. Exits non-zero, naming the step, on the first thing that is not as promised.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
pids_to_reap=()
cleanup() {
  for p in "${pids_to_reap[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "quickstart: FAILED: $*" >&2
  exit 1
}
step() { printf '\n-- quickstart: %s\n' "$*"; }

step "fresh clone of $(git -C "$repo" rev-parse --short HEAD)"
git clone -q "$repo" "$work/fleet"
cd "$work/fleet"
# The locked dependencies CI already installed with `npm ci`; the clone builds its own dist/.
ln -s "$repo/node_modules" node_modules
npm run --silent build >/dev/null
# No `pulumi` anywhere on PATH, and a HOME of its own: fleet's install root
# (~/.fleet/pulumi/<version>) is empty, so the quickstart has to build the engine. Go keeps its
# caches where they were (they are not fleet's install), so the build reuses what CI built.
export GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)" GOPATH="$(go env GOPATH)"
PATH="$(tr ':' '\n' <<<"$PATH" | while read -r d; do [[ -n "$d" && ! -x "$d/pulumi" ]] && printf '%s:' "$d"; done)"
export PATH="${PATH%:}"
command -v pulumi >/dev/null && fail "a pulumi is still on PATH: $(command -v pulumi)"
export HOME="$work/home"
mkdir -p "$HOME"
unset PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE PULUMI_CONFIG_PASSPHRASE_FILE PULUMI_HOME
fleet() { node_modules/.bin/node dist/cli/fleet.js "$@"; }
json() { node_modules/.bin/node -e "$1" "${@:2}"; }
alive() { kill -0 "$1" 2>/dev/null; }
wait_gone() {
  for _ in $(seq 1 100); do alive "$1" || return 0; sleep 0.1; done
  return 1
}
workers_in_checkpoint() {
  json 'const fs=require("fs");const f=process.argv[1];if(!fs.existsSync(f)){console.log(0);process.exit(0)}
        const c=JSON.parse(fs.readFileSync(f,"utf8"));
        console.log((c.checkpoint.latest?.resources??[]).filter(r=>r.type==="pulumi-nodejs:dynamic:Resource").length)' \
    ".fleet/state/.pulumi/stacks/fleet/dev.json"
}

step "npm run quickstart (no CLI anywhere: fleet builds the engine)"
npm run --silent quickstart 2>"$work/quickstart.err" || { cat "$work/quickstart.err" >&2; fail "npm run quickstart"; }
cat "$work/quickstart.err" >&2
grep -q "building Pulumi v" "$work/quickstart.err" || fail "the quickstart did not say it builds the engine"
grep -q "Built the Pulumi CLI v" "$work/quickstart.err" || fail "the quickstart did not say how long the build took"
installed="$HOME/.fleet/pulumi/$(json 'console.log(require("@pulumi/pulumi/package.json").version)')/bin"
for b in pulumi pulumi-language-nodejs pulumi-resource-pulumi-nodejs; do
  [[ -x "$installed/$b" ]] || fail "$installed/$b was not built"
done
go version -m "$installed/pulumi" | grep -q "mod	github.com/pulumi/pulumi/pkg/v3	v" || fail "the built engine does not carry its module version"
list="$(fleet list --json)"
mapfile -t names < <(json 'for (const w of JSON.parse(process.argv[1])) console.log(w.name)' "$list")
mapfile -t pids < <(json 'for (const w of JSON.parse(process.argv[1])) console.log(w.id.split(":")[0])' "$list")
[[ ${#names[@]} -eq 2 ]] || fail "fleet list --json shows ${#names[@]} workers, expected 2: $list"
pids_to_reap+=("${pids[@]}")
for i in 0 1; do
  alive "${pids[$i]}" || fail "worker ${names[$i]} (pid ${pids[$i]}) is not running"
  ps -p "${pids[$i]}" -o pid=,args= | grep -q local-worker || fail "pid ${pids[$i]} is not a local worker"
  log=".fleet/local/dev/${names[$i]}.log"
  for _ in $(seq 1 50); do grep -q heartbeat "$log" 2>/dev/null && break; sleep 0.1; done
  grep -q heartbeat "$log" || fail "no heartbeat in $log"
done
echo "workers ${names[*]} running as pids ${pids[*]}, heartbeats in .fleet/local/dev/"

step "fleet delete ${names[0]}"
fleet delete "${names[0]}"
wait_gone "${pids[0]}" || fail "${names[0]} (pid ${pids[0]}) still running after delete"
alive "${pids[1]}" || fail "${names[1]} stopped, but only ${names[0]} was deleted"
left="$(json 'console.log(JSON.parse(process.argv[1]).map(w=>w.name).join(" "))' "$(fleet list --json)")"
[[ "$left" == "${names[1]}" ]] || fail "after delete, fleet list shows '$left'"

step "fleet delete-all --yes"
fleet delete-all --yes
wait_gone "${pids[1]}" || fail "${names[1]} (pid ${pids[1]}) still running after delete-all"
[[ "$(fleet list --json | tr -d '[:space:]')" == "[]" ]] || fail "fleet list is not empty after delete-all"
[[ "$(workers_in_checkpoint)" == "0" ]] || fail "the checkpoint still holds workers after delete-all"

step 'plain pulumi after eval "$(fleet env)": stack select, config set, preview, up, refresh, stack, stack history, destroy'
eval "$(fleet env)"
[[ -n "${PULUMI_BACKEND_URL:-}" && -n "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]] || fail "fleet env set nothing"
[[ "$(command -v pulumi)" == "$installed/pulumi" ]] || fail "after fleet env, pulumi is $(command -v pulumi), not the one fleet built"
pulumi stack select dev
pulumi config set fleet:workers '["by-hand"]'
preview_out="$(pulumi preview --non-interactive)"
echo "$preview_out"
grep -q "local-by-hand" <<<"$preview_out" || fail "pulumi preview does not show the worker it would create"
pulumi up --yes --non-interactive
pid="$(pulumi stack output workers --json | json 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].id.split(":")[0]))')"
pids_to_reap+=("$pid")
alive "$pid" || fail "pulumi up started no worker"
[[ "$(workers_in_checkpoint)" == "1" ]] || fail "the checkpoint does not hold the worker pulumi up made"
pulumi refresh --yes --non-interactive
[[ "$(workers_in_checkpoint)" == "1" ]] || fail "pulumi refresh lost the running worker"
# (captured first: `grep -q` closing the pipe early would fail the pipeline under pipefail)
stack_out="$(pulumi stack --non-interactive)"
grep -q "local-by-hand" <<<"$stack_out" || fail "pulumi stack does not list the worker: $stack_out"
history_out="$(pulumi stack history --non-interactive)"
[[ "$(grep -c "^UpdateKind: " <<<"$history_out")" -ge 5 ]] || fail "pulumi stack history lacks the updates: $history_out"
grep -q "^UpdateKind: refresh" <<<"$history_out" || fail "pulumi stack history shows no refresh: $history_out"
pulumi destroy --yes --non-interactive
wait_gone "$pid" || fail "pulumi destroy left pid $pid running"
[[ "$(workers_in_checkpoint)" == "0" ]] || fail "the checkpoint still holds workers after pulumi destroy"

echo
echo "quickstart: passed (engine built, create 2, list, delete 1, delete-all, plain pulumi select/config/preview/up/refresh/stack/history/destroy)"
