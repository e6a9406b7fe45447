"""Progress bars for `workbench suggest` and `workbench batch collect --wait` (rich, on a terminal only;
rich is loaded only then)."""

from __future__ import annotations

from workbench.safe_text import one_line


class SuggestProgress:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._task = None

    def __enter__(self) -> "SuggestProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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


class CopyProgress:
    """`workbench copy`: one bar per table."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._tasks: dict[str, object] = {}

    def __enter__(self) -> "CopyProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                                      MofNCompleteColumn(), console=Console(stderr=True), transient=True)
            self._progress.__enter__()
        return self

    def rows(self, table: str, done: int, total: int) -> None:
        if self._progress:
            if table not in self._tasks:  # a table's name: ours, never data
                self._tasks[table] = self._progress.add_task(one_line(table, 30), total=total)
            task = self._tasks[table]
            self._progress.update(task, completed=done)

    def __exit__(self, *exc) -> None:
        if self._progress:
            self._progress.__exit__(*exc)


class BatchProgress:
    """`workbench batch collect --wait`: one bar per batch (the engine's counts, then lines stored)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._tasks: dict[str, object] = {}

    def __enter__(self) -> "BatchProgress":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("{task.fields[name]}", markup=False), TextColumn("{task.fields[state]}", markup=False), BarColumn(),
                MofNCompleteColumn(), console=Console(stderr=True), transient=True,
            )
            self._progress.__enter__()
        return self

    def _task(self, batch_id: str, total: int | None):
        if batch_id not in self._tasks:
            self._tasks[batch_id] = self._progress.add_task(batch_id, total=total, name=one_line(batch_id, 40),
                                                            state="")
        return self._tasks[batch_id]

    def state(self, row) -> None:
        """What the engine says: state and requests done so far."""
        if self._progress:
            done = (row.completed or 0) + (row.failed or 0)
            self._progress.update(self._task(row.id, row.requests), completed=done,
                                  state=one_line(row.state + (", collected" if row.collected_at else ""), 30))

    def stored(self, report) -> None:
        """Lines read from its result files while they are stored."""
        if self._progress:
            self._progress.update(self._task(report.batch_id, None), completed=report.lines, state="storing")

    def __exit__(self, *exc) -> None:
        if self._progress:
            self._progress.__exit__(*exc)
