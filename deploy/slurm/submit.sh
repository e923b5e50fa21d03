#!/bin/bash
# Submits a carecascade ensemble to Slurm: an array job of SHARDS tasks
# (deploy/slurm/ensemble.sbatch), then the merge (deploy/slurm/merge.sbatch)
# to run once every task has succeeded (--dependency=afterok). Run it from
# the folder the scenario paths are relative to. See docs/scaling-out.md.
#
#   SCENARIOS="scenarios/baseline.toml scenarios/early_help_investment.toml" \
#   RUNS=100000 SHARDS=50 deploy/slurm/submit.sh
#
# Parameters (environment variables), besides those of ensemble.sbatch
# (CARECASCADE, COMMAND, SCENARIOS, RUNS, SEED, AREAS, PARTIALS) and
# merge.sbatch (OUTPUT):
#   SHARDS  the number of array tasks, numbered 1-SHARDS (default 8)
#   ARRAY   the array instead, e.g. 0-14:2 (default 1-SHARDS)
#   RERUN   rerun these shards of an earlier SHARDS-task array, e.g. 3,7,
#           then merge everything again
#   LOGS    the folder for the jobs' logs (default: logs)
# Slurm's own SBATCH_* variables (SBATCH_PARTITION, SBATCH_ACCOUNT,
# SBATCH_TIMELIMIT, ...) apply to both jobs.
#
# It prints the two job ids: "array JOBID merge JOBID".

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SHARDS=${SHARDS:-8}
LOGS=${LOGS:-logs}
export CARECASCADE=${CARECASCADE:-carecascade}
export COMMAND=${COMMAND:-compare}
export SCENARIOS=${SCENARIOS:-scenarios/baseline.toml scenarios/early_help_investment.toml}
export PARTIALS=${PARTIALS:-results-partials}
export OUTPUT=${OUTPUT:-results}
export RUNS=${RUNS:-} SEED=${SEED:-} AREAS=${AREAS:-}

if ! [[ "$SHARDS" =~ ^[1-9][0-9]*$ ]]; then
    echo "SHARDS must be a whole number of at least 1, not '$SHARDS'" >&2
    exit 2
fi
if [[ -n "${RERUN:-}" ]]; then
    # Task id I is shard I/SHARDS (the first array was numbered 1-SHARDS).
    array=$RERUN
    export RERUN_OF=$SHARDS
else
    array=${ARRAY:-1-$SHARDS}
    unset RERUN_OF
fi
mkdir -p "$LOGS" "$PARTIALS"

# --parsable prints "JOBID" or "JOBID;CLUSTER".
array_job=$(sbatch --parsable --array="$array" \
    --output="$LOGS/carecascade-%A_%a.out" "$here/ensemble.sbatch")
array_job=${array_job%%;*}
merge_job=$(sbatch --parsable --dependency="afterok:$array_job" --kill-on-invalid-dep=yes \
    --output="$LOGS/carecascade-merge-%j.out" "$here/merge.sbatch")
merge_job=${merge_job%%;*}
echo "array $array_job merge $merge_job"
