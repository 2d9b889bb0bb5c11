def test_home_page_shows_training_mode_database_and_counts(client, settings):
    page = client.get("/").get_data(as_text=True)
    assert "TRAININGSMODUS" in page
    assert "deelnemers" in page
    assert settings.sqlalchemy_url.split(":")[0].split("+")[0] in page
