"""examples/download_file.py says what is happening while the file is built and downloaded."""

from __future__ import annotations

import pytest

from .conftest import console_errors, read, wait_for
from .test_examples import load_example, wait_downloads

pytestmark = pytest.mark.browser

# Every text the #progress line shows, and whether the button was ever disabled.
RECORD = """
const seen = window.__progress = [];
window.__disabled = false;
const note = () => {
    const text = document.getElementById('progress').textContent;
    if (text !== seen[seen.length - 1]) { seen.push(text); }
    if (document.getElementById('download').disabled) { window.__disabled = true; }
};
new MutationObserver(note).observe(document.body, {attributes: true, childList: true,
                                                   subtree: true, characterData: true});
"""


def test_download_file_shows_building_then_progress(browser):
    browser.start_server(load_example("download_file").create_app())
    wait_for(lambda: read(browser, "#download") is not None, 10, "the page")
    browser.driver.find_element("xpath", "//label[normalize-space()='fetch']").click()
    rows = browser.find_element("#rows")
    browser.clear_input(rows)
    rows.send_keys("300000")
    browser.driver.execute_script(RECORD)
    browser.find_element("#download").click()

    name = "measurements-300000.csv"
    wait_for(lambda: read(browser, "#progress") == f"Saved {name}.", 60, "the saved file")
    wait_downloads(browser, 1, 30)
    seen = browser.driver.execute_script("return window.__progress")
    # Shown while the callback runs, before the download's outcome. (The download's own
    # progress lines may come and go between two renders: not asserted.)
    assert seen.index("Building the file...") < seen.index(f"Saved {name}."), seen
    assert browser.driver.execute_script("return window.__disabled")
    assert console_errors(browser) == []
