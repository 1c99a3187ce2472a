#!/usr/bin/env bash
# Create, or bring up to date, every AWS resource facerec needs, with the names from config.py:
# the Rekognition collection, the S3 bucket, the DynamoDB table, the Lambda function's role and
# its inline policy, the function (lambda.zip: lambda.py and facerec/records.py), S3's permission
# to invoke it and the bucket's notification. Run it again at any time: what is current is left
# alone ("unchanged"), what drifted or changed (that code, the settings, the templates) is updated.
#
# Endpoints: the AWS CLI honours AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (e.g.
# AWS_ENDPOINT_URL_REKOGNITION), which is how the tests point it at local servers.
#
# Usage: scripts/provision.sh
# shellcheck source=scripts/aws_common.sh
source "$(dirname "$0")/aws_common.sh"

case "${1:-}" in
  "") ;;
  *) die "unexpected argument: $1 (usage: scripts/provision.sh)" ;;
esac

# Each section below makes one resource, or one chain of resources that depend on each other,
# and prints one line per resource: created, updated (and what) or unchanged.

collection() {
  if aws_try ResourceNotFoundException rekognition describe-collection \
    --collection-id "$REKOGNITION_COLLECTION_NAME"; then
    say "collection $REKOGNITION_COLLECTION_NAME" unchanged
  else
    aws rekognition create-collection --collection-id "$REKOGNITION_COLLECTION_NAME" >/dev/null
    say "collection $REKOGNITION_COLLECTION_NAME" created
  fi
}

# The bucket: private (every public access blocked) and encrypted by default with SSE-S3.
bucket() {
  local new="" region current
  if aws_try '404|NoSuchBucket' s3api head-bucket --bucket "$S3_BUCKET_NAME" --query BucketRegion --output text; then
    region=$(tr -d '[:space:]' <"$WORK/out")
    if [ -n "$region" ] && [ "$region" != None ] && [ "$region" != "$AWS_REGION" ]; then
      die "bucket $S3_BUCKET_NAME is in $region, not $AWS_REGION: set AWS_REGION=$region or another S3_BUCKET_NAME"
    fi
    say "bucket $S3_BUCKET_NAME" unchanged
  else
    # us-east-1 is the one region that refuses a LocationConstraint naming itself.
    if [ "$AWS_REGION" = us-east-1 ]; then
      aws s3api create-bucket --bucket "$S3_BUCKET_NAME" >/dev/null
    else
      aws s3api create-bucket --bucket "$S3_BUCKET_NAME" \
        --create-bucket-configuration "LocationConstraint=$AWS_REGION" >/dev/null
    fi
    aws s3api wait bucket-exists --bucket "$S3_BUCKET_NAME"
    new=1
    say "bucket $S3_BUCKET_NAME" created
  fi

  current=""
  if [ -z "$new" ] && aws_try NoSuchPublicAccessBlockConfiguration s3api get-public-access-block \
    --bucket "$S3_BUCKET_NAME" --output text --query \
    'PublicAccessBlockConfiguration.[BlockPublicAcls,IgnorePublicAcls,BlockPublicPolicy,RestrictPublicBuckets]'; then
    current=$(tr -s '[:space:]' ' ' <"$WORK/out")
  fi
  if [ "$current" = "True True True True " ]; then
    say "bucket $S3_BUCKET_NAME public access block" unchanged
  else
    aws s3api put-public-access-block --bucket "$S3_BUCKET_NAME" --public-access-block-configuration \
      "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
    say "bucket $S3_BUCKET_NAME public access block" "$([ -n "$new" ] && echo created || echo updated)"
  fi

  # SSE-S3 and nothing else: with a KMS key the function's role would also need kms:Decrypt.
  current=""
  if [ -z "$new" ] && aws_try ServerSideEncryptionConfigurationNotFoundError s3api get-bucket-encryption \
    --bucket "$S3_BUCKET_NAME" --output text --query \
    'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm'; then
    current=$(tr -d '[:space:]' <"$WORK/out")
  fi
  if [ "$current" = AES256 ]; then
    say "bucket $S3_BUCKET_NAME default encryption" unchanged
  else
    aws s3api put-bucket-encryption --bucket "$S3_BUCKET_NAME" --server-side-encryption-configuration \
      '{"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}'
    say "bucket $S3_BUCKET_NAME default encryption" "$([ -n "$new" ] && echo created || echo updated)"
  fi
}

