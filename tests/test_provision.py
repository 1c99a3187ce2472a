"""scripts/provision.sh, status.sh and teardown.sh, run with the real AWS CLI against local servers.

moto's server stands in for S3, DynamoDB, IAM, Lambda, STS and CloudWatch Logs
(AWS_ENDPOINT_URL), and `python -m facerec serve` for Rekognition
(AWS_ENDPOINT_URL_REKOGNITION), which moto lacks. What the scripts made is then
read back with boto3 from the same servers. moto creates Lambda functions
without Docker but cannot run them, so nothing here invokes the function: the
app's `reindex` runs lambda.py's handler in process instead, over the same
clients.

Each test makes its own deployment, under names no other test uses (fixtures
`fresh`: nothing made yet, and `provisioned`: provision.sh has run once), so
that any one of them runs alone (-k) and in any order.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import boto3
import pytest

from facerec.service import INDEX_PREFIX, ORIGINALS_PREFIX
from facerec.settings import Settings, load
from facerec.templates import fill
from tests.aws_actions import actions_for, calls_in
from tests.conftest import ROOT, people
from tests.test_server import FAKE_CREDENTIALS, running_server, server_env

ACCOUNT_ID = "123456789012"  # moto's
SCRIPT_TIMEOUT = 300
POLICY_SUFFIX = "-access"
# What the Lambda service itself does with the function's role, beyond lambda.py's own calls: its logs.
RUNTIME_ACTIONS = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
# What lambda.zip holds: the handler and the one module of the app it imports.
LAMBDA_PACKAGE = ["lambda.py", "facerec/", "facerec/records.py"]
# Makes the local back end's bucket, collection and table; on AWS provisioning makes them, not the app.
LOCAL_ONLY = frozenset({"ensure_resources"})


def lambda_actions() -> set[str]:
    """What the function's role must allow: the calls lambda.py makes, and the runtime's logs."""
    return actions_for(calls_in(ROOT / "lambda.py")) | RUNTIME_ACTIONS


def app_actions() -> set[str]:
    """What the app's user must allow: every call of the app's modules (the local back end's aside), and
    lambda.py's, whose handler a reindex runs in the app's process."""
    modules = [p for p in (ROOT / "facerec").rglob("*.py") if "local" not in p.relative_to(ROOT).parts]
    return actions_for(set().union(*(calls_in(p, LOCAL_ONLY) for p in [*modules, ROOT / "lambda.py"])))


# Actions that act on no resource type, for which AWS accepts only "Resource": "*".
NO_RESOURCE_ACTIONS = {"rekognition:DetectFaces"}


def helper() -> ModuleType:
    """scripts/aws_helper.py, the scripts' Python half, loaded by path."""
    spec = importlib.util.spec_from_file_location("aws_helper", ROOT / "scripts" / "aws_helper.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Servers


@pytest.fixture(scope="module")
def moto_url(moto_endpoint: str) -> str:
    """The session's moto server, emptied: these tests read whole accounts."""
    _post(f"{moto_endpoint}/moto-api/reset", b"")
    # Functions are created, never run: S3's notification then gets a canned answer instead of Docker.
    _post(f"{moto_endpoint}/moto-api/config", json.dumps({"lambda": {"use_docker": False}}).encode())
    return moto_endpoint


@pytest.fixture(scope="module")
def rekognition_url(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local engine, reading S3Object images from moto's S3 as Rekognition reads them from S3."""
    folder = tmp_path_factory.mktemp("rekognition")
    env = server_env(folder / "data", FACEREC_BACKEND="aws", **_aws_env(moto_url, "us-east-1"))
    with running_server(env, folder / "server.log") as url:
        yield url


def _post(url: str, body: bytes) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10):
        pass


def _aws_env(moto_url: str, region: str) -> dict[str, str]:
    """Fake credentials, the region, no user configuration, every service at moto."""
    return {
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": moto_url,
    }


# A deployment: names, environment, the scripts and boto3 clients on the same servers


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    lines: dict[str, str] = field(default_factory=dict)


@dataclass
class Deployment:
    region: str
    names: dict[str, str]
    moto_url: str
    rekognition_url: str

    @property
    def settings(self) -> Settings:
        return load(env_file=None, environ={**self.names, "AWS_REGION": self.region})

    @property
    def env(self) -> dict[str, str]:
        names = ("AWS_", "FACEREC_", "S3_", "DYNAMODB_", "REKOGNITION_", "IAM_", "LAMBDA_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(names)}
        env.update(_aws_env(self.moto_url, self.region))
        env.update(self.names)
        env["AWS_ENDPOINT_URL_REKOGNITION"] = self.rekognition_url
        env["PYTHON"] = sys.executable
        # The AWS CLI installed beside this Python (requirements-dev.txt) comes first.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def run(self, script: str, *args: str) -> Run:
        env = self.env
        assert shutil.which("aws", path=env["PATH"]), "the AWS CLI is missing: pip install -r requirements-dev.txt"
        done = subprocess.run(
            ["bash", str(ROOT / "scripts" / f"{script}.sh"), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        return Run(done.returncode, done.stdout, done.stderr, _lines(done.stdout))

    def client(self, service: str):
        url = self.rekognition_url if service == "rekognition" else self.moto_url
        return boto3.client(service, region_name=self.region, endpoint_url=url, **FAKE_CREDENTIALS)

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.names['LAMBDA_NAME']}"

    @property
    def policy_name(self) -> str:
        return self.names["LAMBDA_NAME"] + POLICY_SUFFIX

    @property
    def statement_id(self) -> str:
        return "s3-invoke-" + self.names["S3_BUCKET_NAME"].replace(".", "-")


def _lines(stdout: str) -> dict[str, str]:
    """'resource  state' lines (two spaces or more between), by resource."""
    found = (re.match(r"^(\S.*?)\s{2,}(\S.*)$", line) for line in stdout.splitlines())
    return {m.group(1): m.group(2) for m in found if m}


def names(tag: str) -> dict[str, str]:
    return {
        "S3_BUCKET_NAME": f"facerec-{tag}-images",
        "REKOGNITION_COLLECTION_NAME": f"facerec-{tag}",
        "DYNAMODB_TABLE_NAME": f"facerec-{tag}-faces",
        "IAM_ROLE_NAME": f"facerec-{tag}-lambda",
        "LAMBDA_NAME": f"facerec-{tag}-index-faces",
    }


@pytest.fixture
def fresh(moto_url: str, rekognition_url: str) -> Deployment:
    """A us-east-1 deployment under names of its own, nothing made yet."""
    return Deployment("us-east-1", names(uuid.uuid4().hex[:8]), moto_url, rekognition_url)


@pytest.fixture
def provisioned(fresh: Deployment) -> Deployment:
    """A deployment as a person's first run of provision.sh leaves it."""
    run = fresh.run("provision")
    assert run.returncode == 0, run.stderr
    return fresh


def resources(d: Deployment, location: str | None = None) -> dict:
    """Assert every resource has the settings provisioning promises; return what identifies each."""
    n, settings = d.names, d.settings
    bucket, table, role = n["S3_BUCKET_NAME"], n["DYNAMODB_TABLE_NAME"], n["IAM_ROLE_NAME"]
    rekognition, s3, dynamodb = d.client("rekognition"), d.client("s3"), d.client("dynamodb")
    iam, lam = d.client("iam"), d.client("lambda")

    collection = rekognition.describe_collection(CollectionId=n["REKOGNITION_COLLECTION_NAME"])

    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True
    )
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]
    assert s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") == location
    notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    [target] = notification["LambdaFunctionConfigurations"]
    assert target["LambdaFunctionArn"] == d.function_arn
    assert target["Events"] == ["s3:ObjectCreated:*"]
    assert [(r["Name"].lower(), r["Value"]) for r in target["Filter"]["Key"]["FilterRules"]] == [("prefix", "index/")]

    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "RekognitionId", "KeyType": "HASH"}]
    assert described["AttributeDefinitions"] == [{"AttributeName": "RekognitionId", "AttributeType": "S"}]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert described["TableStatus"] == "ACTIVE"

    got_role = iam.get_role(RoleName=role)["Role"]
    normalise = helper().normalise_policy
    assert normalise(got_role["AssumeRolePolicyDocument"]) == normalise(fill("lambda-trust-policy.json", settings))
    inline = iam.get_role_policy(RoleName=role, PolicyName=d.policy_name)["PolicyDocument"]
    assert normalise(inline) == normalise(fill("rekognition-inline-policy.json", settings, ACCOUNT_ID))
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == [d.policy_name]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []

    function = lam.get_function_configuration(FunctionName=n["LAMBDA_NAME"])
    assert function["FunctionArn"] == d.function_arn
    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "lambda.lambda_handler"
    assert (function["Timeout"], function["MemorySize"]) == (60, 512)
    assert function["Role"] == got_role["Arn"]
    assert function["Environment"]["Variables"] == {
        "DYNAMODB_TABLE_NAME": table,
        "REKOGNITION_COLLECTION_NAME": n["REKOGNITION_COLLECTION_NAME"],
    }
    assert function["CodeSha256"] == expected_code_sha()

    policy = lam.get_policy(FunctionName=n["LAMBDA_NAME"])["Policy"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    [statement] = policy["Statement"]
    assert statement["Sid"] == d.statement_id
    assert helper().permission_state({"Policy": policy}, d.statement_id, f"arn:aws:s3:::{bucket}", ACCOUNT_ID) == "same"

    log_group = f"/aws/lambda/{n['LAMBDA_NAME']}"
    groups = d.client("logs").describe_log_groups(logGroupNamePrefix=log_group)["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(log_group, 30)]

    return {
        "collection": (collection["CollectionARN"], collection["CreationTimestamp"]),
        "table": (described["TableArn"], described["CreationDateTime"]),
        "role": (got_role["Arn"], got_role["RoleId"], got_role["CreateDate"]),
        "inline": inline,
        "function": {k: function.get(k) for k in ("FunctionArn", "CodeSha256", "LastModified", "RevisionId")},
        "permission": statement,
        "notification": notification["LambdaFunctionConfigurations"],
    }


def expected_code_sha() -> str:
    """CodeSha256 of the package the scripts build from this checkout's lambda.py."""
    with tempfile.TemporaryDirectory() as folder:
        return helper().build_lambda(Path(folder) / "lambda.zip")


# A us-east-1 deployment: first run, second run, the app on it, drift repaired, status, teardown


def test_first_run_creates_everything(fresh: Deployment) -> None:
    deployment = fresh
    first_run = deployment.run("provision")
    assert first_run.returncode == 0, first_run.stderr
    n = deployment.names
    assert first_run.lines == {
        f"collection {n['REKOGNITION_COLLECTION_NAME']}": "created",
        f"bucket {n['S3_BUCKET_NAME']}": "created",
        f"bucket {n['S3_BUCKET_NAME']} public access block": "created",
        f"bucket {n['S3_BUCKET_NAME']} default encryption": "created",
        f"table {n['DYNAMODB_TABLE_NAME']}": "created",
        f"role {n['IAM_ROLE_NAME']}": "created",
        f"role policy {n['IAM_ROLE_NAME']}/{deployment.policy_name}": "created",
        f"function {n['LAMBDA_NAME']}": f"created (CodeSha256 {expected_code_sha()})",
        f"permission {deployment.statement_id}": "created",
        f"notification {n['S3_BUCKET_NAME']} -> {n['LAMBDA_NAME']}": "created",
        f"log group /aws/lambda/{n['LAMBDA_NAME']}": "created (kept 30 days)",
    }
    resources(deployment)
    with zipfile.ZipFile(ROOT / "lambda.zip") as archive:
        assert archive.namelist() == LAMBDA_PACKAGE


def test_second_run_changes_nothing(fresh: Deployment) -> None:
    deployment = fresh
    first_run = deployment.run("provision")
    assert first_run.returncode == 0, first_run.stderr
    before = resources(deployment)
    second = deployment.run("provision")
    assert second.returncode == 0, second.stderr
    assert len(second.lines) == len(first_run.lines) + 1  # the function's code and configuration, apart
    assert set(second.lines.values()) == {"unchanged"}, second.stdout
    assert resources(deployment) == before


def test_app_on_the_aws_back_end(provisioned: Deployment, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI with FACEREC_BACKEND=aws: boto3 honours the same AWS_ENDPOINT_URL* variables, no code change."""
    deployment = provisioned
    from facerec.cli import main

    for name, value in deployment.env.items():
        if name.startswith("AWS_") or name in deployment.names:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("FACEREC_BACKEND", "aws")
    monkeypatch.setenv("FACEREC_DATA_DIR", str(tmp_path / "data"))
    everyone = people()
    person = sorted(everyone)[0]
    enrolled, probe = everyone[person][:2]
    # An upload as the app makes it; moto cannot run the function, so reindex runs its handler.
    deployment.client("s3").put_object(
        Bucket=deployment.names["S3_BUCKET_NAME"],
        Key="index/enrolled.jpg",
        Body=enrolled.read_bytes(),
        Metadata={"fullname": urllib.parse.quote("Zoë Ñúñez")},
    )

    def cli(*argv: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        assert main(list(argv), out, err) == 0, err.getvalue()
        return out.getvalue()

    # moto cannot run the function: reindex runs its handler here. --now, as the upload is seconds old.
    assert "recent uploads alone" in cli("reindex")
    assert cli("reindex", "--now").startswith("Indexed 1 images")
    assert json.loads(cli("people", "--json")) == [{"name": "Zoë Ñúñez", "faces": 1}]
    [face] = json.loads(cli("check", str(probe), "--json"))["faces"]
    assert face["name"] == "Zoë Ñúñez"
    assert face["similarity"] > 90


def test_drift_is_repaired(provisioned: Deployment) -> None:
    deployment = provisioned
    n = deployment.names
    s3, dynamodb, iam, lam = (deployment.client(s) for s in ("s3", "dynamodb", "iam", "lambda"))
    bucket, function = n["S3_BUCKET_NAME"], n["LAMBDA_NAME"]
    s3.delete_public_access_block(Bucket=bucket)
    s3.delete_bucket_encryption(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    dynamodb.update_table(
        TableName=n["DYNAMODB_TABLE_NAME"],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    broad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_role_policy(
        RoleName=n["IAM_ROLE_NAME"], PolicyName=deployment.policy_name, PolicyDocument=json.dumps(broad)
    )
    trust = fill("lambda-trust-policy.json", deployment.settings)
    trust["Statement"][0]["Principal"]["Service"] = ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]
    iam.update_assume_role_policy(RoleName=n["IAM_ROLE_NAME"], PolicyDocument=json.dumps(trust))
    lam.update_function_code(FunctionName=function, ZipFile=_other_zip())
    lam.update_function_configuration(
        FunctionName=function, Timeout=3, Environment={"Variables": {"DYNAMODB_TABLE_NAME": "elsewhere"}}
    )
    lam.remove_permission(FunctionName=function, StatementId=deployment.statement_id)
    lam.add_permission(
        FunctionName=function,
        StatementId=deployment.statement_id,
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn="arn:aws:s3:::someone-elses-bucket",
        SourceAccount=ACCOUNT_ID,
    )
    deployment.client("logs").delete_retention_policy(logGroupName=f"/aws/lambda/{function}")

    repaired = deployment.run("provision")
    assert repaired.returncode == 0, repaired.stderr
    assert repaired.lines == {
        f"collection {n['REKOGNITION_COLLECTION_NAME']}": "unchanged",
        f"bucket {bucket}": "unchanged",
        f"bucket {bucket} public access block": "updated",
        f"bucket {bucket} default encryption": "updated",
        f"table {n['DYNAMODB_TABLE_NAME']}": "updated (on-demand billing)",
        f"role {n['IAM_ROLE_NAME']}": "updated (trust policy)",
        f"role policy {n['IAM_ROLE_NAME']}/{deployment.policy_name}": "updated",
        f"function {function} code": f"updated (CodeSha256 {expected_code_sha()})",
        f"function {function} configuration": "updated (Timeout, Environment)",
        f"permission {deployment.statement_id}": "updated",
        f"notification {bucket} -> {function}": "created",
        f"log group /aws/lambda/{function}": "updated (kept 30 days)",
    }
    resources(deployment)


def _other_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("lambda.py", "def lambda_handler(event, context):\n    return None\n")
    return out.getvalue()


def test_status_says_present(provisioned: Deployment) -> None:
    status = provisioned.run("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert len(status.lines) == 8
    assert set(status.lines.values()) == {"present"}, status.stdout


def test_teardown_keeping_data_then_everything(provisioned: Deployment) -> None:
    deployment = provisioned
    n = deployment.names
    bucket, table, collection = n["S3_BUCKET_NAME"], n["DYNAMODB_TABLE_NAME"], n["REKOGNITION_COLLECTION_NAME"]
    s3, dynamodb, rekognition = deployment.client("s3"), deployment.client("dynamodb"), deployment.client("rekognition")
    s3.put_object(Bucket=bucket, Key="index/kept.jpg", Body=b"an image")

    kept = deployment.run("teardown", "--keep-data")
    assert kept.returncode == 0, kept.stderr
    assert kept.lines[f"bucket {bucket}"] == "kept"
    assert kept.lines[f"function {n['LAMBDA_NAME']} (and permission {deployment.statement_id})"] == "deleted"
    assert kept.lines[f"role {n['IAM_ROLE_NAME']}"] == "deleted"
    # The data stays: the images, the table and the collection; the pipeline is gone.
    assert s3.head_object(Bucket=bucket, Key="index/kept.jpg")
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("LambdaFunctionConfigurations", []) == []
    assert dynamodb.describe_table(TableName=table)["Table"]["TableStatus"] == "ACTIVE"
    assert rekognition.describe_collection(CollectionId=collection)["CollectionARN"]
    _assert_pipeline_gone(deployment)

    gone = deployment.run("teardown")
    assert gone.returncode == 0, gone.stderr
    assert gone.lines[f"bucket {bucket} (and its images)"] == "deleted"
    assert gone.lines[f"table {table}"] == "deleted"
    assert gone.lines[f"collection {collection}"] == "deleted"
    assert gone.lines[f"role {n['IAM_ROLE_NAME']}"] == "absent"

    status = deployment.run("status")
    assert status.returncode == 1
    assert len(status.lines) == 8
    assert set(status.lines.values()) == {"missing"}, status.stdout
    assert "8 of 8 resources missing" in status.stdout
    # And behind the scripts' back: nothing of this deployment is left on the servers.
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert table not in dynamodb.list_tables()["TableNames"]
    assert collection not in rekognition.list_collections()["CollectionIds"]
    _assert_pipeline_gone(deployment)


def _assert_pipeline_gone(deployment: Deployment) -> None:
    n = deployment.names
    assert n["IAM_ROLE_NAME"] not in [r["RoleName"] for r in deployment.client("iam").list_roles()["Roles"]]
    assert n["LAMBDA_NAME"] not in [
        f["FunctionName"] for f in deployment.client("lambda").list_functions()["Functions"]
    ]
    groups = deployment.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{n['LAMBDA_NAME']}")
    assert groups["logGroups"] == []


# Elsewhere than us-east-1, and the pieces on their own


def test_provision_outside_us_east_1(moto_url: str, rekognition_url: str) -> None:
    """Outside us-east-1 the bucket needs its LocationConstraint, and every ARN names the region."""
    eu = Deployment("eu-west-1", names("euw1"), moto_url, rekognition_url)
    run = eu.run("provision")
    assert run.returncode == 0, run.stderr
    assert set(run.lines.values()) <= {
        "created",
        f"created (CodeSha256 {expected_code_sha()})",
        "created (kept 30 days)",
    }
    resources(eu, location="eu-west-1")


def test_lambda_zip_imports_with_the_standard_library_and_boto3_alone(tmp_path: Path) -> None:
    """lambda.zip as the scripts build it holds lambda.py and facerec/records.py alone, the same bytes every
    time, and its handler loads in an isolated interpreter that has only the standard library and boto3's
    closure: facerec is a namespace package there, with nothing else of the app."""
    aws_helper = helper()
    first, second = tmp_path / "one.zip", tmp_path / "two.zip"
    sha = aws_helper.build_lambda(first)
    # Lambda's CodeSha256 is the base64 of the package's SHA-256: what provision.sh compares with.
    assert sha == base64.b64encode(hashlib.sha256(first.read_bytes()).digest()).decode("ascii")
    assert aws_helper.build_lambda(second) == sha
    assert first.read_bytes() == second.read_bytes()  # the same bytes every time: no spurious updates
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == LAMBDA_PACKAGE
        for name in ("lambda.py", "facerec/records.py"):
            assert archive.read(name) == (ROOT / name).read_bytes()

    packages = tmp_path / "site"
    packages.mkdir()
    for top in _dependency_closure("boto3"):
        (packages / top.name).symlink_to(top)
    probe = f"""
import importlib, sys
sys.path[:0] = [{str(first)!r}, {str(packages)!r}]
handler = importlib.import_module("lambda")
assert handler.__file__.startswith({str(first)!r}), handler.__file__
assert sys.modules["facerec.records"].__file__.startswith({str(first)!r}), sys.modules["facerec.records"]
assert getattr(sys.modules["facerec"], "__file__", None) is None, "facerec is not a namespace package"
assert sorted(n for n in sys.modules if n.startswith("facerec")) == ["facerec", "facerec.records"]
print(handler.lambda_handler({{"Records": []}}, None))
outside = sorted(
    name for name, module in sys.modules.items()
    if getattr(module, "__file__", None) and "site-packages" in module.__file__
    and not module.__file__.startswith({str(packages)!r})
)
assert not outside, outside
"""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "DYNAMODB_TABLE_NAME": "t",
        "REKOGNITION_COLLECTION_NAME": "c",
    }
    # -I: no user site, no PYTHON* variables, no script directory; -S: no site-packages at all.
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'results': []}"


def _dependency_closure(distribution: str) -> list[Path]:
    """The top-level modules and packages of a distribution and of everything it requires."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen, todo, tops = set(), [distribution], set()
    while todo:
        name = todo.pop()
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        dist = metadata.distribution(name)
        for requirement in dist.requires or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                todo.append(parsed.name)
        for file in dist.files or []:
            first = file.parts[0]
            if first.endswith((".dist-info", ".egg-info", ".pth")) or first in ("..", "__pycache__", "bin"):
                continue
            top = Path(dist.locate_file(first))
            if top.suffix in (".py", ".so") or top.is_dir():
                tops.add(top)
    return sorted(tops)


def test_policies_are_scoped(tmp_path: Path) -> None:
    """Every template fills to valid JSON; no wildcard action; every resource is an ARN of ours."""
    settings = load(env_file=None, environ={**names("pol"), "AWS_REGION": "eu-west-1"})
    helper().render(tmp_path, ACCOUNT_ID, settings)
    documents = {
        "inline": json.loads((tmp_path / "inline-policy.json").read_text()),
        "app": json.loads((tmp_path / "app-user-policy.json").read_text()),
        "trust": json.loads((tmp_path / "trust-policy.json").read_text()),
    }
    ours = (
        f"arn:aws:s3:::{settings.s3_bucket_name}",
        f"arn:aws:rekognition:eu-west-1:{ACCOUNT_ID}:collection/{settings.rekognition_collection_name}",
        f"arn:aws:dynamodb:eu-west-1:{ACCOUNT_ID}:table/{settings.dynamodb_table_name}",
        f"arn:aws:logs:eu-west-1:{ACCOUNT_ID}:log-group:/aws/lambda/{settings.lambda_name}",
    )
    granted: dict[str, set[str]] = {"inline": set(), "app": set()}
    for name in ("inline", "app"):
        for statement in documents[name]["Statement"]:
            actions = _list(statement["Action"])
            assert all("*" not in action for action in actions), statement
            assert "NotAction" not in statement and "NotResource" not in statement
            assert statement["Effect"] == "Allow"
            resources_ = _list(statement["Resource"])
            if resources_ == ["*"]:
                # AWS accepts only "*" for these; the statement is kept to them alone.
                assert set(actions) <= NO_RESOURCE_ACTIONS, statement
            else:
                assert all(resource.startswith(ours) for resource in resources_), statement
            granted[name] |= set(actions)
    assert granted["inline"] == lambda_actions()
    assert granted["app"] == app_actions()
    # S3 objects: the Lambda's only under index/, where the notification fires; the app's there and under
    # originals/, where it keeps the whole photo of a face picked in it.
    prefixes = {"inline": {INDEX_PREFIX}, "app": {INDEX_PREFIX, ORIGINALS_PREFIX}}
    for name in ("inline", "app"):
        objects = [r for s in documents[name]["Statement"] for r in _list(s["Resource"]) if r.startswith(ours[0] + "/")]
        assert set(objects) == {f"{ours[0]}/{prefix}*" for prefix in prefixes[name]}
        listed = {
            prefix
            for s in documents[name]["Statement"]
            if "s3:ListBucket" in _list(s["Action"])
            for prefix in s["Condition"]["StringLike"]["s3:prefix"]
        }
        assert {prefix.removesuffix("*") for prefix in listed} == prefixes[name]
    [trust] = documents["trust"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    # The templates themselves stay readable templates.
    for template in ("lambda-trust-policy.json", "rekognition-inline-policy.json", "policies/app-user-policy.json"):
        text = (ROOT / template).read_text()
        assert "${" in text or template == "lambda-trust-policy.json"
        json.loads(text)


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_the_needed_actions_are_read_from_every_kind_of_client_call(tmp_path: Path) -> None:
    code = tmp_path / "code.py"
    code.write_text(
        "def f(self, clients, s3, engine):\n"
        "    self.rekognition.compare_faces(SourceImage={}, TargetImage={})\n"
        "    clients.dynamodb.get_paginator('query')\n"
        "    s3.head_object(Bucket='b', Key='k')\n"
        "    engine.delete_collection(CollectionId='c')  # not a client of ours: the local engine\n"
        "    self.s3.upload_me()  # not an operation\n"
    )
    assert actions_for(calls_in(code)) == {
        "rekognition:CompareFaces",
        "dynamodb:Query",
        "s3:GetObject",
        "s3:ListBucket",
    }
