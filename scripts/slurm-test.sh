#!/bin/bash
# Tests the shipped Slurm job files (deploy/slurm) on a real Slurm cluster of
# one node on this machine:
#
# 1. installs Debian's slurm-wlm and munge with apt-get if they are missing
#    (as root);
# 2. starts munged, slurmctld and slurmd on localhost, with their keys,
#    sockets, state, logs and ports in a temporary folder (no cgroups, no
#    accounting);
# 3. builds the release binary and submits deploy/slurm/submit.sh: the
#    baseline against the early help investment, RUNS runs in 4 shards as an
#    array job, and the merge after it (--dependency=afterok);
# 4. checks that the merged files are byte-identical (cmp) to one unsharded
#    run of the same command; then deletes a shard, checks that the merge
#    names it, reruns just that shard (RERUN=3) and checks again; then runs
#    an array numbered 0-6 in steps of 2 and checks again; then compares
#    for two local authorities (AREAS) in 3 shards and checks the merged
#    folder against the unsharded submission's;
# 5. stops the daemons it started (also on failure or interrupt).
#
# Usage: scripts/slurm-test.sh   (from anywhere; RUNS=200 by default)
# On failure it says what failed and shows the Slurm logs.

set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-200}
TIMEOUT=${TIMEOUT:-180} # seconds to wait for each submission
started=$(date +%s)

fail() {
    echo "slurm-test: FAILED: $*" >&2
    exit 1
}

# 1. Slurm and munge.
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        fail "Slurm or munge is not installed, and installing them (apt-get install slurm-wlm munge) needs root"
    fi
    echo "slurm-test: installing Debian's slurm-wlm and munge (apt-get) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
install_done=$(date +%s)

work=$(mktemp -d /tmp/carecascade-slurm.XXXXXX)
chmod 700 "$work"
pids=()
cluster_up=
jobs_submitted=()