# The table, as facerec.service.table_definition has it: hash key RekognitionId (S), on demand.
table() {
  local status billing keys key key_type
  # shellcheck disable=SC2016  # the backquotes are a JMESPath literal, not a command
  if aws_try ResourceNotFoundException dynamodb describe-table --table-name "$DYNAMODB_TABLE_NAME" --output text \
    --query 'Table.[TableStatus, BillingModeSummary.BillingMode, length(KeySchema), KeySchema[0].AttributeName,
             AttributeDefinitions[?AttributeName==`RekognitionId`].AttributeType | [0]]'; then
    read -r status billing keys key key_type <"$WORK/out"
    if [ "$keys" != 1 ] || [ "$key" != RekognitionId ] || [ "$key_type" != S ]; then
      die "table $DYNAMODB_TABLE_NAME exists with another key; lambda.py needs the hash key RekognitionId (S) alone"
    fi
    [ "$status" = ACTIVE ] || aws dynamodb wait table-exists --table-name "$DYNAMODB_TABLE_NAME"
    if [ "$billing" != PAY_PER_REQUEST ]; then
      aws dynamodb update-table --table-name "$DYNAMODB_TABLE_NAME" --billing-mode PAY_PER_REQUEST >/dev/null
      aws dynamodb wait table-exists --table-name "$DYNAMODB_TABLE_NAME"
      say "table $DYNAMODB_TABLE_NAME" "updated (on-demand billing)"
    else
      say "table $DYNAMODB_TABLE_NAME" unchanged
    fi
  else
    aws dynamodb create-table --cli-input-json "file://$DOCS/table.json" >/dev/null
    aws dynamodb wait table-exists --table-name "$DYNAMODB_TABLE_NAME"
    say "table $DYNAMODB_TABLE_NAME" created
  fi
}

# The role, its inline policy, the function that runs with it, and S3's permission to invoke
# the function: each needs the one before.
function_chain() {
  local role_arn state changes config_change attempts attempt permission
  if aws_try NoSuchEntity iam get-role --role-name "$IAM_ROLE_NAME" \
    --query 'Role.{Arn: Arn, Trust: AssumeRolePolicyDocument}'; then
    role_arn=$("${HELPER[@]}" get Arn <"$WORK/out")
    if "${HELPER[@]}" get Trust <"$WORK/out" | "${HELPER[@]}" same-policy "$DOCS/trust-policy.json"; then
      say "role $IAM_ROLE_NAME" unchanged
    else
      aws iam update-assume-role-policy --role-name "$IAM_ROLE_NAME" \
        --policy-document "file://$DOCS/trust-policy.json"
      say "role $IAM_ROLE_NAME" "updated (trust policy)"
    fi
  else
    role_arn=$(aws iam create-role --role-name "$IAM_ROLE_NAME" \
      --assume-role-policy-document "file://$DOCS/trust-policy.json" \
      --description "facerec: the indexing Lambda function's role" --query Role.Arn --output text)
    aws iam wait role-exists --role-name "$IAM_ROLE_NAME"
    say "role $IAM_ROLE_NAME" created
  fi

  state=created
  if aws_try NoSuchEntity iam get-role-policy --role-name "$IAM_ROLE_NAME" --policy-name "$POLICY_NAME" \
    --query PolicyDocument; then
    state=updated
    if "${HELPER[@]}" same-policy "$DOCS/inline-policy.json" <"$WORK/out"; then
      state=unchanged
    fi
  fi
  if [ "$state" != unchanged ]; then
    aws iam put-role-policy --role-name "$IAM_ROLE_NAME" --policy-name "$POLICY_NAME" \
      --policy-document "file://$DOCS/inline-policy.json"
  fi
  say "role policy $IAM_ROLE_NAME/$POLICY_NAME" "$state"

  if aws_try ResourceNotFoundException lambda get-function-configuration --function-name "$LAMBDA_NAME"; then
    # An update still in progress (another run, the console) must finish before ours starts.
    if grep -q '"LastUpdateStatus": "InProgress"' "$WORK/out"; then
      aws lambda wait function-updated-v2 --function-name "$LAMBDA_NAME"
    fi
    changes=$("${HELPER[@]}" lambda-diff "$DOCS/function.json" "$role_arn" "$CODE_SHA" <"$WORK/out")
    if grep -q '^code' <<<"$changes"; then
      aws lambda update-function-code --function-name "$LAMBDA_NAME" --zip-file fileb://lambda.zip >/dev/null
      aws lambda wait function-updated-v2 --function-name "$LAMBDA_NAME"
      say "function $LAMBDA_NAME code" "updated (CodeSha256 $CODE_SHA)"
    else
      say "function $LAMBDA_NAME code" unchanged
    fi
    config_change=$(sed -n 's/^config: //p' <<<"$changes")
    if [ -n "$config_change" ]; then
      aws lambda update-function-configuration --cli-input-json "file://$DOCS/function.json" \
        --role "$role_arn" >/dev/null
      aws lambda wait function-updated-v2 --function-name "$LAMBDA_NAME"
      say "function $LAMBDA_NAME configuration" "updated ($config_change)"
    else
      say "function $LAMBDA_NAME configuration" unchanged
    fi
  else
    # A new role takes a few seconds to be usable by Lambda: until then create-function
    # answers InvalidParameterValueException "...cannot be assumed by Lambda".
    attempts=${FACEREC_ROLE_RETRIES:-12}
    for attempt in $(seq 1 "$attempts"); do
      if aws lambda create-function --cli-input-json "file://$DOCS/function.json" --role "$role_arn" \
        --zip-file fileb://lambda.zip >/dev/null 2>"$WORK/err"; then
        break
      fi
      if [ "$attempt" -lt "$attempts" ] && grep -q 'cannot be assumed' "$WORK/err"; then
        echo "waiting for role $IAM_ROLE_NAME to reach Lambda (attempt $attempt of $attempts)" >&2
        sleep "${FACEREC_ROLE_RETRY_SECONDS:-5}"
        continue
      fi
      cat "$WORK/err" >&2
      die "could not create function $LAMBDA_NAME"
    done
    aws lambda wait function-active-v2 --function-name "$LAMBDA_NAME"
    say "function $LAMBDA_NAME" "created (CodeSha256 $CODE_SHA)"
  fi

  # S3 may invoke the function for this bucket in this account, and nothing else may.
  permission=missing
  if aws_try ResourceNotFoundException lambda get-policy --function-name "$LAMBDA_NAME"; then
    permission=$("${HELPER[@]}" permission "$STATEMENT_ID" "$BUCKET_ARN" "$ACCOUNT_ID" <"$WORK/out")
  fi
  if [ "$permission" = different ]; then
    aws lambda remove-permission --function-name "$LAMBDA_NAME" --statement-id "$STATEMENT_ID"
  fi
  if [ "$permission" != same ]; then
    aws lambda add-permission --function-name "$LAMBDA_NAME" --statement-id "$STATEMENT_ID" \
      --action lambda:InvokeFunction --principal s3.amazonaws.com \
      --source-arn "$BUCKET_ARN" --source-account "$ACCOUNT_ID" >/dev/null
  fi
  case "$permission" in
    same) say "permission $STATEMENT_ID" unchanged ;;
    different) say "permission $STATEMENT_ID" updated ;;
    *) say "permission $STATEMENT_ID" created ;;
  esac
}

