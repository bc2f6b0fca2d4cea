"""The page of `python -m model.serve` in a real headless Chromium (Debian's `chromium`), driven by Playwright.

The test loads the page, uploads a real clip through the file input, types
questions, clicks Ask and reads the frames and the ranked answers off the
page; they must be the service's own answers for that clip. Skipped, with a
message saying how to install it, only where no Chromium is installed.

Set VIDEOQA_SERVE_SCREENSHOT=path to keep a screenshot of the answered page
(docs/serve.png was made this way, with a larger model).
"""

import os
import shutil

import pytest

from serve_helpers import SERVED_FRAMES, SERVED_IMAGE_SIZE, ask, questions_about, service, tiny_model  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow  # The shared fixture trains and exports a model (1-3 minutes).

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
PAGE_TIMEOUT_MS = 60_000
SCREENSHOT_VARIABLE = "VIDEOQA_SERVE_SCREENSHOT"


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's browser with `apt-get install -y chromium "
                    f"chromium-driver` (as .ci/run does) to run the browser test")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, service):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(PAGE_TIMEOUT_MS)
    outside = []  # Requests to anywhere but the service: the page must make none.
    opened.on("request", lambda sent: None if sent.url.startswith((service.url, "data:")) else outside.append(sent.url))
    opened.goto(service.url)
    opened.wait_for_function("document.getElementById('model-summary').textContent.includes('backbone')")
    yield opened
    context.close()
    assert outside == [], f"the page requested {outside}"


def test_page_answers_questions_about_an_uploaded_clip(page, service, tiny_model, tmp_path):
    _, data_dir = tiny_model
    clip = os.path.join(data_dir, "videos", "video8.mp4")
    questions = questions_about(data_dir, "video8.mp4")[:2]
    status, expected = ask(service.url, clip, questions)
    assert status == 200, expected

    assert "open ended model" in page.inner_text("#model-summary")
    assert "RANDOM" in page.inner_text("#cnn-note")
    assert page.is_disabled("#ask-button")
    page.set_input_files("#video-input", clip)
    page.fill("#questions-input", "\n".join(questions))
    page.click("#ask-button")
    page.wait_for_selector("#answers .question")

    assert page.is_hidden("#error")
    shown_questions = page.locator("#answers .question h3").all_inner_texts()
    assert shown_questions == questions
    for index, answer in enumerate(expected["answers"]):
        block = page.locator("#answers .question").nth(index)
        assert block.locator(".answer-text").all_inner_texts() == [item["answer"] for item in answer["answers"]]
        shown = [float(text.rstrip("%")) for text in block.locator(".probability").all_inner_texts()]
        assert shown == pytest.approx([100 * item["probability"] for item in answer["answers"]], abs=0.051)
    assert page.locator("#frames figure").count() == SERVED_FRAMES
    loaded = page.eval_on_selector_all("#frames img", "images => images.map(image => image.naturalWidth)")
    assert loaded == [SERVED_IMAGE_SIZE] * SERVED_FRAMES  # Real JPEGs, decoded by the browser at the model's frame size.
    captions = page.locator("#frames figcaption").all_inner_texts()
    assert captions[0].endswith(" s") and "video8.mp4" in page.inner_text("#video-summary")
    screenshot = tmp_path / "serve.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    if os.environ.get(SCREENSHOT_VARIABLE):
        shutil.copyfile(screenshot, os.environ[SCREENSHOT_VARIABLE])


def test_page_shows_why_a_file_cannot_be_used(page, tmp_path):
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("this is a text file with a video's name\n" * 20, encoding="utf-8")
    page.set_input_files("#video-input", str(not_a_video))
    page.fill("#questions-input", "what color is the square?")
    page.click("#ask-button")
    page.wait_for_selector("#error:not([hidden])")
    assert "notes.mp4" in page.inner_text("#error") and "not a readable video container" in page.inner_text("#error")
    assert page.is_enabled("#ask-button")
