"""Write the member stack of an Organization deployment: template.yaml expanded by the SAM transform into plain
CloudFormation, which service-managed StackSets accept (they reject templates with a transform), and the code it
names, zipped. Run with the tools environment's Python:

    .venv-tools/bin/python scripts/org_template.py [--layer-build .aws-sam/build/RemediationLayer]   # make org-template

It writes

    .aws-sam/org/member.json                                      no Transform, no AWS::Serverless::*, no Globals
    .aws-sam/org/artifacts/dsse-remediation/<name>-<sha>.zip      one per function folder, and the layer
    .aws-sam/org/artifacts/dsse-remediation/member-<sha>.json     member.json, for CreateStackSet's TemplateURL

and every function's Code and the layer's Content name {"S3Bucket": "${ArtifactBucketPrefix}-${AWS::Region}",
"S3Key": "dsse-remediation/<name>-<sha>.zip"}, <sha> the first 16 hex digits of the zip's SHA-256: new code is a new
key, so a new layer version and a new BatchTaskFunction version (SAM names both after their code location). The zips
are deterministic (sorted entries, fixed timestamps and modes): the same sources give the same bytes and keys.

The layer zip holds what `sam build` puts in the layer: the script runs the recipe sam build runs for it
(layers/remediation/Makefile, BuildMethod makefile: the library and the wheels requirements.txt pins, for python3.13
on arm64; pip needs the package index or its cache), or takes a layer sam build already made (--layer-build), checked
to be current: its dsse_remediation equals the sources and its packages are the pinned versions. Function folders are
zipped as they are (they have no requirements.txt; sam build only copies them).

The layer zip is the same wherever it is built: pip writes where and with what it ran into some files, and those are
left out or rewritten (layer_files): bin/ (console scripts whose first line names the Python that ran pip),
direct_url.json (the folder or URL a distribution was installed from), bytecode caches (the source path and
timestamps), and each RECORD, rewritten to list what the zip holds, hashed as it holds it. A file that still names the
checkout or the build folder stops the run: its key would change with the folder.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import functools
import hashlib
import io
import json
import os
import posixpath
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
PARAMETER = "ArtifactBucketPrefix"
BUCKET = {"Fn::Sub": "${" + PARAMETER + "}-${AWS::Region}"}
KEY_PREFIX = "dsse-remediation/"
STAND_IN_BUCKET = "artifact-bucket"
CODE = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}
STACK_SET = "dsse-remediation"
PARAMETER_SPEC = {
    "Type": "String",
    # The bucket is <prefix>-<region>, at most 63 characters; the longest Region names have 14.
    "AllowedPattern": "^[a-z0-9][a-z0-9.-]{1,46}[a-z0-9]$",
    "ConstraintDescription": "a bucket name without its -<region> suffix (lower case, at most 48 characters)",
    "Description": (
        "The member code bucket's name without its Region suffix: the code is read from <prefix>-<region> in each"
        " Region, the security stack's ArtifactBucket (org/security.yaml), readable by the Organization."
    ),
}
PARAMETER_GROUP = {"Label": {"default": "Code (Organization deployment)"}, "Parameters": [PARAMETER]}
SKIPPED_DIRECTORIES = {"__pycache__"}  # bytecode holds its source's path and modification time
SKIPPED_SUFFIXES = (".pyc", ".pyo")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say
LAYER_SKIPPED = (
    re.compile(r"python/bin/.*"),  # console scripts: the first line names the Python that ran pip (no use in Lambda)
    re.compile(r"python/[^/]+\.dist-info/direct_url\.json"),  # PEP 610: the folder or URL installed from
)


class NoManagedPolicies:
    """The template names no managed policies by name, so no IAM look-up is needed (nor possible offline)."""

    def load(self) -> dict[str, str]:
        return {}


class Artifact:
    def __init__(self, name: str, data: bytes, suffix: str = ".zip") -> None:
        self.data = data
        self.key = f"{KEY_PREFIX}{name}-{hashlib.sha256(data).hexdigest()[:16]}{suffix}"

    @property
    def location(self) -> dict[str, Any]:
        """As a SAM CodeUri / ContentUri: the transform makes it Code / Content {S3Bucket, S3Key}. The bucket is a
        stand-in: the transform would resolve ${AWS::Region} in it, to the Region it runs in."""
        return {"Bucket": STAND_IN_BUCKET, "Key": self.key}


def deterministic_zip(files: Mapping[str, Path | bytes]) -> bytes:
    """files: name in the zip -> file, or the bytes to store (a file rewritten first, mode 644). Sorted, fixed
    timestamps, modes 644 (755 for executables), no directories: only the names and contents make the bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(files):
            source = files[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below is read
            executable = isinstance(source, Path) and os.access(source, os.X_OK)
            info.external_attr = (0o100000 | (0o755 if executable else 0o644)) << 16
            archive.writestr(info, content(source), compresslevel=9)
    return buffer.getvalue()


def content(source: Path | bytes) -> bytes:
    return source if isinstance(source, bytes) else source.read_bytes()


def tree(folder: Path) -> dict[str, Path]:
    """The files below folder, by their path relative to it, without caches."""
    found = {}
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_dir() or SKIPPED_DIRECTORIES.intersection(relative.parts) or path.name.endswith(SKIPPED_SUFFIXES):
            continue
        found[relative.as_posix()] = path
    return found


def record_hash(data: bytes) -> str:
    """A RECORD file's hash field (the wheel spec): sha256=, the digest in URL-safe base64 without padding."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def rewritten_record(name: str, record: bytes, files: Mapping[str, Path | bytes]) -> bytes:
    """The RECORD `name` (python/<dist>.dist-info/RECORD) listing only what the zip holds, hashed as it holds it.

    pip's RECORD also lists what the layer leaves out, whose contents depend on the build: bin/jp.py (with --target,
    as ../../bin/jp.py), hashed with its first line, the Python that ran pip; direct_url.json; bytecode. Kept, those
    lines would give the layer a new key in every folder. Rewritten rather than dropped, the RECORD stays true of what
    /opt/python holds, for `importlib.metadata.files()` and `pip show --files`. Written as pip writes it: CSV rows
    sorted by path, CRLF line ends.
    """
    site = posixpath.dirname(posixpath.dirname(name))  # paths in a RECORD are relative to the folder of the dist-info
    rows = []
    for row in csv.reader(io.StringIO(record.decode("utf-8"))):
        if not row:
            continue
        held = posixpath.normpath(posixpath.join(site, row[0]))
        if held == name:
            rows.append([row[0], "", ""])  # a RECORD cannot hold its own hash
        elif held in files:
            data = content(files[held])
            rows.append([row[0], record_hash(data), str(len(data))])
    output = io.StringIO()
    csv.writer(output, lineterminator="\r\n").writerows(sorted(rows))
    return output.getvalue().encode("utf-8")


def layer_files(build: Path, folders: tuple[Path, ...] = ()) -> dict[str, Path | bytes]:
    """What the layer zip holds of a layer build (sam build's .aws-sam/build/<LayerId>): by name in the zip, the file,
    or its rewritten bytes. Nothing in it depends on the folder the build ran in, or on the Python that ran pip:
    bytecode caches (tree), bin/ and direct_url.json are left out, each RECORD is rewritten to match what is kept.
    INSTALLER ("pip") and REQUESTED (empty) are kept: they name no folder.

    folders: where the build ran (the checkout), besides `build` itself. A kept file that still names one (an editable
    install's .pth, a package that records where it was built) is refused: it would give the layer a new key in every
    folder, and could not work in /opt/python anyway. Folders one level below the root (/app, /src) are not looked
    for: their names can be ordinary text, in a documentation string say, and would refuse a good layer.
    """
    files: dict[str, Path | bytes] = {
        name: path for name, path in tree(build).items() if not any(skip.fullmatch(name) for skip in LAYER_SKIPPED)
    }
    for name in sorted(files):
        if posixpath.basename(name) == "RECORD" and posixpath.dirname(name).endswith(".dist-info"):
            files[name] = rewritten_record(name, content(files[name]), files)
    names = sorted({str(path) for folder in (build, *folders) for path in (folder.absolute(), folder.resolve())})
    needles = [name.encode() for name in names if len(Path(name).parts) > 2]
    leaking = sorted(name for name, source in files.items() if any(needle in content(source) for needle in needles))
    if leaking:
        raise SystemExit(f"{build}: {leaking[:5]} name the folder the layer was built in ({', '.join(names)})")
    return files


def function_artifact(folder: Path) -> Artifact:
    if (folder / "requirements.txt").exists():
        raise SystemExit(f"{folder} has a requirements.txt: zip sam build's output of it instead of the folder")
    return Artifact(folder.name, deterministic_zip(tree(folder)))


def distribution(requirement: str) -> str:
    """'aws-lambda-powertools==3.37.0' -> 'aws_lambda_powertools-3.37.0.dist-info', as pip names it."""
    name, version = requirement.split("==")
    return f"{re.sub(r'[-_.]+', '_', name.strip()).lower()}-{version.strip()}.dist-info"


def build_layer(source: Path, logical_id: str, into: Path) -> Path:
    """What sam build does for a layer with BuildMethod makefile: make build-<LogicalId> ARTIFACTS_DIR=<dir>."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # a python3 with pip
    command = ["make", "--no-print-directory", "-C", str(source), f"build-{logical_id}", f"ARTIFACTS_DIR={into}"]
    run = subprocess.run(command, env=os.environ | {"PATH": path}, capture_output=True, text=True, check=False)
    if run.returncode != 0:  # pip's warnings otherwise say nothing about the layer
        raise SystemExit(f"building the layer failed:\n{run.stdout}{run.stderr}")
    return into


def layer_artifact(source: Path, logical_id: str, build: Path | None) -> Artifact:
    """The layer built from source (BuildMethod: makefile), checked to be what the sources say now."""
    if build is None:
        with tempfile.TemporaryDirectory() as directory:
            return layer_artifact(source, logical_id, build_layer(source, logical_id, Path(directory)))
    library = build / "python"
    if not library.is_dir():
        raise SystemExit(f"{library} is missing: run `sam build` first, or leave --layer-build out")
    packages = [p.name for p in source.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    for package in packages:
        built, wanted = tree(library / package), tree(source / package)
        stale = sorted(n for n in built.keys() | wanted.keys() if n not in built or n not in wanted)
        stale += sorted(n for n in built.keys() & wanted.keys() if built[n].read_bytes() != wanted[n].read_bytes())
        if stale:
            raise SystemExit(f"{build} is stale ({package}: {stale[:5]}...): run `sam build` again")
    requirements = source / "requirements.txt"
    pins = [line.split("#")[0].strip() for line in requirements.read_text(encoding="utf-8").splitlines()]
    missing = [pin for pin in pins if pin and not (library / distribution(pin)).is_dir()]
    if missing:
        raise SystemExit(f"{build} lacks {missing} (requirements.txt changed?): run `sam build` again")
    return Artifact(f"{source.name}-layer", deterministic_zip(layer_files(build, (ROOT, source))))


@contextlib.contextmanager
def region(name: str) -> Iterator[None]:
    """The Region the translator believes it runs in: it writes AWS managed policy ARNs in that Region's partition."""
    before = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = name
    try:
        yield
    finally:
        if before is None:
            del os.environ["AWS_DEFAULT_REGION"]
        else:
            os.environ["AWS_DEFAULT_REGION"] = before


# The AWS managed policies SAM attaches, as the translator writes them: in the partition of the Region it runs in.
MANAGED_POLICY = re.compile(r"^arn:aws(?:-cn|-us-gov)?:iam::aws:policy/(?P<name>.+)$")
# SAM attaches AWSXrayWriteOnlyAccess in aws and AWSXRayDaemonWriteAccess in aws-cn and aws-us-gov (samtranslator's
# tracing policy). AWSXRayDaemonWriteAccess exists in all three partitions and grants the same X-Ray writes
# (AWS managed policy reference, https://docs.aws.amazon.com/aws-managed-policy/latest/reference/ pages
# AWSXRayDaemonWriteAccess.html and AWSXrayWriteOnlyAccess.html:
# both allow the same five xray: actions on "*").
PARTITION_NEUTRAL_POLICY = {"AWSXrayWriteOnlyAccess": "AWSXRayDaemonWriteAccess"}


def partition_neutral(node: Any) -> Any:
    """The translator's literal AWS managed policy ARNs rewritten with ${AWS::Partition}: one member template deploys
    in aws, aws-cn and aws-us-gov (a StackSet's template is the same in every Region it deploys to)."""
    if isinstance(node, dict):
        return {key: partition_neutral(value) for key, value in node.items()}
    if isinstance(node, list):
        return [partition_neutral(item) for item in node]
    match = MANAGED_POLICY.match(node) if isinstance(node, str) else None
    if match is None:
        return node
    name = PARTITION_NEUTRAL_POLICY.get(match["name"], match["name"])
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::aws:policy/{name}"}


def member_template(
    template_path: Path, layer_build: Path | None, partition_region: str = "us-east-1"
) -> tuple[dict[str, Any], list[Artifact]]:
    """template.yaml with its local code folders replaced by their artifacts' S3 locations, then transformed."""
    # Typed or not depending on the samtranslator release: the ignores below are unused with some.
    template = yaml_parse(template_path.read_text(encoding="utf-8"))  # type: ignore[no-untyped-call, unused-ignore]
    shared_code = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    artifacts: dict[str, Artifact] = {}

    def located(uri: Any, make: Callable[[Path], Artifact]) -> Any:
        if not isinstance(uri, str) or uri.startswith("s3://"):
            return uri  # already a location
        folder = (template_path.parent / uri).resolve()
        if str(folder) not in artifacts:
            artifacts[str(folder)] = make(folder)
        return artifacts[str(folder)].location

    for name, resource in template["Resources"].items():
        properties = resource.setdefault("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if properties.get("PackageType") == "Image" or "InlineCode" in properties:
                continue
            properties["CodeUri"] = located(properties.get("CodeUri", shared_code), function_artifact)
            if properties["CodeUri"] is None:
                raise SystemExit(f"{name} has no CodeUri")
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            layer = functools.partial(layer_artifact, logical_id=name, build=layer_build)
            properties["ContentUri"] = located(properties["ContentUri"], layer)
    template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)

    with region(partition_region):
        translated = transform(template, {}, NoManagedPolicies())  # type: ignore[arg-type, unused-ignore]
    expanded: dict[str, Any] = partition_neutral(translated)
    for resource in expanded["Resources"].values():
        code = resource.get("Properties", {}).get(CODE.get(resource["Type"], ""))
        if code is not None and code.get("S3Bucket") == STAND_IN_BUCKET:
            code["S3Bucket"] = BUCKET
    expanded["Parameters"][PARAMETER] = PARAMETER_SPEC
    interface = expanded.get("Metadata", {}).get("AWS::CloudFormation::Interface")
    if interface is not None:
        interface.setdefault("ParameterGroups", []).append(PARAMETER_GROUP)
    return expanded, list(artifacts.values())


def next_steps(out: Path, template: dict[str, Any], template_key: str) -> str:
    required = [name for name, spec in template["Parameters"].items() if "Default" not in spec and name != PARAMETER]
    parameters = [f"ParameterKey={PARAMETER},ParameterValue=$PREFIX"]
    parameters += [f"ParameterKey={name},ParameterValue=<{name}>" for name in required]
    if "SecurityBusArn" in template["Parameters"]:
        parameters.append("ParameterKey=SecurityBusArn,ParameterValue=<the security stack's ResultsBusArn>")
    if "SecurityHubFindings" in template["Parameters"]:
        parameters.append("ParameterKey=SecurityHubFindings,ParameterValue=true")
    return f"""
Next steps, in the Organization's delegated administrator account for StackSets (the management account: leave
--call-as out). PREFIX is the artifact bucket's name without -<region> (the security stack's ArtifactBucket):
  PREFIX=<prefix>; HOME_REGION=<the stack set's Region>; REGIONS="<every Region to protect>"
1. Upload the code and the template into the artifact bucket of every Region:
     for region in $REGIONS; do aws s3 cp --recursive {out}/artifacts s3://$PREFIX-$region/ --region $region; done
2. Create the stack set. The template is read from S3: it is over the 51,200 bytes --template-body takes.
     aws cloudformation create-stack-set --region $HOME_REGION --stack-set-name {STACK_SET} \\
       --template-url https://$PREFIX-$HOME_REGION.s3.$HOME_REGION.amazonaws.com/{template_key} \\
       --permission-model SERVICE_MANAGED --auto-deployment Enabled=true,RetainStacksOnAccountRemoval=false \\
       --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM --call-as DELEGATED_ADMIN \\
       --parameters {" ".join(parameters)}
   A new version: make org-template, step 1, then update-stack-set with the new --template-url, the same
   --capabilities and --call-as, and --parameters ParameterKey=<each>,UsePreviousValue=true.
3. Deploy it to organizational units, one Region at a time with the DSSE key of that Region:
     aws cloudformation create-stack-instances --region $HOME_REGION --stack-set-name {STACK_SET} \\
       --call-as DELEGATED_ADMIN --deployment-targets OrganizationalUnitIds=<ou-id>,<ou-id> --regions <region> \\
       --parameter-overrides ParameterKey=DsseKmsKeyArn,ParameterValue=<the key ARN in that region>
   New accounts of those organizational units get the stack automatically (--auto-deployment).
   China Regions: CloudFormation StackSets cannot use trusted access with AWS Organizations there
   (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-prereqs.html, its note): use
   --permission-model SELF_MANAGED with the administration and execution roles, and --accounts instead of
   --deployment-targets OrganizationalUnitIds."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--out", type=Path, default=Path(".aws-sam/org"))
    parser.add_argument("--layer-build", type=Path, help="a layer sam build made (.aws-sam/build/RemediationLayer)")
    parser.add_argument(
        "--partition-region",
        default="us-east-1",
        help="the Region the SAM translator runs as (the member template names the partition as ${AWS::Partition})",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the next steps")
    args = parser.parse_args(argv)

    template, artifacts = member_template(args.template, args.layer_build, args.partition_region)
    body = (json.dumps(template, indent=1, default=str) + "\n").encode()
    # Uploaded with the code: CreateStackSet reads a template this size from S3 only (TemplateURL).
    artifacts.append(Artifact("member", body, ".json"))
    artifact_dir = args.out / "artifacts" / KEY_PREFIX.rstrip("/")
    artifact_dir.mkdir(parents=True, exist_ok=True)
    for old in [*artifact_dir.glob("*.zip"), *artifact_dir.glob("member-*.json")]:  # earlier builds: not uploaded
        old.unlink()
    for artifact in artifacts:
        (args.out / "artifacts" / artifact.key).write_bytes(artifact.data)
    (args.out / "member.json").write_bytes(body)
    if not args.quiet:
        print(f"wrote {args.out / 'member.json'} and {len(artifacts)} artifacts in {artifact_dir}")
        print(next_steps(args.out, template, artifacts[-1].key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
