"""`workbench serve` in a real browser: two annotators at once, each signed in, each deciding; a wrong
token gets nothing; a reload resumes; the page asks nothing of any other host. Debian's chromium and
chromium-driver through Selenium (.ci/run installs them). Not skipped when they are missing: it fails
and says what to install."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests import served
from tests.served import REVIEW_SHOWN, ctrl, keys, open_page, sign_in, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture
def store(tmp_path) -> Path:
    if not (Path(served.CHROMIUM).exists() and Path(served.CHROMEDRIVER).exists()):
        pytest.fail("the browser test needs Debian's chromium and chromium-driver: "
                    "apt-get install -y chromium chromium-driver (.ci/run installs them)")
    return tmp_path / "annotations" / "workbench.db"


def _decided(db: Path, annotator: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT p.seq, a.status, a.technique FROM annotations a JOIN papers p ON p.id = a.paper_id "
                            "WHERE a.annotator = ? AND a.status IS NOT NULL ORDER BY p.seq", [annotator]).fetchall()


def _wait_decided(db: Path, annotator: str, count: int) -> None:
    import time

    deadline = time.monotonic() + 30
    while len(_decided(db, annotator)) < count:
        assert time.monotonic() < deadline, f"{annotator}'s decision {count} never reached the store"
        time.sleep(0.05)


def _decide(driver, db: Path, annotator: str, plan: str) -> None:
    """a: accept, r: reject, e: edit (append to the technique and save), each on the next paper."""
    for n, step in enumerate(plan, start=1):
        wait_for(driver, REVIEW_SHOWN.search, what=f"{annotator}'s paper")
        served.forget(driver)
        if step == "e":
            keys(driver, "e")
            wait_for(driver, lambda s: "Save" in s, what="the edit form")
            keys(driver, f"by {annotator} ")
            ctrl(driver, "s")
        else:
            keys(driver, step)
        _wait_decided(db, annotator, n)


def _save_screenshot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    keep = os.environ.get("WORKBENCH_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / path.name)
    return path


def test_two_annotators_review_in_browsers_at_once_and_a_wrong_token_gets_nothing(store, tmp_path):
    ana_token = served.workbench(store, "team", "add", "ana").stdout.strip()
    ben_token = served.workbench(store, "team", "add", "ben").stdout.strip()
    server = served.Served(store)
    ana = ben = None
    try:
        ana, ben = served.browser(), served.browser()
        for driver in (ana, ben):
            open_page(driver, server.url)
        # A wrong token (ana's, typed as ben; then nonsense): the sign-in screen says no, no paper is drawn.
        for n, wrong in enumerate((ana_token, "x" * 32)):
            sign_in(ben, "ben" if n == 0 else None, wrong)
            wait_for(ben, lambda s: "do not match" in s, what="the refusal")
            assert not REVIEW_SHOWN.search(served.screen_text(ben))
        assert _decided(store, "ben") == []
        sign_in(ana, "ana", ana_token)
        sign_in(ben, None, ben_token)
        wait_for(ana, REVIEW_SHOWN.search, what="ana's review")
        wait_for(ben, REVIEW_SHOWN.search, what="ben's review")
        shots = [_save_screenshot(ana, tmp_path, "ana-review"), _save_screenshot(ben, tmp_path, "ben-review")]
        assert [served.png_size(p) for p in shots] == [(served.WIDTH, served.HEIGHT)] * 2
        assert shots[0].read_bytes() != shots[1].read_bytes()  # each shows their own name in the top line

        _decide(ana, store, "ana", "aer")
        _decide(ben, store, "ben", "rea")
        ana_rows, ben_rows = _decided(store, "ana"), _decided(store, "ben")
        assert [(seq, status) for seq, status, _ in ana_rows] == [(1, "accepted"), (2, "edited"), (3, "rejected")]
        assert [(seq, status) for seq, status, _ in ben_rows] == [(1, "rejected"), (2, "edited"), (3, "accepted")]
        assert "by ana" in ana_rows[1][2] and "by ben" in ben_rows[1][2]
        with sqlite3.connect(store) as conn:
            who = conn.execute("SELECT annotator, count(*) FROM events GROUP BY annotator ORDER BY annotator").fetchall()
        assert who == [("ana", 3), ("ben", 3)]  # every decision names the one signed in

        # A reload: sign in again, and the review is back at the paper after the last decision.
        served.forget(ana)
        open_page(ana, server.url)
        sign_in(ana, "ana", ana_token)
        wait_for(ana, lambda s: "3/" in s and "#4 " in s, what="ana back at paper #4")
        _save_screenshot(ana, tmp_path, "ana-after-reload")

        for driver in (ana, ben):  # nothing was asked of another host: the page, its script, style and font
            urls = served.requested_urls(driver)
            assert urls and all(url.startswith(server.url) for url in urls), urls
    finally:
        for driver in (ana, ben):
            if driver is not None:
                driver.quit()
        log = server.close()
    assert ana_token not in log and ben_token not in log
