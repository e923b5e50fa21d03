#!/bin/bash
# Submits a carecascade ensemble to AWS Batch: an array job of SHARDS child
# jobs (job definition carecascade-shard, job-definition.json), each running
# shard AWS_BATCH_JOB_ARRAY_INDEX + 1 of SHARDS (`--shard auto`), and the
# merge (carecascade-merge, merge-job-definition.json), which AWS Batch
# starts once every child has succeeded (--depends-on the array job). Both
# write to the EFS file system the job definitions mount at /results. See
# docs/scaling-out.md.
#
# Register the job definitions once (after setting the image and the EFS
# file system id in them):
#
#   aws batch register-job-definition --cli-input-json file://deploy/aws-batch/job-definition.json
#   aws batch register-job-definition --cli-input-json file://deploy/aws-batch/merge-job-definition.json
#
# then, for each ensemble:
#
#   QUEUE=my-queue SHARDS=50 RUNS=100000 deploy/aws-batch/submit.sh
#
# Parameters (environment variables):
#   QUEUE        the job queue (required)
#   SHARDS       child jobs (2 to 10,000; default 8)
#   RUNS         runs of the whole ensemble (default 10000)
#   BASE, ALTERNATIVE  scenario files inside the container (default: the
#                image's /scenarios/baseline.toml and
#                /scenarios/early_help_investment.toml)
#   PARTIALS, OUTPUT   folders on the volume (default /results/partials and
#                /results/merged)
#   NAME         a prefix for the job names (default carecascade)
#
# It prints the two job ids: "array JOBID merge JOBID".

set -euo pipefail

: "${QUEUE:?set QUEUE to the AWS Batch job queue}"
SHARDS=${SHARDS:-8}
RUNS=${RUNS:-10000}
BASE=${BASE:-/scenarios/baseline.toml}
ALTERNATIVE=${ALTERNATIVE:-/scenarios/early_help_investment.toml}
PARTIALS=${PARTIALS:-/results/partials}
OUTPUT=${OUTPUT:-/results/merged}
NAME=${NAME:-carecascade}

# AWS Batch array jobs have 2 to 10,000 children.
if ! [[ "$SHARDS" =~ ^[0-9]+$ ]] || ((SHARDS < 2 || SHARDS > 10000)); then
    echo "SHARDS must be 2 to 10000 (an AWS Batch array job), not '$SHARDS'" >&2
    exit 2
fi

array_job=$(aws batch submit-job \
    --job-name "$NAME-shards" \
    --job-queue "$QUEUE" \
    --job-definition carecascade-shard \
    --array-properties "size=$SHARDS" \
    --parameters "base=$BASE,alternative=$ALTERNATIVE,runs=$RUNS,shards=$SHARDS,partials=$PARTIALS" \
    --query jobId --output text)
merge_job=$(aws batch submit-job \
    --job-name "$NAME-merge" \
    --job-queue "$QUEUE" \
    --job-definition carecascade-merge \
    --depends-on "jobId=$array_job" \
    --parameters "partials=$PARTIALS,output=$OUTPUT" \
    --query jobId --output text)
echo "array $array_job merge $merge_job"
