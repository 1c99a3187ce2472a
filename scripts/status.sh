#!/usr/bin/env bash
# Say, for each AWS resource provision.sh makes (names from config.py), whether it is present or
# missing. Exit 0 when everything is present, 1 when anything is missing or a check failed.
#
# Usage: scripts/status.sh
# shellcheck source=scripts/aws_common.sh
source "$(dirname "$0")/aws_common.sh"

case "${1:-}" in
  "") ;;
  *) die "unexpected argument: $1 (usage: scripts/status.sh)" ;;
esac

# Each check succeeds if its resource is there; an error other than "not found" stops it (aws_try).
check_collection() {
  aws_try ResourceNotFoundException rekognition describe-collection --collection-id "$REKOGNITION_COLLECTION_NAME"
}
check_bucket() {
  aws_try '404|NoSuchBucket' s3api head-bucket --bucket "$S3_BUCKET_NAME"
}
check_table() {
  aws_try ResourceNotFoundException dynamodb describe-table --table-name "$DYNAMODB_TABLE_NAME"
}
check_role() {
  aws_try NoSuchEntity iam get-role --role-name "$IAM_ROLE_NAME"
}
check_role_policy() {
  aws_try NoSuchEntity iam get-role-policy --role-name "$IAM_ROLE_NAME" --policy-name "$POLICY_NAME"
}
check_function() {
  aws_try ResourceNotFoundException lambda get-function-configuration --function-name "$LAMBDA_NAME"
}
# Present: a statement with our id (provision.sh makes it for this bucket and account only).
check_permission() {
  aws_try ResourceNotFoundException lambda get-policy --function-name "$LAMBDA_NAME" &&
    [ "$("${HELPER[@]}" permission "$STATEMENT_ID" "$BUCKET_ARN" - <"$WORK/out")" != missing ]
}
check_notification() {
  aws_try '404|NoSuchBucket' s3api get-bucket-notification-configuration --bucket "$S3_BUCKET_NAME" \
    --output text --query "length(LambdaFunctionConfigurations[?ends_with(LambdaFunctionArn, ':function:$LAMBDA_NAME')] || \`[]\`)" &&
    [ "$(tr -d '[:space:]' <"$WORK/out")" != 0 ]
}

# Each check says whether its resource is present; missing ones are also counted in a file,
# as the checks run in subshells (run_parallel) that cannot set this shell's variables.
MISSING="$WORK/missing"
: >"$MISSING"
report() {
  local name=$1
  shift
  if "$@"; then
    say "$name" present
  else
    say "$name" missing
    echo "$name" >>"$MISSING"
  fi
}

collection() { report "collection $REKOGNITION_COLLECTION_NAME" check_collection; }
bucket() { report "bucket $S3_BUCKET_NAME" check_bucket; }
table() { report "table $DYNAMODB_TABLE_NAME" check_table; }
role() { report "role $IAM_ROLE_NAME" check_role; }
role_policy() { report "role policy $IAM_ROLE_NAME/$POLICY_NAME" check_role_policy; }
function_() { report "function $LAMBDA_NAME" check_function; }
permission() { report "permission $STATEMENT_ID" check_permission; }
notification() { report "notification $S3_BUCKET_NAME -> $LAMBDA_NAME" check_notification; }

checks=(collection bucket table role role_policy function_ permission notification)
run_parallel "${checks[@]}"

missing=$(wc -l <"$MISSING")
if [ "$missing" != 0 ]; then
  echo "$missing of ${#checks[@]} resources missing: scripts/provision.sh creates them"
  exit 1
fi
echo "all ${#checks[@]} resources present"
