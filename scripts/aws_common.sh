# Sourced by provision.sh, status.sh and teardown.sh: settings, a scratch folder and error handling.
# shellcheck shell=bash
# The names defined here are used by the scripts that source this file.
# shellcheck disable=SC2034

set -euo pipefail

# --help, before anything that needs the AWS CLI or valid settings: the calling script's header
# comment. (A sourced file sees the caller's arguments.)
for arg in "$@"; do
  case "$arg" in
    -h | --help)
      awk 'NR > 1 && /^#/ && !/shellcheck/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0
      ;;
  esac
done

# From the repository root: config.py, .env, the templates, lambda.py.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3}
HELPER=("$PYTHON" scripts/aws_helper.py)

die() {
  echo "error: $*" >&2
  exit 1
}

# One line per resource: what it is, then what happened to it (or whether it is there). At least
# two spaces between the two: names have single spaces only, so the lines can be parsed.
say() {
  printf '%-50s  %s\n' "$1" "$2"
}

command -v aws >/dev/null 2>&1 || die "the AWS CLI is not installed: python3 -m pip install awscli"

# The names, from the environment or .env, checked by the app's own rules. Assigned first and
# evaluated second: a failing command substitution inside eval's argument would go unnoticed.
settings=$("$PYTHON" config.py --shell) || die "the settings above are not valid (see .env.example)"
eval "$settings"
export AWS_REGION AWS_DEFAULT_REGION="$AWS_REGION"
# Output the scripts can parse whatever the user's ~/.aws/config says.
export AWS_DEFAULT_OUTPUT=json

WORK=$(mktemp -d "${TMPDIR:-/tmp}/facerec-aws.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

POLICY_NAME="$LAMBDA_NAME-access"
# Lambda statement ids allow letters, digits, '-' and '_' only; bucket names may have dots.
STATEMENT_ID="s3-invoke-${S3_BUCKET_NAME//./-}"
LOG_GROUP="/aws/lambda/$LAMBDA_NAME"
# The function's logs (keys and outcomes, no names) are kept this long; CloudWatch keeps them forever
# unless a log group says otherwise.
LOG_RETENTION_DAYS=30
BUCKET_ARN="arn:aws:s3:::$S3_BUCKET_NAME"

# aws_try CODES ARGS...: run `aws ARGS` with its output in "$WORK/out". Return 0 on success and
# 1 if AWS answered one of the error codes CODES (an extended regex such as 'NoSuchEntity|404'):
# those mean "not there". Any other failure (credentials, permissions, a typo) stops the script,
# so that a resource is never taken for missing because a call could not be made.
aws_try() {
  local codes=$1
  shift
  if aws "$@" >"$WORK/out" 2>"$WORK/err"; then
    return 0
  fi
  if grep -Eq "\\((${codes})\\)" "$WORK/err"; then
    return 1
  fi
  cat "$WORK/err" >&2
  die "aws $1 $2 failed"
}

account_id() {
  aws sts get-caller-identity --query Account --output text 2>"$WORK/err" || {
    cat "$WORK/err" >&2
    die "no usable AWS credentials (aws configure, or AWS_PROFILE / AWS_ACCESS_KEY_ID)"
  }
}

# run_parallel FUNCTION...: run the functions at once, each in a subshell with its own scratch
# folder; print their output in the order given, as each one finishes; stop if any failed. Each
# is mostly the AWS CLI starting up (half a second of CPU per call), so this is what makes the
# scripts quick on a machine with more than one core.
run_parallel() {
  local names=("$@") pids=() name index failed=0
  for name in "${names[@]}"; do
    (
      mkdir -p "$WORK/$name.d"
      WORK="$WORK/$name.d" "$name"
    ) >"$WORK/$name.log" &
    pids+=("$!")
  done
  for index in "${!pids[@]}"; do
    wait "${pids[$index]}" || failed=1
    cat "$WORK/${names[$index]}.log"
  done
  [ "$failed" = 0 ] || die "stopped: see the error above"
}
