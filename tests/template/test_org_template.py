"""The member template for an Organization (scripts/org_template.py): template.yaml expanded into plain CloudFormation
for a service-managed StackSet, which rejects templates with a transform, its code zipped into content-addressed
artifacts read from a bucket per Region.

It is what template.yaml means: the same resources and properties as the SAM transform makes of it
(scripts/transformed_template.py, which `make template-checks` lints), only the code locations differ and one
parameter is added. The layer here is a stand-in for `sam build`'s (the library from the sources, the pinned
distributions empty): building the real one needs the package index, and `make template-checks` builds and checks it
(sam build, scripts/check_layer.py, then scripts/org_template.py --layer-build on sam build's layer)."""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("samtranslator", reason="aws-sam-translator is not installed (requirements-dev.txt pins it)")

ROOT = Path(__file__).resolve().parents[2]
LAYER_SOURCE = ROOT / "layers" / "remediation"
BUCKET = {"Fn::Sub": "${ArtifactBucketPrefix}-${AWS::Region}"}
CODE = {"AWS::Lambda::Function": "Code", "AWS::Lambda::LayerVersion": "Content"}
HASHED = ("AWS::Lambda::Version", "AWS::Lambda::LayerVersion")  # SAM names these after their code location


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


org_template = script("org_template")


def fake_layer_build(into: Path, source: Path = LAYER_SOURCE) -> Path:
    """What sam build leaves in .aws-sam/build/RemediationLayer, the third-party packages reduced to their pins."""
    library = into / "python"
    shutil.copytree(
        source / "dsse_remediation", library / "dsse_remediation", ignore=shutil.ignore_patterns("__pycache__")
    )
    for line in (source / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.split("#")[0].strip():
            distribution = library / org_template.distribution(line.split("#")[0])
            distribution.mkdir(parents=True)
            (distribution / "METADATA").write_text(f"Name: {line}\n", encoding="utf-8")
    (library / "bin").mkdir()
    (library / "bin" / "jp.py").write_text("#!/home/someone/.venv-tools/bin/python\n", encoding="utf-8")
    return into


def generate(out: Path, layer_build: Path, template: Path = ROOT / "template.yaml") -> dict[str, Any]:
    arguments = ["--template", str(template), "--out", str(out), "--layer-build", str(layer_build), "--quiet"]
    assert org_template.main(arguments) == 0
    member: dict[str, Any] = json.loads((out / "member.json").read_text(encoding="utf-8"))
    return member


def transformed() -> dict[str, Any]:
    """What scripts/transformed_template.py writes (make template-checks lints it)."""
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as env, contextlib.chdir(ROOT), contextlib.redirect_stdout(output):
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        assert script("transformed_template").main() == 0
    template: dict[str, Any] = json.loads(output.getvalue())
    return template


@pytest.fixture(scope="module")
def layer_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_layer_build(tmp_path_factory.mktemp("layer-build"))


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, layer_build: Path) -> Path:
    directory = tmp_path_factory.mktemp("org")
    generate(directory, layer_build)
    return directory


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    """What the SAM transform makes of template.yaml, with the AWS managed policy ARNs it writes for us-east-1 named
    through ${AWS::Partition}, as scripts/org_template.py names them (one member template for every partition)."""
    neutral: dict[str, Any] = org_template.partition_neutral(transformed())
    return neutral


