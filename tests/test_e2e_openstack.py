"""End to end: the OpenStack examples of specs/openstack/ against the local stack
(../shared/openstack; .ci/run starts it), logged in through --os-cloud with no login step.
The test checks through the service's own API that nothing the spec created is left."""

from __future__ import annotations

from pathlib import Path

import pytest
from openstack_cloud import DEMO, FERNET, Cloud, apirun, clouds_yaml, require_service, unique

pytestmark = pytest.mark.e2e

SPECS = Path(__file__).resolve().parent.parent / "specs" / "openstack"


@pytest.fixture(scope="module")
def cloud(keystone_url: str) -> Cloud:
    return Cloud(keystone_url)


@pytest.fixture
def local_cloud(cloud: Cloud, tmp_path: Path) -> dict[str, str]:
    """OS_CLIENT_CONFIG_FILE of a clouds.yaml naming the demo account as cloud 'local'."""
    auth = {
        "auth_url": cloud.url,
        "username": DEMO["username"],
        "password": DEMO["password"],
        "user_domain_name": DEMO["domain"],
        "project_name": DEMO["project"],
        "project_domain_name": DEMO["domain"],
    }
    path = clouds_yaml(tmp_path, "local", auth, region_name="RegionOne")
    return {"OS_CLIENT_CONFIG_FILE": str(path)}


def test_glance_upload_example_checks_the_bytes_and_leaves_no_image(cloud, local_cloud):
    glance = require_service(cloud, "image")
    name = unique()

    run = apirun(
        "--os-cloud",
        "local",
        "--var",
        f"image_name={name}",
        str(SPECS / "image-upload.yaml"),
        env=local_cloud,
    )

    steps = run.assert_all_passed()
    assert steps["upload the file"] == steps["size and hashes"] == "PASS"
    assert f"PUT {glance}/v2/images/" in run.line("upload the file")
    left = cloud.get(f"{glance}/v2/images", params={"name": name}).json()["images"]
    assert left == [], left
    assert not FERNET.search(run.out + run.err)


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.yaml")))
def test_every_openstack_example_passes_against_the_stack(cloud, local_cloud, spec):
    """Each spec of specs/openstack/ runs green on the local stack (an empty cloud too:
    a wildcard capture over an empty list is not a failure)."""
    run = apirun("--os-cloud", "local", str(SPECS / spec), env=local_cloud)

    run.assert_all_passed()
    assert not FERNET.search(run.out + run.err)


def test_neutron_example_creates_and_deletes_everything(cloud, local_cloud):
    neutron = require_service(cloud, "network")
    prefix = unique()

    run = apirun(
        "--os-cloud",
        "local",
        "--var",
        f"prefix={prefix}",
        str(SPECS / "network-crud.yaml"),
        env=local_cloud,
    )

    steps = run.assert_all_passed()
    assert steps["create a provider network"] == steps["allow ssh in"] == "PASS"
    for kind, name in [
        ("networks", f"{prefix}-net"),
        ("subnets", f"{prefix}-subnet"),
        ("ports", f"{prefix}-port"),
        ("security-groups", f"{prefix}-sg"),
    ]:
        left = cloud.get(f"{neutron}/v2.0/{kind}", params={"name": name}).json()
        assert left[kind.replace("-", "_")] == [], (kind, left)
    assert not FERNET.search(run.out + run.err)


def test_nova_example_boots_stops_and_deletes_a_server_and_leaves_nothing(cloud, local_cloud):
    nova = require_service(cloud, "compute")
    glance = require_service(cloud, "image")
    prefix = unique()

    run = apirun(
        "--os-cloud",
        "local",
        "--var",
        f"prefix={prefix}",
        str(SPECS / "compute-boot.yaml"),
        env=local_cloud,
    )

    steps = run.assert_all_passed()
    assert steps["wait until ACTIVE"] == steps["wait until gone"] == "PASS"
    servers = cloud.get(f"{nova}/servers", params={"name": f"{prefix}-server"}).json()
    assert servers["servers"] == [], servers
    images = cloud.get(f"{glance}/v2/images", params={"name": f"{prefix}-image"}).json()
    assert images["images"] == [], images
    assert not FERNET.search(run.out + run.err)
