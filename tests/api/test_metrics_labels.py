"""/metrics label values stay a bounded set whatever clients send."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


async def test_unknown_methods_and_paths_do_not_create_labels(client, admin):
    for method in ("BREW", "PROPFIND", "X-ANYTHING-1"):
        await client.request(method, "/api/users", headers=admin)
    await client.get("/api/no/such/path/abc123")
    await client.get("/api/users/4242", headers=admin)
    text = (await client.get("/metrics")).text
    samples = [line for line in text.splitlines() if line.startswith("shareline_http_requests_total{")]
    assert 'shareline_http_requests_total{method="other",route="/api/users",status="405"} 3.0' in samples
    assert 'shareline_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in samples
    assert (
        'shareline_http_requests_total{method="GET",route="/api/users/{user_id}",status="404"} 1.0' in samples
    )
    labels = {
        value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for value in sample.labels.values()
    }
    for raw in ("BREW", "PROPFIND", "X-ANYTHING", "abc123", "4242"):
        assert not any(raw in value for value in labels), raw
