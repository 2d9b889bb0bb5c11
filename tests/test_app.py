def test_login_page_shows_training_mode(client):
    page = client.get("/login").get_data(as_text=True)
    assert "TRAININGSMODUS" in page
    assert "Inloggen" in page


def test_console_requires_login_and_healthz_is_open(client):
    assert client.get("/").status_code == 302
    assert client.get("/healthz").get_json() == {"status": "ok"}
