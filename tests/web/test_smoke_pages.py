import pytest


@pytest.mark.parametrize("path", ["/", "/explorer/", "/accounts/login/", "/accounts/signup/"])
def test_public_pages_render(client, chain, path):
    assert client.get(path).status_code == 200