# The function's log group, made before its first run so that it has a retention period: Lambda
# would make it at the first run, without one.
log_group() {
  local retention
  if aws_try ResourceAlreadyExistsException logs create-log-group --log-group-name "$LOG_GROUP"; then
    aws logs put-retention-policy --log-group-name "$LOG_GROUP" --retention-in-days "$LOG_RETENTION_DAYS"
    say "log group $LOG_GROUP" "created (kept $LOG_RETENTION_DAYS days)"
    return
  fi
  retention=$(aws logs describe-log-groups --log-group-name-prefix "$LOG_GROUP" \
    --query "logGroups[?logGroupName=='$LOG_GROUP'].retentionInDays | [0]" --output text)
  if [ "$retention" = "$LOG_RETENTION_DAYS" ]; then
    say "log group $LOG_GROUP" unchanged
  else
    aws logs put-retention-policy --log-group-name "$LOG_GROUP" --retention-in-days "$LOG_RETENTION_DAYS"
    say "log group $LOG_GROUP" "updated (kept $LOG_RETENTION_DAYS days)"
  fi
}

# ObjectCreated under index/ -> the function. Last: S3 checks, when the notification is set,
# that the bucket exists and that it may invoke the function.
notification() {
  local state
  aws s3api get-bucket-notification-configuration --bucket "$S3_BUCKET_NAME" >"$WORK/out"
  if "${HELPER[@]}" same-notification "$DOCS/notification.json" <"$WORK/out"; then
    say "notification $S3_BUCKET_NAME -> $LAMBDA_NAME" unchanged
  else
    state=created
    grep -Eq '"(LambdaFunction|Queue|Topic)Configurations"' "$WORK/out" && state=updated
    aws s3api put-bucket-notification-configuration --bucket "$S3_BUCKET_NAME" \
      --notification-configuration "file://$DOCS/notification.json"
    say "notification $S3_BUCKET_NAME -> $LAMBDA_NAME" "$state"
  fi
}

ACCOUNT_ID=$(account_id)
echo "provisioning facerec in account $ACCOUNT_ID, region $AWS_REGION"

# Every document to send, filled for this account and these names, and the deployment package.
DOCS="$WORK/docs"
mkdir -p "$DOCS"
"${HELPER[@]}" render "$DOCS" "$ACCOUNT_ID"
CODE_SHA=$("${HELPER[@]}" build-lambda lambda.zip)

run_parallel collection bucket table log_group function_chain
notification

echo "done: uploads to s3://$S3_BUCKET_NAME/index/ run arn:aws:lambda:$AWS_REGION:$ACCOUNT_ID:function:$LAMBDA_NAME"