show_logs() {
    for log in "$work"/*.log "$work"/*.stderr "$work"/logs/*; do
        [[ -f "$log" ]] || continue
        echo "----- $log (last 30 lines)" >&2
        tail -n 30 "$log" >&2
    done
}

cleanup() {
    status=$?
    if [[ -n "$cluster_up" && ${#jobs_submitted[@]} -gt 0 ]]; then
        scancel "${jobs_submitted[@]}" 2>/dev/null || true
    fi
    # Stop only the daemons this script started, by their process ids.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[$i]}" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    done
    if [[ $status -eq 0 ]]; then
        rm -rf "$work"
    else
        show_logs
        echo "slurm-test: files kept in $work" >&2
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port nothing listens on, from 16800 up.
free_port() {
    local port=$1
    while :; do
        local hex
        hex=$(printf ':%04X ' "$port")
        if ! grep -qi "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            echo "$port"
            return
        fi
        port=$((port + 1))
    done
}

# 2. munged with its own key and socket.
mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/logs"
chmod 700 "$work/munge"
dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --foreground --force \
    --key-file="$work/munge/munge.key" \
    --socket="$work/munge/munge.socket" \
    --pid-file="$work/munge/munged.pid" \
    --seed-file="$work/munge/munged.seed" \
    --log-file="$work/munged.log" >"$work/munged.stderr" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
    [[ -S "$work/munge/munge.socket" ]] && break
    sleep 0.1
done
[[ -S "$work/munge/munge.socket" ]] || fail "munged did not start"

host=$(hostname -s)
cpus=$(nproc)
ctld_port=$(free_port 16817)
slurmd_port=$(free_port $((ctld_port + 1)))
export SLURM_CONF="$work/slurm.conf"
cat >"$SLURM_CONF" <<CONF
# A one-node cluster on localhost for scripts/slurm-test.sh.
ClusterName=carecascade-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups and no accounting: nothing to set up beyond this file.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -D -i -f "$SLURM_CONF" >"$work/slurmctld.stderr" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$work/slurmd.stderr" 2>&1 &
pids+=($!)
cluster_up=1
for _ in $(seq 150); do
    state=$(sinfo -h -n "$host" -o '%T' 2>/dev/null || true)
    [[ "$state" == idle* || "$state" == mixed* ]] && break
    sleep 0.2
done
[[ "$state" == idle* || "$state" == mixed* ]] ||
    fail "the node did not come up (state '${state:-none}')"
echo "slurm-test: Slurm $(sinfo --version | awk '{print $2}') is up on $host ($cpus CPUs)"

# 3. The release binary, and the shipped job files.
echo "slurm-test: building the release binary ..."
cargo build --release --quiet --bin carecascade --manifest-path "$repo/Cargo.toml"
binary=$(cargo metadata --format-version 1 --no-deps --manifest-path "$repo/Cargo.toml" |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/release/carecascade
[[ -x "$binary" ]] || fail "no binary at $binary"
built=$(date +%s)

export CARECASCADE=$binary
export SCENARIOS="scenarios/baseline.toml scenarios/early_help_investment.toml"
export RUNS LOGS="$work/logs"
cd "$repo"

# Waits for a job to finish; fails unless it completed.
wait_for() {
    local job=$1 what=$2 deadline=$(($(date +%s) + TIMEOUT)) state=
    while (($(date +%s) < deadline)); do
        state=$(scontrol show job "$job" -o 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
        case "$state" in
        COMPLETED) return 0 ;;
        FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
            scontrol show job "$job" >&2 || true
            fail "$what (job $job) ended $state"
            ;;
        esac
        sleep 0.5
    done
    scontrol show job "$job" >&2 || true
    squeue >&2 || true
    fail "$what (job $job) did not finish within $TIMEOUT s (state '${state:-unknown}')"
}

# Submits deploy/slurm/submit.sh with the given variables and waits for its
# merge.
submit() {
    local what=$1 out array_job merge_job
    shift
    out=$(env "$@" deploy/slurm/submit.sh) || fail "$what: submit.sh failed"
    read -r _ array_job _ merge_job <<<"$out"
    [[ -n "$array_job" && -n "$merge_job" ]] || fail "$what: submit.sh printed '$out'"
    jobs_submitted+=("$array_job" "$merge_job")
    echo "slurm-test: $what: array job $array_job, merge job $merge_job"
    wait_for "$merge_job" "$what: the merge"
}

same_files() {
    local what=$1 merged=$2
    for f in summary.json quantiles.csv runs.csv; do
        cmp "$work/whole/$f" "$merged/$f" || fail "$what: $f differs from the unsharded run"
    done
    echo "slurm-test: $what: summary.json, quantiles.csv and runs.csv are byte-identical to the unsharded run"
}

# 4. The same comparison on one machine, unsharded.
"$binary" compare $SCENARIOS --runs "$RUNS" --output "$work/whole" >/dev/null 2>"$work/whole.err" ||
    fail "the unsharded run failed: $(cat "$work/whole.err")"

submit "4 shards" SHARDS=4 PARTIALS="$work/partials" OUTPUT="$work/merged"
[[ $(ls "$work/partials" | wc -l) -eq 4 ]] || fail "expected 4 partial results in $work/partials"
same_files "4 shards" "$work/merged"

# A lost shard is named, and rerunning just it completes the results.
rm "$work/partials/partial-3-of-4.json"
if "$binary" merge "$work/partials" --output "$work/merged" 2>"$work/missing.err"; then
    fail "merge accepted a missing shard"
fi
grep -q "missing: 3/4" "$work/missing.err" || fail "merge did not name the missing shard: $(cat "$work/missing.err")"
submit "rerun of shard 3" SHARDS=4 RERUN=3 PARTIALS="$work/partials" OUTPUT="$work/merged"
same_files "rerun of shard 3" "$work/merged"

# An array numbered from 0 in steps of 2: tasks 0, 2, 4, 6 are shards 1-4.
submit "array 0-6:2" ARRAY=0-6:2 PARTIALS="$work/stepped" OUTPUT="$work/merged-stepped"
same_files "array 0-6:2" "$work/merged-stepped"

# Two local authorities in one submission of 3 shards (each model is made by
# the tasks that hold it; Hackney did not publish three of its 2021 start
# figures, which are filled in and listed): the merged folder equals the
# unsharded submission's.
areas="E06000007 E09000012"
"$binary" compare $SCENARIOS --runs "$RUNS" --area E06000007 --area E09000012 \
    --output "$work/whole-areas" >/dev/null 2>"$work/whole-areas.err" ||
    fail "the unsharded submission failed: $(cat "$work/whole-areas.err")"
submit "2 authorities in 3 shards" SHARDS=3 AREAS="$areas" PARTIALS="$work/areas" OUTPUT="$work/merged-areas"
diff -r "$work/whole-areas" "$work/merged-areas" >&2 ||
    fail "2 authorities in 3 shards: the merged folder differs from the unsharded submission's"
grep -q '^E09000012,.*cin_at_31_march [0-9.]* (linear 2020-2023).*,done,' "$work/merged-areas/index.csv" ||
    fail "2 authorities in 3 shards: index.csv does not list Hackney as done with its filled start figures"
echo "slurm-test: 2 authorities in 3 shards: every file is byte-identical to the unsharded submission's"

finished=$(date +%s)
echo "slurm-test: passed in $((finished - started)) s (installing $((install_done - started)) s, building $((built - install_done)) s, Slurm $((finished - built)) s)"
