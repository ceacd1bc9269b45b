"""Every API error is an RFC 9457 problem document; browsers get an HTML page instead."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.support import World, bearer


def test_unknown_api_route_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_wrong_method_is_a_problem_document(client: TestClient) -> None:
    response = client.put("/api/v1/me")
    assert (response.status_code, response.headers["content-type"]) == (405, "application/problem+json")


def test_malformed_json_names_the_body(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/patients",
        content=b"{not json",
        headers={**bearer(client, world.clinician), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid-input"


def test_oversized_request_is_refused_before_it_is_read(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/patients",
        content=b"x" * (1024 * 1024 + 1),
        headers={**bearer(client, world.clinician), "content-type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (413, "payload-too-large")


def test_browser_gets_an_html_error_page_with_security_headers(client: TestClient) -> None:
    response = client.get("/definitely-missing", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_health_reports_the_database(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}


def test_a_signed_out_browser_is_sent_to_login_and_back_with_its_query(client: TestClient) -> None:
    response = client.get(
        "/?q=ada&date_of_birth=1980-05-17", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/%3Fq%3Dada%26date_of_birth%3D1980-05-17"
