"""The `workbench suggest` progress bar (rich, on a terminal only)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class SuggestProgress:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task = None

    def __enter__(self) -> "SuggestProgress":
        if self.enabled:
            self._progress = Progress(
                TextColumn("suggesting"), BarColumn(), MofNCompleteColumn(),
                TextColumn("ok {task.fields[ok]} · failed {task.fields[failed]} · cached {task.fields[cached]}"),
                TextColumn("{task.fields[rate]}/s"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._progress.__enter__()
        return self

    def update(self, report) -> None:
        if not self._progress:
            return
        if self._task is None:
            self._task = self._progress.add_task("suggest", total=report.to_request, ok=0, failed=0,
                                                 cached=report.cached, rate="0.0")
        rate = report.done / max(report.wall_seconds, 1e-6)
        self._progress.update(self._task, completed=report.done, ok=report.outcomes["ok"], failed=report.failed,
                              rate=f"{rate:.1f}")

    def __exit__(self, *exc) -> None:
        if self._progress:
            self._progress.__exit__(*exc)
