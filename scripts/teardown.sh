#!/usr/bin/env bash
# Remove every AWS resource provision.sh made (names from config.py): the bucket's notification,
# the function (with S3's permission to invoke it) and its log group, the role and its inline
# policy, and the data: the bucket with every image, the table and the collection.
# Resources already gone are reported as "absent"; running it twice is harmless.
#
# Usage: scripts/teardown.sh [--keep-data] [--yes]
#   --keep-data  keep the bucket and its images, the table and the collection (the enrolled
#                faces): only the indexing pipeline goes; provision.sh brings it back
#   --yes        do not ask before deleting data (it asks only when run from a terminal)
# shellcheck source=scripts/aws_common.sh
source "$(dirname "$0")/aws_common.sh"

keep_data=""
yes=""
for arg in "$@"; do
  case "$arg" in
    --keep-data) keep_data=1 ;;
    --yes | -y) yes=1 ;;
      *) die "unexpected argument: $arg (usage: scripts/teardown.sh [--keep-data] [--yes])" ;;
  esac
done

if [ -z "$keep_data" ] && [ -z "$yes" ] && [ -t 0 ]; then
  read -r -p "Delete bucket $S3_BUCKET_NAME with all its images, table $DYNAMODB_TABLE_NAME and collection \
$REKOGNITION_COLLECTION_NAME in $AWS_REGION? [y/N] " answer
  case "$answer" in
    y | Y | yes) ;;
    *) die "nothing deleted (--keep-data removes only the pipeline)" ;;
  esac
fi
echo "tearing down facerec in region $AWS_REGION$([ -n "$keep_data" ] && echo ', keeping the data')"

# delete_resource WHAT CODES ARGS...: delete WHAT with `aws ARGS`, and say whether it was there (see aws_try).
delete_resource() {
  local what=$1 codes=$2
  shift 2
  if aws_try "$codes" "$@"; then
    say "$what" deleted
  else
    say "$what" absent
  fi
}

# The pipeline, in this order: the notification first (kept buckets only: a deleted bucket takes
# its notification along), so that no upload triggers a function that is going away; then the
# function, whose deletion deletes its resource policy, S3's permission with it; then the role.
pipeline() {
  if [ -n "$keep_data" ]; then
    if aws_try '404|NoSuchBucket' s3api head-bucket --bucket "$S3_BUCKET_NAME"; then
      aws s3api put-bucket-notification-configuration --bucket "$S3_BUCKET_NAME" --notification-configuration '{}'
      say "notification $S3_BUCKET_NAME -> $LAMBDA_NAME" deleted
    else
      say "notification $S3_BUCKET_NAME -> $LAMBDA_NAME" absent
    fi
  fi
  delete_resource "function $LAMBDA_NAME (and permission $STATEMENT_ID)" ResourceNotFoundException \
    lambda delete-function --function-name "$LAMBDA_NAME"
  delete_resource "role policy $IAM_ROLE_NAME/$POLICY_NAME" NoSuchEntity \
    iam delete-role-policy --role-name "$IAM_ROLE_NAME" --policy-name "$POLICY_NAME"
  delete_resource "role $IAM_ROLE_NAME" NoSuchEntity iam delete-role --role-name "$IAM_ROLE_NAME"
}

# Made by the function itself on its first run, not by provision.sh; it is the function's.
log_group() {
  delete_resource "log group $LOG_GROUP" ResourceNotFoundException \
    logs delete-log-group --log-group-name "$LOG_GROUP"
}

bucket() {
  if aws_try '404|NoSuchBucket' s3api head-bucket --bucket "$S3_BUCKET_NAME"; then
    # A bucket must be empty to be deleted. provision.sh does not turn versioning on; if someone
    # did, delete-bucket fails on the old versions and says so.
    aws s3 rm "s3://$S3_BUCKET_NAME" --recursive --quiet
    aws s3api delete-bucket --bucket "$S3_BUCKET_NAME"
    aws s3api wait bucket-not-exists --bucket "$S3_BUCKET_NAME"
    say "bucket $S3_BUCKET_NAME (and its images)" deleted
  else
    say "bucket $S3_BUCKET_NAME" absent
  fi
}

table() {
  if aws_try ResourceNotFoundException dynamodb delete-table --table-name "$DYNAMODB_TABLE_NAME"; then
    aws dynamodb wait table-not-exists --table-name "$DYNAMODB_TABLE_NAME"
    say "table $DYNAMODB_TABLE_NAME" deleted
  else
    say "table $DYNAMODB_TABLE_NAME" absent
  fi
}

collection() {
  delete_resource "collection $REKOGNITION_COLLECTION_NAME" ResourceNotFoundException \
    rekognition delete-collection --collection-id "$REKOGNITION_COLLECTION_NAME"
}

if [ -n "$keep_data" ]; then
  run_parallel pipeline log_group
  say "bucket $S3_BUCKET_NAME" kept
  say "table $DYNAMODB_TABLE_NAME" kept
  say "collection $REKOGNITION_COLLECTION_NAME" kept
else
  run_parallel pipeline log_group bucket table collection
fi
