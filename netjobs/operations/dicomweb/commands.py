"""The dcm4che (``stowrs``, ``wadors``) and curl command lines equivalent to the DICOMweb
jobs. Secrets are never printed: the lines name shell variables ($PASSWORD, $TOKEN)."""

from __future__ import annotations

import shlex
from urllib.parse import urlencode

from netjobs.jobs.base import CommandLine
from netjobs.models import DicomwebEndpoint, EndpointAuth
from netjobs.operations.dicomweb.check import CheckParams
from netjobs.operations.dicomweb.qido import QidoParams
from netjobs.operations.dicomweb.stow import DICOM, StowParams
from netjobs.operations.dicomweb.wado import WadoMode, WadoParams
from netjobs.operations.store.kind import command_paths

q = shlex.quote


def _curl_auth(endpoint: DicomwebEndpoint) -> str:
    insecure = " -k" if endpoint.base_url.startswith("https") and not endpoint.verify_tls \
        else f" --cacert {q(endpoint.tls_ca_file)}" if endpoint.tls_ca_file else ""
    if endpoint.auth == EndpointAuth.BASIC:
        return f" -u {q(endpoint.username)}:\"$PASSWORD\"{insecure}"
    if endpoint.auth == EndpointAuth.BEARER:
        return f' -H "Authorization: Bearer $TOKEN"{insecure}'
    return insecure


def _dcm4che_auth(endpoint: DicomwebEndpoint) -> str:
    if endpoint.auth == EndpointAuth.BASIC:
        return f" -u {q(endpoint.username)}:\"$PASSWORD\""
    if endpoint.auth == EndpointAuth.BEARER:
        return ' --bearer "$TOKEN"'
    return ""


def qido_command_lines(params: QidoParams) -> list[CommandLine]:
    endpoint = DicomwebEndpoint.objects.get(pk=params.endpoint)
    query = urlencode({**{k: v[0] for k, v in params.query().items()},
                       "limit": params.max_matches})
    url = f"{endpoint.root}/{params.path()}?{query}"
    return [CommandLine("curl", f"curl -sS{_curl_auth(endpoint)} -H 'Accept: application/"
                                f"dicom+json' {q(url)}")]


def wado_command_lines(params: WadoParams) -> list[CommandLine]:
    endpoint = DicomwebEndpoint.objects.get(pk=params.endpoint)
    url = f"{endpoint.root}/{params.path()}"
    if params.mode == WadoMode.METADATA:
        url += "/metadata"
        return [CommandLine("dcm4che", f"wadors{_dcm4che_auth(endpoint)} -a json --header "
                                       f"--out-dir . {q(url)}"),
                CommandLine("curl", f"curl -sS{_curl_auth(endpoint)} -H 'Accept: "
                                    f"application/dicom+json' -o metadata.json {q(url)}")]
    accept = params.accept()
    return [CommandLine("dcm4che", f"wadors{_dcm4che_auth(endpoint)} -a {q(accept)} --header "
                                   f"--out-dir . {q(url)}"),
            CommandLine("curl", f"curl -sS{_curl_auth(endpoint)} -H {q('Accept: ' + accept)} "
                                f"-o {q(params.what().split()[-1] + '.mime')} {q(url)}")]


def stow_command_lines(params: StowParams) -> list[CommandLine]:
    endpoint = DicomwebEndpoint.objects.get(pk=params.endpoint)
    url = f"{endpoint.root}/{params.resource()}"
    paths = command_paths(params)
    files = " ".join(q(p) if not p.startswith("<") else p for p in paths)
    first = paths[0] if paths and not paths[0].startswith("<") else "<file.dcm>"
    body = (f"{{ printf -- '--B\\r\\nContent-Type: {DICOM}\\r\\n\\r\\n'; cat {q(first)}; "
            f"printf -- '\\r\\n--B--\\r\\n'; }}")
    return [
        CommandLine("dcm4che", f"stowrs{_dcm4che_auth(endpoint)} -a json --url {q(url)} "
                               f"{files}"),
        CommandLine("curl", f"{body} | curl -sS{_curl_auth(endpoint)} -X POST -H "
                            f"'Content-Type: multipart/related; type=\"{DICOM}\"; boundary=B' "
                            f"-H 'Accept: application/dicom+json' --data-binary @- {q(url)}"),
    ]


def check_command_lines(params: CheckParams) -> list[CommandLine]:
    endpoint = DicomwebEndpoint.objects.get(pk=params.endpoint)
    url = f"{endpoint.root}/studies?limit=1"
    return [CommandLine("curl", f"curl -sS -i{_curl_auth(endpoint)} -H 'Accept: application/"
                                f"dicom+json' {q(url)}"),
            CommandLine("curl", f"curl -sS -i -X OPTIONS{_curl_auth(endpoint)} "
                                f"{q(endpoint.root)}")]
