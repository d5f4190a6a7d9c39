#!/usr/bin/env bash
# Puts @alicloud/ros-cdk-mns (the ROS CDK's MNS constructs) into <prefix>/node_modules for
# tests/validate_template.js. npm has no such package; PyPI's ros-cdk-mns wheel is a jsii package
# that bundles the npm tarball (ros_cdk_mns/_jsii/ros-cdk-mns@<version>.jsii.tgz): pip downloads the
# wheel (cached under <prefix>/wheels), this extracts the tarball, then checks that its peer
# dependency on @alicloud/ros-cdk-core accepts the core npm installed. Fails loudly otherwise.
#
# Usage: tests/ros_cdk_mns.sh <version> <prefix> <python>   (run after the npm install into <prefix>)
set -euo pipefail
version=$1 prefix=$2 python=$3
wheels="$prefix/wheels"
target="$prefix/node_modules/@alicloud/ros-cdk-mns"
wheel="$wheels/ros_cdk_mns-$version-py3-none-any.whl"

if [ ! -f "$wheel" ]; then
  mkdir -p "$wheels"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$wheels" "ros-cdk-mns==$version"
fi
[ -f "$wheel" ] || { echo "ros_cdk_mns.sh: pip did not produce $wheel" >&2; exit 1; }

"$python" - "$wheel" "$version" "$target" "$prefix/node_modules/@alicloud/ros-cdk-core/package.json" <<'EOF'
import io, json, shutil, sys, tarfile, zipfile
from pathlib import Path

wheel, version, target, core_json = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
member = f"ros_cdk_mns/_jsii/ros-cdk-mns@{version}.jsii.tgz"
with zipfile.ZipFile(wheel) as archive:
    if member not in archive.namelist():
        sys.exit(f"ros_cdk_mns.sh: {wheel} has no {member}")
    data = archive.read(member)
if target.exists():
    shutil.rmtree(target)
target.mkdir(parents=True)
with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tgz:
    for item in tgz.getmembers():  # npm tarballs hold package/...; nothing may land outside target
        name = Path(item.name)
        if name.parts[:1] != ("package",) or ".." in name.parts or not (item.isfile() or item.isdir()):
            sys.exit(f"ros_cdk_mns.sh: unexpected tarball member {item.name}")
        out = target.joinpath(*name.parts[1:])
        if item.isdir():
            out.mkdir(parents=True, exist_ok=True)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            source = tgz.extractfile(item)
            assert source is not None
            out.write_bytes(source.read())
package = json.loads((target / "package.json").read_text())
if (package["name"], package["version"]) != ("@alicloud/ros-cdk-mns", version):
    sys.exit(f"ros_cdk_mns.sh: the tarball is {package['name']}@{package['version']}")
if not core_json.exists():
    sys.exit(f"ros_cdk_mns.sh: {core_json} missing: run the npm install of @alicloud/ros-cdk-core first")
core = json.loads(core_json.read_text())["version"]
wanted = package["peerDependencies"]["@alicloud/ros-cdk-core"]
if not wanted.startswith("^"):
    sys.exit(f"ros_cdk_mns.sh: peer range {wanted!r} is not a caret range; check it by hand")
low = tuple(int(part) for part in wanted[1:].split("."))
have = tuple(int(part) for part in core.split("."))
if not (have[0] == low[0] and have >= low):  # ^X.Y.Z, X >= 1: same major, at least X.Y.Z
    sys.exit(f"ros_cdk_mns.sh: ros-cdk-mns {version} wants ros-cdk-core {wanted}, npm installed {core}")
print(f"ros-cdk-mns {version} from its PyPI wheel (peer ros-cdk-core {wanted}; installed {core})")
EOF
