"""End to end: the OpenStack examples of specs/openstack/ against the local stack
(../shared/openstack; .ci/run starts it), logged in through --os-cloud with no login step.
The test checks through the service's own API that nothing the spec created is left."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from openstack_cloud import (
    DEMO,
    FERNET,
    Cloud,
    apirun,
    clouds_yaml,
    left_behind,
    require_service,
    resources,
    unique,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs" / "openstack"


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
    a wildcard capture over an empty list is not a failure), and leaves nothing behind."""
    before = resources(cloud)

    run = apirun("--os-cloud", "local", str(SPECS / spec), env=local_cloud)

    run.assert_all_passed()
    assert left_behind(before, resources(cloud)) == {}, run.text
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


def test_placement_example_allocates_conflicts_and_cleans_up(cloud, local_cloud):
    placement = require_service(cloud, "placement")
    rp_uuid, consumer = str(uuid.uuid4()), str(uuid.uuid4())
    trait = f"CUSTOM_APIRUN_{uuid.uuid4().hex[:12].upper()}"

    run = apirun(
        "--os-cloud",
        "local",
        *("--var", f"rp_uuid={rp_uuid}", "--var", f"consumer={consumer}"),
        *("--var", f"trait={trait}"),
        str(SPECS / "placement-allocations.yaml"),
        env=local_cloud,
    )

    steps = run.assert_all_passed()
    for step in (
        "a stale generation is a conflict",
        "allocation candidates with the trait",
        "the provider's usages",
        "a stale consumer generation is a conflict",
    ):
        assert steps[step] == "PASS", run.text
    assert f"PUT {placement}/allocations/{consumer}" in run.line("allocate for a consumer")
    version = {"OpenStack-API-Version": "placement 1.39"}
    assert cloud.get(f"{placement}/resource_providers/{rp_uuid}").status_code == 404
    traits = cloud.get(f"{placement}/traits", params={"name": f"in:{trait}"}, headers=version)
    assert traits.json()["traits"] == []
    allocations = cloud.get(f"{placement}/allocations/{consumer}", headers=version).json()
    assert allocations["allocations"] == {}, allocations
    assert not FERNET.search(run.out + run.err)


@pytest.fixture
def app_credential_cloud(cloud: Cloud, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    """A clouds.yaml whose cloud 'local' logs in with an application credential of the demo
    admin (created through Keystone's API with the admin's own token; it has the admin's
    roles on its project, and is restricted: it cannot create application credentials or
    trusts). Yields the environment naming the file, and the credential's secret."""
    answer = cloud.post(
        f"{cloud.identity}/users/{cloud.user_id}/application_credentials",
        json={"application_credential": {"name": unique("appcred")}},
    )
    assert answer.status_code == 201, answer.text
    credential = answer.json()["application_credential"]
    auth = {
        "auth_url": cloud.url,
        "application_credential_id": credential["id"],
        "application_credential_secret": credential["secret"],
    }
    path = clouds_yaml(
        tmp_path,
        "local",
        auth,
        auth_type="v3applicationcredential",
        region_name="RegionOne",
        interface="public",
    )
    yield {"OS_CLIENT_CONFIG_FILE": str(path)}, credential["secret"]
    gone = cloud.delete(
        f"{cloud.identity}/users/{cloud.user_id}/application_credentials/{credential['id']}"
    )
    assert gone.status_code == 204, gone.text


def test_the_whole_folder_runs_with_an_application_credential_and_leaves_nothing(
    cloud, app_credential_cloud
):
    """The command of the issue, as a user types it: every spec of specs/openstack/ with
    one application-credential login, then nothing they created is left in any service."""
    for service in ("compute", "image", "network", "placement"):
        require_service(cloud, service)
    env, secret = app_credential_cloud
    before = resources(cloud)

    run = apirun("--os-cloud", "local", "specs/openstack/", env=env, cwd=ROOT)

    run.assert_all_passed()
    files = sorted(p.name for p in SPECS.glob("*.yaml"))
    assert all(f"specs/openstack/{name}" in run.out for name in files), run.text
    assert f"({len(files)} files," in run.out, run.text
    assert left_behind(before, resources(cloud)) == {}, run.text
    assert secret not in run.out + run.err
    assert not FERNET.search(run.out + run.err)
