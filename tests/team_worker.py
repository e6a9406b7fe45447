"""One annotator's review process for the multi-process test: a review session (no screen) that
decides every paper its todo queue gives it, as fast as it can, then quits. Prints its decisions."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from workbench.errors import SlotTaken
from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.review import open_session
from workbench.store import Decision  # noqa: F401  (the session builds them)


def main(db_path: str, annotator: str) -> None:
    session = open_session(db_path, prompt=resolve_prompt("summary"), model=get_model("offline"), annotator=annotator)
    barrier = os.environ.get("TEAM_BARRIER")
    if barrier:  # start deciding together, once every worker is up (start-up takes a second under load)
        (Path(barrier) / annotator).touch()
        deadline = time.monotonic() + 120
        while len(os.listdir(barrier)) < int(os.environ["TEAM_WORKERS"]) and time.monotonic() < deadline:
            time.sleep(0.01)
    decided = refused = 0
    try:
        while session.current_id is not None:
            view = session.view()
            if not view.annotation or not view.annotation.decided:
                try:
                    session.reject(view.suggestion)
                    decided += 1
                except SlotTaken:
                    refused += 1
            if not session.advance():
                break
    finally:
        session.close()
    print(decided, refused)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
