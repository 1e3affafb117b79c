"""The OpenAPI document describes every answer: each route declares the schema of its
success response, so a client generated from ``/openapi.json`` knows every shape."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


def _success(operation: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(code, r) for code, r in operation["responses"].items() if code in ("200", "201")]


def test_every_route_documents_its_success_response_schema(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    missing = []
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            success = _success(operation)
            schemas = [
                media.get("schema")
                for _, response in success
                for media in response.get("content", {}).values()
            ]
            if not success or not any(s and s != {} for s in schemas):
                missing.append(f"{method.upper()} {path}")
    assert missing == []


def test_read_schemas_name_their_fields(api: Api) -> None:
    """Not an empty object: the asset, timeline and findings schemas list fields."""
    doc = api.client.get("/openapi.json").json()
    components = doc["components"]["schemas"]
    for name in ("AssetView", "Timeline", "FindingsPage", "ContractReport", "LogPage"):
        assert components[name]["properties"], name
    asset = doc["paths"]["/v1/assets/{asset_id}"]["get"]
    ref = asset["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/AssetView")


def test_reads_document_not_found_and_not_ready(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    asset = doc["paths"]["/v1/assets/{asset_id}"]["get"]["responses"]
    assert {"404", "503"} <= set(asset)
    assert "409" not in asset and "413" not in asset