@pytest.fixture(scope="module")
def member(out: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((out / "member.json").read_text(encoding="utf-8"))
    return template


def code_locations(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"][CODE[resource["Type"]]]
        for name, resource in template["Resources"].items()
        if resource["Type"] in CODE
    }


def meaning(template: dict[str, Any]) -> dict[str, Any]:
    """A template without what differs by design: code locations, the logical ids SAM derives from them (a layer
    version's, a published function version's), and the artifact bucket's parameter."""
    template = copy.deepcopy(template)
    template["Parameters"].pop("ArtifactBucketPrefix", None)
    groups = template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {}).get("ParameterGroups", [])
    groups[:] = [group for group in groups if group["Parameters"] != ["ArtifactBucketPrefix"]]
    for resource in template["Resources"].values():
        if resource["Type"] in CODE:
            resource["Properties"][CODE[resource["Type"]]] = "<code>"
    text = json.dumps(template, sort_keys=True)
    for name, resource in template["Resources"].items():
        if resource["Type"] in HASHED:
            hashed = re.fullmatch(r"(.+)[0-9a-f]{10}", name)
            assert hashed is not None, name
            text = text.replace(name, hashed.group(1) + "<hash>")
    normalized: dict[str, Any] = json.loads(text)
    return normalized


class TestTransformFree:
    def test_no_transform_no_serverless_resource_no_globals(self, member: dict[str, Any], out: Path) -> None:
        """Service-managed StackSets reject templates with a transform (cloudformation-coverage-roadmap #839)."""
        text = (out / "member.json").read_text(encoding="utf-8")

        assert "Transform" not in member
        assert "Globals" not in member
        assert not [name for name, r in member["Resources"].items() if r["Type"].startswith("AWS::Serverless::")]
        for sam_only in ("AWS::Serverless", "CodeUri", "ContentUri", "Globals"):
            assert sam_only not in text

    def test_it_is_clean_for_cfn_lint(self, out: Path) -> None:
        from cfnlint.api import ManualArgs, lint_file

        problems = lint_file(out / "member.json", ManualArgs(regions=["us-east-1"]))

        assert [str(problem) for problem in problems] == []


class TestSameAsTemplateYaml:
    def test_same_resources(self, member: dict[str, Any], expected: dict[str, Any]) -> None:
        def kinds(template: dict[str, Any]) -> dict[str, str]:
            return {name: r["Type"] for name, r in meaning(template)["Resources"].items()}

        assert kinds(member) == kinds(expected)

    def test_same_properties_policies_rules_variables_outputs(
        self, member: dict[str, Any], expected: dict[str, Any]
    ) -> None:
        """Everything but the code locations is what the SAM transform makes of template.yaml."""
        assert meaning(member) == meaning(expected)

    def test_one_parameter_more_the_artifact_bucket_prefix(
        self, member: dict[str, Any], expected: dict[str, Any]
    ) -> None:
        parameter = member["Parameters"]["ArtifactBucketPrefix"]
        pattern = re.compile(parameter["AllowedPattern"])

        assert set(member["Parameters"]) - set(expected["Parameters"]) == {"ArtifactBucketPrefix"}
        assert parameter["Type"] == "String"
        assert "Default" not in parameter  # every deployment names its bucket
        assert "ArtifactBucket" in parameter["Description"]
        assert "Organization" in parameter["Description"]
        assert pattern.match("acme-dsse-code")
        for invalid in ("Acme-Code", "a", "acme-code-", "x" * 49):
            assert not pattern.match(invalid), invalid
        assert len("x" * 48 + "-ap-southeast-7") <= 63  # the longest prefix, with a long Region name: a bucket name


