"""Administrators create and edit de-identification projects (with a recipient certificate
checked like the reversible jobs check it, and a safe private list) and keep each project's
pseudonym mapping table: a CSV upload is checked whole and refused whole, a patient's
pseudonym changes only on request, and the downloaded table uploads back unchanged."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from archive.deid.models import DeidProject, Pseudonym, PseudonymOrigin
from tests.conftest import logged_in
from tests.deid_certificates import make_key_and_certificate
from tests.peers import require_tool

NEW = "/deidentify/projects/new/"


def detail(project: DeidProject) -> str:
    return f"/deidentify/projects/{project.pk}/"


def upload(client: Client, project: DeidProject, content: bytes, replace: bool = False,
           name: str = "table.csv") -> list[str]:
    """Upload a mapping table; the flash messages of the page it lands on."""
    data: dict[str, Any] = {"table": SimpleUploadedFile(name, content, "text/csv")}
    if replace:
        data["replace_existing"] = "on"
    response = client.post(f"{detail(project)}pseudonyms/upload/", data, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def table(project: DeidProject) -> dict[str, tuple[str, str, str, str]]:
    return {p.original_patient_id: (p.pseudonym_id, p.pseudonym_name, p.original_patient_name,
                                    p.origin)
            for p in Pseudonym.objects.filter(project=project)}


def openssl_fields(cert: Path) -> dict[str, str]:
    """Subject, expiry and SHA-256 fingerprint as the openssl CLI reads them."""
    out = subprocess.run(
        [require_tool("openssl"), "x509", "-in", str(cert), "-noout", "-subject", "-enddate",
         "-fingerprint", "-sha256", "-nameopt", "RFC2253"],
        check=True, capture_output=True, text=True).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines())
    return {k.strip().lower(): v.strip() for k, v in fields.items()}


def expired_certificate(key: Path) -> bytes:
    """A certificate for the key whose validity ended on 2020-01-02."""
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
            .not_valid_after(dt.datetime(2020, 1, 2, tzinfo=dt.UTC))
            .sign(private, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def admin_client(administrator: User) -> Client:
    return logged_in(administrator)


@pytest.fixture
def project(db: Any) -> DeidProject:
    return DeidProject.objects.create(name="TRIAL-7", description="Multicentre trial",
                                      pseudonym_prefix="T7")


def test_it_creates_a_project_with_a_real_certificate(admin_client: Client,
                                                      tmp_path: Path) -> None:
    _key, cert = make_key_and_certificate(tmp_path, name="trial-recipient")
    with cert.open("rb") as pem:
        response = admin_client.post(NEW, {
            "name": "Trial 12", "description": "Sent to the core lab",
            "pseudonym_prefix": "TR12", "certificate_file": pem,
            "safe_private": '"GEMS_PARM_01", 0043, 27\n"SIEMENS CSA HEADER", 0029, 10'})
    project = DeidProject.objects.get(name="Trial 12")
    assert response.status_code == 302 and response["Location"] == detail(project)
    assert project.created_by == "ada-admin"
    assert project.certificate_pem.strip() == cert.read_text().strip()
    assert len(bytes.fromhex(project.secret)) == 32

    page = admin_client.get(detail(project)).content.decode()
    fields = openssl_fields(cert)
    assert fields["subject"] in page
    not_after = dt.datetime.strptime(fields["notafter"], "%b %d %H:%M:%S %Y %Z")
    assert f"{not_after:%Y-%m-%d %H:%M} UTC" in page
    assert fields["sha256 fingerprint"] in page
    assert "&quot;GEMS_PARM_01&quot;, 0043, 27" in page
    assert "&quot;SIEMENS CSA HEADER&quot;, 0029, 10" in page
    assert project.secret not in page

    home = admin_client.get("/deidentify/").content.decode()
    assert fields["subject"] in home and detail(project) in home


def test_it_accepts_a_pasted_certificate_and_no_certificate(admin_client: Client,
                                                            tmp_path: Path) -> None:
    _key, cert = make_key_and_certificate(tmp_path)
    admin_client.post(NEW, {"name": "pasted", "pseudonym_prefix": "P",
                            "certificate_text": cert.read_text()})
    admin_client.post(NEW, {"name": "plain", "pseudonym_prefix": "P"})
    assert DeidProject.objects.get(name="pasted").certificate_pem.strip() == (
        cert.read_text().strip())
    assert DeidProject.objects.get(name="plain").certificate_pem == ""


@pytest.mark.parametrize("what", ["private key", "not pem", "expired"])
def test_it_refuses_a_bad_certificate_with_the_reason(admin_client: Client, tmp_path: Path,
                                                      what: str) -> None:
    key, _cert = make_key_and_certificate(tmp_path)
    pem = {"private key": key.read_bytes(), "not pem": b"MIIB definitely not a certificate",
           "expired": b""}[what]
    if what == "expired":
        pem = expired_certificate(key)
    response = admin_client.post(NEW, {
        "name": "refused", "pseudonym_prefix": "R",
        "certificate_file": SimpleUploadedFile("cert.pem", pem)})
    assert response.status_code == 200
    errors = response.context["form"].errors["certificate_file"]
    expected = {"private key": "private key, not a certificate",
                "not pem": "Not a PEM certificate", "expired": "expired on 2020-01-02"}[what]
    assert any(expected in e for e in errors), errors
    assert expected in response.content.decode().replace("&#x27;", "'")
    assert not DeidProject.objects.filter(name="refused").exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("pseudonym_prefix", "anon", "A–Z"),
    ("pseudonym_prefix", "WAY-TOO-LONG-PREFIX", "16"),
    ("pseudonym_prefix", "A B", "A–Z"),
    ("safe_private", '"GEMS_PARM_01", 0043, 27\nGEMS 0043', "line 2"),
    ("safe_private", '"GEMS_PARM_01", 0042, 27', "odd group"),
    ("name", "", "required"),
])
def test_it_shows_form_errors_not_500s(admin_client: Client, field: str, value: str,
                                       message: str) -> None:
    data = {"name": "p", "pseudonym_prefix": "OK", **{field: value}}
    response = admin_client.post(NEW, data)
    assert response.status_code == 200
    assert any(message in e for e in response.context["form"].errors[field])
    assert DeidProject.objects.count() == 0


def test_editing_keeps_the_key_and_never_shows_it(admin_client: Client,
                                                  project: DeidProject, tmp_path: Path) -> None:
    secret = project.secret
    form_page = admin_client.get(f"{detail(project)}edit/").content.decode()
    assert secret not in form_page and "secret" not in form_page.lower().split("<form")[1]
    _key, cert = make_key_and_certificate(tmp_path)
    response = admin_client.post(f"{detail(project)}edit/", {
        "name": "RENAMED", "description": "renamed", "pseudonym_prefix": "T7B",
        "certificate_text": cert.read_text(), "secret": "00" * 32})
    assert response.status_code == 302
    project.refresh_from_db()
    assert (project.secret, project.name, project.description, project.pseudonym_prefix) == (
        secret, "TRIAL-7", "renamed", "T7B")  # jobs name it: the name stays
    assert project.certificate_pem.strip() == cert.read_text().strip()
    # the certificate is prefilled; emptying the text removes it
    assert "BEGIN CERTIFICATE" in admin_client.get(f"{detail(project)}edit/").content.decode()
    admin_client.post(f"{detail(project)}edit/", {"name": "TRIAL-7", "pseudonym_prefix": "T7B",
                                                  "certificate_text": ""})
    project.refresh_from_db()
    assert project.certificate_pem == "" and project.secret == secret


def test_it_imports_a_mapping_table(admin_client: Client, project: DeidProject) -> None:
    content = ("original_patient_id,pseudonym_id,pseudonym_name,original_patient_name\r\n"
               "PAT-001,T7-0001,T7^ONE,Doe^Jane\r\n"
               "PAT-002,T7-0002,,\r\n"
               "\r\n"
               "Pat-Ünïcode,T7-0003,T7^THREE,Müller^Jürgen\r\n").encode()
    shown = upload(admin_client, project, content)
    assert any("3 added" in m for m in shown), shown
    assert table(project) == {
        "PAT-001": ("T7-0001", "T7^ONE", "Doe^Jane", PseudonymOrigin.UPLOADED),
        "PAT-002": ("T7-0002", "T7-0002", "", PseudonymOrigin.UPLOADED),
        "Pat-Ünïcode": ("T7-0003", "T7^THREE", "Müller^Jürgen", PseudonymOrigin.UPLOADED)}


def test_it_imports_a_table_without_header(admin_client: Client, project: DeidProject) -> None:
    upload(admin_client, project, b"A1,P1\nA2,P2,NAME^TWO\nA3,P3,NAME^THREE,ORIG^THREE\n")
    assert table(project) == {"A1": ("P1", "P1", "", "uploaded"),
                              "A2": ("P2", "NAME^TWO", "", "uploaded"),
                              "A3": ("P3", "NAME^THREE", "ORIG^THREE", "uploaded")}


@pytest.mark.parametrize(("content", "expected"), [
    (b"original_patient_id,pseudonym_id\nA1,P1\n,P2\n", "line 3: original_patient_id is empty"),
    (b"original_patient_id,pseudonym_id\nA1,P1\nA2,\n", "line 3: pseudonym_id is empty"),
    (b"A1,P1\nA2,P2\nA1,P3\n", "line 3: original_patient_id 'A1' is already on line 1"),
    (b"A1,P1\nA2,P1\n", "line 2: pseudonym_id 'P1' is already on line 1"),
    (b"A1,P1\nA2," + b"X" * 65 + b"\n", "line 2: pseudonym_id is 65 characters; at most 64"),
    (b"A1,P1\n" + b"A" * 65 + b",P2\n", "line 2: original_patient_id is 65 characters"),
    (b"A1,P1\nA2,P2\nA3,P\xe9\n", "line 3: not UTF-8"),
    (b"A1,P1\nA2,P\\2\n", "line 2: pseudonym_id holds a backslash"),
    (b"only-one-column\n", "line 1: 1 columns"),
    (b"original_patient_id,pseudonym_id,colour\nA1,P1,red\n", "unknown column(s) colour"),
    (b"A1,P1\nA2,P2,N2,O2,extra\n", "line 2: 5 columns; expected 2 to 4"),
    (b"original_patient_id,pseudonym_id\nA1,P1\nA2,P2,N2\n", "line 3: 3 columns, the header"),
    (b"A1,P1\nA2,\"P2\nA3,P3\n", "line 3: unexpected end of data"),
    (b"A1,P1\nA2,\"P2\nA3\",P3\n", "line 3: pseudonym_id holds a backslash or a control"),
    (b"\n\n", "no rows"),
])
def test_it_refuses_a_bad_table_whole(admin_client: Client, project: DeidProject,
                                      content: bytes, expected: str) -> None:
    shown = upload(admin_client, project, content)
    assert any("nothing was imported" in m for m in shown), shown
    assert any(expected in m for m in shown), shown
    assert Pseudonym.objects.count() == 0


def test_it_refuses_a_table_over_2_mb(admin_client: Client, project: DeidProject) -> None:
    rows = b"".join(b"A%07d,P%07d\n" % (i, i) for i in range(2 * 1024 * 1024 // 18 + 10))
    assert len(rows) > 2 * 1024 * 1024
    shown = upload(admin_client, project, rows)
    assert any("2 MB" in m for m in shown) and Pseudonym.objects.count() == 0


def test_a_pseudonym_already_given_to_another_patient_is_refused(
        admin_client: Client, project: DeidProject) -> None:
    Pseudonym.objects.create(project=project, original_patient_id="OLD-1", pseudonym_id="T7-9",
                             pseudonym_name="T7-9", origin=PseudonymOrigin.GENERATED)
    shown = upload(admin_client, project, b"NEW-1,T7-1\nNEW-2,T7-9\n", replace=True)
    assert any("line 2: pseudonym 'T7-9' is already given to patient 'OLD-1'" in m
               for m in shown), shown
    assert set(table(project)) == {"OLD-1"}
    # the same pseudonym in another project is another table
    other = DeidProject.objects.create(name="other")
    upload(admin_client, other, b"NEW-2,T7-9\n")
    assert table(other) == {"NEW-2": ("T7-9", "T7-9", "", "uploaded")}


def test_existing_pseudonyms_change_only_when_asked(admin_client: Client,
                                                    project: DeidProject) -> None:
    Pseudonym.objects.create(project=project, original_patient_id="A1", pseudonym_id="T7-1",
                             pseudonym_name="T7^ONE", origin=PseudonymOrigin.GENERATED)
    # the same pseudonym: accepted, the row becomes an uploaded one with the name given
    shown = upload(admin_client, project, b"A1,T7-1,T7^ONE,Doe^John\nA2,T7-2\n")
    assert any("1 added, 1 updated" in m for m in shown), shown
    assert table(project)["A1"] == ("T7-1", "T7^ONE", "Doe^John", "uploaded")
    # a new pseudonym for A1: refused whole (A3 not added either), with the reason
    shown = upload(admin_client, project, b"A3,T7-3\nA1,T7-NEW\n")
    refusal = next(m for m in shown if "line 2" in m)
    assert "breaks consistency" in refusal and "Replace existing pseudonyms" in refusal
    assert set(table(project)) == {"A1", "A2"} and table(project)["A1"][0] == "T7-1"
    # ticked: it changes
    shown = upload(admin_client, project, b"A3,T7-3\nA1,T7-NEW\n", replace=True)
    assert any("1 added, 1 updated" in m for m in shown), shown
    assert table(project)["A1"] == ("T7-NEW", "T7^ONE", "Doe^John", "uploaded")
    # uploading the same again changes nothing
    shown = upload(admin_client, project, b"A3,T7-3\nA1,T7-NEW\n")
    assert any("0 added, 0 updated, 2 unchanged" in m for m in shown), shown


def test_the_downloaded_table_uploads_back_unchanged(admin_client: Client,
                                                     project: DeidProject) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [f"PAT-{i:03}", f"T7-{i:04}", f"T7^P{i}", f'Doe^"Ünï", {i}'] for i in range(1, 8))
    upload(admin_client, project, buffer.getvalue().encode())
    Pseudonym.objects.create(project=project, original_patient_id="GEN, with comma",
                             original_patient_name='Smith^"Al"', pseudonym_id="T7-GEN",
                             pseudonym_name="T7-GEN", origin=PseudonymOrigin.GENERATED)
    before = table(project)

    response = admin_client.get(f"{detail(project)}pseudonyms.csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    downloaded = response.content
    parsed = list(csv.DictReader(io.StringIO(downloaded.decode("utf-8"))))
    assert [r["original_patient_id"] for r in parsed] == sorted(before)
    by_id = {r["original_patient_id"]: r for r in parsed}
    for original, (pseudonym, name, original_name, origin) in before.items():
        row = by_id[original]
        assert (row["pseudonym_id"], row["pseudonym_name"], row["original_patient_name"],
                row["origin"]) == (pseudonym, name, original_name, origin)
        assert row["created_at"]

    Pseudonym.objects.filter(project=project).delete()
    shown = upload(admin_client, project, downloaded)
    assert any(f"{len(before)} added" in m for m in shown), shown
    after = table(project)
    assert {k: v[:3] for k, v in after.items()} == {k: v[:3] for k, v in before.items()}


def test_it_searches_and_pages_the_table(admin_client: Client, project: DeidProject) -> None:
    Pseudonym.objects.bulk_create(
        Pseudonym(project=project, original_patient_id=f"MRN{i:04}",
                  original_patient_name=f"Patient^N{i:04}", pseudonym_id=f"T7-{i:04}",
                  pseudonym_name=f"T7^{i:04}", origin=PseudonymOrigin.GENERATED)
        for i in range(1, 121))
    first = admin_client.get(detail(project))
    assert [p.original_patient_id for p in first.context["page_obj"]] == [
        f"MRN{i:04}" for i in range(1, 51)]
    third = admin_client.get(detail(project), {"page": 3})
    assert [p.original_patient_id for p in third.context["page_obj"]] == [
        f"MRN{i:04}" for i in range(101, 121)]
    assert "Page 3 of 3 (120 in all)" in third.content.decode()
    assert admin_client.get(detail(project), {"page": "zz"}).status_code == 200

    def found(query: str) -> list[str]:
        page = admin_client.get(detail(project), {"q": query}).context["page_obj"]
        return [p.original_patient_id for p in page]

    assert found("MRN0042") == ["MRN0042"]
    assert found("patient^n0077") == ["MRN0077"]
    assert found("T7-0100") == ["MRN0100"]
    assert found("T7^0005") == ["MRN0005"]
    assert found("nobody") == []
    page_two = admin_client.get(detail(project), {"q": "MRN00", "page": "2"}).content.decode()
    assert "q=MRN00" in page_two  # the pager keeps the search


def test_a_certificate_that_expired_since_is_flagged(admin_client: Client, tmp_path: Path) -> None:
    key, _cert = make_key_and_certificate(tmp_path)
    project = DeidProject.objects.create(name="old", certificate_pem=expired_certificate(
        key).decode())
    home = admin_client.get("/deidentify/").content.decode()
    assert "CN=expired" in home and "expired 2020-01-02" in home
    page = admin_client.get(detail(project)).content.decode()
    assert "Reversible jobs would refuse it: The certificate expired on 2020-01-02" in page
    assert "Not after: 2020-01-02 00:00 UTC" in page
