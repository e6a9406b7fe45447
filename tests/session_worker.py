"""One annotator's review session in its own process, for the concurrency tests: decide the first COUNT
papers (accept, edit, reject in turn) and print what happened as JSON. A conflict is what a person
would see in the dialog: this worker then keeps its own decision, based on the version it was shown. Two
windows of one annotator that store the same decision meet no conflict (nothing to choose between); their
edits differ by WINDOW, so they do conflict there."""

from __future__ import annotations

import json
import sys

from workbench.errors import Conflict, StoreBusy
from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.review.session import open_session


def main(url: str, annotator: str, count: int, window: str = "") -> None:
    session = open_session(url, prompt=resolve_prompt("summary"), model=get_model("offline"), annotator=annotator,
                           queue="all")
    written = conflicts = busy = 0
    for n, (_, pid) in enumerate(list(session.order)[:count]):  # the first COUNT papers, as every worker
        session.go_to_paper(pid)
        view = session.view()
        suggestion = view.suggestions[view.shown] if view.shown is not None else None
        try:
            try:
                if n % 3 == 0 and suggestion is not None:
                    session.accept(suggestion)
                elif n % 3 == 1:
                    session.save_fields({"technique": f"{annotator} {n}", "claimed_gain": None, "compute": "8 GPUs"},
                                        suggestion, notes=f"by {annotator}{window}")
                else:
                    session.reject(suggestion)
            except Conflict as conflict:
                conflicts += 1
                session.keep_mine(conflict)
            written += 1
        except StoreBusy:
            busy += 1
    session.close()
    print(json.dumps({"annotator": annotator, "written": written, "conflicts": conflicts, "busy": busy}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:5])