class TestArtifacts:
    def test_every_code_location_is_an_artifact_in_the_regions_bucket(self, member: dict[str, Any], out: Path) -> None:
        locations = code_locations(member)

        assert len(locations) == 8  # seven functions (the canary's and the Config rule's among them) and the layer
        for name, location in locations.items():
            assert location["S3Bucket"] == BUCKET, name
            key = re.fullmatch(r"dsse-remediation/([a-z_-]+)-([0-9a-f]{16})\.zip", location["S3Key"])
            assert key is not None, (name, location)
            artifact = (out / "artifacts" / location["S3Key"]).read_bytes()
            assert hashlib.sha256(artifact).hexdigest()[:16] == key.group(2), name
        assert {p.relative_to(out / "artifacts").as_posix() for p in (out / "artifacts").rglob("*.zip")} == {
            location["S3Key"] for location in locations.values()
        }

    def test_the_template_is_uploaded_with_the_code(self, out: Path) -> None:
        """CreateStackSet takes at most 51,200 bytes of TemplateBody; a TemplateURL in S3 up to 460,800 bytes."""
        body = (out / "member.json").read_bytes()
        (uploaded,) = (out / "artifacts" / "dsse-remediation").glob("member-*.json")

        assert uploaded.read_bytes() == body
        assert uploaded.name == f"member-{hashlib.sha256(body).hexdigest()[:16]}.json"
        assert len(body) <= 460_800

    def test_a_function_artifact_is_its_folder(self, member: dict[str, Any], out: Path) -> None:
        for name, resource in member["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            key = resource["Properties"]["Code"]["S3Key"]
            folder = ROOT / "functions" / re.sub(r"-[0-9a-f]{16}\.zip$", "", key.removeprefix("dsse-remediation/"))
            with zipfile.ZipFile(out / "artifacts" / key) as artifact:
                contents = {entry: artifact.read(entry) for entry in artifact.namelist()}
            expected = {
                p.relative_to(folder).as_posix(): p.read_bytes()
                for p in folder.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts
            }
            assert contents == expected, name

    def test_every_function_keeps_its_folder(self, member: dict[str, Any]) -> None:
        """Each function of template.yaml runs the code of its CodeUri folder."""
        from tests.cfn import load

        for name, resource in load()["Resources"].items():
            if resource["Type"] == "AWS::Serverless::Function":
                folder = Path(resource["Properties"]["CodeUri"]).name
                key = member["Resources"][name]["Properties"]["Code"]["S3Key"]
                assert re.fullmatch(rf"dsse-remediation/{folder}-[0-9a-f]{{16}}\.zip", key), (name, key)

    def test_the_layer_artifact_is_the_layer_sam_builds(self, member: dict[str, Any], out: Path) -> None:
        """python/ as a Lambda layer expects it: the library as in the sources, the pinned packages; not bin/."""
        (layer,) = [r for r in member["Resources"].values() if r["Type"] == "AWS::Lambda::LayerVersion"]
        with zipfile.ZipFile(out / "artifacts" / layer["Properties"]["Content"]["S3Key"]) as artifact:
            names = artifact.namelist()
            library = {n: artifact.read(n) for n in names if n.startswith("python/dsse_remediation/")}

        assert all(name.startswith("python/") for name in names)
        assert not [name for name in names if name.startswith("python/bin/") or "__pycache__" in name]
        assert library == {
            "python/" + p.relative_to(LAYER_SOURCE).as_posix(): p.read_bytes()
            for p in (LAYER_SOURCE / "dsse_remediation").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }
        for line in (LAYER_SOURCE / "requirements.txt").read_text(encoding="utf-8").splitlines():
            if line.split("#")[0].strip():
                assert f"python/{org_template.distribution(line.split('#')[0])}/METADATA" in names, line

    def test_two_runs_write_the_same_bytes(self, out: Path, layer_build: Path, tmp_path: Path) -> None:
        """Deterministic zips (sorted entries, fixed timestamps and modes): the same code keeps its keys."""
        generate(tmp_path, layer_build)

        def files(directory: Path) -> dict[str, bytes]:
            return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}

        assert files(tmp_path) == files(out)
        for artifact in (tmp_path / "artifacts").rglob("*.zip"):
            with zipfile.ZipFile(artifact) as archive:
                entries = archive.infolist()
            assert [e.filename for e in entries] == sorted(e.filename for e in entries)
            assert {e.date_time for e in entries} == {(1980, 1, 1, 0, 0, 0)}

    def test_new_code_is_a_new_key_a_new_layer_and_a_new_task_version(
        self, member: dict[str, Any], tmp_path: Path
    ) -> None:
        """CloudFormation publishes a layer version or a function version only under a new logical id, which SAM
        derives from the code location: a content-addressed key changes both with the code."""
        copy_root = tmp_path / "source"
        copy_root.mkdir()
        shutil.copy(ROOT / "template.yaml", copy_root / "template.yaml")
        shutil.copytree(ROOT / "functions", copy_root / "functions", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(
            LAYER_SOURCE, copy_root / "layers" / "remediation", ignore=shutil.ignore_patterns("__pycache__")
        )
        task = copy_root / "functions" / "batch_task" / "app.py"
        task.write_text(task.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
        layer = fake_layer_build(tmp_path / "layer-build", copy_root / "layers" / "remediation")
        (layer / "python" / "dsse_remediation" / "changed.py").write_text("", encoding="utf-8")
        (copy_root / "layers" / "remediation" / "dsse_remediation" / "changed.py").write_text("", encoding="utf-8")

        changed = generate(tmp_path / "out", layer, copy_root / "template.yaml")

        def hashed(template: dict[str, Any]) -> set[str]:
            return {name for name, resource in template["Resources"].items() if resource["Type"] in HASHED}

        def keys(template: dict[str, Any]) -> set[str]:
            return {location["S3Key"] for location in code_locations(template).values()}

        assert len(hashed(member)) == 2
        assert hashed(changed).isdisjoint(hashed(member))
        new = {re.sub(r"-[0-9a-f]{16}\.zip$", "", key) for key in keys(changed) - keys(member)}
        assert new == {"dsse-remediation/batch_task", "dsse-remediation/remediation-layer"}

    def test_a_stale_layer_build_is_refused(self, tmp_path: Path) -> None:
        """A layer sam build made before the library changed would ship the old code."""
        layer = fake_layer_build(tmp_path / "layer-build")
        (layer / "python" / "dsse_remediation" / "alerts.py").write_text("# old\n", encoding="utf-8")

        with pytest.raises(SystemExit, match="stale"):
            generate(tmp_path / "out", layer)


def clone(into: Path) -> Path:
    """A checkout of the sources in another folder: template.yaml, the functions, the layer's sources."""
    into.mkdir(parents=True)
    shutil.copy(ROOT / "template.yaml", into / "template.yaml")
    shutil.copytree(ROOT / "functions", into / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(LAYER_SOURCE, into / "layers" / "remediation", ignore=shutil.ignore_patterns("__pycache__"))
    return into


def record_row(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def pip_installed(checkout: Path, mode: int = 0o644) -> Path:
    """sam build's layer in a checkout as pip --target leaves it when the python3 on PATH is the checkout's own venv:
    jmespath's console script names that Python and its RECORD hashes the script; the folder also shows in what pip
    and Python write elsewhere (a local install's direct_url.json, bytecode); file times differ, and modes with the
    umask (mode: the files pip writes)."""
    build = fake_layer_build(checkout / ".aws-sam" / "build" / "RemediationLayer", checkout / "layers" / "remediation")
    library = build / "python"
    python = str(checkout / ".venv-tools" / "bin" / "python3")
    written = {
        "../../bin/jp.py": f"#!{python}\nimport sys\nfrom jmespath import search\n",  # the name pip --target records
        "jmespath/__init__.py": "def search(expression, data):\n    return data\n",
        "jmespath/__pycache__/__init__.cpython-313.pyc": f"\xf3\r\r\n{python} {len(python)}",
        "jmespath-1.1.0.dist-info/INSTALLER": "pip\n",
        "jmespath-1.1.0.dist-info/METADATA": "Name: jmespath\nVersion: 1.1.0\n",
        "jmespath-1.1.0.dist-info/direct_url.json": json.dumps({"url": f"file://{checkout}/vendor", "dir_info": {}}),
    }
    rows = ["jmespath-1.1.0.dist-info/RECORD,,"]
    for name, text in written.items():
        path = library / name.replace("../../bin/", "bin/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
        rows.append(record_row(name, text.encode()))
    (library / "jmespath-1.1.0.dist-info" / "RECORD").write_bytes("".join(f"{r}\r\n" for r in sorted(rows)).encode())
    stamp = 1_700_000_000 + len(str(checkout))
    for path in build.rglob("*"):
        os.utime(path, (stamp, stamp))
    for name in written:
        (library / name.replace("../../bin/", "bin/")).chmod(0o755 if name.endswith("jp.py") else mode)
    return build


def zipped(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def layer_artifact(checkout: Path) -> Any:
    """The layer artifact of a checkout's layer build, as `make template-checks` makes it (--layer-build)."""
    build = checkout / ".aws-sam" / "build" / "RemediationLayer"
    return org_template.layer_artifact(checkout / "layers" / "remediation", "RemediationLayer", build)


@pytest.fixture(scope="module")
def clones(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One commit checked out and built in two folders."""
    folder = tmp_path_factory.mktemp("clones")
    one, two = clone(folder / "ci-build-1"), clone(folder / "elsewhere" / "a-longer-folder-name")
    pip_installed(one, mode=0o600)
    pip_installed(two, mode=0o664)
    return one, two


class TestBuiltInAnyFolder:
    """The same commit built in two clones gives the same zips, so the same keys: CI does not publish a new layer
    version, nor a new stack set version, for code that did not change."""

    def test_the_layer_zip_and_its_key_do_not_depend_on_the_folder(self, clones: tuple[Path, Path]) -> None:
        one, two = clones
        record = ".aws-sam/build/RemediationLayer/python/jmespath-1.1.0.dist-info/RECORD"
        assert (one / record).read_bytes() != (two / record).read_bytes()  # the builds differ: jp.py's first line

        assert layer_artifact(one).data == layer_artifact(two).data
        assert layer_artifact(one).key == layer_artifact(two).key

    def test_every_artifact_and_the_member_template_are_the_same_bytes(self, clones: tuple[Path, Path]) -> None:
        def artifacts(checkout: Path) -> dict[str, bytes]:
            build = checkout / ".aws-sam" / "build" / "RemediationLayer"
            generate(checkout / "out", build, checkout / "template.yaml")
            return {p.name: p.read_bytes() for p in (checkout / "out" / "artifacts" / "dsse-remediation").iterdir()}

        one, two = (artifacts(checkout) for checkout in clones)

        assert one == two
        assert len(one) == 9  # seven functions, the layer, the template

    def test_what_names_the_build_is_left_out_and_each_record_lists_what_the_zip_holds(self, tmp_path: Path) -> None:
        """RECORD is rewritten, not dropped: importlib.metadata.files() and pip show --files stay true in Lambda."""
        checkout = clone(tmp_path / "checkout")
        pip_installed(checkout)

        layer = zipped(layer_artifact(checkout).data)
        record = layer["python/jmespath-1.1.0.dist-info/RECORD"].decode()

        assert not [name for name in layer if "/bin/" in name or "__pycache__" in name or "direct_url" in name]
        assert not [name for name, data in layer.items() if str(tmp_path).encode() in data]
        assert record.split("\r\n") == [
            record_row("jmespath-1.1.0.dist-info/INSTALLER", b"pip\n"),
            record_row("jmespath-1.1.0.dist-info/METADATA", layer["python/jmespath-1.1.0.dist-info/METADATA"]),
            "jmespath-1.1.0.dist-info/RECORD,,",
            record_row("jmespath/__init__.py", layer["python/jmespath/__init__.py"]),
            "",  # CRLF line ends, as pip writes them
        ]

    def test_a_layer_file_that_names_its_build_folder_is_refused(self, tmp_path: Path) -> None:
        """An editable install's .pth (or any file recording where it was built) would change the key per folder,
        and point nowhere in /opt/python."""
        checkout = clone(tmp_path / "checkout")
        build = pip_installed(checkout)
        (build / "python" / "__editable__.jmespath-1.1.0.pth").write_text(f"{build}/src\n", encoding="utf-8")

        with pytest.raises(SystemExit, match=r"__editable__\.jmespath-1\.1\.0\.pth.*name the folder"):
            layer_artifact(checkout)
